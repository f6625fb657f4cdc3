"""Tensors made from sizes alone: `arange(n)`, `eye(n)`, `ones([n, n])`, `zeros(...)`, from
numbers written out, `tensor([0, 6, 1])`, and the triangles `tril`/`triu` of a matrix: the
raw material of masks, relative positions and fixed tables.

Written in a `buffer` statement, they are built once in `__init__` (a non-persistent
buffer unless declared `persistent`: it moves with `.to()`). Written in the dataflow,
they are built on every call, on the device and in the dtype of the block's first
floating-point input (lowering passes it as the `like` operand; `like=` names another
tensor). `arange` counts in int64, as torch does: its `like` gives the device only.
"""

from __future__ import annotations

from .. import symbolic as sym
from ..limits import MAX_SIZE
from ..symbolic import Expr
from .registry import ATOM, Shape, family, op, same_shape
from .rendering import as_exprs


def _sizes(ctx, sizes) -> Shape:
    for index, size in enumerate(sizes):
        # torch refuses a negative size (arange: "upper bound and larger bound inconsistent").
        ctx.expect_at_least(size, 0, f"size {index} of {ctx.op}() must not be negative")
        if size.is_const and size.value > MAX_SIZE:  # `ones([1e308, ...])`: no torch size is that large
            shown = size.value if size.value < 10**12 else f"{float(size.value):.3g}"
            ctx.error("E0205", f"size {index} of {ctx.op}() is {shown}, more than any model could hold",
                      help=f"a size is at most {MAX_SIZE}")
    return tuple(sizes)


def arange_bounds(attrs) -> tuple[Expr, Expr]:
    """`arange(n)` counts from 0 to n, `arange(start, end)` from start to end, as Python's
    range does (Swin's `arange(-(w - 1), w)`)."""
    if attrs.get("end") is None:
        return Expr.const(0), attrs["start"]
    return attrs["start"], attrs["end"]


def arange_step(attrs) -> Expr:
    step = attrs.get("step", 1)
    return step if isinstance(step, Expr) else Expr.const(step)


def arange_shape(ctx, node, shapes, attrs) -> Shape:
    start, end = arange_bounds(attrs)
    step = arange_step(attrs)
    if attrs.get("end") is not None:
        ctx.expect_at_least(end - start, 0, "arange(start, end) counts up: `end` must be at least `start`")
    if step == Expr.const(1):
        return _sizes(ctx, (end - start,))
    # `arange(0, d, 2)` (rotary embeddings' frequencies): counts up by a whole number step
    ctx.expect_at_least(step, 1, "arange()'s `step` must be at least 1")
    return _sizes(ctx, (sym.ceildiv(end - start, step, ctx.facts),))


def _arange_numbers(a) -> tuple:
    """What torch.arange is given: as written, the start made explicit for a step."""
    if arange_step(a) != Expr.const(1):
        return (*arange_bounds(a), arange_step(a))
    return (a["start"],) if a.get("end") is None else (a["start"], a["end"])


def eye_shape(ctx, node, shapes, attrs) -> Shape:
    return _sizes(ctx, (attrs["n"], attrs["n"]))


def filled_shape(ctx, node, shapes, attrs) -> Shape:
    return _sizes(ctx, as_exprs(attrs["size"]))


def values_shape(ctx, node, shapes, attrs) -> Shape:
    """[len(values)], [rows, columns], ...: the nesting of the list; a `list[int]` argument's
    length (`values` is then its name)."""
    values = attrs["values"]
    if isinstance(values, str):
        return (Expr.symbol(f"len({values})"),)
    sizes = []
    while isinstance(values, tuple):
        sizes.append(Expr.const(len(values)))
        values = values[0]
    return tuple(sizes)


def render_values(r, node, operands, attrs):
    """`torch.tensor([0, 6, 1])`: whole numbers make an int64 tensor, and a float (`0.5`, `2.0`)
    a floating one, as torch.tensor reads them; on the device (and in the dtype) of `like` in
    forward, of the block's factory arguments in a buffer."""
    values, floating = attrs["values"], attrs["floating"]
    if isinstance(values, str):  # a list[int] argument, which may be empty: that would make a float tensor
        arguments, typed = [r.dim(Expr.symbol(values))], ["dtype=torch.int64"]
    else:
        constants = []

        def written(value) -> str:
            if isinstance(value, tuple):
                return "[" + ", ".join(written(item) for item in value) + "]"
            if isinstance(value, Expr) and value.is_const:
                constants.append(value)
            return r.scalar(value, folded=floating and isinstance(value, Expr) and value.is_const)[0]

        arguments = [written(values)]
        # torch.tensor takes float from a float it reads: a floating tensor of names alone says so
        typed = [f"dtype={r.buffer_dtype()}"] if floating and not constants and not operands else []
    if operands:
        like = r.wrap(operands[0], ATOM)
        arguments += [f"device={like}.device"] + ([f"dtype={like}.dtype"] if floating else [])
    else:
        arguments += r.buffer_factory(not floating)
    if not any(argument.startswith("dtype=") for argument in arguments):
        arguments += typed
    return f"torch.tensor({', '.join(arguments)})", ATOM


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
op("arange", f"start: int = 0, end: int = None, step: int = 1, {_LIKE}", arange_shape,
   render_created("arange", _arange_numbers, integer=True),
   result="int", doc="`arange(n)`: 0, 1, ..., n - 1; `arange(start, end)`: start, ..., end - 1; "
                     "`arange(start, end, step)` by a whole-number step (`arange(0, d, 2)`: rotary frequencies); "
                     "an integer tensor (int64): positions, for masks and gather indices",
   shape_doc="[n], [end - start], [ceil((end - start) / step)] (step at least 1)",
   example="input x: [b, n, d]\nx + arange(n)", creates=True)
op("eye", f"n: int, {_LIKE}", eye_shape, render_created("eye", lambda a: (a["n"],)),
   doc="the identity matrix: ones on the diagonal", shape_doc="[n, n]", example="input x: [b, n, n]\nx * eye(n)",
   creates=True)
op("ones", f"size: ints, {_LIKE}", filled_shape, render_created("ones", lambda a: as_exprs(a["size"])),
   doc="A tensor of ones", shape_doc="`size`", example="input x: [b, n, n]\ntril(ones([n, n]))", creates=True)
op("zeros", f"size: ints, {_LIKE}", filled_shape, render_created("zeros", lambda a: as_exprs(a["size"])),
   doc="A tensor of zeros", shape_doc="`size`", example="input x: [b, n, n]\nx + zeros([n, n])", creates=True)
op("zeros_like", "x: tensor[any]", same_shape, "torch.zeros_like({x})", result="same",
   doc="zeros of the shape, dtype and device of `x` (BiFormer's `lepe` when there is no side conv)",
   shape_doc="the shape of `x`", example="input x: [b, n, d]\nx + zeros_like(x)")
op("ones_like", "x: tensor[any]", same_shape, "torch.ones_like({x})", result="same",
   doc="ones of the shape, dtype and device of `x`", shape_doc="the shape of `x`",
   example="input x: [b, n, d]\nx * ones_like(x)")
op("tensor", f"values: numbers, {_LIKE}", values_shape, render_values, result="values",
   doc="a tensor of the numbers written out (nested lists for a matrix), or of a list[int] argument: int64 "
       "when every number is whole, else floating point", shape_doc="[len(values)], [rows, columns], ...",
   example="input x: [b, n, 3]\nx * tensor([0.25, 0.5, 0.25])", creates=True)
op("tril", "x: tensor[any], diagonal: int = 0", triangle_shape, render_triangle("tril"), result="same",
   doc="the lower triangle of the last two dims (above `diagonal` set to 0)",
   shape_doc="the shape of `x` (rank >= 2)", example="input x: [b, n, n]\ntril(x)")
op("triu", "x: tensor[any], diagonal: int = 0", triangle_shape, render_triangle("triu"), result="same",
   doc="the upper triangle of the last two dims (below `diagonal` set to 0)",
   shape_doc="the shape of `x` (rank >= 2)", example="input x: [b, n, n]\ntriu(x, diagonal=1)")
# The leaf that reads a `buffer` in forward (`self.causal`); made by lowering, never written.
op("buffer", "x: tensor[any]", same_shape, lambda r, n, o, a: (f"self.{a['buffer']}", ATOM), result="same",
   doc="a buffer read in forward", internal=True)
