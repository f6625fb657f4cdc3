"""Conditions on constructor arguments, and guards: the conjunctions of conditions under
which a node, layer or check of the IR exists.

A condition keeps the spec's spelling; `guard_includes` and `complementary` compare
conditions by what they mean (`not (e == 0)` is `e != 0`), so that a name defined under
one spelling is found under another.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cond:
    """A boolean expression over constructor arguments (kept as a small tree)."""

    op: str  # "arg", "const", "not", "and", "or", "cmp", "all_elems", "module_flag" (a built layer's attribute), ...
    args: tuple = ()

    @staticmethod
    def const(value: bool) -> "Cond":
        return Cond("const", (value,))


@dataclass(frozen=True)
class Written:
    """A comparison Python evaluates in floats, kept as the spec wrote it: the first argument
    of a `Cond("written", (Written, *values))`, the values (Exprs) being those of `names`.

    Why (trial 14c F01-F03, F09): the checker reasons in exact rationals, Python in floats,
    and the two differ on `s > 3.3` at s = 3.3000000000000003, or on `ws * 0.1 * 3 > 3.3` at
    ws = 11. So a comparison whose sides Python may round (a non-integer constant, `/`,
    sqrt, a float let; a float argument other than alone on its side) is one opaque atom:
    the module and the interpreter evaluate it as written, in an `if`, a `require` and a
    conditional `let` alike, and the checker learns no fact from it and decides nothing
    about it (it is free to be true or false). Comparisons of whole numbers, and of a float
    argument as it is given, are exact in Python and keep the checker's exact form
    (lower/expressions.py: _expr_Compare decides which)."""

    text: str  # the spelling, names as written: two `if`s written alike are one condition
    node: Any = field(compare=False, hash=False, repr=False)  # the spec's AST
    names: tuple = ()  # the numbers it reads, in order: the Cond's other arguments are their values


def written_values(cond: Cond) -> dict:
    """The values (Exprs) of the names a written comparison reads."""
    return dict(zip(cond.args[0].names, cond.args[1:]))


def reads_written(cond: Cond) -> bool:
    """Whether a condition has a written comparison in it: its negation is `not (...)`, not
    the flipped comparison, which a NaN would pass (`not (s > 3.3)` holds at NaN, `s <= 3.3` not)."""
    if not isinstance(cond, Cond):
        return False
    return cond.op == "written" or any(reads_written(a) for a in cond.args)


Guard = tuple[Cond, ...]  # a conjunction; () means "always"

# Atoms decided in forward, call by call: an optional input is given (`present`), a flag
# input is true (`flag`), the module is in training mode. What __init__ builds cannot
# depend on them.
FORWARD_ATOMS = ("present", "flag", "training")


def reads_forward(condition: Cond) -> bool:
    """Whether deciding `condition` needs forward's inputs or mode."""
    if condition.op in FORWARD_ATOMS:
        return True
    return any(reads_forward(part) for part in condition.args if isinstance(part, Cond))


def forward_inputs(condition: Cond) -> set[str]:
    """The inputs of forward deciding `condition` reads: optional inputs, flags."""
    if condition.op in ("present", "flag"):
        return {condition.args[0]}
    return {name for part in condition.args if isinstance(part, Cond) for name in forward_inputs(part)}

_COMPLEMENT = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def negate(condition: Cond) -> Cond:
    """`not c`, with `not not c` folded to `c` (codegen writes an `else:` for the plain
    negation of an `if`'s condition, so a comparison is not flipped here)."""
    if condition.op == "not":
        return condition.args[0]
    if condition.op == "const":
        return Cond.const(not condition.args[0])
    return Cond("not", (condition,))


def plain(condition: Cond) -> Cond:
    """One spelling of a condition: `not (e == 0)` is `e != 0`, `not not c` is `c` (what the
    `else:` of `if k != 1:` knows is `k == 1`)."""
    if condition.op == "not":
        inner = condition.args[0]
        if inner.op == "not":
            return plain(inner.args[0])
        if inner.op == "cmp" and len(inner.args) == 3 and inner.args[0] in _COMPLEMENT:
            return Cond("cmp", (_COMPLEMENT[inner.args[0]], *inner.args[1:]))
    return condition


def complementary(a: Cond, b: Cond) -> bool:
    """Whether `b` holds exactly when `a` does not (`e == 0` and `e != 0`, `c` and `not c`)."""
    return plain(negate(a)) == plain(b)


def guard_includes(guard: Guard, condition: Cond) -> bool:
    """Whether `guard` implies `condition` as written: it is one of the guard's conditions,
    however the spec spelled it (a layer declared under `if e != 0:` exists in the `else:` of
    `if e == 0:`), a part of one that is an `and` (`if flag and c is not None:` says c is
    not None), or `condition` is an `or` of which the guard implies a part (a layer declared
    under `if mode in ["a", "b"]:` exists under `if mode == "a":`)."""
    if condition in guard:
        return True
    held = {part for c in guard for part in _conjuncts(plain(c))}
    if condition.op == "or":
        return any(guard_includes(guard, part) for part in condition.args)
    return all(part in held for part in _conjuncts(plain(condition)))


def _conjuncts(condition: Cond) -> list[Cond]:
    if condition.op == "and":
        return [part for inner in condition.args for part in _conjuncts(plain(inner))]
    return [condition]


# Comparisons kept in one polarity, so that `k <= 2` and `k > 2` are one atom, negated.
_CANONICAL = {"!=": "==", "<=": ">", "<": ">="}
_ATOM_LIMIT = 12  # 4096 assignments; an `if` chain over more conditions is left undecided


def cannot_hold(conditions: Guard) -> bool:
    """Whether no constructor arguments make all `conditions` true at once: a proof, never a
    guess. Each condition that is not `and`/`or`/`not` is an atom, free to be true or false,
    except that an argument equals at most one string (`mode == "avg"`, `mode == "max"`) and
    one value (`k == 1`, `k == 3`); so a `require mode in ["avg", "max"]` rules out a path on
    which `mode` is neither. Treating other atoms as independent can only find more ways to
    hold, so a True answer is sound; one that needs arithmetic to see (`k > 2` and `k < 1`)
    answers False."""
    atoms: dict[Cond, None] = {}
    for condition in conditions:
        _collect_atoms(condition, atoms)
    if len(atoms) > _ATOM_LIMIT:
        return False
    order = list(atoms)
    for values in itertools.product((True, False), repeat=len(order)):
        world = dict(zip(order, values))
        if _one_value_each(world) and all(_holds(c, world) for c in conditions):
            return False
    return True


def _atom(condition: Cond) -> tuple[Cond, bool]:
    """(atom, polarity) of a condition that is not `and`/`or`/`not`/constant."""
    if condition.op == "cmp" and len(condition.args) == 3:
        op, left, right = condition.args
        if op == "==" and left.is_const and not right.is_const:  # `1 == k` is `k == 1`
            return Cond("cmp", (op, right, left)), True
        if op in _CANONICAL:
            return _atom(Cond("cmp", (_CANONICAL[op], left, right)))[0], False
    return condition, True


def _collect_atoms(condition: Cond, atoms: dict) -> None:
    if condition.op in ("and", "or", "not"):
        for part in condition.args:
            _collect_atoms(part, atoms)
    elif condition.op != "const":
        atoms[_atom(condition)[0]] = None


def _holds(condition: Cond, world: dict) -> bool:
    if condition.op == "const":
        return bool(condition.args[0])
    if condition.op == "not":
        return not _holds(condition.args[0], world)
    if condition.op == "and":
        return all(_holds(part, world) for part in condition.args)
    if condition.op == "or":
        return any(_holds(part, world) for part in condition.args)
    atom, polarity = _atom(condition)
    return world[atom] == polarity


def _one_value_each(world: dict) -> bool:
    """Whether a truth value per atom can happen as far as equalities go: an argument is at
    most one of the strings it is compared with, and a number equals at most one constant.
    (The checker's worlds keep only the first rule: shapes/worlds.consistent.)"""
    seen: set = set()
    for atom, holds in world.items():
        if not holds:
            continue
        if atom.op == "text":
            key = ("text", atom.args[0])
        elif atom.op == "cmp" and len(atom.args) == 3 and atom.args[0] == "==" and atom.args[2].is_const and \
                not atom.args[1].is_const:
            key = ("value", atom.args[1])
        else:
            continue
        if key in seen:
            return False
        seen.add(key)
    return True


def implied_by(condition: Cond, guard: tuple) -> bool:
    """Whether `guard` makes `condition` hold by absorption: `causal or mask given` where
    `causal` holds already (one more `if` around it would test nothing)."""
    return condition.op == "or" and any(part in guard for part in condition.args)
