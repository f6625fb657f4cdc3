"""`attndsl cost SPEC [--block NAME] [--size NAME=VALUE ...] [--json]`.

Parameters, FLOPs and peak activation memory of a block, as formulas in its symbols and
as numbers at the given sizes (default: the block's first `example`). See `costmodel.py`
for what is counted and `cost_rules.py` for the per-op and per-layer rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction

from ..cli import UsageError
from ..ir import BlockIR, list_item
from ..shapes.conjunctions import render_expr, render_guard
from .common import check_spec, optimized, parse_assignments
from .costmodel import BlockCost, block_costs
from .formula import Term, evaluate, render_max, render_terms
from .values import Unbound, Values, dim_origins

BYTES_PER_VALUE = 4  # float32


@dataclass
class CostReport:
    block: str
    sizes: dict
    params: int | None
    flops: int | None
    peak_values: int | None
    params_formula: str
    flops_formula: str
    memory_formula: str
    where: dict[str, str]
    missing: list[str]

    def as_json(self) -> dict:
        peak_bytes = None if self.peak_values is None else self.peak_values * BYTES_PER_VALUE
        return {"block": self.block, "sizes": self.sizes, "params": self.params, "flops": self.flops,
                "peak_activation_values": self.peak_values, "peak_activation_bytes": peak_bytes,
                "params_formula": self.params_formula, "flops_formula": self.flops_formula,
                "memory_formula": self.memory_formula, "where": self.where, "missing": self.missing}


def symbol_order(ir: BlockIR):
    """Display order: the dims in the order the inputs bind them, then the arguments."""
    names = list(dim_origins(ir)) + [a.name for a in ir.args] + [let.name for let in ir.lets]
    rank = {name: index for index, name in enumerate(names)}
    return lambda symbol: (rank.get(symbol, len(rank)), symbol)


def report(ir: BlockIR, cost: BlockCost, values: Values) -> CostReport:
    order = symbol_order(ir)
    numbers: dict[str, int | None] = {}
    missing: set[str] = set()
    for key, compute in (("params", lambda: evaluate(cost.params, values)),
                         ("flops", lambda: evaluate(cost.flops, values)),
                         ("memory", lambda: max((evaluate(c, values) for c in cost.memory), default=Fraction(0)))):
        try:
            numbers[key] = _whole(compute())
        except Unbound as unbound:
            numbers[key] = None
            missing |= unbound.symbols
        except ZeroDivisionError as error:  # what no check of the module guards (see Values.refusal)
            raise UsageError(f"the {key} of {ir.name} cannot be computed at these sizes: {error}") from None
    formulas = [cost.params, cost.flops] + cost.memory
    return CostReport(
        block=ir.name, sizes=_shown_sizes(ir, values),
        params=numbers["params"], flops=numbers["flops"], peak_values=numbers["memory"],
        params_formula=render_terms(cost.params, order), flops_formula=render_terms(cost.flops, order),
        memory_formula=render_max(cost.memory, order) if cost.memory else "0",
        where=_definitions(ir, formulas, order), missing=sorted(_givable(ir, missing, values), key=order),
    )


def _givable(ir: BlockIR, symbols: set[str], values: Values) -> set[str]:
    """The names --size takes that `symbols` need: an argument or a dim as it is, a let or a
    size the checker named (`mid = c // r`, `h'`) by those it is computed from, `len(ws)`
    and `ws[2]` by the list `ws`."""
    definitions: dict[str, set[str]] = {name: set(expr.symbols()) for name, expr in ir.derived.items()}
    for let in ir.lets:
        definitions.setdefault(let.name, set()).update(let.value.symbols())
    givable = {a.name for a in ir.args} | {i.name for i in ir.inputs} | set(dim_origins(ir))
    known = values.scalars.keys() | values.lists.keys() | values.flags.keys()
    found: set[str] = set()
    pending, seen = list(symbols), set()
    while pending:
        symbol = pending.pop()
        if symbol in seen:
            continue
        seen.add(symbol)
        item = list_item(symbol)
        name = symbol[4:-1] if symbol.startswith("len(") else item[0] if item else symbol
        if name in givable:
            found.add(name)
        elif name in definitions:
            pending += [s for s in definitions[name] if s not in known]
    return found


def _whole(value: Fraction) -> int:
    return int(value) if value.denominator == 1 else int(round(value))


def _shown_sizes(ir: BlockIR, values: Values) -> dict:
    sizes: dict = {}
    for arg in ir.args:
        if arg.name in values.flags:
            sizes[arg.name] = values.flags[arg.name]
        elif arg.name in values.lists:
            sizes[arg.name] = values.lists[arg.name]
        elif arg.name in values.scalars:
            sizes[arg.name] = _plain(values.scalars[arg.name], arg.type)
        elif arg.name in values.kinds:
            sizes[arg.name] = values.kinds[arg.name]
    for dim in dim_origins(ir):
        if dim in values.scalars:
            sizes[dim] = _plain(values.scalars[dim], "int")
    return sizes


def _plain(value: Fraction, kind: str):
    return float(value) if kind == "float" or value.denominator != 1 else int(value)


def _definitions(ir: BlockIR, formulas: list[list[Term]], order) -> dict[str, str]:
    """What the lets and checker-named dims (`h'`) in the formulas stand for."""
    used: set[str] = set()
    for terms in formulas:
        for term in terms:
            used |= term.value.symbols()
    where: dict[str, str] = {}
    pending = sorted(used)
    lets: dict[str, list] = {}  # a conditional let: one let per branch, each under its condition
    for let in ir.lets:
        lets.setdefault(let.name, []).append(let)
    while pending:
        name = pending.pop(0)
        if name in where:
            continue
        if name in lets:
            branches = lets[name]
            where[name] = _let_text(branches, order)
            symbols = set().union(*(let.value.symbols() for let in branches))
        elif name in ir.derived:
            where[name] = render_expr(ir.derived[name], order)
            symbols = ir.derived[name].symbols()
        else:
            continue
        pending += sorted(symbols - set(where))
    return where


def _let_text(branches, order) -> str:
    """A let's definition; a conditional one's branches each with its condition, as the
    graph shows a value whose shape an `if` decides (`dim if dim_out is None; dim_out if
    dim_out is not None`)."""
    if len({let.value for let in branches}) == 1:
        return render_expr(branches[0].value, order)
    return "; ".join(f"{render_expr(let.value, order)} if {render_guard(let.guard, order, sort=False)}"
                     if let.guard else render_expr(let.value, order) for let in branches)


def run(args) -> int:
    sizes = parse_assignments(args.size, "--size", names=True)  # a layer kind: `--size act_layer=silu`
    spec = check_spec(args.spec)
    if spec is None:
        return 1
    ir = spec.block(args.block)
    values = Values.at(ir, sizes)
    _refuse_what_the_module_refuses(ir, values)
    result = report(ir, block_costs(optimized(spec.blocks))[ir.name], values)
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print(render_text(result, spec.path, used_example=bool(ir.examples) and not sizes))
    return 0


def _refuse_what_the_module_refuses(ir: BlockIR, values: Values) -> None:
    """Sizes the module would not build or run with have no cost: a `require` they break, a
    negative size, a divisor of zero, an empty dimension are said as `verify` says them."""
    refused = values.refusal()
    if refused is not None:
        message, span = refused
        sizes = ", ".join(f"{k}={_show(v)}" for k, v in _shown_sizes(ir, values).items())
        raise UsageError(f"{ir.name} refuses {sizes or 'these sizes'}: {message}" + (f" ({span})" if span else ""))


def render_text(result: CostReport, path: str, used_example: bool) -> str:
    where = ", ".join(f"{k}={_show(v)}" for k, v in result.sizes.items())
    source = " (its first example)" if used_example else ""
    lines = [f"{result.block} in {path}", f"at {where or 'no sizes'}{source}", ""]
    peak = (None if result.peak_values is None
            else f"{result.peak_values:,} values = {result.peak_values * BYTES_PER_VALUE:,} bytes in float32")
    for label, number, formula in (("parameters", _count(result.params), result.params_formula),
                                   ("FLOPs", _count(result.flops), result.flops_formula),
                                   ("peak activation memory", peak or "?", result.memory_formula)):
        lines.append(f"{label}: {number}")
        if formula.startswith("max(") and len(formula) > 100:  # one candidate a line
            lines.append("  = the largest of")
            lines += [f"    {part}" for part in _max_parts(formula)]
        else:
            lines.append(f"  = {formula}")
    if result.where:
        lines.append("where")
        lines += [f"  {name} = {definition}" for name, definition in result.where.items()]
    if result.missing:
        lines.append(f"(numbers need sizes for {', '.join(result.missing)}: give them with --size NAME=VALUE)")
    return "\n".join(lines)


def _max_parts(formula: str) -> list[str]:
    """The arguments of the top-level `max(...)` a memory formula is."""
    parts, depth, current = [], 0, ""
    for char in formula[4:-1]:
        depth += char in "(["
        depth -= char in ")]"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return parts + [current.strip()]


def _count(number: int | None) -> str:
    return "?" if number is None else f"{number:,}"


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)
