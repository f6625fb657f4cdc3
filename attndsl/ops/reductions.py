"""Reductions over axes (sum, mean, max, ...), the running sum along one (cumsum), and the global pools."""

from __future__ import annotations

import math

from ..ir import Cond
from ..symbolic import Expr
from .activations import softmax_shape
from .registry import ATOM, OPS, ParamSpec, Shape, axes_of, family, op
from .rendering import FUNCTIONAL, CallRender


def reduce_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    axes = axes_of(ctx, node, attrs, len(shape))
    if attrs.get("keepdim"):
        return tuple(Expr.const(1) if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def extremum_shape(ctx, node, shapes, attrs) -> Shape:
    """max and min: as the other reductions, but over no value at all torch raises (a sum is
    0 and a mean NaN): each axis reduced must hold one, where an intermediate may be empty."""
    shape = shapes[0]
    for axis in axes_of(ctx, node, attrs, len(shape)):
        ctx.expect_at_least(shape[axis], 1, f"max/min over axis {axis} needs at least one value")
    return reduce_shape(ctx, node, shapes, attrs)


def global_pool_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    if len(shape) < 3:
        ctx.error("E0202", f"global pooling needs a tensor of rank >= 3 (batch, channels, spatial...), got rank {len(shape)}")
    return tuple(shape[:2]) + (Expr.const(1),) * (len(shape) - 2)


def global_max_shape(ctx, node, shapes, attrs) -> Shape:
    result = global_pool_shape(ctx, node, shapes, attrs)
    for axis, size in enumerate(shapes[0][2:], start=2):
        ctx.expect_at_least(size, 1, f"max_pool over axis {axis} needs at least one value")
    return result


_NORM_P = "norm(): `p` must be a number >= 1 or inf"
_NORM_P_HELP = "p=1 sums abs(x), p=2 (the default) is the Euclidean norm, p=inf takes the largest abs(x)"


def norm_shape(ctx, node, shapes, attrs) -> Shape:
    """As the other reductions; `p` is a norm's: a number >= 1 or inf (torch takes others, 0 and
    below 1, whose results are no norm). The inf norm, a largest value, needs a value to take."""
    p = attrs.get("p", 2)
    if isinstance(p, int) and not isinstance(p, bool):  # the default, as the signature has it
        p = Expr.const(p)
    if not isinstance(p, Expr) and isinstance(getattr(p, "value", None), float):  # inf, -inf (a Literal)
        if p.value != math.inf:
            ctx.error("E0205", f"{_NORM_P}, got {p.value}", help=_NORM_P_HELP)
        for axis in axes_of(ctx, node, attrs, len(shapes[0])):
            ctx.expect_at_least(shapes[0][axis], 1, f"norm(p=inf) over axis {axis} needs at least one value")
    elif not isinstance(p, Expr):
        ctx.error("E0205", _NORM_P, help=_NORM_P_HELP)
    elif p.is_const and p.value < 1:
        shown = int(p.value) if p.value.denominator == 1 else float(p.value)
        ctx.error("E0205", f"{_NORM_P}, got {shown}", help=_NORM_P_HELP)
    elif not p.is_const:  # a constructor argument: checked when the module is built
        ctx.require(Cond("cmp", (">=", p, Expr.const(1))), "norm(): `p` must be at least 1")
    return reduce_shape(ctx, node, shapes, attrs)


def render_reduce(method: str):
    def render(r, node, operands, attrs):
        dims = attrs.get("dim")
        rank = len(node.operand_shapes[0])
        if dims is None and attrs.get("keepdim") and rank:
            dims = tuple(range(rank))  # torch's sum and mean take keepdim only with a dim
        args = []
        if dims is not None:
            args.append(f"dim={r.axes(dims)}")
        if attrs.get("keepdim"):
            args.append("keepdim=True")
        if method == "std" and not attrs.get("unbiased", True):
            args.append("correction=0")
        return f"{r.wrap(operands[0], ATOM)}.{method}({', '.join(args)})", ATOM

    return render


def render_global_pool(method: str):
    def render(r, node, operands, attrs):
        rank = len(node.operand_shapes[0])
        dims = tuple(range(2, rank))
        return f"{r.wrap(operands[0], ATOM)}.{method}(dim={r.axes(dims)}, keepdim=True)", ATOM

    return render


family("Reductions")
_REDUCED = ("`x` without the axes in `dim` (every axis when omitted); with `keepdim=true` they stay, as size 1. "
            "Each axis may be named once")
_REDUCTIONS = {"sum": ("sum", "sum"), "mean": ("mean", "mean"), "max": ("amax", "largest value (values only)"),
               "min": ("amin", "smallest value (values only)"), "std": ("std", "standard deviation"),
               "var": ("var", "variance")}
# sum, max and min of an integer tensor are integer, as torch's are (Swin's index buffer,
# `relative_coords.sum(-1)`); torch refuses mean, std, var and norm of one.
_OF_INTEGERS = ("sum", "max", "min")
for _name, (_method, _doc) in _REDUCTIONS.items():
    op(_name, f"x: tensor{'[real]' if _name in _OF_INTEGERS else ''}, dim: axes = None, keepdim: bool = false",
       extremum_shape if _name in ("max", "min") else reduce_shape, render_reduce(_method),
       result="first" if _name in _OF_INTEGERS else "float",
       doc=f"{_doc} over `dim`" + ("; of an integer tensor, an integer tensor" if _name in _OF_INTEGERS else ""),
       shape_doc=_REDUCED, example=f"input x: [b, c, h, w]\n{_name}(x, dim=(2, 3), keepdim=true)")
OPS["std"].params.append(ParamSpec("unbiased", "bool", True, required=False))
OPS["std"].doc = "standard deviation over `dim`; unbiased (n - 1) unless `unbiased=false`"
OPS["var"].doc = "variance over `dim`, unbiased (n - 1)"
op("cumsum", "x: tensor[real], dim: axis", softmax_shape, "{x:recv}.cumsum(dim={dim})", result="first",
   doc="the running sum along `dim`: entry i is the sum of entries 0..i (causal linear attention's "
   "prefix sums of k and of k v); of an integer tensor, an integer tensor",
   shape_doc="the shape of `x`; `dim` (required) must be an axis of it",
   example="input x: [b, h, n, d]\ncumsum(x, dim=2)")
op("norm", "x: tensor, dim: axes = None, keepdim: bool = false, p: scalar = 2", norm_shape,
   CallRender("norm", receiver=True),
   doc="the p-norm over `dim`: sum(abs(x) ** p) ** (1 / p), by default the Euclidean (L2) norm sqrt(sum(x ** 2)) "
   "(UFO's XNorm divides by it); `p` is a number >= 1 (`p=1`: sum(abs(x)), ConvNeXt-V2's GRN takes `p=2`) or "
   "`inf` (the largest abs(x)), as torch.norm's `p`", shape_doc=_REDUCED + "; with `p=inf` each must hold a value",
   example="input x: [b, h, w, c]\nnorm(x, p=2, dim=(1, 2), keepdim=true)")
op("normalize", "x: tensor, dim: axis = 1, eps: scalar = 1e-12", softmax_shape,
   CallRender("F.normalize", always=("dim",)),
   doc="x / max(norm(x, dim, keepdim=true), eps) (F.normalize with p=2)",
   shape_doc="the shape of `x`; `dim` must be an axis of it", example="input x: [b, n, d]\nnormalize(x, dim=-1)",
   imports=FUNCTIONAL)
op("avg_pool", "x: tensor", global_pool_shape, render_global_pool("mean"),
   doc="global average pool: the mean over the spatial dims (2 and after)",
   shape_doc="[b, c, *spatial] is [b, c, 1, ...]: the spatial dims stay as size 1; rank >= 3",
   example="input x: [b, c, h, w]\navg_pool(x)")
op("max_pool", "x: tensor", global_max_shape, render_global_pool("amax"),
   doc="global max pool: the largest value over the spatial dims (2 and after)",
   shape_doc="[b, c, *spatial] is [b, c, 1, ...]: the spatial dims stay as size 1; rank >= 3",
   example="input x: [b, c, h, w]\nmax_pool(x)")
