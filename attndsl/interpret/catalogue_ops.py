"""The interpreter's meaning of the ops added for the catalogue (attndsl/ops: views,
padding, windows, resampling, spectral, the functional activations, norm/normalize).

Registered into `tensor_ops.TENSOR_OPS` like the others. Each entry is written from the
language's definition of the op (docs/language.md), with torch doing the arithmetic;
where torch quietly does something else than the language means (squeeze of an axis
that is not 1, a negative pad width the language refuses), the entry refuses itself.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..ranks import PackSizes
from ..symbolic import Expr
from .tensor_ops import axis_index, tensor_arg, tensor_op
from .values import Refusal, as_python, expr_value


def _value(call, name: str):
    """An attribute's value: a default or constant as it is, an expression evaluated."""
    value = call.attrs.get(name)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        if all(isinstance(item, int) for item in value):
            return value  # axes
        return tuple(_size(item, call) for item in value)
    return call.number(name)


def _size(item, call):
    if isinstance(item, Expr):
        return as_python(expr_value(item, call.env))
    return item


def _ints(call, name: str) -> tuple | int:
    value = _value(call, name)
    items = value if isinstance(value, (tuple, list)) else (value,)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            raise Refusal(f"`{name}` = {item!r} is not a whole number")
    return tuple(items) if isinstance(value, (tuple, list)) else value


# ---------------------------------------------------------------------------- activations

tensor_op("gelu")(lambda call, x: F.gelu(tensor_arg(x, "x"), approximate=call.attrs["approximate"]))
tensor_op("silu")(lambda call, x: F.silu(tensor_arg(x, "x")))
tensor_op("relu6")(lambda call, x: torch.clamp(tensor_arg(x, "x"), 0, 6))
tensor_op("hardsigmoid")(lambda call, x: torch.clamp(tensor_arg(x, "x") / 6 + 0.5, 0, 1))
# x * relu6(x + 3) / 6 in torch's order: where x >= 3 it rounds as torch's does (x * 6 / 6 need
# not be x), and a comparison with x that follows agrees (campaign 21000001)
tensor_op("hardswish")(lambda call, x: tensor_arg(x, "x") * torch.clamp(x + 3, 0, 6) / 6)


@tensor_op("elu")
def _elu(call, x):
    alpha = float(_value(call, "alpha"))
    return torch.where(tensor_arg(x, "x") > 0, x, alpha * torch.expm1(x))


@tensor_op("leaky_relu")
def _leaky_relu(call, x):
    slope = float(_value(call, "negative_slope"))
    return torch.where(tensor_arg(x, "x") > 0, x, slope * x)


@tensor_op("clamp")
def _clamp(call, x):
    """Not torch.clamp: the larger of x and min, then the smaller of that and max."""
    low, high = (None if call.attrs.get(name) is None else float(_value(call, name)) for name in ("min", "max"))
    if low is None and high is None:
        raise Refusal("clamp() without a bound")
    x = tensor_arg(x, "x")
    if low is not None:
        x = torch.where(x < low, torch.full_like(x, low), x)
    if high is not None:
        x = torch.where(x > high, torch.full_like(x, high), x)
    return x


@tensor_op("softplus")
def _softplus(call, x):
    beta, threshold = float(_value(call, "beta")), float(_value(call, "threshold"))
    scaled = tensor_arg(x, "x") * beta
    # Linear where beta * x exceeds the threshold (torch's rule, for overflow).
    return torch.where(scaled > threshold, x, torch.log1p(torch.exp(scaled)) / beta)


# ---------------------------------------------------------------------------- norms


def _dims(call, x: torch.Tensor, name: str = "dim"):
    value = call.attrs.get(name)
    if value is None:
        return tuple(range(x.dim()))
    values = value if isinstance(value, tuple) else (value,)
    axes = [axis_index(a, x.dim()) for a in values]
    if len(set(axes)) != len(axes):
        raise Refusal(f"{name} names an axis twice")
    return tuple(axes)


def _length(x: torch.Tensor, dims: tuple) -> torch.Tensor:
    """The 2-norm over `dims` (kept): sqrt(sum(x * x)), which overflows to inf once a square
    passes the dtype's largest value, as torch's does (`[finfo.max, 0.5]` has norm inf in
    torch, float32 and float64 alike); over a single entry, its magnitude, as torch's gives
    (no square is taken: a `finfo.max` entry stays finfo.max)."""
    if math.prod(x.shape[d] for d in dims) == 1:
        return x.abs().sum(dim=dims, keepdim=True)
    return torch.sqrt(torch.sum(x * x, dim=dims, keepdim=True))


def _p_norm(x: torch.Tensor, dims: tuple, p: float) -> torch.Tensor:
    """The p-norm over `dims` (kept), p >= 1 or inf: the largest magnitude for inf, the sum of
    magnitudes for 1, the 2-norm as `_length`, else (sum |x| ** p) ** (1 / p), unscaled, so
    overflowing where torch's does; over a single entry, its magnitude."""
    if p == math.inf:
        if math.prod(x.shape[d] for d in dims) == 0:
            raise Refusal("norm(p=inf) over no value")
        return x.abs().amax(dim=dims, keepdim=True)
    if p == 2:
        return _length(x, dims)
    if p == 1 or math.prod(x.shape[d] for d in dims) == 1:
        return x.abs().sum(dim=dims, keepdim=True)
    return torch.sum(x.abs() ** p, dim=dims, keepdim=True) ** (1 / p)


@tensor_op("norm")
def _norm(call, x):
    dims = _dims(call, tensor_arg(x, "x"))
    p = float(_value(call, "p") if call.attrs.get("p") is not None else 2)
    if not p >= 1:
        raise Refusal(f"norm(): p = {p} is below 1")
    length = _p_norm(x, dims, p)
    return length if call.attrs.get("keepdim") else length.squeeze(dims)


@tensor_op("normalize")
def _normalize(call, x):
    axis = axis_index(call.attrs["dim"], tensor_arg(x, "x").dim())
    return x / torch.clamp(_length(x, (axis,)), min=float(_value(call, "eps")))


# ---------------------------------------------------------------------------- axes


@tensor_op("flatten")
def _flatten(call, x):
    rank = max(tensor_arg(x, "x").dim(), 1)
    start, end = axis_index(call.attrs["start_dim"], rank), axis_index(call.attrs["end_dim"], rank)
    if start > end:
        raise Refusal("flatten: start_dim after end_dim")
    shape = list(x.shape) or [1]
    joined = 1
    for size in shape[start:end + 1]:
        joined *= size
    return x.reshape(shape[:start] + [joined] + shape[end + 1:])


@tensor_op("unflatten")
def _unflatten(call, x):
    axis = axis_index(call.attrs["dim"], tensor_arg(x, "x").dim())
    sizes = call.attrs["sizes"]
    if isinstance(sizes, PackSizes):  # `spatial`: the sizes the input's pack had
        sizes = call.env[sizes.name]
    else:
        sizes = _ints(call, "sizes")
        sizes = sizes if isinstance(sizes, tuple) else (sizes,)
    joined = 1
    for size in sizes:
        if size < 1:
            raise Refusal(f"unflatten: size {size}")
        joined *= size
    if joined != x.shape[axis]:
        raise Refusal(f"unflatten: axis {axis} has size {x.shape[axis]}, not {joined}")
    return x.reshape(list(x.shape[:axis]) + list(sizes) + list(x.shape[axis + 1:]))


@tensor_op("squeeze")
def _squeeze(call, x):
    dims = _dims(call, tensor_arg(x, "x"))
    if call.attrs.get("dim") is None:
        dims = tuple(i for i, size in enumerate(x.shape) if size == 1)
    for axis in dims:
        if x.shape[axis] != 1:
            raise Refusal(f"squeeze: axis {axis} has size {x.shape[axis]}, not 1")
    return x.reshape([size for i, size in enumerate(x.shape) if i not in dims])


@tensor_op("unsqueeze")
def _unsqueeze(call, x):
    axis = axis_index(call.attrs["dim"], tensor_arg(x, "x").dim() + 1)
    return x.reshape(list(x.shape[:axis]) + [1] + list(x.shape[axis:]))


def _expanded(x: torch.Tensor, sizes) -> torch.Tensor:
    new = len(sizes) - x.dim()
    if new < 0:
        raise Refusal("expand: fewer sizes than axes")
    target = []
    for index, size in enumerate(sizes):
        if index >= new and size == -1:
            size = x.shape[index - new]
        if size < 0:
            raise Refusal(f"expand: size {size}")
        if index >= new and x.shape[index - new] not in (1, size):
            raise Refusal(f"expand: axis {index} has size {x.shape[index - new]}, not 1 or {size}")
        target.append(size)
    return torch.broadcast_to(x, target)




@tensor_op("expand")
def _expand(call, x):
    sizes = _ints(call, "sizes")
    return _expanded(tensor_arg(x, "x"), sizes if isinstance(sizes, tuple) else (sizes,))


tensor_op("contiguous")(lambda call, x: tensor_arg(x, "x").contiguous())
tensor_op("detach")(lambda call, x: tensor_arg(x, "x").detach())
tensor_op("zeros_like")(lambda call, x: torch.zeros_like(tensor_arg(x, "x")))
tensor_op("ones_like")(lambda call, x: torch.ones_like(tensor_arg(x, "x")))
tensor_op("expand_as")(lambda call, x, other: _expanded(tensor_arg(x, "x"), tuple(tensor_arg(other, "other").shape)))


# ---------------------------------------------------------------------------- shifts and padding


@tensor_op("pad")
def _pad(call, x):
    widths, mode = _ints(call, "pad"), call.attrs["mode"]
    if mode != "constant" and any(width < 0 for width in widths):
        raise Refusal(f"pad: a negative width in {mode} mode (only constant mode crops)")
    shape = tensor_arg(x, "x").shape
    for pair in range(len(widths) // 2):  # the constant mode crops first: what is cut must exist
        before, after = widths[2 * pair], widths[2 * pair + 1]
        if shape[len(shape) - 1 - pair] + min(before, 0) + min(after, 0) < 0:
            raise Refusal(f"pad: crops axis {len(shape) - 1 - pair} by more than its size")
    value = _value(call, "value")
    if mode == "constant":
        return F.pad(tensor_arg(x, "x"), widths, value=0.0 if value is None else float(value))
    return F.pad(tensor_arg(x, "x"), widths, mode=mode)


@tensor_op("roll")
def _roll(call, x):
    shifts = _ints(call, "shifts")
    dims = call.attrs.get("dims")
    if dims is None:
        return torch.roll(tensor_arg(x, "x"), shifts)
    return torch.roll(tensor_arg(x, "x"), shifts, dims)


# ---------------------------------------------------------------------------- windows


def _window_arguments(call) -> dict:
    return {name: _ints(call, name) for name in ("kernel_size", "dilation", "padding", "stride")}


@tensor_op("unfold")
def _unfold(call, x):
    return F.unfold(tensor_arg(x, "x"), **_window_arguments(call))


@tensor_op("fold")
def _fold(call, x):
    return F.fold(tensor_arg(x, "x"), _ints(call, "output_size"), **_window_arguments(call))


@tensor_op("interpolate")
def _interpolate(call, x):
    size = call.attrs.get("size")
    arguments = {"mode": call.attrs["mode"], "align_corners": call.attrs.get("align_corners")}
    if size is not None:
        return F.interpolate(tensor_arg(x, "x"), size=_ints(call, "size"), **arguments)
    return F.interpolate(tensor_arg(x, "x"), scale_factor=float(_value(call, "scale_factor")), **arguments)


# ---------------------------------------------------------------------------- spectra


def _fft_dims(call, x: torch.Tensor) -> tuple[int, int]:
    dims = call.attrs["dim"]
    axes = tuple(axis_index(a, x.dim()) for a in (dims if isinstance(dims, tuple) else (dims,)))
    if len(axes) != 2 or axes[0] == axes[1]:
        raise Refusal(f"a 2-d FFT over {dims}")
    return axes


def _points(call, name: str) -> int | None:
    """A 1-d FFT's `n`: the signal's points, at least 1 (torch reads none as the axis' size)."""
    n = _ints(call, "n") if call.attrs.get("n") is not None else None
    if n is not None and n < 1:
        raise Refusal(f"{name}: n = {n} must be at least 1")
    return n


@tensor_op("rfft")
def _rfft(call, x):
    return torch.fft.rfft(tensor_arg(x, "x"), n=_points(call, "rfft"), dim=axis_index(call.attrs["dim"], x.dim()),
                          norm=call.attrs["norm"])


@tensor_op("irfft")
def _irfft(call, x):
    if not tensor_arg(x, "x").is_complex():
        raise Refusal("irfft of a real tensor")
    return torch.fft.irfft(x, n=_points(call, "irfft"), dim=axis_index(call.attrs["dim"], x.dim()),
                           norm=call.attrs["norm"])


@tensor_op("rfft2")
def _rfft2(call, x):
    return torch.fft.rfft2(tensor_arg(x, "x"), dim=_fft_dims(call, x), norm=call.attrs["norm"])


@tensor_op("irfft2")
def _irfft2(call, x):
    if not tensor_arg(x, "x").is_complex():
        raise Refusal("irfft2 of a real tensor")
    s = _ints(call, "s") if call.attrs.get("s") is not None else None
    if s is not None and any(size < 1 for size in (s if isinstance(s, tuple) else (s,))):
        raise Refusal(f"irfft2: the signal sizes s = {s} must be at least 1")  # torch reads -1 as "keep"
    return torch.fft.irfft2(x, s=s, dim=_fft_dims(call, x), norm=call.attrs["norm"])


tensor_op("view_as_complex")(lambda call, x: torch.view_as_complex(tensor_arg(x, "x").contiguous()))
tensor_op("view_as_real")(lambda call, x: torch.view_as_real(tensor_arg(x, "x")))


# ---------------------------------------------------------------------------- stochastic depth


@tensor_op("stochastic_depth")
def _stochastic_depth(call, x):
    p = float(call.number("p"))
    if not call.block.training or p == 0:
        return x
    keep = 1 - p
    return x * torch.bernoulli(x.new_full((x.shape[0],) + (1,) * (x.dim() - 1), keep)) / keep
