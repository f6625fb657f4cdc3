"""The interpreter's meaning of each tensor op: op name → a function of torch ops.

One entry per op, registered with `@tensor_op(name)`; adding an op to the language
means adding one function here (and nothing else in the interpreter). An entry gets
an `OpCall` (the node's attributes, and `number(name)` to evaluate an attribute the
spec wrote as an expression) and the operands' values: tensors, Python numbers
(scalars), lists of tensors (a comprehension), or tuples (a multi-output op).

Where torch would quietly do something other than what the language means (an uneven
`chunk`, a mask of floats), the entry says so itself: a
`Refusal`. Everything else torch refuses on its own, which also counts as a refusal.
"""

from __future__ import annotations

import itertools
import operator
from typing import Any, Callable, Protocol

import torch

from ..evaluate import nonzero_divisor
from ..lower.values import DtypeLimit
from ..symbolic import Expr
from .einops import rearrange
from .values import Refusal


class OpCall(Protocol):
    attrs: dict

    def number(self, name: str) -> Any: ...

    def positions_axis(self, index: int) -> int | None: ...


TENSOR_OPS: dict[str, Callable] = {}


def tensor_op(*names: str):
    def register(function: Callable) -> Callable:
        for name in names:
            TENSOR_OPS[name] = function
        return function

    return register


def tensor_arg(value, what: str) -> torch.Tensor:
    """`value`, which an op needs as a tensor; a refusal (not a crash) when it is not one."""
    if not isinstance(value, torch.Tensor):
        raise Refusal(f"{what} must be a tensor, got {type(value).__name__}")
    return value


def axis_index(axis: int, rank: int) -> int:
    """An axis of a rank-`rank` tensor counted from the front (Python's negative axes allowed)."""
    if not -rank <= axis < rank:
        raise Refusal(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def _axes(value, rank: int) -> tuple[int, ...]:
    """Axes as the language means them: None is every axis; each axis named once."""
    if value is None:
        return tuple(range(rank))
    values = value if isinstance(value, (tuple, list)) else (value,)
    axes = [axis_index(a, rank) for a in values]
    if len(set(axes)) != len(axes):
        raise Refusal(f"dim={value} names an axis twice")
    return tuple(sorted(axes))


def _flatten(values) -> list:
    items = []
    for value in values:
        items.extend(value if isinstance(value, list) else [value])
    return [tensor_arg(v, "an element of cat/stack") for v in items]


# ---------------------------------------------------------------------------- arithmetic

for _name, _function in (("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                         ("pow", operator.pow)):
    tensor_op(_name)(lambda call, x, y, _function=_function: _function(x, y))


@tensor_op("div")
def _div(call, x, y):
    # The language refuses a divisor that is a whole size expression and zero (`sqrt(d_k)`
    # with d_k = 0); a zero from floats (`1.0 % (1 / 12)`) divides as torch does.
    divisor = call.operand_node(1) if len(call.operands) > 1 else None
    if divisor is not None and divisor["op"] == "scalar" and isinstance(divisor["attrs"]["value"], Expr) and \
            nonzero_divisor(divisor["attrs"]["value"], call.block._ir) is not None and y == 0:
        raise Refusal(f"division by the number {y}")
    return x / y


tensor_op("maximum")(lambda call, x, y: torch.maximum(tensor_arg(x, "x"), tensor_arg(y, "y")))
tensor_op("minimum")(lambda call, x, y: torch.minimum(tensor_arg(x, "x"), tensor_arg(y, "y")))


@tensor_op("neg")
def _neg(call, x):
    return -tensor_arg(x, "the operand of -")


@tensor_op("matmul")
def _matmul(call, x, y):
    if tensor_arg(x, "@").dim() < 2 or tensor_arg(y, "@").dim() < 2:
        raise Refusal("`@` multiplies tensors of rank >= 2")
    return torch.matmul(x, y)


@tensor_op("einsum")
def _einsum(call, x, y=None):
    """Not torch.einsum: each operand laid out over every axis of the equation (size 1 where
    it lacks one), multiplied with broadcasting, summed over the axes the result drops."""
    equation = call.attrs["equation"]
    tensors = [tensor_arg(x, "einsum's operand")] + ([] if y is None else [tensor_arg(y, "einsum's operand")])
    if len(tensors) != len(equation.inputs):
        raise Refusal(f"einsum of {len(tensors)} tensors by an equation of {len(equation.inputs)} operands")
    axes = equation.axes
    sizes: dict[str, int] = {}
    laid_out = []
    for term, tensor in zip(equation.inputs, tensors):
        if tensor.dim() != len(term):
            raise Refusal(f"einsum operand of rank {tensor.dim()} for the axes {term}")
        for axis, size in zip(term, tensor.shape):
            if sizes.setdefault(axis, size) != size:
                raise Refusal(f"einsum axis {axis!r} has sizes {sizes[axis]} and {size}")
        present = [axis for axis in axes if axis in term]
        moved = tensor.permute([term.index(axis) for axis in present])
        laid_out.append(moved.reshape([sizes[axis] if axis in term else 1 for axis in axes]))
    product = laid_out[0] if len(laid_out) == 1 else laid_out[0] * laid_out[1]
    dropped = [index for index, axis in enumerate(axes) if axis not in equation.output]
    result = product.sum(dim=dropped) if dropped else product
    kept = [axis for axis in axes if axis in equation.output]
    return result.permute([kept.index(axis) for axis in equation.output])


# ---------------------------------------------------------------------------- pointwise

for _name in ("sigmoid", "exp", "relu", "tanh", "abs", "sqrt", "log", "log2", "sign", "cos", "sin", "floor", "ceil"):
    tensor_op(_name)(lambda call, x, _f=getattr(torch, _name): _f(tensor_arg(x, "the operand")))


@tensor_op("softmax")
def _softmax(call, x):
    return torch.softmax(x, dim=axis_index(call.attrs["dim"], x.dim()))


# ---------------------------------------------------------------------------- reductions


def _reduction(function: Callable):
    def reduce(call, x):
        x = tensor_arg(x, "the reduced operand")
        keepdim = bool(call.attrs.get("keepdim"))
        if x.dim() == 0:
            return function(x, None, keepdim, call.attrs)
        return function(x, _axes(call.attrs.get("dim"), x.dim()), keepdim, call.attrs)

    return reduce


def _std(x, dims, keepdim, attrs):
    correction = 1 if attrs.get("unbiased", True) else 0
    return torch.std(x, dim=dims, correction=correction, keepdim=keepdim)


_REDUCTIONS = {
    "sum": lambda x, dims, keepdim, attrs: torch.sum(x, dim=dims, keepdim=keepdim) if dims else x.sum(),
    "mean": lambda x, dims, keepdim, attrs: torch.mean(x, dim=dims, keepdim=keepdim) if dims else x.mean(),
    "max": lambda x, dims, keepdim, attrs: torch.amax(x, dim=dims, keepdim=keepdim) if dims else x.amax(),
    "min": lambda x, dims, keepdim, attrs: torch.amin(x, dim=dims, keepdim=keepdim) if dims else x.amin(),
    "std": _std,
    "var": lambda x, dims, keepdim, attrs: torch.var(x, dim=dims, correction=1, keepdim=keepdim),
}
for _name, _function in _REDUCTIONS.items():
    tensor_op(_name)(_reduction(_function))


@tensor_op("cumsum")
def _cumsum(call, x):
    """Written from its definition, not with torch.cumsum: slice i along the axis is the sum
    of slices 0..i, added one at a time."""
    axis = axis_index(call.attrs["dim"], tensor_arg(x, "the summed operand").dim())
    if x.shape[axis] == 0:
        return x.clone()
    return torch.stack(list(itertools.accumulate(x.unbind(axis))), dim=axis)


def _global_pool(function: Callable):
    def pool(call, x):
        if tensor_arg(x, "the pooled operand").dim() < 3:
            raise Refusal("global pooling needs a tensor of rank >= 3")
        return function(x, dim=tuple(range(2, x.dim())), keepdim=True)

    return pool


tensor_op("avg_pool")(_global_pool(torch.mean))
tensor_op("max_pool")(_global_pool(torch.amax))


# ---------------------------------------------------------------------------- layout


@tensor_op("rearrange")
def _rearrange(call, x):
    sizes = {name: call.number(f"sizes.{name}") for name, _ in call.attrs["sizes"]}
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int):
            raise Refusal(f"rearrange: the size of axis {name} is {size!r}, not a whole number")
    return rearrange(tensor_arg(x, "the rearranged operand"), call.attrs["pattern"], sizes)


@tensor_op("transpose")
def _transpose(call, x):
    rank = tensor_arg(x, "the transposed operand").dim()
    return x.transpose(axis_index(call.attrs["dim0"], rank), axis_index(call.attrs["dim1"], rank))


@tensor_op("shuffle")
def _shuffle(call, x):
    groups = call.number("groups")
    if tensor_arg(x, "the shuffled operand").dim() < 2:
        raise Refusal("shuffle needs a channel dimension")
    channels = x.shape[1]
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or channels % groups:
        raise Refusal(f"shuffle: {channels} channels do not split into {groups} groups")
    # channel c*groups + g of the result is channel g*(channels/groups) + c of the input
    return x.unflatten(1, (groups, channels // groups)).transpose(1, 2).flatten(1, 2)


@tensor_op("chunk")
def _chunk(call, x):
    count = call.attrs["chunks"]
    axis = axis_index(call.attrs["dim"], tensor_arg(x, "the chunked operand").dim())
    size = x.shape[axis]
    if count < 1 or size % count:
        raise Refusal(f"chunk: {size} does not split into {count} equal pieces")
    piece = size // count
    return tuple(x.narrow(axis, i * piece, piece) for i in range(count))


@tensor_op("unbind")
def _unbind(call, x):
    count = call.attrs["count"]
    axis = axis_index(call.attrs["dim"], tensor_arg(x, "the unbound operand").dim())
    if x.shape[axis] != count:
        raise Refusal(f"unbind: axis {axis} has {x.shape[axis]} slices, unpacked into {count} names")
    return tuple(x.select(axis, i) for i in range(count))


@tensor_op("cat")
def _cat(call, *values):
    tensors = _flatten(values)
    if not tensors:
        raise Refusal("cat of no tensors")
    return torch.cat(tensors, dim=axis_index(call.attrs["dim"], tensors[0].dim()))


@tensor_op("stack")
def _stack(call, *values):
    tensors = _flatten(values)
    if not tensors:
        raise Refusal("stack of no tensors")
    return torch.stack(tensors, dim=axis_index(call.attrs["dim"], tensors[0].dim() + 1))


@tensor_op("masked_fill")
def _masked_fill(call, x, mask):
    if tensor_arg(mask, "the mask").dtype != torch.bool:
        raise Refusal(f"masked_fill needs a boolean mask, got {mask.dtype}")
    limit = call.attrs["value"]
    if isinstance(limit, DtypeLimit):  # `-finfo(att).max`: of the filled tensor's dtype
        value = getattr(torch.finfo(x.dtype), limit.which) * (-1 if limit.negative else 1)
    else:
        value = call.number("value")
    # Where the mask is true, the value; elsewhere x; both broadcast (torch's out-of-place masked_fill).
    return torch.where(mask, torch.tensor(float(value), dtype=x.dtype, device=x.device), tensor_arg(x, "x"))
