"""A block's `state_dict` entries, symbolically: keys, shapes, and when they exist.

From the IR alone, without torch: a `param` is an entry; a layer contributes the entries
of its kind (the rule table in `cost_rules.py`), a `sequential` its children's under
their index or name, a block used as a layer the block's own entries, a layer list
(`[conv2d(..., k) for k in kernels]`) one set per element, written `convs.*.conv.weight`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import BlockIR, Cond, LayerSpec, display_name
from .cost_rules import LAYER_COSTS
from .formula import make_guard
from .subblock import callee_mapping, substitute_guard, substitute_shape


@dataclass(frozen=True)
class Entry:
    key: str  # `*` stands for each element of a layer list
    shape: tuple
    guard: frozenset
    parameter: bool  # or a buffer
    loop: tuple[str, str] | None = None  # (variable, list argument) of a layer list


def state_entries(ir: BlockIR, blocks: dict[str, BlockIR], _memo: dict | None = None) -> list[Entry]:
    memo = {} if _memo is None else _memo
    if ir.name in memo:
        return memo[ir.name]
    entries: list[Entry] = []
    for param in ir.params:
        guard = make_guard(param.guard)
        if guard is not None:
            entries.append(Entry(param.name, tuple(param.shape), guard, True))
    for info in ir.layers:
        spec = info.spec or info.element
        prefix = f"{info.name}.*." if info.element is not None else f"{info.name}."
        loop = (info.loop_var, info.iterable) if info.element is not None else None
        for entry in _layer(spec, prefix, blocks, memo):
            guard = make_guard(list(entry.guard) + list(info.guard))
            if guard is not None:
                entries.append(Entry(entry.key, entry.shape, guard, entry.parameter, loop or entry.loop))
    memo[ir.name] = entries
    return entries


def _layer(spec: LayerSpec, prefix: str, blocks, memo) -> list[Entry]:
    if spec.kind == "loop":  # children named in a loop: `conv_{i}` stands for every pass's
        return [entry for name, child in spec.children
                for entry in _layer(child, f"{prefix}{display_name(name)}.", blocks, memo)]
    if spec.kind == "sequential":
        return [entry for index, (name, child) in enumerate(spec.children)
                for entry in _layer(child, prefix if child.kind == "loop" else f"{prefix}{display_name(name or index)}.",
                                    blocks, memo)]
    if spec.kind == "block":
        callee = blocks[spec.block]
        mapping = callee_mapping(callee, spec, None)
        out = []
        for entry in state_entries(callee, blocks, memo):
            guard = substitute_guard(entry.guard, mapping)
            if guard is not None:
                out.append(Entry(prefix + entry.key, substitute_shape(entry.shape, mapping), guard, entry.parameter,
                                 entry.loop))
        return out
    out = []
    for rule in LAYER_COSTS[spec.kind].state(spec.args):
        flag = rule.flag
        conds = [] if flag is None else [flag if isinstance(flag, Cond) else Cond.const(bool(flag))]
        guard = make_guard(conds)
        if guard is not None:
            out.append(Entry(prefix + rule.key, tuple(rule.shape), guard, rule.parameter))
    return out
