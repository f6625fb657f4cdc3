"""The layer registry: each `layer` kind of the language is declared here, once.

A `LayerDef` names the torch.nn class it renders to, its constructor signature (names
and defaults as in torch, so `state_dict` keys come out as torch makes them), and the
shape rule of its forward. Sequential containers and sub-blocks are handled by the
shape checker, since their rules are made of other layers' rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import symbolic as sym
from .ops import ParamSpec, normalize_axis, parse_signature
from .symbolic import Expr


@dataclass
class LayerDef:
    name: str
    torch_class: str  # rendered as nn.<torch_class>
    params: list[ParamSpec]
    shape: Callable  # (ctx, args: dict[str, value], input shape) -> output shape
    min_rank: int = 1
    max_rank: int | None = None
    doc: str = ""
    # (arguments: attndsl.shapes.LayerArguments, args) -> None: what the torch constructor
    # would reject, checked where the layer is declared (called or not).
    check: Callable | None = None


LAYERS: dict[str, LayerDef] = {}


def layer(name: str, torch_class: str, signature: str, shape, *, min_rank=1, max_rank=None, doc="",
          check=None) -> LayerDef:
    params = parse_signature(signature)
    definition = LayerDef(name, torch_class, params, shape, min_rank, max_rank, doc, check)
    LAYERS[name] = definition
    return definition


# ============================================================================ shape rules


def _identity(ctx, args, shape):
    return shape


def _linear(ctx, args, shape):
    ctx.expect_equal(shape[-1], args["in_features"], "the last dimension of the input and in_features")
    return tuple(shape[:-1]) + (args["out_features"],)


def _channels(ctx, shape, expected, what):
    ctx.expect_equal(shape[1], expected, f"the channel dimension (dim 1) of the input and {what}")


def _window(ctx, size: Expr, kernel: Expr, stride: Expr, padding, dilation: Expr) -> Expr:
    """floor((L + 2p - d(k-1) - 1) / s) + 1, torch's output-size formula."""
    if padding == "same":
        return size
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    # torch rejects an empty output: the (dilated) window must fit in the padded input.
    padded, window = ctx.normal(size + 2 * padding), ctx.normal(dilation * (kernel - 1) + 1)
    if padded.is_const and window.is_const and padded.value < window.value:
        ctx.error("E0205", f"the window ({window.value}) is larger than the padded input ({padded.value})",
                  help="pad the input, or use a smaller kernel or dilation")
    ctx.expect_at_least(span, 0, "the (dilated) kernel must fit in the padded input")
    return ctx.derive(sym.floordiv(span, stride, ctx.facts) + 1, size)


def _conv(spatial: int):
    def rule(ctx, args, shape):
        _channels(ctx, shape, args["in_channels"], "in_channels")
        out = [shape[0], args["out_channels"]]
        for axis in range(spatial):
            out.append(_window(ctx, shape[2 + axis], args["kernel_size"], args["stride"], args["padding"],
                               args["dilation"]))
        return tuple(out)

    return rule


def _pool(ctx, args, shape):
    stride = args["stride"] if args["stride"] is not None else args["kernel_size"]
    return tuple(shape[:2]) + tuple(
        _window(ctx, d, args["kernel_size"], stride, args["padding"], Expr.const(1)) for d in shape[2:]
    )


def _adaptive(ctx, args, shape):
    size = args["output_size"]
    return tuple(shape[:2]) + (size,) * (len(shape) - 2)


def _norm_channels(ctx, args, shape):
    _channels(ctx, shape, args["num_features"], "num_features")
    return shape


def _positions(ctx, shape) -> Expr:
    """The number of spatial positions of a (batch, channel, spatial...) tensor."""
    positions = Expr.const(1)
    for dim in shape[2:]:
        positions = positions * dim
    return ctx.normal(positions)


def _instance_norm(ctx, args, shape):
    _channels(ctx, shape, args["num_features"], "num_features")
    # It normalises each map over its positions, train or eval: torch rejects a single one.
    positions = _positions(ctx, shape)
    if positions.is_const and positions.value < 2:
        ctx.error("E0205", f"instance_norm2d normalises over the spatial positions, but {ctx.show(shape)} has "
                  f"only {positions.value}", help="a global pool leaves one position: use layer_norm or batch_norm2d")
    return shape


def _layer_norm(ctx, args, shape):
    ctx.expect_equal(shape[-1], args["normalized_shape"], "the last dimension of the input and normalized_shape")
    return shape


def _group_norm(ctx, args, shape):
    _channels(ctx, shape, args["num_channels"], "num_channels")
    per_group = ctx.divide(args["num_channels"], args["num_groups"], "num_channels into num_groups")
    # torch normalises each group over its channels and positions, train or eval: one value fails.
    per_group = ctx.normal(per_group * _positions(ctx, shape))
    if per_group.is_const and per_group.value < 2:
        ctx.error("E0205", f"group_norm normalises each group over its channels and positions, but a group of "
                  f"{ctx.show(shape)} has only {per_group.value} value", help="use fewer groups")
    return shape


# ============================================================================ argument checks


def _check_linear(a, args):
    a.at_least("in_features", 0)
    a.at_least("out_features", 0)


def _check_conv(a, args):
    for name in ("in_channels", "out_channels"):
        a.at_least(name, 1)  # a conv with no channels builds, then fails in forward
    for name in ("kernel_size", "stride", "dilation", "groups"):
        a.at_least(name, 1)
    if args.get("padding") == "same":
        a.equal("stride", 1, 'padding="same" needs stride 1')
    else:
        a.at_least("padding", 0)
    a.divisible("in_channels", "groups")
    a.divisible("out_channels", "groups")


def _check_features(a, args):
    a.at_least("num_features", 0)
    a.number("eps")
    a.number("momentum", none_ok=True)


def _check_layer_norm(a, args):
    a.at_least("normalized_shape", 0)
    a.number("eps")


def _check_group_norm(a, args):
    a.at_least("num_groups", 1)
    a.at_least("num_channels", 0)
    a.number("eps")
    a.divisible("num_channels", "num_groups")


def _check_dropout(a, args):
    if a.number("p"):
        a.within("p", 0, 1)  # torch's Dropout refuses any other probability


def _check_pool(a, args):
    a.at_least("kernel_size", 1)
    a.at_least("stride", 1, none_ok=True)
    a.at_least("padding", 0)
    kernel, padding = a.constant("kernel_size"), a.constant("padding")
    a.require(None if kernel is None or padding is None else 2 * padding <= kernel, "padding",
              f"padding ({padding}) must be at most half of kernel_size ({kernel})")


def _check_adaptive(a, args):
    a.at_least("output_size", 1)


# ============================================================================ the layers

layer("linear", "Linear", "in_features: int, out_features: int, bias: bool = true", _linear, check=_check_linear)
_CONV = ("in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: padding = 0, "
         "dilation: int = 1, groups: int = 1, bias: bool = true")
layer("conv1d", "Conv1d", _CONV, _conv(1), min_rank=3, max_rank=3, check=_check_conv)
layer("conv2d", "Conv2d", _CONV, _conv(2), min_rank=4, max_rank=4, check=_check_conv)
layer("batch_norm1d", "BatchNorm1d", "num_features: int, eps: float = 1e-05, momentum: float = 0.1, affine: bool = true",
      _norm_channels, min_rank=2, max_rank=3, check=_check_features)
layer("batch_norm2d", "BatchNorm2d", "num_features: int, eps: float = 1e-05, momentum: float = 0.1, affine: bool = true",
      _norm_channels, min_rank=4, max_rank=4, check=_check_features)
layer("instance_norm2d", "InstanceNorm2d",
      "num_features: int, eps: float = 1e-05, momentum: float = 0.1, affine: bool = false", _instance_norm,
      min_rank=4, max_rank=4, check=_check_features)
layer("layer_norm", "LayerNorm", "normalized_shape: int, eps: float = 1e-05", _layer_norm, check=_check_layer_norm)
layer("group_norm", "GroupNorm", "num_groups: int, num_channels: int, eps: float = 1e-05, affine: bool = true",
      _group_norm, min_rank=2, check=_check_group_norm)
layer("dropout", "Dropout", "p: float = 0.5", _identity, check=_check_dropout)
layer("relu", "ReLU", "", _identity)
layer("relu6", "ReLU6", "", _identity)
layer("gelu", "GELU", "", _identity)
layer("silu", "SiLU", "", _identity)
layer("sigmoid", "Sigmoid", "", _identity)
layer("tanh", "Tanh", "", _identity)
layer("identity", "Identity", "", _identity)
def _softmax(ctx, args, shape):
    normalize_axis(ctx, None, args["dim"], len(shape))  # nn.Softmax(dim=3) fails on a rank-3 input
    return shape


layer("softmax", "Softmax", "dim: axis", _softmax)
layer("adaptive_avg_pool2d", "AdaptiveAvgPool2d", "output_size: int", _adaptive, min_rank=4, max_rank=4,
      check=_check_adaptive)
layer("adaptive_max_pool2d", "AdaptiveMaxPool2d", "output_size: int", _adaptive, min_rank=4, max_rank=4,
      check=_check_adaptive)
layer("max_pool2d", "MaxPool2d", "kernel_size: int, stride: int = None, padding: int = 0", _pool,
      min_rank=4, max_rank=4, check=_check_pool)
layer("avg_pool2d", "AvgPool2d", "kernel_size: int, stride: int = None, padding: int = 0", _pool,
      min_rank=4, max_rank=4, check=_check_pool)
