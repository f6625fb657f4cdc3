"""Indexing and unequal splits: `y[:, :, :h]`, `x[..., 0]`, `q[:, None]`, `split(y, [h, w], dim=2)`,
and gathers `table[index]`.

A subscript keeps, per axis, a slice `start:stop:step` (bounds are whole-number
expressions, a negative constant counting from the end; the step a whole number >= 1), drops
an axis for an index, and adds one of size 1 for `None`; `...` stands for the axes not
named. Python clamps a slice that runs past its axis and gives fewer elements; the
language does not: bounds must lie within the axis (proven, else checked at run time),
so that the shape the checker computed is the shape the module returns.

A gather picks along one axis with an integer tensor: `table[index]` is
`[*index.shape, *table.shape[1:]]` (Swin's relative-position bias). The index is a
buffer, built once: when the module is built, its values are checked to lie in
[0, size) of the axis (torch would wrap a negative one, and stop on a large one with a
device-side assert on a GPU); the axis's size must be known then too. Or the index holds
positions computed in forward (`topk`'s, `argsort`'s: attndsl/ops/selection.py), whose
values lie below the size of the axis they were computed along: that size must not exceed
the picked axis's, a shape check.
"""

from __future__ import annotations

from .. import symbolic as sym
from ..symbolic import Expr
from .registry import ATOM, Shape, family, normalize_axis, op
from .rendering import as_exprs
from .selection import expect_within

ONE, ZERO = Expr.const(1), Expr.const(0)
FULL = ("slice", None, None, None)


def expand_items(items, rank: int) -> list:
    """The items with `...` (or the missing trailing axes) written out as full slices."""
    items = list(items)
    consumed = sum(1 for item in items if item[0] in ("slice", "index", "tensor"))
    if ("ellipsis",) in items:
        at = items.index(("ellipsis",))
        items[at:at + 1] = [FULL] * max(rank - consumed, 0)
    else:
        items += [FULL] * max(rank - consumed, 0)
    return items


def _position(ctx, value: Expr, dim: Expr, what: str) -> Expr:
    """Where a bound or an index points: a negative constant counts from the end."""
    normal = ctx.normal(value)
    if normal.is_const and normal.value < 0:
        ctx.expect_at_least(dim + value, 0, f"{what} ({normal.value}) counts from the end of an axis of size "
                            f"{dim}, which must be at least {-normal.value}", code="E0204")
        return dim + value
    ctx.expect_at_least(value, 0, f"{what} must not be negative (only a constant counts from the end)",
                        code="E0204")
    return value


def subscript_shape(ctx, node, shapes, attrs) -> Shape:
    return tuple(_sliced(ctx, shapes[0], attrs["items"])[0])


def lookup_shape(ctx, node, shapes, attrs) -> Shape:
    """`table[:, index]`: the slices as in a subscript, the index's shape in place of its axis."""
    out, (position, axis) = _sliced(ctx, shapes[0], attrs["items"])
    size = shapes[0][axis]
    expect_within(ctx, ctx.checker.ir.operands(node)[1], size, axis, "a gather")
    out[position:position + 1] = list(shapes[1])
    return tuple(out)


def _sliced(ctx, shape, items) -> tuple[list, tuple[int, int] | None]:
    """The shape a subscript keeps, and where its tensor index is: (output position, axis)."""
    consumed = sum(1 for item in items if item[0] in ("slice", "index", "tensor"))
    if consumed > len(shape):
        ctx.error("E0202", f"{consumed} indices for a tensor of rank {len(shape)} ({ctx.show(shape)})")
    out, axis, gathered = [], 0, None
    for item in expand_items(items, len(shape)):
        if item[0] == "new":
            out.append(ONE)
            continue
        dim = shape[axis]
        if item[0] == "tensor":
            gathered = (len(out), axis)
            out.append(dim)  # replaced by the index's shape
        elif item[0] == "index":
            where = _position(ctx, item[1], dim, f"the index of axis {axis}")
            ctx.expect_at_least(dim - where, 1, f"the index of axis {axis} must be less than its size {dim}",
                                code="E0204")
        elif item == FULL:
            out.append(dim)
        else:
            _, start, stop, step = item
            start = ZERO if start is None else _position(ctx, start, dim, f"the start of the slice of axis {axis}")
            stop = dim if stop is None else _position(ctx, stop, dim, f"the stop of the slice of axis {axis}")
            ctx.expect_at_least(dim - stop, 0, f"the slice of axis {axis} must end within its size {dim}",
                                code="E0204")
            ctx.expect_at_least(stop - start, 1, f"the slice of axis {axis} must not be empty (every size is at least 1)",
                                code="E0204")
            if isinstance(step, Expr):  # an argument's: at least 1, as torch needs
                ctx.expect_at_least(step, 1, f"the step of the slice of axis {axis} must be at least 1")
            out.append(stop - start if step is None or step == 1 else sym.ceildiv(stop - start, as_exprs(step)[0],
                                                                                   ctx.facts))
        axis += 1
    return out, gathered


def render_subscript(r, node, operands, attrs):
    parts = []
    for item in attrs["items"]:
        if item[0] == "tensor":  # a gather's index, the second operand
            parts.append(r.wrap(operands[1], ATOM))
        elif item[0] == "new":
            parts.append("None")
        elif item[0] == "ellipsis":
            parts.append("...")
        elif item[0] == "index":
            parts.append(r.dim(item[1]))
        else:
            _, start, stop, step = item
            text = (r.dim(start) if start is not None else "") + ":" + (r.dim(stop) if stop is not None else "")
            parts.append(text + (f":{r.dim(as_exprs(step)[0])}" if step is not None else ""))
    return f"{r.wrap(operands[0], ATOM)}[{', '.join(parts)}]", ATOM


def split_shape(ctx, node, shapes, attrs):
    shape = list(shapes[0])
    if not isinstance(attrs["sizes"], (tuple, list)):
        ctx.error("E0112", "split() takes a list of sizes, one per piece: split(x, [h, w], dim=2)",
                  help="chunk(x, n, dim) splits into n equal pieces")
    axis = normalize_axis(ctx, node, attrs["dim"], len(shape))
    sizes = as_exprs(attrs["sizes"])
    total = ZERO
    for index, size in enumerate(sizes):
        ctx.expect_at_least(size, 1, f"piece {index} of split() must not be empty (every size is at least 1)")
        total = total + size
    ctx.expect_equal(total, shape[axis], f"the sum of split()'s sizes and dimension {axis}")
    pieces = []
    for size in sizes:
        piece = list(shape)
        piece[axis] = size
        pieces.append(tuple(piece))
    return tuple(pieces)


def render_split(r, node, operands, attrs):
    sizes = ", ".join(r.dim(size) for size in as_exprs(attrs["sizes"]))
    return f"{r.wrap(operands[0], ATOM)}.split([{sizes}], dim={attrs['dim']})", ATOM


family("Indexing")
op("split", "x: tensor[any], sizes: ints, dim: axis = 0", split_shape, render_split, result="same",
   outputs=lambda attrs: len(attrs["sizes"]) if isinstance(attrs["sizes"], (tuple, list)) else 1,
   doc="cut into pieces of the given sizes along `dim`, unpacked as `a, b = split(x, [h, w], dim=2)`",
   shape_doc="one tensor per size, each `x` with that size at `dim`; the sizes must add up to it",
   example="input x: [b, c, n]\nfirst, rest = split(x, [1, n - 1], dim=2)\nrest * first")
# `x[...]`: made by lowering from the subscript syntax (see the module docstring).
op("subscript", "x: tensor[any]", subscript_shape, render_subscript, result="same", operator="[]",
   doc="`x[:, :h]`, `x[..., 0]`, `x[:, None]`: slices within the axis, indices, new axes",
   shape_doc="per axis: a slice `a:b:s` keeps ceil((b - a) / s) (0 <= a <= b <= size; a negative constant counts "
   "from the end), an index drops the axis, `None` adds one of size 1",
   example="input x: [b, c, n]\nx[:, :, 1:n - 1]")
# `table[index]`: made by lowering from a subscript with an integer tensor in it.
op("lookup", "x: tensor[any], index: tensor[int]", lookup_shape, render_subscript, result="first", operator="[]",
   doc="`table[index]`, `x[:, index]`: gather along one axis by an integer buffer (Swin's relative-position "
   "bias); the other items are slices", shape_doc="the index's shape in place of the axis it picks from; "
   "the index is a buffer whose values lie in [0, size of the axis), checked when the module is built",
   example="(n: int = 4, d: int = 8)\ninput x: [b, n, d]\nparam table: [2 * n - 1, d] = zeros()\n"
   "buffer offsets = arange(n)[:, None] - arange(n)[None, :] + n - 1\nx + sum(table[offsets], dim=1)")
