"""Spectra (GFNet's global filter, Hyena's long convolution): rfft, irfft, rfft2, irfft2, and
complex views of real pairs.

A spectrum is a complex tensor (the element type "complex", attndsl/shapes/dtypes.py):
`+ - * /` take it (a float operand is promoted), layers and the other ops do not. A
complex weight is a real param whose last axis holds (real, imaginary) pairs, read with
view_as_complex, as GFNet stores it (so its state_dict is GFNet's).
"""

from __future__ import annotations

from .. import symbolic as sym
from ..symbolic import Expr
from .registry import ATOM, Shape, family, normalize_axis, op
from .rendering import CallRender, per_dim

TWO = Expr.const(2)


def _fft_axes(ctx, node, attrs, rank: int) -> tuple[int, int]:
    """The two axes, in the order given: the last one is the halved one."""
    dims = attrs["dim"]
    values = dims if isinstance(dims, tuple) else (dims,)
    if len(values) != 2:
        ctx.error("E0112", f"a 2-d FFT takes two axes, got {len(values)}", help="e.g. dim=(1, 2)")
    axes = tuple(normalize_axis(ctx, node, value, rank) for value in values)
    if axes[0] == axes[1]:
        ctx.error("E0204", f"dim names axis {axes[0]} twice", help="name two different axes")
    return axes


def rfft2_shape(ctx, node, shapes, attrs) -> Shape:
    shape = list(shapes[0])
    first, last = _fft_axes(ctx, node, attrs, len(shape))
    for axis in range(len(shape)):  # torch's CPU FFT (MKL) fails on an empty batch axis too
        ctx.expect_at_least(shape[axis], 1, f"rfft2() needs axis {axis} not to be empty")
    # The spectrum of a real signal is symmetric: the last axis keeps n // 2 + 1 frequencies.
    shape[last] = sym.floordiv(shape[last], TWO, ctx.facts) + 1
    return tuple(shape)


def irfft2_shape(ctx, node, shapes, attrs) -> Shape:
    shape = list(shapes[0])
    first, last = _fft_axes(ctx, node, attrs, len(shape))
    for axis in range(len(shape)):  # as rfft2's
        ctx.expect_at_least(shape[axis], 1, f"irfft2() needs axis {axis} not to be empty")
    if attrs.get("s") is not None:
        sizes = per_dim(ctx, attrs["s"], 2, "s")
        for size in sizes:
            ctx.expect_at_least(size, 1, "each size in `s` must be at least 1")
        shape[first], shape[last] = sizes
        return tuple(shape)
    # Without `s`, torch assumes an even signal: 2 * (n - 1) points, at least 1.
    ctx.expect_at_least(shape[last], 2, f"irfft2() without `s` needs at least 2 frequencies on axis {last}",
                        help="give the signal's size: s=(h, w)")
    shape[last] = TWO * (shape[last] - 1)
    return tuple(shape)


def _fft_axis(ctx, node, attrs, shape: list, name: str) -> int:
    """The axis a 1-d FFT transforms; every axis non-empty (torch's CPU FFT, MKL, fails on an
    empty batch axis too)."""
    if not shape:
        ctx.error("E0202", f"{name}() transforms an axis, and x has rank 0")
    axis = normalize_axis(ctx, node, attrs["dim"], len(shape))
    for index in range(len(shape)):
        ctx.expect_at_least(shape[index], 1, f"{name}() needs axis {index} not to be empty")
    return axis


def rfft_shape(ctx, node, shapes, attrs) -> Shape:
    shape = list(shapes[0])
    axis = _fft_axis(ctx, node, attrs, shape, "rfft")
    points = shape[axis]
    if attrs.get("n") is not None:  # the signal zero-padded (or cut) to n points first
        points = attrs["n"]
        ctx.expect_at_least(points, 1, "`n` of rfft() must be at least 1")
    shape[axis] = sym.floordiv(points, TWO, ctx.facts) + 1
    return tuple(shape)


def irfft_shape(ctx, node, shapes, attrs) -> Shape:
    shape = list(shapes[0])
    axis = _fft_axis(ctx, node, attrs, shape, "irfft")
    if attrs.get("n") is not None:
        ctx.expect_at_least(attrs["n"], 1, "`n` of irfft() must be at least 1")
        shape[axis] = attrs["n"]
        return tuple(shape)
    ctx.expect_at_least(shape[axis], 2, f"irfft() without `n` needs at least 2 frequencies on axis {axis}",
                        help="give the signal's size: n=...")
    shape[axis] = TWO * (shape[axis] - 1)
    return tuple(shape)


def view_as_complex_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    if not shape:
        ctx.error("E0202", "view_as_complex() needs a last axis of (real, imaginary) pairs")
    ctx.expect_equal(shape[-1], TWO, "the last axis of view_as_complex() (real, imaginary)")
    return tuple(shape[:-1])


def view_as_real_shape(ctx, node, shapes, attrs) -> Shape:
    return tuple(shapes[0]) + (TWO,)


def render_view_as_complex(r, node, operands, attrs):
    # torch views the memory as pairs: it must be contiguous. A param is; anything else may
    # be a transposed view, so it is made contiguous (a no-op when it already is).
    source = operands[0][0] if node.operand_ops[0] == "param" else f"{r.wrap(operands[0], ATOM)}.contiguous()"
    return f"torch.view_as_complex({source})", ATOM


_NORM = 'norm: choice[backward|ortho|forward] = "backward"'

family("Spectra (complex)")
op("rfft", f"x: tensor, n: int = None, dim: axis = -1, {_NORM}", rfft_shape, CallRender("torch.fft.rfft"),
   result="complex", doc="1-d FFT of a real tensor along `dim`, the signal zero-padded (or cut) to `n` points "
   "first when given (a long convolution's `rfft(u, n=2 * l)`)",
   shape_doc="`x` with axis `dim` reduced to n // 2 + 1 frequencies (n: its size, or `n`)",
   example="input x: [b, d, l]\nrfft(x, n=2 * l)")
op("irfft", f"x: tensor[complex], n: int = None, dim: axis = -1, {_NORM}", irfft_shape,
   CallRender("torch.fft.irfft"), result="float",
   doc="inverse of rfft: a real signal of `n` points from a spectrum (without `n`, 2 * (m - 1))",
   shape_doc="`x` with axis `dim` of size `n`; without `n`, 2 * (m - 1)",
   example="input x: [b, d, l]\nirfft(rfft(x, n=2 * l), n=2 * l)[..., :l]")
op("rfft2", f"x: tensor, dim: axes = (-2, -1), {_NORM}", rfft2_shape, CallRender("torch.fft.rfft2"),
   result="complex", doc="2-d FFT of a real tensor over the axes `dim` (a complex spectrum)",
   shape_doc="`x` with the last axis of `dim` reduced to n // 2 + 1 frequencies; both axes non-empty",
   example='input x: [b, h, w, c]\nrfft2(x, dim=(1, 2), norm="ortho")')
op("irfft2", f"x: tensor[complex], s: ints = None, dim: axes = (-2, -1), {_NORM}", irfft2_shape,
   CallRender("torch.fft.irfft2"), result="float",
   doc="inverse of rfft2: a real tensor from a spectrum; `s` gives the signal's size on the two axes",
   shape_doc="`x` with the axes of `dim` of sizes `s`; without `s`, the last becomes 2 * (n - 1)",
   example='input x: [b, h, w, c]\nirfft2(rfft2(x, dim=(1, 2)), s=(h, w), dim=(1, 2))')
op("view_as_complex", "x: tensor", view_as_complex_shape, render_view_as_complex, result="complex",
   doc="read a real tensor whose last axis holds (real, imaginary) pairs as complex (GFNet's weight)",
   shape_doc="[..., 2] is [...]", example="(h: int = 14, w: int = 8, d: int = 16)\ninput x: [b, h, w, d]\n"
   "param filt: [h, w // 2 + 1, d, 2] = randn\nrfft2(x, dim=(1, 2)) * view_as_complex(filt)")
op("view_as_real", "x: tensor[complex]", view_as_real_shape, "torch.view_as_real({x})", result="float",
   doc="a complex tensor as (real, imaginary) pairs on a new last axis", shape_doc="[...] is [..., 2]",
   example="input x: [b, h, w]\nview_as_real(rfft2(x))")
