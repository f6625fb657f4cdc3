"""The interpreter's meaning of selection (attndsl/ops/selection.py): `topk`, `sort`,
`argsort`, `argmax`, `argmin`, `gather` and `scatter`, registered into
`tensor_ops.TENSOR_OPS` like the others.

Written from the language's definitions: `topk` keeps 1 <= k <= size values; positions
are int64; a gather or scatter takes an index of the rank of `x`, no larger on any axis
but `dim`, whose every value lies within `dim` (torch would stop on one outside with a
device-side assert on a GPU, and its CPU message names no spec line).
"""

from __future__ import annotations

import torch

from .language_ops import _integers, _size, positions_within
from .tensor_ops import axis_index, tensor_arg, tensor_op
from .values import Refusal


def _real(value, what: str) -> torch.Tensor:
    if tensor_arg(value, what).is_complex() or value.dtype == torch.bool:
        raise Refusal(f"{what} must be a real tensor, got {value.dtype}")
    return value


@tensor_op("topk")
def _topk(call, x):
    x = _real(x, "topk's operand")
    axis = axis_index(call.attrs["dim"], x.dim())
    k = _size(call, call.attrs["k"])
    if not 1 <= k <= x.shape[axis]:
        raise Refusal(f"topk: k = {k} outside 1..{x.shape[axis]}")
    result = torch.topk(x, k, dim=axis, largest=call.attrs["largest"], sorted=True)
    return result.values, result.indices


@tensor_op("sort")
def _sort(call, x):
    result = torch.sort(_real(x, "sort's operand"), dim=axis_index(call.attrs["dim"], x.dim()),
                        descending=call.attrs["descending"])
    return result.values, result.indices


@tensor_op("argsort")
def _argsort(call, x):
    return torch.sort(_real(x, "argsort's operand"), dim=axis_index(call.attrs["dim"], x.dim()),
                      descending=call.attrs["descending"]).indices


def _arg_extremum(function):
    def position(call, x):
        x = _real(x, "the operand")
        axis = axis_index(call.attrs["dim"], x.dim())
        if x.shape[axis] == 0:
            raise Refusal("argmax/argmin over an empty axis")
        return function(x, dim=axis, keepdim=bool(call.attrs.get("keepdim")))

    return position


tensor_op("argmax")(_arg_extremum(torch.argmax))
tensor_op("argmin")(_arg_extremum(torch.argmin))


def _index_within(call, x: torch.Tensor, index: torch.Tensor, axis: int, what: str) -> None:
    positions_within(call, x.shape[axis], what)
    if index.dim() != x.dim():
        raise Refusal(f"{what}: an index of rank {index.dim()} for a tensor of rank {x.dim()}")
    for d in range(x.dim()):
        if d != axis and index.shape[d] > x.shape[d]:
            raise Refusal(f"{what}: the index is larger than x on axis {d}")
    if index.numel() and (index.min() < 0 or index.max() >= x.shape[axis]):
        raise Refusal(f"{what}: positions {index.min().item()}..{index.max().item()} outside [0, {x.shape[axis]})")


@tensor_op("gather")
def _gather(call, x, index):
    x, index = tensor_arg(x, "the gathered operand"), _integers(index, "gather's index")
    axis = axis_index(call.attrs["dim"], x.dim())
    _index_within(call, x, index, axis, "gather")
    return torch.gather(x, axis, index)


@tensor_op("scatter")
def _scatter(call, x, index):
    x, index = tensor_arg(x, "the scattered operand"), _integers(index, "scatter's index")
    axis = axis_index(call.attrs["dim"], x.dim())
    _index_within(call, x, index, axis, "scatter")
    value = call.number("value")
    if not x.is_floating_point() and not (isinstance(value, int) or float(value).is_integer()):
        raise Refusal(f"scatter: {value} into an integer tensor")
    return torch.scatter(x, axis, index, value)
