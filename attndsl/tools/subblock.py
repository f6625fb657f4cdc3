"""A block used as a layer of another: the callee's symbols in the caller's terms.

`callee_mapping` says what each of the callee's arguments, lets and input dims is in the
caller (from the layer's arguments and the shapes it is called with); terms, shapes and
conditions of the callee are then rewritten with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .. import symbolic as sym
from ..evaluate import NONE_ARGUMENT, OptionalPassedOn, fold, substitute_cond
from ..calls import items_read
from ..ir import BlockIR, Cond, LayerSpec
from ..symbolic import Expr
from .formula import Term, make_guard


@dataclass
class Mapping:
    exprs: dict[str, Expr]
    conds: dict[str, Cond]
    present: set[str] | None  # None: unknown (parameters do not depend on it)
    words: dict = field(default_factory=dict)  # str / list[str] arguments: strings, or the caller's argument


def callee_mapping(callee: BlockIR, spec: LayerSpec, operands, forward_args: dict | None = None) -> Mapping:
    """The callee's symbols in the caller's terms: its arguments as the layer passes them
    (or their defaults), its lets, its input dims from the shapes it is called with, and
    the sizes and flags the call gives (`blk(x, h, w, is_causal=causal)`)."""
    exprs: dict[str, Expr] = {}
    conds: dict[str, Cond] = {}
    words: dict = {}
    for arg in callee.args:
        value = spec.args.get(arg.name, None)
        if value is None:
            value = arg.default
        if arg.type in ("str", "list[str]"):
            words[arg.name] = value
        elif arg.type == "list[int]":
            exprs.update(_list_items(callee, arg.name, value))
        elif isinstance(value, OptionalPassedOn):  # the caller's own optional argument, None where it is
            exprs[arg.name] = Expr.symbol(value.name)
            conds[f"is_none({arg.name})"] = Cond("is_none", (value.name,))
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
    present = None
    if operands is not None:
        tensors = [info for info in callee.inputs if info.dtype not in ("flag", "size")]
        # the tensors given by position, the flags a call leaves at their defaults
        given = forward_args or {}
        present = {info.name for info in tensors[: len(operands)]} | \
            {info.name for info in callee.inputs if info.dtype == "flag" and info.name not in given and info.default}
        for name, value in given.items():
            if isinstance(value, Expr):
                exprs[name] = value  # a size
            elif isinstance(value, Cond):  # a flag: decided where the call's condition is
                conds[f"flag({name})"] = value
        for info, shape in zip(tensors, operands):
            for declared, actual in zip(info.shape, shape):
                names = declared.symbols()
                if len(names) == 1 and declared == Expr.symbol(next(iter(names))) and next(iter(names)) not in exprs:
                    exprs[next(iter(names))] = actual
    for _ in range(len(callee.derived) + 1):
        for name, definition in callee.derived.items():
            exprs[name] = sym.substitute(definition, exprs)
    return Mapping(exprs, conds, present, words)


def _list_items(callee: BlockIR, name: str, value) -> dict[str, Expr]:
    """A list argument's length and the items the callee reads (`ws[0]`), in the caller's
    terms: a list written in the call, the caller's own list argument, or the default."""
    items = items_read(callee, name)
    if hasattr(value, "name"):  # the caller's list argument, passed on
        found = {f"len({name})": Expr.symbol(f"len({value.name})")}
        return found | {item: Expr.symbol(f"{value.name}[{index}]") for item, index in items}
    if not isinstance(value, (list, tuple)):
        return {}
    listed = [v if isinstance(v, Expr) else Expr.const(Fraction(v)) for v in value]
    found = {f"len({name})": Expr.const(len(listed))}
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
    if cond.op in ("flag", "is_none") and f"{cond.op}({cond.args[0]})" in mapping.conds:
        return mapping.conds[f"{cond.op}({cond.args[0]})"]
    if cond.op in ("present", "flag") and mapping.present is not None:
        return Cond.const(cond.args[0] in mapping.present)
    args = tuple(_substitute_cond(a, mapping) if isinstance(a, Cond)
                 else sym.substitute(a, mapping.exprs) if isinstance(a, Expr) else a for a in cond.args)
    return Cond(cond.op, args)
