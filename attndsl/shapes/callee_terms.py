"""A sub-block's arguments, sizes and flags in its caller's terms: what a call gives the
callee (`callee_mapping`, `forward_mapping`), with a callee's `let` that the arguments leave
undecided a name no caller has (`hidden_let`)."""

from __future__ import annotations

from fractions import Fraction

from .. import symbolic as sym
from ..calls import items_read
from ..evaluate import NONE_ARGUMENT, OptionalPassedOn, fold, substitute_cond
from ..ir import BlockIR, Cond, LayerSpec
from ..symbolic import Expr
from .conditions import map_cond
from .worlds import literal


def callee_mapping(callee: BlockIR, spec: LayerSpec, world: dict | None = None) -> dict:
    """The callee's arguments as the caller's values: numbers as Exprs, bools as Conds,
    `len(xs)` as the length of the caller's list (never the callee's own names)."""
    mapping: dict = {}
    for arg in callee.args:
        value = spec.args.get(arg.name)
        if isinstance(value, OptionalPassedOn):  # the caller's own optional argument: None where it is
            # a string's tests become the caller's (`mode == "a"`, false where it is None); a number's value
            mapping[arg.name] = value if arg.type in ("str", "list[str]") else Expr.symbol(value.name)
            mapping[f"is_none({arg.name})"] = Cond("is_none", (value.name,))
        elif isinstance(value, (Expr, Cond)):
            mapping[arg.name] = value
        elif arg.type in ("str", "list[str]") and (value is not None or arg.default is not None):
            mapping[arg.name] = value if value is not None else arg.default  # a string, or the caller's argument
        elif isinstance(value, list) and arg.type == "list[int]":  # a list written in the call: `[wh, ww]`
            mapping[arg.name] = _unnamed_list(callee, arg.name)
            mapping[f"len({arg.name})"] = Expr.const(len(value))
            mapping.update({item: value[index] for item, index in items_read(callee, arg.name) if index < len(value)})
        elif hasattr(value, "name") and arg.type == "list[int]":  # a list argument passed through
            mapping[arg.name] = Expr.symbol(value.name)  # the list of `ws[i]` (an item atom) is the caller's
            mapping[f"len({arg.name})"] = Expr.symbol(f"len({value.name})")
            # `ws[0]` is the caller's `g[0]`, never a name of the caller's own
            mapping.update({item: Expr.symbol(f"{value.name}[{index}]") for item, index in items_read(callee, arg.name)})
        elif value is None and getattr(arg, "optional", False) and arg.type in ("int", "float") and \
                (arg.default is None or arg.name in spec.args):
            mapping[arg.name] = NONE_ARGUMENT  # `out_features: int | None` left None
        elif value is None and arg.default is not None:
            if arg.type == "bool":
                mapping[arg.name] = Cond.const(bool(arg.default))
            elif arg.type == "list[int]":
                mapping[arg.name] = _unnamed_list(callee, arg.name)
                mapping[f"len({arg.name})"] = Expr.const(len(arg.default))
                mapping.update({item: Expr.const(arg.default[index]) for item, index in items_read(callee, arg.name)
                                if index < len(arg.default)})
            elif isinstance(arg.default, (int, float)):
                mapping[arg.name] = Expr.const(Fraction(str(arg.default)))
    for let in callee.lets:
        # A let under `if` is known here when the caller's arguments decide its condition, or
        # the world walked does (`Inner(d, wide)` in the walk where this block's `wide` holds).
        if let.name not in mapping and _holds_here(let.guard, mapping, world):
            try:
                mapping[let.name] = sym.substitute(let.value, numbers_of(mapping))
            except ZeroDivisionError:  # `d_model // h` given h = 0: refused by the callee's own checks
                pass  # (its arguments' bounds, as the call checks them); left undecided below
    for let in callee.lets:  # left undecided: a symbol no block can name, never the caller's own `w`
        mapping.setdefault(let.name, Expr.symbol(hidden_let(callee, let.name)))
    return mapping


def hidden_let(callee: BlockIR, name: str) -> str:
    return f"{callee.name}.{name}"


def _holds_here(guard, mapping: dict, world: dict | None) -> bool | None:
    """Whether a callee's guard holds, its arguments the caller's: True or False where the
    arguments (or the world) decide it, None where they do not."""
    for cond in guard:
        here = fold(substitute_cond(cond, mapping))
        if here.op == "const":
            if not here.args[0]:
                return False
            continue
        atom, polarity = literal(here)
        if world is None or atom not in world:
            return None
        if world[atom] != polarity:
            return False
    return True


def undecided_let_atoms(callee: BlockIR, mapping: dict) -> list:
    """The caller's conditions that choose a callee's `let` its shapes read (`let w = 2 * d if
    wide else d`, called as `Inner(d, wide)`): the checker walks once with each."""
    outputs = [shape for _, shape in callee.output_shapes]
    outputs = [part for shape in outputs for part in (shape if shape and isinstance(shape[0], tuple) else [shape])]
    read = {s for shape in outputs for dim in shape for s in sym.expand(dim, callee.derived).symbols()}
    read |= {s for info in callee.inputs for dim in info.shape for s in dim.symbols()}
    atoms = []
    for let in callee.lets:
        if let.name in read and mapping.get(let.name) == Expr.symbol(hidden_let(callee, let.name)):
            for cond in let.guard:
                here = fold(substitute_cond(cond, mapping))
                if here.op != "const" and literal(here)[0] not in atoms:
                    atoms.append(literal(here)[0])
    return atoms


def _unnamed_list(callee: BlockIR, name: str) -> Expr:
    """The list of an item atom (`ws[i]`) where the caller has no list by a name: a symbol no
    block can name, so that a size reading it is an error (E0208), never a caller's own list."""
    return Expr.symbol(f"{callee.name}.{name}")


def forward_mapping(callee: BlockIR, attrs: dict, tensors_given: int) -> dict:
    """What a call gives the callee in forward, in the caller's terms: whether each optional
    input is given (by position; or this block's own optional input passed on, given when
    that one is), each flag (its default when the call leaves it out), each size."""
    mapping: dict = {}
    passed = dict(attrs.get("passed_on", ()))
    tensors = [i for i in callee.inputs if i.dtype not in ("flag", "size")]
    for index, info in enumerate(tensors):
        if info.optional:
            mapping[f"present({info.name})"] = Cond("present", (passed[info.name],)) if info.name in passed \
                else Cond.const(index < tensors_given)
    given = dict(attrs.get("forward_args", ()))
    for info in callee.inputs:
        if info.dtype == "size" and info.name in given:
            mapping[info.name] = given[info.name]
        elif info.dtype == "flag":
            mapping[f"flag({info.name})"] = given.get(info.name, Cond.const(bool(info.default)))
    return mapping


def in_caller_terms(condition, callee: BlockIR, exprs: dict):
    """A callee's check with its sizes written in the caller's."""
    def caller(expr: Expr) -> Expr:
        return sym.substitute(sym.expand(expr, callee.derived), exprs)

    if isinstance(condition, Cond):
        return map_cond(condition, caller)
    kind, left, right = condition
    return (kind, caller(left), caller(right))


def numbers_of(mapping: dict) -> dict:
    """The entries of a mapping that are sizes (what `sym.substitute` takes)."""
    return {k: v for k, v in mapping.items() if isinstance(v, Expr)}
