"""A block's `state_dict` entries, symbolically: keys, shapes, and when they exist.

From the IR alone, without torch: a `param` is an entry; a layer contributes the entries
of its kind (the rule table in `cost_rules.py`), a `sequential` its children's under
their index or name, a block used as a layer the block's own entries, a layer list
(`[conv2d(..., k) for k in kernels]`) one set per element, written `convs.*.conv.weight`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .. import symbolic as sym
from ..ir import BlockIR, Cond, LayerSpec, display_name, elements_source
from ..layers import LAYERS
from ..shapes.conjunctions import make_guard
from ..symbolic import Expr
from .cost_rules import kind_options, numel
from .subblock import callee_mapping, substitute_guard, substitute_shape


@dataclass(frozen=True)
class Entry:
    key: str  # `*` stands for each element of a layer list
    shape: tuple
    guard: frozenset
    parameter: bool  # or a buffer
    loop: tuple | None = None  # (variable, list argument or range count) of a layer list
    # children named in a loop (`fc{i} = linear(...)` under `for i in range(1, n)`): one
    # entry per pass, written once with the pass's variable: (variable, start, stop)
    passes: tuple | None = None

    def count(self) -> Expr:
        """How many values the entry stands for (summed over its passes)."""
        size = numel(self.shape)
        if self.passes is None:
            return size
        _, start, stop = self.passes
        return size * sym.maximum(stop - start, Expr.const(0))

    def described(self, render) -> str:
        """`for k in kernels` / `for i in range(1, n)`: which entries the key stands for."""
        if self.loop is not None:
            return f" for each {self.loop[0]} in {elements_source(self.loop[1], lambda e: e if isinstance(e, str) else render(e))}"
        if self.passes is not None:
            var, start, stop = self.passes
            bounds = render(stop) if start == Expr.const(0) else f"{render(start)}, {render(stop)}"
            return f" for each {var} in range({bounds})"
        return ""


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
        loop = (info.loop_var, info.elements) if info.element is not None and info.loop_var else None
        for entry in _layer(spec, prefix, blocks, memo):
            guard = make_guard(list(entry.guard) + list(info.guard))
            if guard is not None:
                if info.count is not None and loop is None:  # `[... for _ in range(depth)]`: `depth` alike
                    entry = replace(entry, passes=("_", Expr.const(0), info.count))
                entries.append(replace(entry, guard=guard, loop=loop or entry.loop))
    memo[ir.name] = entries
    return entries


def _layer(spec: LayerSpec, prefix: str, blocks, memo) -> list[Entry]:
    if spec.kind == "loop":  # children named in a loop: `conv_{i}` stands for every pass's
        passes = (spec.args["var"], _expr(spec.args["start"]), _expr(spec.args["stop"]))
        return [replace(entry, passes=passes) for name, child in spec.children
                for entry in _layer(child, f"{prefix}{display_name(name)}.", blocks, memo)]
    if spec.kind in ("sequential", "list"):  # "list": an nn.ModuleList, a layer list's element
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
                passes = entry.passes and (entry.passes[0],) + substitute_shape(entry.passes[1:], mapping)
                out.append(replace(entry, key=prefix + entry.key, shape=substitute_shape(entry.shape, mapping),
                                   guard=guard, passes=passes))
        return out
    out = []
    for option, kind_conds in kind_options(spec):  # a kind given as an argument: each it may be
        for rule in LAYERS[option.kind].state_entries(option.args):
            flag = rule.flag
            conds = [] if flag is None else [flag if isinstance(flag, Cond) else Cond.const(bool(flag))]
            guard = make_guard(conds + kind_conds)
            if guard is not None:
                out.append(Entry(prefix + rule.key, tuple(rule.shape), guard, rule.parameter))
    return out


def _expr(value) -> Expr:
    return value if isinstance(value, Expr) else Expr.const(value)
