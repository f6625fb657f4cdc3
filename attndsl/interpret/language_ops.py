"""The interpreter's meaning of masks, constant tensors and indexing (attndsl/ops/logic.py,
constants.py, indexing.py), registered into `tensor_ops.TENSOR_OPS` like the others.

Written from the language's definitions: a comparison gives a boolean mask; `and`, `or`,
`not` take masks only; `where` takes a mask; a tensor made from sizes takes the device
and dtype of its `like` operand, else (in a buffer) torch's default dtype.
"""

from __future__ import annotations

import operator

import torch

from ..symbolic import Expr
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


def _placement(like) -> dict:
    if like is None:
        return {"dtype": torch.get_default_dtype()}
    return {"dtype": tensor_arg(like, "like").dtype, "device": like.device}


def _non_negative(sizes: list[int]) -> list[int]:
    if any(size < 0 for size in sizes):
        raise Refusal(f"a constant tensor of negative size {sizes}")
    return sizes


@tensor_op("arange")
def _arange(call, like=None):
    (end,) = _non_negative([_size(call, call.attrs["end"])])
    return torch.arange(end, **_placement(like))


@tensor_op("eye")
def _eye(call, like=None):
    (n,) = _non_negative([_size(call, call.attrs["n"])])
    return torch.eye(n, **_placement(like))


@tensor_op("ones")
def _ones(call, like=None):
    return torch.ones(_non_negative(_sizes(call, "size")), **_placement(like))


@tensor_op("zeros")
def _zeros(call, like=None):
    return torch.zeros(_non_negative(_sizes(call, "size")), **_placement(like))


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
    x = tensor_arg(x, "the indexed operand")
    items = list(call.attrs["items"])
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
        if start is None and stop is None:  # `:` (or `...`): the whole axis, empty or not
            index.append(slice(None, None, step))
            continue
        start = 0 if start is None else _bound(call, start, size, "slice start")
        stop = size if stop is None else _bound(call, stop, size, "slice stop")
        if not start < stop <= size:  # every size is at least 1: no empty slice
            raise Refusal(f"slice {start}:{stop} does not lie within an axis of size {size}, or is empty")
        index.append(slice(start, stop, step))
    return x[tuple(index)]


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
