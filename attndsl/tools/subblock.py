"""A block used as a layer of another: the callee's symbols in the caller's terms.

`callee_mapping` says what each of the callee's arguments, lets and input dims is in the
caller (from the layer's arguments and the shapes it is called with); terms, shapes and
conditions of the callee are then rewritten with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .. import symbolic as sym
from ..calls import items_read
from ..evaluate import NONE_ARGUMENT, OptionalPassedOn, fold, substitute_cond
from ..ir import BlockIR, Cond, LayerSpec
from ..lower.layer_kinds import LayerKindArg
from ..shapes.callee_terms import forward_mapping
from ..shapes.conjunctions import make_guard
from ..symbolic import Expr
from .formula import Term


@dataclass
class Mapping:
    exprs: dict[str, Expr]
    # bool arguments by name; `present(x)`, `flag(x)`, `is_none(x)`: what a call decides of them
    # (none where the call is not known: parameters do not depend on it)
    conds: dict[str, Cond]
    words: dict = field(default_factory=dict)  # str / list[str] arguments: strings, or the caller's argument


def callee_mapping(callee: BlockIR, spec: LayerSpec, operands, call: dict | None = None) -> Mapping:
    """The callee's symbols in the caller's terms: its arguments as the layer passes them
    (or their defaults), its lets, its input dims from the shapes it is called with, and
    what the call (`call`: its node's attrs) gives its forward: which optional inputs, which
    flags, which sizes (as the checker reads them, shapes/layer_calls.forward_mapping)."""
    exprs: dict[str, Expr] = {}
    conds: dict[str, Cond] = {}
    words: dict = {}
    for arg in callee.args:
        # `norm=None` is None even where the default is not; an argument left out is its default
        value = spec.args[arg.name] if arg.name in spec.args else arg.default
        if arg.optional:  # `x is None` of this call: each call decides its own
            conds[f"is_none({arg.name})"] = _is_none(value)
        if arg.type == "layer" and value is not None:
            conds[f"kind({arg.name})"] = value  # the kind given, or the caller's own argument passed on
        if value is None:
            continue
        if arg.type in ("str", "list[str]"):
            words[arg.name] = value
        elif arg.type == "list[int]":
            exprs.update(_list_items(callee, arg.name, value))
        elif isinstance(value, OptionalPassedOn):  # the caller's own optional argument, None where it is
            exprs[arg.name] = Expr.symbol(value.name)
        elif isinstance(value, Cond):
            conds[arg.name] = value
        elif isinstance(value, bool):
            conds[arg.name] = Cond.const(value)
        elif isinstance(value, Expr):
            exprs[arg.name] = value
        elif isinstance(value, (int, float)):
            exprs[arg.name] = Expr.const(Fraction(str(value)))
    # A let on both branches of an `if` (`out = in_features if out_features is None else
    # out_features`): the branch the layer's arguments decide.
    decided = {**exprs, **conds, **{a.name: NONE_ARGUMENT for a in callee.args if a.optional and
                                    spec.args.get(a.name) is None and (a.default is None or a.name in spec.args)}}
    for let in callee.lets:
        if any(fold(substitute_cond(c, decided)) == Cond.const(False) for c in let.guard):
            continue
        exprs[let.name] = sym.substitute(let.value, exprs)
    if operands is not None:
        forward = forward_mapping(callee, call or {}, len(operands))
        conds.update({key: value for key, value in forward.items() if isinstance(value, Cond)})
        exprs.update({key: value for key, value in forward.items() if isinstance(value, Expr)})  # sizes
        tensors = [info for info in callee.inputs if info.dtype not in ("flag", "size")]
        for info, shape in zip(tensors, operands):
            for declared, actual in zip(info.shape, shape):
                names = declared.symbols()
                if len(names) == 1 and declared == Expr.symbol(next(iter(names))) and next(iter(names)) not in exprs:
                    exprs[next(iter(names))] = actual
    for _ in range(len(callee.derived) + 1):
        for name, definition in callee.derived.items():
            exprs[name] = sym.substitute(definition, exprs)
    return Mapping(exprs, conds, words)


def _is_none(value) -> Cond:
    """Whether an optional argument is None in the caller's terms: a None given or defaulted,
    a value, or the caller's own argument passed on (None where the caller's is)."""
    if value is None:
        return Cond.const(True)
    if isinstance(value, OptionalPassedOn):
        return Cond("is_none", (value.name,))
    if isinstance(value, LayerKindArg):  # the caller's layer argument: None where it is
        return Cond("is_none", (value.name,))
    return Cond.const(False)


def _list_items(callee: BlockIR, name: str, value) -> dict[str, Expr]:
    """A list argument's length and the items the callee reads (`ws[0]`), in the caller's
    terms: a list written in the call, the caller's own list argument, or the default."""
    items = items_read(callee, name)
    if hasattr(value, "name"):  # the caller's list argument, passed on (also the list of `ws[i]`)
        found = {name: Expr.symbol(value.name), f"len({name})": Expr.symbol(f"len({value.name})")}
        return found | {item: Expr.symbol(f"{value.name}[{index}]") for item, index in items}
    if not isinstance(value, (list, tuple)):
        return {}
    listed = [v if isinstance(v, Expr) else Expr.const(Fraction(v)) for v in value]
    # `ws[i]` of a list with no name here: unknown to the tools, never a caller's list of that name
    found = {name: Expr.symbol(f"{callee.name}.{name}"), f"len({name})": Expr.const(len(listed))}
    return found | {item: listed[index] for item, index in items if index < len(listed)}


def substitute_terms(terms: list[Term], mapping: Mapping) -> list[Term]:
    out = []
    for term in terms:
        guard = substitute_guard(term.guard, mapping)
        if guard is not None:
            loop = term.loop
            if loop is not None and isinstance(loop[1], Expr):  # a range's count, in the caller's names
                loop = (loop[0], sym.substitute(loop[1], mapping.exprs))
            out.append(Term(guard, sym.substitute(term.value, mapping.exprs), loop))
    return out


def substitute_guard(guard, mapping: Mapping):
    """The guard in the caller's terms; None when it cannot hold there."""
    return make_guard([_substitute_cond(c, mapping) for c in guard])


def substitute_shape(shape, mapping: Mapping) -> tuple:
    return tuple(sym.substitute(d, mapping.exprs) for d in shape)


def _substitute_cond(cond: Cond, mapping: Mapping) -> Cond:
    if cond.op == "arg":
        return mapping.conds.get(cond.args[0], cond)
    if cond.op in ("text", "has") and cond.args[0] in mapping.words:
        return substitute_cond(cond, mapping.words)
    if cond.op in ("present", "flag", "is_none") and f"{cond.op}({cond.args[0]})" in mapping.conds:
        return mapping.conds[f"{cond.op}({cond.args[0]})"]
    if cond.op == "kind" and f"kind({cond.args[0]})" in mapping.conds:  # `act_layer is silu`
        given = mapping.conds[f"kind({cond.args[0]})"]
        if isinstance(given, LayerKindArg):
            return Cond("kind", (given.name, cond.args[1]))
        return Cond.const(getattr(given, "kind", given) == cond.args[1])
    args = tuple(_substitute_cond(a, mapping) if isinstance(a, Cond)
                 else sym.substitute(a, mapping.exprs) if isinstance(a, Expr) else a for a in cond.args)
    return Cond(cond.op, args)
