"""Ops that add, remove or repeat axes: flatten, squeeze, unsqueeze, expand, expand_as.

`rearrange` covers most reshapes; these read closer to the published code where it
calls them (`y.expand_as(x)` in SE and ECA, `x.flatten(2)` in a patch embedding).
Two give `x` itself: `contiguous` laid out in order, `detach` cut off from autograd.
"""

from __future__ import annotations

from ..ir import Cond
from ..ranks import PackSizes
from ..symbolic import Expr
from .registry import ATOM, Shape, axes_of, family, normalize_axis, op, same_shape
from .rendering import CallRender, as_exprs

ONE = Expr.const(1)


def flatten_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    rank = max(len(shape), 1)  # torch flattens a 0-d tensor into [1]
    start = normalize_axis(ctx, node, attrs["start_dim"], rank, "start_dim")
    end = normalize_axis(ctx, node, attrs["end_dim"], rank, "end_dim")
    if start > end:
        ctx.error("E0204", f"start_dim ({attrs['start_dim']}) comes after end_dim ({attrs['end_dim']}) "
                  f"in a tensor of rank {len(shape)}", help="flatten joins the axes from start_dim to end_dim")
    if not shape:
        return (ONE,)
    joined = ONE
    for dim in shape[start:end + 1]:
        joined = joined * dim
    return tuple(shape[:start]) + (joined,) + tuple(shape[end + 1:])


def render_flatten(r, node, operands, attrs):
    start, end = attrs["start_dim"], attrs["end_dim"]
    arguments = [] if (start, end) == (0, -1) else [str(start)] if end == -1 else [str(start), str(end)]
    return f"{r.wrap(operands[0], ATOM)}.flatten({', '.join(arguments)})", ATOM


def squeeze_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    axes = axes_of(ctx, node, attrs, len(shape))
    if attrs.get("dim") is None:
        # Every axis of size 1: only a shape whose sizes are all known tells which.
        unknown = [d for d in shape if not ctx.normal(d).is_const]
        if unknown:
            ctx.error("E0112", f"squeeze() without `dim` removes the axes of size 1, and {unknown[0]} may be 1 or not",
                      help="name the axes to remove: squeeze(x, dim=...)")
        axes = tuple(i for i, d in enumerate(shape) if ctx.is_one(d))
    for axis in axes:
        # torch leaves an axis whose size is not 1 in place; the language means it gone.
        ctx.expect_equal(shape[axis], ONE, f"the size of axis {axis}, which squeeze() removes")
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def unsqueeze_shape(ctx, node, shapes, attrs) -> Shape:
    shape = list(shapes[0])
    axis = normalize_axis(ctx, node, attrs["dim"], len(shape) + 1)
    shape.insert(axis, ONE)
    return tuple(shape)


def expand_shape(ctx, node, shapes, attrs) -> Shape:
    shape, sizes = shapes[0], as_exprs(attrs["sizes"])
    if len(sizes) < len(shape):
        ctx.error("E0202", f"expand() got {len(sizes)} sizes for a tensor of rank {len(shape)}",
                  help="give one size per axis (-1 keeps one), new leading axes first")
    new = len(sizes) - len(shape)
    out = []
    for index, size in enumerate(sizes):
        constant = ctx.normal(size)
        if constant.is_const and constant.value < -1:
            ctx.error("E0205", f"expand(): the size of axis {index} is {constant.value}",
                      help="a size is at least 0; -1 keeps an axis as it is")
        if constant == Expr.const(-1):
            if index < new:
                ctx.error("E0112", f"expand(): -1 keeps an axis, but axis {index} is a new one",
                          help="give the size of a new leading axis")
            out.append(shape[index - new])
        elif index < new:
            ctx.expect_at_least(size, 0, f"expand(): the size of the new axis {index} must not be negative")
            out.append(size)
        else:
            out.append(_repeat(ctx, shape[index - new], size, f"axis {index}"))
    return tuple(out)


def _repeat(ctx, dim: Expr, size: Expr, what: str) -> Expr:
    """expand repeats an axis of size 1; any other axis must already have the size asked for."""
    if not ctx.is_one(dim) and ctx.normal(dim).is_const:
        ctx.expect_equal(dim, size, f"{what} of expand(), whose size is not 1")
        return size
    # A size that the run time could make -1 would keep the axis: sizes are at least 0.
    ctx.expect_at_least(size, 0, f"the size of {what} must not be negative")
    if not ctx.is_one(dim) and ctx.normal(dim) != ctx.normal(size):
        ctx.checker.require(Cond("or", (Cond("cmp", ("==", dim, size)), Cond("cmp", ("==", dim, ONE)))),
                            f"expand: {what} has size {dim}, which must be {size} or 1", node=ctx.node,
                            element=ctx.element)
    return size


def expand_as_shape(ctx, node, shapes, attrs) -> Shape:
    shape, target = shapes
    if len(shape) > len(target):
        ctx.error("E0202", f"expand_as() cannot lower the rank: {ctx.show(shape)} to {ctx.show(target)}")
    new = len(target) - len(shape)
    for index, dim in enumerate(shape):
        _repeat(ctx, dim, target[new + index], f"axis {new + index}")
    return tuple(target)


def unflatten_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    axis = normalize_axis(ctx, node, attrs["dim"], len(shape))
    sizes = unflatten_sizes(ctx.checker, attrs["sizes"])
    product = ONE
    for size in sizes:
        ctx.expect_at_least(size, 1, f"unflatten(): each size it makes must be at least 1 ({size})")
        product = product * size
    written = f"`{attrs['sizes'].name}`" if isinstance(attrs["sizes"], PackSizes) else ctx.show(tuple(sizes))
    ctx.expect_equal(shape[axis], product, f"axis {axis}, which unflatten() splits into {written}")
    return tuple(shape[:axis]) + tuple(sizes) + tuple(shape[axis + 1:])


def unflatten_sizes(walk, sizes) -> list[Expr]:
    """The sizes as written, or those a pack (`spatial`) stands for at the walk's rank."""
    if isinstance(sizes, PackSizes):
        return walk.pack_sizes(sizes.name)
    return as_exprs(sizes)


def render_unflatten(r, node, operands, attrs):
    sizes = attrs["sizes"]
    if isinstance(sizes, PackSizes):  # the list unpacked from the input: `b, c, *spatial = x.shape`
        r.used_dims.add(sizes.name)
        written = sizes.name
    else:
        items = [r.dim(size) for size in as_exprs(sizes)]
        written = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return f"{r.wrap(operands[0], ATOM)}.unflatten({attrs['dim']}, {written})", ATOM


def render_expand(r, node, operands, attrs):
    sizes = ", ".join(r.dim(size) for size in as_exprs(attrs["sizes"]))
    return f"{r.wrap(operands[0], ATOM)}.expand({sizes})", ATOM


family("Axes")
op("flatten", "x: tensor[any], start_dim: axis = 0, end_dim: axis = -1", flatten_shape, render_flatten,
   result="same", doc="join the axes from `start_dim` to `end_dim` into one",
   shape_doc="`x` with the axes start_dim..end_dim replaced by their product (a 0-d tensor gives [1])",
   example="input x: [b, c, h, w]\nflatten(x, 2)")
op("unflatten", "x: tensor[any], dim: axis, sizes: ints", unflatten_shape, render_unflatten, result="same",
   takes_pack=True, doc="split axis `dim` into several (the inverse of flatten); `sizes` may be a pack, "
   "`unflatten(y, 2, spatial)` for `input x: [b, c, *spatial[dimension]]`",
   shape_doc="`x` with axis `dim` replaced by `sizes`, whose product must be its size",
   example="input x: [b, c, n]\nunflatten(x, 2, (2, n // 2))")
op("squeeze", "x: tensor[any], dim: axes = None", squeeze_shape, CallRender("squeeze", receiver=True,
   positional=("dim",)), result="same", doc="remove axes of size 1",
   shape_doc="`x` without the axes in `dim`, whose sizes must be 1 (checked at run time when symbolic); "
   "without `dim`, every axis of size 1 (all sizes must then be known numbers)",
   example="input x: [b, c, 1, 1]\nsqueeze(x, dim=(2, 3))")
op("unsqueeze", "x: tensor[any], dim: axis", unsqueeze_shape, "{x:recv}.unsqueeze({dim})", result="same",
   doc="insert an axis of size 1", shape_doc="`x` with a new axis of size 1 at `dim` (-rank-1 <= dim <= rank)",
   example="input x: [b, n, d]\nunsqueeze(x, 1)")
op("expand", "x: tensor[any], sizes: ints", expand_shape, render_expand, result="same",
   doc="repeat axes of size 1 without copying (`-1` keeps an axis); new axes go in front",
   shape_doc="`sizes`, each existing axis of `x` being 1 or already of that size",
   example="input x: [b, c, 1, 1]\ninput y: [b, c, h, w]\nexpand(x, (-1, -1, h, w))")
op("contiguous", "x: tensor[any]", same_shape, "{x:recv}.contiguous()", result="same",
   doc="the same values laid out in memory in order, copied only when `x` is a strided view (for a "
   "caller that `.view()`s the output, as fast-transformers' AttentionLayer does)",
   shape_doc="the shape of `x`", example="input x: [b, n, h, e]\ncontiguous(transpose(x, 1, 2))")
op("detach", "x: tensor[any]", same_shape, "{x:recv}.detach()", result="same",
   doc="the value of `x`, through which no gradient flows back (a constant to autograd): lucidrains' "
   "`sim - sim.amax(dim=-1, keepdim=True).detach()`",
   shape_doc="the shape of `x`", example="input x: [b, h, n, n]\nx - detach(max(x, dim=-1, keepdim=true))")
op("expand_as", "x: tensor[any], other: tensor[any]", expand_as_shape, "{x:recv}.expand_as({other})",
   result="first", doc="expand to the shape of `other` (as in SE's `y.expand_as(x)`)",
   shape_doc="the shape of `other`; each axis of `x` (aligned from the right) is 1 or equal to it",
   example="input x: [b, c, h, w]\nexpand_as(avg_pool(x), x)")

# The ops whose result may share storage with their first operand (a view, or the operand
# itself), and the leaf that reads a buffer: what a param's first value must copy
# (codegen/init.py), lest training write into the buffer it was made from.
SHARES_STORAGE = frozenset({"buffer", "subscript", "rearrange", "transpose", "flatten", "unflatten", "squeeze",
                            "unsqueeze", "expand", "expand_as", "chunk", "split", "unbind", "item", "view_as_real",
                            "view_as_complex", "detach", "contiguous"})
