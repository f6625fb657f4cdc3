"""Convolutions: conv1d, conv2d, conv3d, with every attribute of torch's (groups, dilation,
stride, padding as a number, one per dim or "same"/"valid", padding_mode)."""

from __future__ import annotations

from .. import symbolic as sym
from ..ops.windows import window_count
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
