"""The interpreter's meaning of masks, constant tensors and indexing (attndsl/ops/logic.py,
constants.py, indexing.py), registered into `tensor_ops.TENSOR_OPS` like the others.

Written from the language's definitions: a comparison gives a boolean mask; `and`, `or`,
`not` take masks only; `where` takes a mask; a tensor made from sizes takes the device
and dtype of its `like` operand, else (in a buffer) torch's default dtype, except `arange`,
which counts in int64; `//` and `%` divide an integer tensor by a whole number, not zero;
a gather `table[index]` picks with an int64 index whose every value lies in the axis.
"""

from __future__ import annotations

import operator

import torch

from ..symbolic import Expr
from .layers import FACTORY
from .tensor_ops import tensor_arg, tensor_op
from .values import Refusal, as_python, expr_value


def _mask(value, what: str) -> torch.Tensor:
    if tensor_arg(value, what).dtype != torch.bool:
        raise Refusal(f"{what} must be a boolean mask, got {value.dtype}")
    return value


def _size(call, value) -> int:
    size = as_python(expr_value(value, call.env)) if isinstance(value, Expr) else value
    if isinstance(size, bool) or not isinstance(size, int):
        raise Refusal(f"a size must be a whole number, got {size!r}")
    return size


def _sizes(call, name: str) -> list[int]:
    value = call.attrs[name]
    return [_size(call, item) for item in (value if isinstance(value, (tuple, list)) else (value,))]


# ---------------------------------------------------------------------------- masks

_COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
                "ge": operator.ge}
for _name, _function in _COMPARISONS.items():
    tensor_op(_name)(lambda call, x, y, _function=_function: _function(x, y))


@tensor_op("logical_and")
def _and(call, x, y):
    return torch.logical_and(_mask(x, "an operand of `and`"), _mask(y, "an operand of `and`"))


@tensor_op("logical_or")
def _or(call, x, y):
    return torch.logical_or(_mask(x, "an operand of `or`"), _mask(y, "an operand of `or`"))


@tensor_op("logical_not")
def _not(call, x):
    return torch.logical_not(_mask(x, "the operand of `not`"))


@tensor_op("where")
def _where(call, condition, x, y):
    if not isinstance(x, torch.Tensor) and not isinstance(y, torch.Tensor):
        raise Refusal("where() of two numbers")
    return torch.where(_mask(condition, "the condition of where()"), x, y)


# ---------------------------------------------------------------------------- constant tensors


def _placement(call, like, integer: bool = False) -> dict:
    """Where a made tensor lives: with `like` (in forward), on its device and in its dtype; in
    a buffer, on the block's `device` and in its `dtype` where it has them, else the default
    dtype. An integer tensor takes the device alone."""
    if like is None:
        factory = call.env.get(FACTORY, {})
        placement = {"dtype": factory.get("dtype", torch.get_default_dtype())} | \
            ({"device": factory["device"]} if "device" in factory else {})
    else:
        placement = {"dtype": tensor_arg(like, "like").dtype, "device": like.device}
    return {k: v for k, v in placement.items() if not (integer and k == "dtype")}


def _non_negative(sizes: list[int]) -> list[int]:
    if any(size < 0 for size in sizes):
        raise Refusal(f"a constant tensor of negative size {sizes}")
    return sizes


@tensor_op("arange")
def _arange(call, like=None):
    """Positions count in int64, as torch does: `like` gives the device alone. One number is
    the end, counting from 0; two, the start and the end; a third, the step (at least 1)."""
    bounds = [_size(call, call.attrs["start"])] + ([] if call.attrs.get("end") is None else
                                                   [_size(call, call.attrs["end"])])
    start, end = (0, bounds[0]) if len(bounds) == 1 else bounds
    _non_negative([end - start])
    step = _size(call, call.attrs.get("step", 1))
    if step < 1:
        raise Refusal(f"arange: a step of {step}")
    return torch.arange(start, end, step, dtype=torch.int64, **_placement(call, like, integer=True))


@tensor_op("eye")
def _eye(call, like=None):
    (n,) = _non_negative([_size(call, call.attrs["n"])])
    return torch.eye(n, **_placement(call, like))


@tensor_op("ones")
def _ones(call, like=None):
    return torch.ones(_non_negative(_sizes(call, "size")), **_placement(call, like))


@tensor_op("zeros")
def _zeros(call, like=None):
    return torch.zeros(_non_negative(_sizes(call, "size")), **_placement(call, like))


@tensor_op("tensor")
def _tensor(call, like=None):
    """The numbers as the spec writes them, or the list argument: int64 where every one is an
    int as declared (a float argument is a float, whatever it is given: `a=1`), else floating
    point."""
    integer = not call.attrs["floating"]
    return torch.tensor(call.values("values"), **({"dtype": torch.int64} if integer else {}),
                        **_placement(call, like, integer))


def _triangle(function):
    def triangle(call, x):
        if tensor_arg(x, "the matrix").dim() < 2:
            raise Refusal("a triangle of a tensor of rank < 2")
        diagonal = call.attrs.get("diagonal", 0)
        return function(x, diagonal=_size(call, diagonal))

    return triangle


tensor_op("tril")(_triangle(torch.tril))
tensor_op("triu")(_triangle(torch.triu))


# ---------------------------------------------------------------------------- indexing


def _bound(call, value, size: int, what: str) -> int:
    """A bound or index as the language means it: a negative constant counts from the end;
    anything else must lie within the axis (Python would clamp it, the language refuses)."""
    position = _size(call, value)
    if isinstance(value, Expr) and value.is_const and value.value < 0:
        position += size
    if position < 0:
        raise Refusal(f"{what} {position} is outside an axis of size {size}")
    return position


@tensor_op("subscript")
def _subscript(call, x):
    return _sliced(call, tensor_arg(x, "the indexed operand"), call.attrs["items"])


def _sliced(call, x: torch.Tensor, items) -> torch.Tensor:
    items = list(items)
    consumed = sum(1 for item in items if item[0] in ("slice", "index"))
    if consumed > x.dim():
        raise Refusal(f"{consumed} indices for a tensor of rank {x.dim()}")
    at = items.index(("ellipsis",)) if ("ellipsis",) in items else len(items)
    items[at:at + 1] = [("slice", None, None, None)] * (x.dim() - consumed)
    index, axis = [], 0
    for item in items:
        if item[0] == "new":
            index.append(None)
            continue
        size = x.shape[axis]
        axis += 1
        if item[0] == "index":
            position = _bound(call, item[1], size, "index")
            if position >= size:
                raise Refusal(f"index {position} is outside an axis of size {size}")
            index.append(position)
            continue
        _, start, stop, step = item
        step = None if step is None else _size(call, step)
        if step is not None and step < 1:
            raise Refusal(f"a slice's step of {step}")
        if start is None and stop is None:  # `:` (or `...`): the whole axis, empty or not
            index.append(slice(None, None, step))
            continue
        start = 0 if start is None else _bound(call, start, size, "slice start")
        stop = size if stop is None else _bound(call, stop, size, "slice stop")
        if not start < stop <= size:  # every size is at least 1: no empty slice
            raise Refusal(f"slice {start}:{stop} does not lie within an axis of size {size}, or is empty")
        index.append(slice(start, stop, step))
    return x[tuple(index)]


@tensor_op("lookup")
def _lookup(call, x, index):
    """A gather, as the language means it: the slices first, then `index_select` along the
    picked axis with every value in [0, size) (torch would wrap a negative one), the
    index's shape in place of that axis."""
    x, index = tensor_arg(x, "the gathered operand"), _integers(index, "a gather's index")
    items = list(call.attrs["items"])
    at = items.index(("tensor",))
    before = sum(1 for item in items[:at] if item[0] == "slice")
    if ("ellipsis",) in items[:at]:  # `x[..., index]`, `x[..., index, :]`: counted from the end
        before = x.dim() - 1 - sum(1 for item in items[at + 1:] if item[0] == "slice")
    sliced = _sliced(call, x, items[:at] + [("slice", None, None, None)] + items[at + 1:])
    if not 0 <= before < sliced.dim():
        raise Refusal(f"a gather along axis {before} of a tensor of rank {sliced.dim()}")
    size = sliced.shape[before]
    positions_within(call, size, "a gather")
    if index.numel() and (index.min() < 0 or index.max() >= size):
        raise Refusal(f"a gather index {index.min().item()}..{index.max().item()} outside [0, {size})")
    picked = torch.index_select(sliced, before, index.reshape(-1))
    return picked.reshape(sliced.shape[:before] + index.shape + sliced.shape[before + 1:])


@tensor_op("split")
def _split(call, x):
    x = tensor_arg(x, "the split operand")
    axis = call.attrs["dim"]
    if not -x.dim() <= axis < x.dim():
        raise Refusal(f"axis {axis} is out of range for rank {x.dim()}")
    sizes = _sizes(call, "sizes")
    if any(size < 1 for size in sizes) or sum(sizes) != x.shape[axis]:  # no empty piece
        raise Refusal(f"split: sizes {sizes} do not add up to {x.shape[axis]}")
    return tuple(torch.split(x, sizes, dim=axis))


# ---------------------------------------------------------------------------- integer tensors


def positions_within(call, size: int, what: str) -> None:
    """Positions computed along an axis (topk's, argsort's: operand 1) pick from one no smaller:
    the language bounds them by that axis, whatever values this call happened to draw."""
    along = call.positions_axis(1)
    if along is not None and along > size:
        raise Refusal(f"{what}: positions along an axis of size {along} pick from one of size {size}")


def _integers(value, what: str) -> torch.Tensor:
    if tensor_arg(value, what).dtype != torch.int64:
        raise Refusal(f"{what} must be an integer tensor, got {value.dtype}")
    return value


def _whole_divisor(y) -> int:
    if isinstance(y, bool) or not isinstance(y, int):
        raise Refusal(f"an integer tensor is divided by a whole number, got {y!r}")
    if y == 0:
        raise Refusal("division of an integer tensor by zero")
    return y


tensor_op("floordiv")(lambda call, x, y: torch.div(_integers(x, "`//`"), _whole_divisor(y), rounding_mode="floor"))
tensor_op("mod")(lambda call, x, y: torch.remainder(_integers(x, "`%`"), _whole_divisor(y)))


@tensor_op("long")
def _long(call, x):
    """Toward zero, as `.long()` truncates; an integer tensor stays as it is."""
    x = tensor_arg(x, "long()")
    if x.dtype == torch.bool or x.is_complex():
        raise Refusal(f"long() of a {x.dtype} tensor")
    return torch.trunc(x).to(torch.int64) if x.is_floating_point() else x


@tensor_op("float")
def _float(call, x, like=None):
    if tensor_arg(x, "float()").dtype == torch.bool:  # a mask: 1 where it holds
        return x.to(_placement(call, like)["dtype"])
    return _integers(x, "float()").to(_placement(call, like)["dtype"])
