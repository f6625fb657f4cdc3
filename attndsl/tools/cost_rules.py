"""The cost model's rule table: one entry per op (`attndsl.ops.OPS`) and per layer kind
(`attndsl.layers.LAYERS`), keyed by name. `tests/test_tool_cost.py` fails when the
registries gain an op or a layer that has no entry here.

FLOPs count what `torch.utils.flop_counter.FlopCounterMode` counts, so that the two can
be compared: two per multiply-add of a matrix product or a convolution (bias additions
not included). Elementwise ops, reductions, norms, softmax and pooling count zero there,
and here.

A layer's `state_dict` entries are declared with the layer (attndsl/layers, `state=`);
`attndsl diff` shows them, and its parameter count is the sum of its parameters' sizes.

Memory says whether an op's result is a new tensor or shares its operand's storage
(`transpose`, `chunk`, a `rearrange` that only reshapes a contiguous tensor): a function
of the op's attributes and whether its operand is contiguous, returning
(allocates, result is contiguous). Memory is counted as in eval mode, where dropout
returns its input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from ..ir import Cond
from ..ranks import RANKS, kind_at_rank
from ..layers.registry import per_axis
from ..shapes.worlds import rank_atom
from ..ops.fused import QUERY_BLOCK
from ..symbolic import Expr, ceildiv, maximum, minimum

ZERO = Expr.const(0)


def numel(shape) -> Expr:
    total = Expr.const(1)
    for dim in shape:
        total = total * dim
    return total


def fresh(attrs, contiguous) -> tuple[bool, bool]:
    return True, True


def view(attrs, contiguous) -> tuple[bool, bool]:
    return False, all(contiguous)


def no_flops(operands, result, attrs) -> Expr:
    return ZERO


@dataclass(frozen=True)
class Permuted:
    """The layout of a view whose axes are stored in another order: `tensor.permute(order)`
    is contiguous (`rearrange(x, "b n (h d) -> b h n d")` of a contiguous x). Not contiguous
    (false), as any other strided view; a rearrange that puts the axes back in `order` is a
    view (no copy) even when it merges them."""

    order: tuple

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class OpCost:
    flops: Callable = no_flops  # (operand shapes, result shape, attrs) -> Expr
    memory: Callable = fresh  # (attrs, operands contiguous) -> (allocates, contiguous)
    # (operand shapes, result shape, attrs) -> [(condition or None, size)]: what the op
    # holds while it runs besides its operands and result
    transient: Callable = lambda operands, result, attrs: []
    # (operand shapes, first operand's layout) -> [(conditions, result layout)]: when the
    # result is laid out like an operand rather than as `memory` says
    layout: Callable | None = None


@dataclass(frozen=True)
class LayerCost:
    flops: Callable = lambda args, operand, result: ZERO  # (args, input shape, output shape)
    memory: Callable = fresh


# ============================================================================ ops


def _matmul_flops(operands, result, attrs) -> Expr:
    # result is (batch..., m, n); each of its entries is a dot product of length k.
    return 2 * numel(result) * operands[0][-1]


def _einsum_flops(operands, result, attrs) -> Expr:
    """A multiply and an add for each combination of all the equation's axes where two
    operands share an axis the result sums away (torch runs it as a batched matrix
    product); an elementwise or outer product, or one operand, is counted as torch counts
    it: no FLOPs."""
    equation = attrs["equation"]
    if len(operands) < 2 or not set(equation.inputs[0]) & set(equation.inputs[1]) - set(equation.output):
        return ZERO
    sizes = {axis: dim for term, shape in zip(equation.inputs, operands) for axis, dim in zip(term, shape)}
    return 2 * numel(tuple(sizes.values()))


def _matmul_transient(operands, result, attrs):
    """torch.matmul of batched operands expands each to the result's batch dims and copies
    the one whose batch it broadcasts (`[n, qr, qc, d] @ [qr, d, k]`); a matrix on either
    side is folded into one product with the other instead, with no expanded copy."""
    a, b = operands
    if len(a) <= 2 or len(b) <= 2:
        return []
    batch = numel(result[:-2])
    held = []
    for operand in (a, b):
        own = numel(operand[:-2])
        difference = batch - own
        if difference.is_const and difference.value == 0:
            continue
        condition = None if difference.is_const else Cond("cmp", ("!=", own, batch))
        held.append((condition, batch * operand[-2] * operand[-1]))
    return held


def _attention_flops(operands, result, attrs) -> Expr:
    """softmax(q kᵀ) v in one call: the two matrix products, as FlopCounterMode counts it."""
    keys = operands[1][-2]
    return 2 * numel(operands[0]) * keys + 2 * numel(result) * keys


def _attention_transient(operands, result, attrs):
    """torch's fused CPU kernel needs the same head size for queries and values; otherwise
    its math fallback holds scaled and contiguous copies of q and k, and the weights, at
    its peak (q @ kᵀ), before the result exists (counted here as if it did: less it)."""
    q, k = operands[0], operands[1]
    weights = numel(result[:-1]) * k[-2]
    fallback = (Cond("cmp", ("!=", q[-1], operands[2][-1])), 2 * numel(q) + 2 * numel(k) + weights - numel(result))
    mask = _float_mask(operands, attrs)
    if mask == ZERO:
        return [fallback]
    # an optional mask is made additive only where it is given
    given = Cond("present", (attrs["optional_mask"],)) if attrs.get("optional_mask") else None
    both = fallback[0] if given is None else Cond("and", (given, fallback[0]))
    return [fallback, (given, mask), (both, mask + fallback[1])]


def _float_mask(operands, attrs) -> Expr:
    """A boolean mask goes in as the additive float mask it means (ops/fused.py): made whole,
    or a block of queries at a time, of which the first is the largest."""
    if attrs.get("mask_kind") != "masked" or len(operands) < 4:
        return ZERO
    mask = operands[3]
    if not attrs.get("query_blocks"):
        return numel(mask)
    block = maximum(Expr.const(QUERY_BLOCK), ceildiv(mask[-2], Expr.const(4)))  # at most four blocks
    return numel(mask[:-2]) * minimum(mask[-2], block) * mask[-1]


def _rearrange_memory(attrs, contiguous):
    """render_rearrange's reshape -> permute -> reshape: a reshape that merges axes copies a
    tensor that is not contiguous (unless the permutation puts its axes back in storage
    order); a permutation leaves a view stored in its operand's order."""
    pattern = attrs["pattern"]
    split = any(len(g) != 1 for g in pattern.left)
    merged = any(len(g) != 1 for g in pattern.right)
    permutation = tuple(pattern.permutation)
    permuted = list(permutation) != sorted(permutation)
    is_contiguous = all(contiguous)
    if isinstance(contiguous[0], Permuted) and not split and permutation == contiguous[0].order:
        return False, True  # `b h n d -> b n (h d)` of a tensor stored as b n h d: a view
    # Splitting an axis is a view of any strided tensor (`q, k, v = chunk(...)`, then
    # `b n (h d) -> ...`); merging axes copies one that is not contiguous.
    if not permuted:
        if not merged:
            return False, is_contiguous
        return not is_contiguous, True
    if merged:
        return True, True
    if is_contiguous:
        inverse = tuple(sorted(range(len(permutation)), key=lambda axis: permutation[axis]))
        return False, Permuted(inverse)
    return False, False


def _attention_layout(operands, query_layout):
    """torch's fused CPU kernel (same head size for queries and values) lays its result out
    as the queries are; its math fallback makes a contiguous one."""
    q, v = operands[0], operands[2]
    same = Cond("cmp", ("==", q[-1], v[-1]))
    if (q[-1] - v[-1]).is_const:
        return [(frozenset(), query_layout if q[-1] == v[-1] else True)]
    return [(frozenset({same}), query_layout), (frozenset({Cond("not", (same,))}), True)]


def _chunk_memory(attrs, contiguous) -> tuple[bool, bool]:
    """chunk, split, unbind: views; contiguous pieces where a contiguous tensor is cut along its first axis."""
    return False, all(contiguous) and attrs.get("dim", 0) == 0


def _reshape_memory(attrs, contiguous) -> tuple[bool, bool]:
    """flatten is a reshape: a view of a contiguous tensor, a copy of any other."""
    return not all(contiguous), True


def _strided_view(attrs, contiguous) -> tuple[bool, bool]:
    return False, False  # expand: a view whose repeated axes have stride 0


OP_COSTS: dict[str, OpCost] = {
    **{name: OpCost() for name in ("add", "sub", "mul", "div", "pow", "neg", "maximum", "minimum")},
    "matmul": OpCost(flops=_matmul_flops, transient=_matmul_transient),
    "einsum": OpCost(flops=_einsum_flops),
    **{name: OpCost() for name in ("sigmoid", "exp", "relu", "tanh", "abs", "sqrt", "log", "log2", "sign", "clamp",
                                   "softmax", "cos", "sin", "floor", "ceil")},
    **{name: OpCost() for name in ("relu6", "leaky_relu", "elu", "gelu", "silu", "softplus", "hardsigmoid",
                                   "hardswish")},
    **{name: OpCost() for name in ("sum", "mean", "max", "min", "std", "var", "norm", "normalize", "avg_pool",
                                   "max_pool", "cumsum")},
    # FFTs, padding, resampling and sliding windows: new tensors; FlopCounterMode counts none of them
    **{name: OpCost() for name in ("rfft", "irfft", "rfft2", "irfft2", "pad", "interpolate", "unfold", "fold", "roll")},
    "rearrange": OpCost(memory=_rearrange_memory),
    "flatten": OpCost(memory=_reshape_memory),
    "unflatten": OpCost(memory=_reshape_memory),
    **{name: OpCost(memory=view) for name in ("squeeze", "unsqueeze", "view_as_real", "view_as_complex")},
    **{name: OpCost(memory=_strided_view) for name in ("expand", "expand_as")},
    "contiguous": OpCost(memory=lambda attrs, contiguous: (not all(contiguous), True)),  # a copy of a strided view
    "detach": OpCost(memory=view),  # the same storage, cut off from autograd: no FLOPs, no new memory
    "transpose": OpCost(memory=lambda attrs, contiguous: (False, False)),
    "shuffle": OpCost(),  # reshape, transpose, reshape: one copy
    "chunk": OpCost(memory=_chunk_memory),
    "cat": OpCost(),
    "stack": OpCost(),
    "masked_fill": OpCost(),
    # the tools count eval mode, where stochastic depth is its input itself
    "stochastic_depth": OpCost(memory=lambda attrs, contiguous: (False, all(contiguous))),
    # masks and tensors made from sizes: new tensors, no FLOPs counted
    **{name: OpCost() for name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not",
                                   "where", "arange", "eye", "ones", "zeros", "zeros_like", "ones_like", "tensor",
                                   "tril", "triu")},
    "buffer": OpCost(memory=lambda attrs, contiguous: (False, True)),  # the module holds it; forward reads it
    "subscript": OpCost(memory=lambda attrs, contiguous: (False, False)),  # a strided view
    # integer tensors and gathers: new tensors (a gather copies what it picks), no FLOPs counted
    **{name: OpCost() for name in ("floordiv", "mod", "float", "long", "lookup")},
    # selection: new tensors (values and positions); comparisons, not FLOPs, are what they do
    **{name: OpCost() for name in ("topk", "sort", "argsort", "argmax", "argmin", "gather", "scatter")},
    "split": OpCost(memory=_chunk_memory),
    "unbind": OpCost(memory=_chunk_memory),
    "scaled_dot_product_attention": OpCost(flops=_attention_flops, transient=_attention_transient,  # attndsl.passes
                                           layout=_attention_layout),
}


# ============================================================================ layers


def _linear_flops(args, operand, result) -> Expr:
    return 2 * numel(result) * args["in_features"]


def _conv_flops(spatial: int):
    def flops(args, operand, result) -> Expr:
        per_output = args["in_channels"].exact_div(args["groups"]) * numel(per_axis(args["kernel_size"], spatial))
        return 2 * numel(result) * per_output

    return flops


def _conv_transpose_flops(spatial: int):
    def flops(args, operand, result) -> Expr:
        # each input value meets a kernel of out_channels / groups maps
        per_input = args["out_channels"].exact_div(args["groups"]) * numel(per_axis(args["kernel_size"], spatial))
        return 2 * numel(operand) * per_input

    return flops


def kind_options(spec) -> list[tuple]:
    """A layer whose kind is an argument (`layer act = act_layer()` with `act_layer: layer =
    relu`): one (layer, conditions) per kind it may be, under `act_layer is silu`; any
    other layer is its one option."""
    if getattr(spec, "rank_arg", None) is not None:  # `conv{dimension}d`: the layer of each rank
        return [(kind_at_rank(spec, r), [rank_atom(spec.rank_arg, r)]) for r in RANKS]
    if not getattr(spec, "kind_arg", None) or len(spec.alternatives) <= 1:
        return [(spec, [])]
    return [(replace(spec, kind=kind, args=args, kind_arg=None, alternatives={}), [Cond("kind", (spec.kind_arg, kind))])
            for kind, args in spec.alternatives.items()]


_FREE = LayerCost()

LAYER_COSTS: dict[str, LayerCost] = {
    "linear": LayerCost(flops=_linear_flops),
    **{f"conv{d}d": LayerCost(flops=_conv_flops(d)) for d in (1, 2, 3)},
    **{f"conv_transpose{d}d": LayerCost(flops=_conv_transpose_flops(d)) for d in (1, 2, 3)},
    **{name: _FREE for name in (*(f"batch_norm{d}d" for d in (1, 2, 3)), "instance_norm2d", "layer_norm",
                                "group_norm", "prelu")},
    "dropout": LayerCost(memory=view),  # eval: returns its input
    "dropout2d": LayerCost(memory=view),
    "identity": LayerCost(memory=view),
    **{name: _FREE for name in ("relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu",
                                "softplus", "hardsigmoid", "hardswish")},
    **{f"{kind}_pool{d}d": _FREE for kind in ("avg", "max", "adaptive_avg", "adaptive_max") for d in (1, 2, 3)},
}
