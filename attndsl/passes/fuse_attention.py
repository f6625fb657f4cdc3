"""Attention fusion: softmax(q·kᵀ·scale [+ mask]) [dropout] · v → one call of
`F.scaled_dot_product_attention`, which never materialises the [.., nq, nk] weights.

The pattern is read backwards from each `att @ v` whose left operand comes from a
softmax over the last axis. Between the logits `q @ k` and the softmax it accepts:

- scalings by compile-time numbers (`/ sqrt(d_k)`, `* scale`, also on q or k before
  the product); they become SDPA's `scale=`, and must come before any mask;
- one mask: `masked_fill(att, mask, -inf)` (True = masked, so SDPA, whose boolean
  mask means True = allowed, gets `~mask`) or `att + mask` (an additive float mask,
  passed as is, also when written `att + expand_as(mask, att)`, as SDPA broadcasts it);
  under `if mask:` on an optional input, `None if mask is None else ~mask`;
  a causal mask built in forward (`triu(ones([nq, nk]), diagonal=1) == 1`) is SDPA's
  `is_causal=True`, and under `if is_causal:` it is `is_causal=is_causal`;
- between the softmax and `@ v`, at most a dropout layer: `dropout_p=` its `p` while
  that layer is training.

Only attention with heads ([b, h, nq, nk] weights) is fused: the ONNX exporters
(onnxscript) take no other rank, and every generated module must export.

Anything else on the path (a multiplicative weight, a head-mixing conv, a norm after
the softmax) keeps the plain form. When such a step only runs under an `if` (an
optional input's presence, a constructor argument), the block is specialised: the
plain form stays under that condition and the fused call runs otherwise. The fused
form is used only when nothing else reads the attention weights or the logits.

Numerics: the same function, rounded differently (SDPA scales q and k by sqrt(scale)
each). A row whose every key is masked gives NaN in the plain form (softmax of all
-inf); SDPA does not produce NaN there (see the tests and the issue report).
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from ..ir import BlockIR, Cond, negate
from ..symbolic import Expr
from .fold_constants import ONE
from .rewrite import (attrs_of, guard_of, is_live, new_node, op_of, redirect, same_dims, scalar_value,
                      shape_of)

FUSED_OP = "scaled_dot_product_attention"


@dataclass
class Step:
    """One op on the path from the logits to `@ v`, and the condition it runs under."""

    node: int
    kind: str  # "scale", "mask", "dropout" or "other" (keeps the plain form)
    condition: Cond | None = None
    factor: Expr | None = None
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


def fuse_attention(ir: BlockIR) -> int:
    fused = 0
    for node in ir.topological():
        if is_live(ir, node) and op_of(ir, node) == "matmul" and _fuse(ir, node):
            fused += 1
    return fused


# ---------------------------------------------------------------------------- matching


def _fuse(ir: BlockIR, final: int) -> bool:
    match = _match(ir, final)
    if match is None:
        return False
    plan = _plan(ir, match)
    if plan is None:
        return False
    blockers, mask_step, dropout_step = plan
    q, q_factor = _unscaled(ir, ir.operands(match.logits)[0])
    k, k_factor = _unscaled(ir, ir.operands(match.logits)[1])
    v = ir.operands(final)[1]
    scale = q_factor * k_factor
    for step in match.steps:
        if step.kind == "scale" and step.condition is None:
            scale = scale * step.factor
    if not _shapes_fit(ir, q, k, v):
        return False
    base_guard = guard_of(ir, final)
    if any(not _available(guard_of(ir, n), base_guard) for n in (q, k, v)):
        return False
    causal = mask_step is not None and mask_step.mask_kind == "causal"
    if mask_step is not None and mask_step.condition is None and not causal and \
            not _available(guard_of(ir, mask_step.mask), base_guard):
        return False
    block_condition = None
    if blockers:
        block_condition = blockers[0] if len(blockers) == 1 else Cond("or", tuple(blockers))
        if not _guard_plain_path(ir, match, base_guard, block_condition):
            return False
    fused_guard = base_guard + ((negate(block_condition),) if block_condition is not None else ())
    keys = _keys_first(ir, k, like=match.logits, guard=fused_guard)
    operands = [q, keys, v] + ([mask_step.mask] if mask_step is not None and not causal else [])
    name = ir.graph.nodes[final]["name"] or "attended"
    lines = sorted({ir.graph.nodes[n]["span"].line for n in match.nodes | {final}})
    where = f"{_file(ir)}:{lines[0]}-{lines[-1]}" if len(lines) > 1 else f"{_file(ir)}:{lines[0]}"
    fused = new_node(ir, FUSED_OP, operands, like=final, guard=fused_guard, shape=shape_of(ir, final), name=name,
                     scale=scale, mask_kind=mask_step.mask_kind if mask_step else None,
                     causal=(mask_step.condition or True) if causal else None,
                     optional_mask=_optional_mask(ir, mask_step), dropout=_dropout_target(ir, dropout_step),
                     stochastic=dropout_step is not None)
    ir.graph.nodes[fused]["comments"] = [f"{where}: {_describe(ir, mask_step, dropout_step)}, fused into "
                                         "one scaled_dot_product_attention call"]
    if block_condition is None:
        redirect(ir, final, fused, keep_name=False)
        return True
    readers = list(ir.graph.out_edges(final, keys=True, data=True))
    join = new_node(ir, "phi", [final, fused], like=final, guard=base_guard, shape=shape_of(ir, final), name=name,
                    condition=block_condition)
    for _, user, key, data in readers:
        ir.graph.remove_edge(final, user, key)
        ir.graph.add_edge(join, user, index=data["index"])
    ir.outputs = [join if o == final else o for o in ir.outputs]
    ir.graph.nodes[final]["name"] = name
    return True


def _match(ir: BlockIR, final: int) -> Attention | None:
    weights = ir.operands(final)[0]
    post: list[Step] = []
    nodes: set[int] = set()
    softmax = _walk(ir, weights, post, nodes, stop=lambda n: op_of(ir, n) == "softmax", classify=_classify_post)
    if softmax is None or not _softmax_over_last(ir, softmax) or len(shape_of(ir, softmax)) != 4:
        return None  # [b, h, nq, nk] only: ONNX exporters take 4-d attention, no other rank
    pre: list[Step] = []
    nodes.add(softmax)
    logits = _walk(ir, ir.operands(softmax)[0], pre, nodes, stop=lambda n: op_of(ir, n) == "matmul",
                   classify=_classify_pre)
    if logits is None:
        return None
    nodes.add(logits)
    for step in post:
        step.after_softmax = True
    for node in nodes:
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


def _classify_pre(ir: BlockIR, node: int) -> tuple[Step, int] | None:
    op = op_of(ir, node)
    operands = ir.operands(node)
    if op == "masked_fill":
        value = attrs_of(ir, node).get("value")
        is_minus_inf = getattr(value, "value", None) == float("-inf")
        causal = _causal_mask(ir, operands[1], shape_of(ir, node)) if is_minus_inf else None
        if causal is not None:
            return Step(node, "mask", mask=operands[1], mask_kind="causal", made_by=causal), operands[0]
        return Step(node, "mask" if is_minus_inf else "other", mask=operands[1], mask_kind="masked"), operands[0]
    if op in ("mul", "div") and len(operands) == 2:
        for chain, other in ((operands[0], operands[1]), (operands[1], operands[0])):
            factor = scalar_value(ir, other)
            if factor is None or op_of(ir, chain) == "scalar" or (op == "div" and chain != operands[0]):
                continue
            if op == "div":
                return (Step(node, "scale", factor=ONE.exact_div(factor)), chain) if factor != Expr.const(0) \
                    else None
            return Step(node, "scale", factor=factor), chain
    if op in ("add", "mul") and len(operands) == 2 and not any(op_of(ir, o) == "scalar" for o in operands):
        chain, other = _chain_operand(ir, operands)
        if op == "add":
            if op_of(ir, other) == "expand_as" and \
                    same_dims(ir, list(shape_of(ir, ir.operands(other)[1])), list(shape_of(ir, node))):
                # `att + expand_as(m, att)`: SDPA broadcasts its mask to the logits itself
                return Step(node, "mask", mask=ir.operands(other)[0], mask_kind="additive", made_by={other}), chain
            return Step(node, "mask", mask=other, mask_kind="additive"), chain
        return Step(node, "other"), chain
    return _classify_other(ir, node)


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
    if op_of(ir, node) == "call_layer" and _dropout_target(ir, Step(node, "dropout")) is not None:
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


# ---------------------------------------------------------------------------- planning


def _plan(ir: BlockIR, match: Attention):
    """(conditions that keep the plain form, the fused mask step, the dropout step), or None."""
    blockers: list[Cond] = []

    def block(condition: Cond) -> None:
        if condition not in blockers:
            blockers.append(condition)

    mask_step = dropout_step = None
    last_kept = None  # the last step that runs in the fused path
    for step in match.steps:
        if not _fusable(ir, step, mask_step, dropout_step):
            if step.condition is None:
                return None
            block(step.condition)
            continue
        if step.kind == "mask":
            mask_step = step
        elif step.kind == "dropout":
            dropout_step = step
        last_kept = step
    if dropout_step is not None and last_kept is not dropout_step:
        return None
    if mask_step is not None and mask_step.condition is not None and mask_step.condition in blockers:
        mask_step = None  # never runs in the fused path
    return blockers, mask_step, dropout_step


def _fusable(ir: BlockIR, step: Step, mask_step: Step | None, dropout_step: Step | None) -> bool:
    if step.after_softmax:
        return step.kind == "dropout" and step.condition is None and dropout_step is None
    if step.kind == "scale":
        # after a mask it would scale the mask too
        return step.condition is None and mask_step is None
    if step.kind == "mask":
        if mask_step is not None:
            return False
        if step.condition is None or step.mask_kind == "causal":  # `is_causal=<the condition>`
            return True
        # `if mask: att = masked_fill(att, mask, -inf)` on an optional input: passed as
        # `None if mask is None else ~mask`.
        mask = ir.graph.nodes[step.mask]
        return (mask["op"] == "input" and mask["attrs"].get("optional")
                and step.condition == Cond("present", (mask["attrs"]["input"],)))
    return False


def _available(guard: tuple, where: tuple) -> bool:
    """A value computed under `guard` exists wherever `where` holds."""
    return set(guard) <= set(where)


def _shapes_fit(ir: BlockIR, q: int, k: int, v: int) -> bool:
    """SDPA takes [..., n, e] operands with the same batch dims (no broadcasting); more than
    two batch dims (Infini-attention's segments) do not export to ONNX: left unfused."""
    shapes = [shape_of(ir, n) for n in (q, k, v)]
    if any(s is None or len(s) < 3 or len(s) > 4 or len(s) != len(shapes[0]) for s in shapes):
        return False
    return same_dims(ir, shapes[0][:-2], shapes[1][:-2]) and same_dims(ir, shapes[0][:-2], shapes[2][:-2])


def _keys_first(ir: BlockIR, k: int, *, like: int, guard: tuple) -> int:
    """SDPA takes keys as [..., n, e]; the logits' right operand is [..., e, n]."""
    rank = len(shape_of(ir, k))
    if op_of(ir, k) == "transpose" and {attrs_of(ir, k)["dim0"] % rank, attrs_of(ir, k)["dim1"] % rank} == \
            {rank - 2, rank - 1}:
        return ir.operands(k)[0]
    shape = shape_of(ir, k)
    return new_node(ir, "transpose", [k], like=like, guard=guard, shape=tuple(shape[:-2]) + (shape[-1], shape[-2]),
                    dim0=-2, dim1=-1)


def _unscaled(ir: BlockIR, node: int) -> tuple[int, Expr]:
    """`q / s` (or `q * s`): q and the factor, so that SDPA's scale can absorb it."""
    factor = ONE
    while op_of(ir, node) in ("mul", "div"):
        classified = _classify_pre(ir, node)
        if classified is None or classified[0].kind != "scale":
            break
        step, node = classified
        factor = factor * step.factor
    return node, factor


def _guard_plain_path(ir: BlockIR, match: Attention, base: tuple, condition: Cond) -> bool:
    """Put the plain form under `condition` (it only runs when a blocking step does)."""
    updates = {}
    for node in match.nodes | {match.final}:
        guard = guard_of(ir, node)
        if guard[:len(base)] == base:
            extra = guard[len(base):]
        elif base[:len(guard)] == guard:
            extra = ()
        else:
            return False
        updates[node] = base + (condition,) + tuple(c for c in extra if c != condition)
    for node, guard in updates.items():
        ir.graph.nodes[node]["guard"] = guard
    return True


# ---------------------------------------------------------------------------- attributes


def _optional_mask(ir: BlockIR, step: Step | None) -> str | None:
    if step is None or step.condition is None or step.mask_kind == "causal":
        return None
    return ir.graph.nodes[step.mask]["attrs"]["input"]


def _dropout_target(ir: BlockIR, step: Step | None) -> str | None:
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


def _describe(ir: BlockIR, mask_step: Step | None, dropout_step: Step | None) -> str:
    logits = "q @ k * scale"
    if mask_step is not None:
        mask = ir.graph.nodes[mask_step.mask]
        name = mask["attrs"]["input"] if mask["op"] == "input" else mask["name"] or "mask"
        logits = f"{logits} + {name}" if mask_step.mask_kind == "additive" else \
            f"masked_fill({logits}, {name if mask_step.mask_kind != 'causal' else 'causal mask'}, -inf)"
    text = f"softmax({logits})"
    if dropout_step is not None:
        text = f"dropout({text})"
    return text + " @ v"


def _file(ir: BlockIR) -> str:
    path = getattr(ir, "path", "") or (ir.span.path if ir.span is not None else "spec")
    return path.replace("\\", "/").rsplit("/", 1)[-1]
