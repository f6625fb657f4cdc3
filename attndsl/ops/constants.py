"""Tensors made from sizes alone: `arange(n)`, `eye(n)`, `ones([n, n])`, `zeros(...)`, and
the triangles `tril`/`triu` of a matrix: the raw material of masks and relative positions.

Written in a `buffer` statement, they are built once in `__init__` (a non-persistent
buffer unless declared `persistent`: it moves with `.to()`). Written in the dataflow,
they are built on every call, on the device and in the dtype of the block's first
floating-point input (lowering passes it as the `like` operand; `like=` names another
tensor). `arange` counts in int64, as torch does: its `like` gives the device only.
"""

from __future__ import annotations

from ..limits import MAX_SIZE
from ..symbolic import Expr
from .registry import ATOM, Shape, family, op, same_shape
from .rendering import as_exprs


def _sizes(ctx, sizes) -> Shape:
    for index, size in enumerate(sizes):
        # torch refuses a negative size (arange: "upper bound and larger bound inconsistent").
        ctx.expect_at_least(size, 0, f"size {index} of a constant tensor must not be negative")
        if size.is_const and size.value > MAX_SIZE:  # `ones([1e308, ...])`: no torch size is that large
            shown = size.value if size.value < 10**12 else f"{float(size.value):.3g}"
            ctx.error("E0205", f"size {index} of a constant tensor is {shown}, more than any model could hold",
                      help=f"a size is at most {MAX_SIZE}")
    return tuple(sizes)


def arange_shape(ctx, node, shapes, attrs) -> Shape:
    return _sizes(ctx, (attrs["end"],))


def eye_shape(ctx, node, shapes, attrs) -> Shape:
    return _sizes(ctx, (attrs["n"], attrs["n"]))


def filled_shape(ctx, node, shapes, attrs) -> Shape:
    return _sizes(ctx, as_exprs(attrs["size"]))


def triangle_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    if len(shape) < 2:
        ctx.error("E0202", f"a triangle of a matrix needs a tensor of rank >= 2, got {ctx.show(shape)}")
    return shape


def render_created(function: str, sizes_of, *, integer: bool = False):
    """`torch.eye(n, device=x.device, dtype=x.dtype)` in forward; in a buffer, `torch.eye(n)`,
    or `torch.eye(n, device=device, dtype=dtype)` in a block with factory arguments (an
    integer tensor, `torch.arange(n, device=x.device)`, takes the device alone)."""

    def render(r, node, operands, attrs):
        arguments = [r.dim(size) for size in sizes_of(attrs)]
        if operands:
            like = r.wrap(operands[0], ATOM)
            arguments += [f"device={like}.device"] + ([] if integer else [f"dtype={like}.dtype"])
        else:
            arguments += r.buffer_factory(integer)
        return f"torch.{function}({', '.join(arguments)})", ATOM

    return render


def render_triangle(method: str):
    def render(r, node, operands, attrs):
        diagonal = attrs.get("diagonal")
        argument = f"diagonal={r.dim(diagonal)}" if isinstance(diagonal, Expr) and diagonal != Expr.const(0) else ""
        return f"{r.wrap(operands[0], ATOM)}.{method}({argument})", ATOM

    return render


family("Constant tensors")
_LIKE = "like: tensor[any] = None"
op("arange", f"end: int, {_LIKE}", arange_shape, render_created("arange", lambda a: (a["end"],), integer=True),
   result="int", doc="0, 1, ..., end - 1, an integer tensor (int64): positions, for masks and gather indices",
   shape_doc="[end]", example="input x: [b, n, d]\nx + arange(n)", creates=True)
op("eye", f"n: int, {_LIKE}", eye_shape, render_created("eye", lambda a: (a["n"],)),
   doc="the identity matrix: ones on the diagonal", shape_doc="[n, n]", example="input x: [b, n, n]\nx * eye(n)",
   creates=True)
op("ones", f"size: ints, {_LIKE}", filled_shape, render_created("ones", lambda a: as_exprs(a["size"])),
   doc="A tensor of ones", shape_doc="`size`", example="input x: [b, n, n]\ntril(ones([n, n]))", creates=True)
op("zeros", f"size: ints, {_LIKE}", filled_shape, render_created("zeros", lambda a: as_exprs(a["size"])),
   doc="A tensor of zeros", shape_doc="`size`", example="input x: [b, n, n]\nx + zeros([n, n])", creates=True)
op("tril", "x: tensor[any], diagonal: int = 0", triangle_shape, render_triangle("tril"), result="same",
   doc="the lower triangle of the last two dims (above `diagonal` set to 0)",
   shape_doc="the shape of `x` (rank >= 2)", example="input x: [b, n, n]\ntril(x)")
op("triu", "x: tensor[any], diagonal: int = 0", triangle_shape, render_triangle("triu"), result="same",
   doc="the upper triangle of the last two dims (below `diagonal` set to 0)",
   shape_doc="the shape of `x` (rank >= 2)", example="input x: [b, n, n]\ntriu(x, diagonal=1)")
# The leaf that reads a `buffer` in forward (`self.causal`); made by lowering, never written.
op("buffer", "x: tensor[any]", same_shape, lambda r, n, o, a: (f"self.{a['buffer']}", ATOM), result="same",
   doc="a buffer read in forward", internal=True)
