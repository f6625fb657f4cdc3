"""`attndsl diff A.attn B.attn`: what a change to a spec changes, for a reviewer.

Per block (matched by name; a lone renamed block is matched with its new name): the
signature (constructor arguments, inputs, outputs and their shapes), the `state_dict`
keys and shapes (a checkpoint still loads only if these agree), the cost formulas and
their values at each spec's first example, and a unified diff of the generated code.
Exit 0 when the comparison ran (whatever it found); 1 when a spec has errors.
"""

from __future__ import annotations

import difflib

from ..ir import BlockIR
from ..shapes.conjunctions import render_expr, render_guard
from ..shapes.world_view import shape_text
from .common import CheckedSpec, check_spec, optimized
from .cost import report, symbol_order
from .costmodel import block_costs
from .state import state_entries
from .values import Values


def run(args) -> int:
    old, new = check_spec(args.old), check_spec(args.new)
    if old is None or new is None:
        return 1
    print("\n".join(diff_specs(old, new)))
    return 0


def diff_specs(old: CheckedSpec, new: CheckedSpec) -> list[str]:
    lines = [f"--- {old.path}", f"+++ {new.path}"]
    old_blocks = {b.name: b for b in old.blocks}
    new_blocks = {b.name: b for b in new.blocks}
    pairs = [(name, name) for name in old_blocks if name in new_blocks]
    gone = [n for n in old_blocks if n not in new_blocks]
    added = [n for n in new_blocks if n not in old_blocks]
    if len(gone) == 1 and len(added) == 1:  # a rename
        pairs.append((gone[0], added[0]))
        lines.append(f"block {gone[0]} is renamed {added[0]}")
        gone, added = [], []
    lines += [f"- block {name} (removed)" for name in gone] + [f"+ block {name} (added)" for name in added]
    old_costs, new_costs = block_costs(optimized(old.blocks)), block_costs(optimized(new.blocks))
    for old_name, new_name in pairs:
        a, b = old_blocks[old_name], new_blocks[new_name]
        lines += ["", f"== {new_name}"]
        lines += _section("signature", _signature(a), _signature(b))
        lines += _section("state_dict", _state(a, old_blocks), _state(b, new_blocks))
        lines += _cost_section(a, old_costs[old_name], b, new_costs[new_name])
    lines += ["", "== generated code"] + _code_diff(old, new)
    return lines


def _section(title: str, before: list[str], after: list[str]) -> list[str]:
    if before == after:
        return [f"{title}: unchanged"]
    body = [line for line in difflib.unified_diff(before, after, lineterm="", n=1)][2:]
    return [f"{title}:"] + [f"  {line}" for line in body if not line.startswith("@@")]


def _signature(ir: BlockIR) -> list[str]:
    order = symbol_order(ir)
    lines = [f"argument {a.name}: {a.type}" + ("" if a.required else f" = {_value(a.default)}") for a in ir.args]
    for info in ir.inputs:
        dtype = getattr(info, "dtype", "float")
        if dtype == "flag":
            lines.append(f"input {info.name}: bool" + ("" if info.default is None else f" = {_value(info.default)}"))
            continue
        shape = "[" + ", ".join(render_expr(d, order) for d in info.shape) + "]"
        lines.append(f"input {info.name}: {info.element_type}{shape}" + (" = None" if info.optional else ""))
    for index, node in enumerate(ir.outputs):
        lines.append(f"output {index}: {shape_text(ir, node, order) or '[]'}")
    return lines


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _state(ir: BlockIR, blocks: dict[str, BlockIR]) -> list[str]:
    order = symbol_order(ir)
    lines = []
    for entry in state_entries(ir, blocks):
        shape = "[" + ", ".join(render_expr(d, order) for d in entry.shape) + "]"
        kind = "" if entry.parameter else " (buffer)"
        when = " if " + render_guard(entry.guard, order) if entry.guard else ""
        each = entry.described(lambda e: render_expr(e, order))
        lines.append(f"{entry.key} {shape}{kind}{when}{each}")
    return lines


def _cost_section(a: BlockIR, cost_a, b: BlockIR, cost_b) -> list[str]:
    ra, rb = report(a, cost_a, Values.at(a, {})), report(b, cost_b, Values.at(b, {}))
    lines = ["cost (at each spec's first example):"]
    if ra.sizes != rb.sizes:
        lines.append(f"  (the sizes differ: {_sizes(ra.sizes)} -> {_sizes(rb.sizes)})")
    for label, x, y, fx, fy in (("parameters", ra.params, rb.params, ra.params_formula, rb.params_formula),
                                ("FLOPs", ra.flops, rb.flops, ra.flops_formula, rb.flops_formula),
                                ("peak activation values", ra.peak_values, rb.peak_values,
                                 ra.memory_formula, rb.memory_formula)):
        change = "unchanged" if x == y else f"{_count(x)} -> {_count(y)}" + (
            f" ({y - x:+,})" if x is not None and y is not None else "")
        lines.append(f"  {label}: {_count(y) if x == y else change}" + ("" if x != y else " (unchanged)"))
        if fx != fy:
            lines += [f"    - {fx}", f"    + {fy}"]
    return lines


def _sizes(sizes: dict) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in sizes.items())


def _count(number) -> str:
    return "?" if number is None else f"{number:,}"


def _code_diff(old: CheckedSpec, new: CheckedSpec) -> list[str]:
    from ..compiler import compile_source

    before = compile_source(old.source, old.path).code or ""
    after = compile_source(new.source, new.path).code or ""
    name = lambda spec: f"generated from {spec.path}"  # noqa: E731
    body = list(difflib.unified_diff(before.splitlines(), after.splitlines(), name(old), name(new), lineterm=""))
    return body or ["unchanged"]
