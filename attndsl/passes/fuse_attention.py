"""Attention fusion: softmax(q·kᵀ·scale [+ mask]) [dropout] · v → one call of
`F.scaled_dot_product_attention`, which never materialises the [.., nq, nk] weights.

The pattern is read backwards from each `att @ v` whose left operand comes from a
softmax over the last axis. Between the logits `q @ k` and the softmax it accepts:

- scalings by compile-time numbers (`/ sqrt(d_k)`, `* scale`, also on q or k before
  the product); they become SDPA's `scale=`, and must come before any mask; and by a
  tensor constant over each head's logits (a learnt per-head temperature [h, 1, 1], as
  in XCiT and Restormer), which scales the queries instead;
- one mask: `masked_fill(att, mask, -inf)` (True = masked; SDPA, whose boolean mask
  means True = allowed, gets the additive float mask it means: ops/fused.py; made a block
  of queries at a time where the mask has a row per query) or `att + mask` (an additive float mask,
  passed as is, also when written `att + expand_as(mask, att)`, as SDPA broadcasts it);
  under `if mask:` on an optional input (or a view of one: a key padding mask
  `m[:, None, None, :]`), `None` where it is not given;
  a causal mask built in forward (`triu(ones([nq, nk]), diagonal=1) == 1`) is SDPA's
  `is_causal=True`, and under `if is_causal:` it is `is_causal=bool(is_causal)`;
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

from ..guards import implied_by
from ..ir import BlockIR, Cond, negate
from ..symbolic import Expr
from .attention_match import Attention, Step, classify_pre, dropout_target, match_attention
from .fold_constants import ONE
from .rewrite import attrs_of, guard_of, is_live, new_node, op_of, redirect, same_dims, shape_of

FUSED_OP = "scaled_dot_product_attention"


def fuse_attention(ir: BlockIR) -> int:
    fused = 0
    for node in ir.topological():
        if is_live(ir, node) and op_of(ir, node) == "matmul" and _fuse(ir, node):
            fused += 1
    return fused


def _fuse(ir: BlockIR, final: int) -> bool:
    match = match_attention(ir, final)
    if match is None:
        return False
    plan = _plan(ir, match)
    if plan is None:
        return False
    blockers, mask_step, dropout_step = plan
    q, q_factor, q_scalings = _unscaled(ir, ir.operands(match.logits)[0])
    k, k_factor, k_scalings = _unscaled(ir, ir.operands(match.logits)[1])
    v = ir.operands(final)[1]
    scale = q_factor * k_factor
    temperatures = [step for step in match.steps if step.kind == "scale" and step.condition is None and
                    step.tensor is not None]
    for step in match.steps:
        if step.kind == "scale" and step.condition is None and step.tensor is None:
            scale = scale * step.factor
    if not _shapes_fit(ir, q, k, v):
        return False
    base_guard = guard_of(ir, final)
    if any(not _available(guard_of(ir, n), base_guard) for n in [q, k, v] + [s.tensor for s in temperatures]):
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
    for step in temperatures:  # (q * t) @ k is (q @ k) * t where t is one number per head
        q = new_node(ir, "div" if step.divides else "mul", [q, step.tensor], like=match.logits, guard=fused_guard,
                     shape=shape_of(ir, q))
    keys = _keys_first(ir, k, like=match.logits, guard=fused_guard)
    operands = [q, keys, v] + ([mask_step.mask] if mask_step is not None and not causal else [])
    name = ir.graph.nodes[final]["name"] or _fresh_name(ir, "attended")
    lines = sorted({ir.graph.nodes[n]["span"].line for n in match.nodes | {final} | q_scalings | k_scalings})
    where = f"{_file(ir)}:{lines[0]}-{lines[-1]}" if len(lines) > 1 else f"{_file(ir)}:{lines[0]}"
    if _optional_mask(ir, mask_step) is not None and op_of(ir, mask_step.mask) != "input" and \
            ir.graph.nodes[mask_step.mask]["name"] is None and _fresh_name(ir, "attn_mask"):
        ir.graph.nodes[mask_step.mask]["name"] = "attn_mask"  # a view of an optional input: `m[:, None, None, :]`
    blocks = _by_query_blocks(ir, mask_step, q)
    fused = new_node(ir, FUSED_OP, operands, like=final, guard=fused_guard, shape=shape_of(ir, final), name=name,
                     scale=scale, mask_kind=mask_step.mask_kind if mask_step else None,
                     causal=(mask_step.condition or True) if causal else None,
                     optional_mask=_optional_mask(ir, mask_step), dropout=dropout_target(ir, dropout_step),
                     stochastic=dropout_step is not None, query_blocks=blocks)
    described = _describe(ir, mask_step, dropout_step, scale, temperatures)
    calls = "scaled_dot_product_attention calls by blocks of queries" if blocks else \
        "one scaled_dot_product_attention call"
    ir.graph.nodes[fused]["comments"] = [f"{where}: {described}, fused into {calls}"]
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


def _fresh_name(ir: BlockIR, name: str) -> str | None:
    """The fused call's own line is `attended = F.scaled_dot_product_attention(...)`, unless
    the spec names something so (Infini-attention's list of them): then it is written inline."""
    taken = any(attrs.get("name") == name for _, attrs in ir.graph.nodes(data=True))
    return None if taken else name


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
        # `if mask: att = masked_fill(att, mask, -inf)` on an optional input, or a view of it
        # (a key padding mask `m[:, None, None, :]`): passed as None where it is not given.
        source = optional_mask_input(ir, step.mask)
        return source is not None and step.condition == Cond("present", (source,))
    return False


_MASK_VIEWS = ("subscript", "unsqueeze", "rearrange", "expand", "flatten", "unflatten", "squeeze", "transpose")


def optional_mask_input(ir: BlockIR, mask: int) -> str | None:
    """The optional input a mask is, or is a view of (through ops of that one tensor that only
    move its elements): its name; None for any other mask."""
    node = mask
    while op_of(ir, node) in _MASK_VIEWS and len(ir.operands(node)) == 1:
        node = ir.operands(node)[0]
    data = ir.graph.nodes[node]
    return data["attrs"]["input"] if data["op"] == "input" and data["attrs"].get("optional") else None


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


def _unscaled(ir: BlockIR, node: int) -> tuple[int, Expr, set[int]]:
    """`q / s` (or `q * s`): q, the factor, so that SDPA's scale can absorb it, and the
    scalings absorbed (their lines are among those the fused call replaces)."""
    factor, scalings = ONE, set()
    while op_of(ir, node) in ("mul", "div"):
        classified = classify_pre(ir, node)
        if classified is None or classified[0].kind != "scale" or classified[0].tensor is not None:
            break
        scalings.add(node)
        step, node = classified
        factor = factor * step.factor
    return node, factor, scalings


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
        extra = tuple(c for c in extra if c != condition)
        # `causal and (causal or keep given)` is `causal`: the step's own `if` implies the plain path's
        updates[node] = base + extra if implied_by(condition, extra) else base + (condition,) + extra
    for node, guard in updates.items():
        ir.graph.nodes[node]["guard"] = guard
    return True


# ---------------------------------------------------------------------------- attributes


def _by_query_blocks(ir: BlockIR, step: Step | None, q: int) -> bool:
    """Whether the fused call attends a block of queries at a time: where its boolean mask
    has a row for every query. SDPA takes the additive float mask such a mask means, which
    made whole is as large as the weights fusion avoids (ops/fused.py); blocks of queries
    need it a block at a time. A mask broadcast over the queries (a key padding mask
    `[b, 1, 1, nk]`) makes a small float mask, and attends in one call."""
    if step is None or step.mask_kind != "masked":
        return False
    mask, queries = shape_of(ir, step.mask), shape_of(ir, q)
    return mask is not None and len(mask) >= 2 and mask[-2] != ONE and same_dims(ir, mask[-2:-1], queries[-2:-1])


def _optional_mask(ir: BlockIR, step: Step | None) -> str | None:
    if step is None or step.condition is None or step.mask_kind == "causal":
        return None
    return optional_mask_input(ir, step.mask)


def _describe(ir: BlockIR, mask_step: Step | None, dropout_step: Step | None, scale: Expr,
              temperatures=()) -> str:
    logits = "q @ k" + (" * scale" if scale != ONE else "")
    for step in temperatures:  # `* temperature`, by its name
        logits += f" {'/' if step.divides else '*'} {ir.graph.nodes[step.tensor]['name'] or 't'}"
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
