"""Convolutions: conv1d, conv2d, conv3d, with every attribute of torch's (groups, dilation,
stride, padding as a number, one per dim or "same"/"valid", padding_mode); and the
transposed ones, conv_transpose1d/2d/3d (a strided upsampling: EdgeViT's local propagation,
decoders)."""

from __future__ import annotations

from .. import symbolic as sym
from ..ops.windows import window_count
from ..ir import Cond
from ..symbolic import Expr
from .registry import StateEntry, channels, check_choice, check_lengths, family, layer, per_axis, spatial_args

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_SPATIAL = ("kernel_size", "stride", "dilation")


def _conv(spatial: int):
    def rule(ctx, args, shape):
        channels(ctx, shape, args["in_channels"], "in_channels")
        kernel, stride, dilation = spatial_args(args, _SPATIAL, spatial, ctx)
        padding = args["padding"]
        if padding == "valid":
            padding = 0
        paddings = (padding,) * spatial if padding == "same" else spatial_args({"padding": padding}, ("padding",),
                                                                                spatial, ctx)[0]
        if args.get("padding_mode", "zeros") != "zeros":
            _padded_input(ctx, args["padding_mode"], shape, kernel, dilation, paddings)
        out = [shape[0], args["out_channels"]]
        for axis in range(spatial):
            out.append(window_count(ctx, shape[2 + axis], kernel[axis], stride[axis], paddings[axis],
                                    dilation[axis]))
        return tuple(out)

    return rule


def _padded_input(ctx, mode: str, shape, kernel, dilation, paddings) -> None:
    """A padding_mode other than zeros pads with F.pad first, whose limits apply."""
    for axis, (k, d, padding) in enumerate(zip(kernel, dilation, paddings)):
        size = shape[2 + axis]
        if padding == "same":
            total = d * (k - 1)
            widths = (sym.floordiv(total, Expr.const(2), ctx.facts), total - sym.floordiv(total, Expr.const(2),
                                                                                             ctx.facts))
        else:
            widths = (padding, padding)
        ctx.expect_at_least(size, 1, f'padding_mode="{mode}" needs spatial axis {axis} not to be empty')
        for width in widths:
            if mode == "reflect":
                ctx.expect_at_least(size - width, 1, f'padding_mode="reflect" needs the padding of spatial axis '
                                    f"{axis} to be less than its size")
            elif mode == "circular":
                ctx.expect_at_least(size - width, 0, f'padding_mode="circular" needs the padding of spatial axis '
                                    f"{axis} to be at most its size")


def _check_conv(spatial: int):
    def check(a, args):
        for name in ("in_channels", "out_channels"):
            a.at_least(name, 1)  # a conv with no channels builds, then fails in forward
        check_lengths(a, args, _SPATIAL + ("padding",), spatial)
        for name in _SPATIAL + ("groups",):
            a.at_least(name, 1)
        padding = args.get("padding")
        if padding == "same":
            a.equal("stride", 1, 'padding="same" needs stride 1')
        elif padding != "valid":
            a.at_least("padding", 0)
        a.divisible("in_channels", "groups")
        a.divisible("out_channels", "groups")
        check_choice(a, args, "padding_mode", _PADDING_MODES)

    return check


_CONV = ("in_channels: int, out_channels: int, kernel_size: size, stride: size = 1, padding: padding = 0, "
         "dilation: size = 1, groups: int = 1, bias: bool = true, padding_mode: choice = \"zeros\"")
def _conv_state(spatial: int):
    def state(args):
        out = args["out_channels"]
        weight = (out, args["in_channels"].exact_div(args["groups"])) + per_axis(args["kernel_size"], spatial)
        return [StateEntry("weight", weight), StateEntry("bias", (out,), args["bias"])]

    return state


_CONV_SHAPE = ("[b, in_channels, *spatial] is [b, out_channels, *spatial'], each spatial' = floor((size + "
               "2*padding - dilation*(kernel_size-1) - 1) / stride) + 1 (the size itself with padding=\"same\")")

family("Convolution")
layer("conv1d", "Conv1d", _CONV, _conv(1), min_rank=3, max_rank=3, check=_check_conv(1), state=_conv_state(1),
      doc="1-d convolution over [b, c, length]; kernel_size, stride, padding and dilation are a number or one per "
      "spatial dim", shape_doc=_CONV_SHAPE,
      example="(c: int = 8)\ninput x: [b, c, n]\nlayer conv = conv1d(c, c, 3, padding=1, groups=c)\nconv(x)")
layer("conv2d", "Conv2d", _CONV, _conv(2), min_rank=4, max_rank=4, check=_check_conv(2), state=_conv_state(2),
      doc="2-d convolution over [b, c, h, w]", shape_doc=_CONV_SHAPE,
      example="(c: int = 8)\ninput x: [b, c, h, w]\nlayer conv = conv2d(c, 2 * c, (1, 3), padding=(0, 1), "
      "padding_mode=\"reflect\")\nconv(x)")
layer("conv3d", "Conv3d", _CONV, _conv(3), min_rank=5, max_rank=5, check=_check_conv(3), state=_conv_state(3),
      doc="3-d convolution over [b, c, t, h, w] (NonLocalBlockND with dimension=3)", shape_doc=_CONV_SHAPE,
      example="(c: int = 8)\ninput x: [b, c, t, h, w]\nlayer conv = conv3d(c, c, 1)\nconv(x)")


# ---------------------------------------------------------------------------- transposed

_TRANSPOSED_SPATIAL = ("kernel_size", "stride", "padding", "output_padding", "dilation")


def _conv_transpose(spatial: int):
    def rule(ctx, args, shape):
        channels(ctx, shape, args["in_channels"], "in_channels")
        kernel, stride, padding, output_padding, dilation = spatial_args(args, _TRANSPOSED_SPATIAL, spatial, ctx)
        out = [shape[0], args["out_channels"]]
        for axis in range(spatial):
            size = shape[2 + axis]
            # torch's: (L - 1)*s - 2p + d(k - 1) + output_padding + 1, which must leave something
            grown = (size - 1) * stride[axis] - 2 * padding[axis] + dilation[axis] * (kernel[axis] - 1) + \
                output_padding[axis] + 1
            ctx.expect_at_least(grown, 1, f"the output of spatial axis {axis} must not be empty (the padding "
                                "crops more than the transposed convolution grows)")
            out.append(ctx.derive(grown, size))
        return tuple(out)

    return rule


def _check_conv_transpose(spatial: int):
    def check(a, args):
        for name in ("in_channels", "out_channels"):
            a.at_least(name, 1)
        check_lengths(a, args, _TRANSPOSED_SPATIAL, spatial)
        for name in ("kernel_size", "stride", "dilation", "groups"):
            a.at_least(name, 1)
        a.at_least("padding", 0)
        a.at_least("output_padding", 0)
        a.divisible("in_channels", "groups")
        a.divisible("out_channels", "groups")
        # torch: "output padding must be smaller than either stride or dilation", axis by axis
        for extra, stride, dilation in zip(*(per_axis(args.get(name), spatial)
                                             for name in ("output_padding", "stride", "dilation"))):
            if isinstance(extra, Expr) and extra != Expr.const(0):
                a.condition(Cond("or", (Cond("cmp", ("<", extra, stride)), Cond("cmp", ("<", extra, dilation)))),
                            "output_padding", "output_padding must be smaller than stride or dilation")

    return check


def _conv_transpose_state(spatial: int):
    def state(args):
        weight = (args["in_channels"], args["out_channels"].exact_div(args["groups"])) + \
            per_axis(args["kernel_size"], spatial)
        return [StateEntry("weight", weight), StateEntry("bias", (args["out_channels"],), args["bias"])]

    return state


_CONV_TRANSPOSE = ("in_channels: int, out_channels: int, kernel_size: size, stride: size = 1, padding: size = 0, "
                   "output_padding: size = 0, groups: int = 1, bias: bool = true, dilation: size = 1")
_CONV_TRANSPOSE_SHAPE = ("[b, in_channels, *spatial] is [b, out_channels, *spatial'], each spatial' = (size - 1)*stride"
                         " - 2*padding + dilation*(kernel_size-1) + output_padding + 1")

for _d, _rank, _dims in ((1, 3, "[b, c, length]"), (2, 4, "[b, c, h, w]"), (3, 5, "[b, c, t, h, w]")):
    layer(f"conv_transpose{_d}d", f"ConvTranspose{_d}d", _CONV_TRANSPOSE, _conv_transpose(_d), min_rank=_rank,
          max_rank=_rank, check=_check_conv_transpose(_d), state=_conv_transpose_state(_d),
          doc=f"{_d}-d transposed convolution over {_dims} (the gradient of a conv: a learned upsampling)",
          shape_doc=_CONV_TRANSPOSE_SHAPE,
          example=f"(c: int = 8)\ninput x: {_dims.replace('length', 'n')}\n"
                  f"layer up = conv_transpose{_d}d(c, c, 2, stride=2, groups=c)\nup(x)")
