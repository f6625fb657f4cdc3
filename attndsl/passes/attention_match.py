"""The pattern attention fusion looks for (attndsl/passes/fuse_attention.py), read backwards
from each `att @ v`: the dropout between softmax and `@ v`, the softmax over the last axis,
and the scalings and one mask between the logits `q @ k` and the softmax, through the joins
of `if`s that apply a step on one branch. What matches is only described here (Steps);
fuse_attention decides whether and how it is fused."""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from .. import symbolic as sym
from ..ir import BlockIR, Cond, negate
from ..symbolic import Expr
from .fold_constants import ONE
from .rewrite import attrs_of, op_of, same_dims, scalar_value, shape_of


@dataclass
class Step:
    """One op on the path from the logits to `@ v`, and the condition it runs under."""

    node: int
    kind: str  # "scale", "mask", "dropout" or "other" (keeps the plain form)
    condition: Cond | None = None
    factor: Expr | None = None
    # a scaling by a tensor constant over the [nq, nk] logits of each head (XCiT's and
    # Restormer's learnt per-head temperature [h, 1, 1]): it scales q instead
    tensor: int | None = None
    divides: bool = False
    mask: int | None = None
    mask_kind: str | None = None  # "masked" (True = masked), "additive", or "causal" (SDPA's is_causal)
    after_softmax: bool = False
    # the nodes that make the mask and read nothing else fusion keeps (a causal mask's own,
    # an `expand_as` of an additive mask), which fusion drops
    made_by: set[int] = field(default_factory=set)


@dataclass
class Attention:
    final: int  # att @ v
    softmax: int
    logits: int  # q @ k
    steps: list[Step] = field(default_factory=list)  # logits → final, in dataflow order
    nodes: set[int] = field(default_factory=set)  # what computes the weights: logits .. final's operand


def match_attention(ir: BlockIR, final: int) -> Attention | None:
    weights = ir.operands(final)[0]
    post: list[Step] = []
    nodes: set[int] = set()
    softmax = _walk(ir, weights, post, nodes, stop=lambda n: op_of(ir, n) == "softmax", classify=_classify_post)
    if softmax is None or not _softmax_over_last(ir, softmax) or len(shape_of(ir, softmax)) != 4:
        return None  # [b, h, nq, nk] only: ONNX exporters take 4-d attention, no other rank
    pre: list[Step] = []
    nodes.add(softmax)
    logits = _walk(ir, ir.operands(softmax)[0], pre, nodes, stop=lambda n: op_of(ir, n) == "matmul",
                   classify=classify_pre)
    if logits is None:
        return None
    if not _keys_kept(ir, logits, ir.operands(final)[1], pre):
        return None
    nodes.add(logits)
    for step in post:
        step.after_softmax = True
    for node in nodes:
        if op_of(ir, node) == "scalar":
            continue  # a number (the `1` of a causal mask's `== 1`) is shared by every reader of it
        readers = set(ir.graph.successors(node))
        if node in ir.outputs or not readers <= nodes | {final}:
            return None  # the weights (or the logits) are read elsewhere: keep them
    return Attention(final, softmax, logits, list(reversed(pre)) + list(reversed(post)), nodes)


def _walk(ir: BlockIR, node: int, steps: list[Step], nodes: set[int], *, stop, classify) -> int | None:
    """Follow the path backwards from `node` to the first node `stop` accepts; append its steps."""
    while not stop(node):
        nodes.add(node)
        if op_of(ir, node) == "phi":
            joined = _through_join(ir, node, classify)
            if joined is None:
                return None
            branch_steps, node = joined
            steps.extend(branch_steps)
            nodes.update(step.node for step in branch_steps)
            nodes.update(made for step in branch_steps for made in step.made_by)
            continue
        classified = classify(ir, node)
        if classified is None:
            return None
        step, node = classified
        steps.append(step)
        nodes.update(step.made_by)
    return node


def _through_join(ir: BlockIR, phi: int, classify) -> tuple[list[Step], int] | None:
    """`if c: att = f(att)` joins f(att) and att: the steps of f, under c, and att."""
    then_value, else_value = ir.operands(phi)
    condition = attrs_of(ir, phi)["condition"]
    for branch, base, branch_condition in ((then_value, else_value, condition),
                                           (else_value, then_value, negate(condition))):
        steps, node = [], branch
        while node != base:
            if op_of(ir, node) in ("phi", "matmul", "softmax", "input", "param"):
                break
            classified = classify(ir, node)
            if classified is None:
                break
            step, node = classified
            step.condition = branch_condition
            steps.append(step)
        else:
            return steps, base
    return None


def classify_pre(ir: BlockIR, node: int) -> tuple[Step, int] | None:
    op = op_of(ir, node)
    operands = ir.operands(node)
    if op == "masked_fill":
        value = attrs_of(ir, node).get("value")
        is_minus_inf = getattr(value, "value", None) == float("-inf") and _keeps_shape(ir, node, operands[0])
        causal = _causal_mask(ir, operands[1], shape_of(ir, node)) if is_minus_inf else None
        if causal is not None:  # SDPA builds it (`is_causal`): the spec's mask is never computed
            return Step(node, "mask", mask=operands[1], mask_kind="causal", made_by=causal), operands[0]
        is_minus_inf = is_minus_inf and _usable_mask(ir, operands[1], operands[0], "bool")
        return Step(node, "mask" if is_minus_inf else "other", mask=operands[1], mask_kind="masked"), operands[0]
    if op in ("mul", "div") and len(operands) == 2:
        for chain, other in ((operands[0], operands[1]), (operands[1], operands[0])):
            factor = scalar_value(ir, other)
            if factor is None or op_of(ir, chain) == "scalar" or (op == "div" and chain != operands[0]):
                continue
            if op == "div":
                # 1 / (c - 1) as a true division (not `1 // (c - 1)`); a float argument may be 0, where the
                # plain form gives inf and NaN but `scale=1 / t` would raise: that division stays plain
                floats = factor.symbols() & attrs_of(ir, other).get("float_symbols", frozenset())
                return (Step(node, "scale", factor=sym.truediv(ONE, factor)), chain) \
                    if factor != Expr.const(0) and not floats else None
            return Step(node, "scale", factor=factor), chain
    if op in ("mul", "div") and len(operands) == 2:
        scaled = _per_head_scale(ir, node, operands, divides=op == "div")
        if scaled is not None:
            return scaled
    if op in ("add", "mul") and len(operands) == 2 and not any(op_of(ir, o) == "scalar" for o in operands):
        chain, other = _chain_operand(ir, operands)
        # `att + expand_as(m, att)`: the mask is `m` (the expand reads the logits for their shape only)
        added = ir.operands(other)[0] if op == "add" and op_of(ir, other) == "expand_as" else other
        if op == "add" and not (_keeps_shape(ir, node, chain) and _usable_mask(ir, added, chain, "float")):
            return Step(node, "other"), chain
        if op == "add":
            if op_of(ir, other) == "expand_as" and \
                    same_dims(ir, list(shape_of(ir, ir.operands(other)[1])), list(shape_of(ir, node))):
                # `att + expand_as(m, att)`: SDPA broadcasts its mask to the logits itself
                return Step(node, "mask", mask=ir.operands(other)[0], mask_kind="additive", made_by={other}), chain
            return Step(node, "mask", mask=other, mask_kind="additive"), chain
        return Step(node, "other"), chain
    return _classify_other(ir, node)


def _per_head_scale(ir: BlockIR, node: int, operands: list[int], *, divides: bool) -> tuple[Step, int] | None:
    """`att * temperature` (or `att / temperature`) with a float tensor whose last two sizes
    are 1 and which does not widen the logits: each head's logits scaled by one number,
    which may as well scale that head's queries."""
    pairs = [(operands[0], operands[1])] if divides else [(operands[0], operands[1]), (operands[1], operands[0])]
    for chain, other in pairs:
        shape, logits = shape_of(ir, other), shape_of(ir, chain)
        if op_of(ir, other) == "scalar" or shape is None or logits is None or len(shape) < 2 or \
                len(shape) > len(logits) or ir.graph.nodes[other].get("dtype", "float") != "float":
            continue
        if list(shape[-2:]) == [ONE, ONE] and same_dims(ir, list(shape_of(ir, node)), list(logits)):
            return Step(node, "scale", tensor=other, divides=divides), chain
    return None


def _usable_mask(ir: BlockIR, mask: int, chain: int, dtype: str) -> bool:
    """Whether SDPA takes `mask` as its attn_mask: of rank 2 at least (its CPU kernel indexes
    the last two axes), of the element type it takes (a boolean `masked_fill` mask; a float
    additive one: an integer bias the plain form promotes, SDPA refuses), and apart from the
    logits: neither computed from them nor what they are computed from (`att * scale + att`
    is no mask, and the fused call would read a value the specialised plain branch alone
    computes)."""
    import networkx as nx

    shape = shape_of(ir, mask)
    if shape is None or len(shape) < 2 or ir.graph.nodes[mask].get("dtype", "float") != dtype:
        return False
    return not nx.has_path(ir.graph, chain, mask) and not nx.has_path(ir.graph, mask, chain)


def _keeps_shape(ir: BlockIR, node: int, chain: int) -> bool:
    """A mask that broadcasts the logits to a larger shape (a batch of masks over one query
    batch) is not SDPA's attn_mask, which must broadcast to the logits: the plain form stays.
    The keys' axis is left to `_keys_kept`."""
    return same_dims(ir, list(shape_of(ir, node))[:-1], list(shape_of(ir, chain))[:-1])


def _keys_kept(ir: BlockIR, logits: int, values: int, pre: list) -> bool:
    """No mask widens the keys' axis where `@ v` would take the wider one: where `v` has the
    keys' count of `k` (EMSA), a mask of m keys over one key fails at `@ v` in the plain form
    too (the checker's own check, before either form runs); where `v` may have another (`k`
    of 1 key, `v` and the mask of m), every mask keeps the logits' keys, or SDPA refuses."""
    keys = shape_of(ir, logits)[-1]
    if same_dims(ir, [keys], [shape_of(ir, values)[-2]]):
        return True
    return all(same_dims(ir, [shape_of(ir, step.node)[-1]], [keys]) for step in pre if step.kind == "mask")


def _causal_mask(ir: BlockIR, mask: int, shape) -> set[int] | None:
    """The nodes computing `triu(ones([nq, nk]), diagonal=1) == 1` (or `tril(ones([nq, nk])) ==
    0`): true above the diagonal, which is what SDPA's `is_causal=True` masks (aligned at the
    top left, as torch's is). None for any other mask."""
    if op_of(ir, mask) != "eq":
        return None
    triangle, number = ir.operands(mask)
    kind, diagonal = op_of(ir, triangle), attrs_of(ir, triangle).get("diagonal", Expr.const(0))
    if (kind, diagonal, scalar_value(ir, number)) not in (("triu", Expr.const(1), Expr.const(1)),
                                                          ("tril", Expr.const(0), Expr.const(0))):
        return None
    ones = ir.operands(triangle)[0]
    if op_of(ir, ones) != "ones" or not same_dims(ir, list(attrs_of(ir, ones)["size"]), list(shape[-2:])):
        return None
    return {mask, triangle, number, ones}


def _classify_post(ir: BlockIR, node: int) -> tuple[Step, int] | None:
    if op_of(ir, node) == "call_layer" and dropout_target(ir, Step(node, "dropout")) is not None:
        return Step(node, "dropout"), ir.operands(node)[0]
    return _classify_other(ir, node)


def _classify_other(ir: BlockIR, node: int) -> tuple[Step, int] | None:
    """Any op of one tensor (a layer, an activation): it keeps the plain form."""
    operands = [o for o in ir.operands(node) if op_of(ir, o) not in ("scalar", "loop_layer")]
    if len(operands) != 1 or op_of(ir, node) in ("input", "param", "phi", "item", "list_comp"):
        return None
    return Step(node, "other"), operands[0]


def _chain_operand(ir: BlockIR, operands: list[int]) -> tuple[int, int]:
    """Of `att + mask`, which is att: the one not read straight from an input or a param."""
    first, second = operands
    if op_of(ir, first) in ("input", "param") and op_of(ir, second) not in ("input", "param"):
        return second, first
    return first, second


def _softmax_over_last(ir: BlockIR, softmax: int) -> bool:
    rank = len(shape_of(ir, softmax))
    return attrs_of(ir, softmax)["dim"] in (-1, rank - 1)


def dropout_target(ir: BlockIR, step: Step | None) -> str | None:
    """`self.drop` (or `self.seq.drop`) for a call of a dropout layer, else None."""
    if step is None:
        return None
    details = attrs_of(ir, step.node)
    if details.get("element") or len(ir.operands(step.node)) != 1:
        return None
    spec = ir.called_spec(ir.graph.nodes[step.node])
    if spec is None or spec.kind != "dropout":
        return None
    target = f"self.{details['layer']}"
    for child in details.get("path", ()):
        target = f'getattr({target}, "{child}")' if keyword.iskeyword(child) else f"{target}.{child}"
    return target
