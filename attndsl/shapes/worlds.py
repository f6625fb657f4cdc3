"""Checking each combination of `if` branches on its own.

A value joined from two branches of an `if` (`y = x` on one, `y = cat([x, x])` on the
other) has a different size on each. Rather than give it an opaque size and stop
checking, the checker walks the block once per *world*: one truth value for each
condition whose branches give different shapes (an *atom*). In a world every size is
known, so every check is made; a check that differs between worlds is guarded by the
atoms it depends on. An error that happens only in some worlds is a compile error when
those worlds can happen (a witness among sample argument values shows it), and otherwise
an `__init__` check that refuses exactly those arguments.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

from ..evaluate import Undefined, fold, guard_holds
from ..guards import reads_forward
from ..ir import BlockIR, Cond
from ..ranks import default_rank
from ..symbolic import Expr
from .disjoint import cannot_meet, whole_symbols

MAX_ATOMS = 8  # 256 worlds; more independent shape-changing conditions than any block has


def literal(cond: Cond) -> tuple[Cond, bool]:
    """(atom, polarity) of a guard condition: `not c` is (c, False)."""
    if cond.op == "not":
        return cond.args[0], False
    return cond, True


def as_condition(atom: Cond, polarity: bool) -> Cond:
    return atom if polarity else Cond("not", (atom,))


def worlds(atoms: list[Cond]):
    """Every assignment of truth values to the atoms, in a fixed order."""
    for values in itertools.product((True, False), repeat=len(atoms)):
        yield dict(zip(atoms, values))


def decide(cond: Cond, world: dict) -> Cond:
    """`cond` with the world's conditions replaced by their truth values, folded."""
    if cond in world:
        return Cond.const(world[cond])
    if cond.op in ("not", "and", "or"):
        return fold(Cond(cond.op, tuple(decide(c, world) for c in cond.args)))
    return cond


def contradicts(guard, world: dict) -> bool:
    """Whether a node under `guard` does not exist in `world`."""
    for cond in guard:
        atom, polarity = literal(cond)
        if atom in world and world[atom] != polarity:
            return True
    return False


def rank_atom(arg: str, rank: int) -> Cond:
    """`dimension == 2`: the world condition of one rank."""
    return Cond("cmp", ("==", Expr.symbol(arg), Expr.const(rank)))


def rank_atoms(ir: BlockIR) -> list[Cond]:
    """`dimension == 1`, `dimension == 2`, ...: a block generic over a pack's rank is walked
    once per rank, as one world per value of the argument (see `consistent`)."""
    return [rank_atom(arg, rank) for arg, ranks in ir.rank_args.items() for rank in ranks]


def consistent(ir: BlockIR, world: dict) -> bool:
    """A world that can happen: exactly one rank is true for each rank argument, a str
    argument is at most one of the strings it is compared with, and its comparisons of whole
    numbers can hold together (not `ws == 0` and `ws > 0`); the others are no world."""
    if cannot_meet(world_context(world), whole_symbols(ir)):
        return False
    for arg, ranks in ir.rank_args.items():
        true = [r for r in ranks if world.get(rank_atom(arg, r))]
        if len(true) != 1:
            return False
    words = [atom.args[0] for atom, holds in world.items() if holds and atom.op == "text"]
    return len(words) == len(set(words))


def world_rank(ir: BlockIR, arg: str, world: dict | None) -> int:
    """The rank of `arg` in `world`; without a world (the display walk), its default's."""
    for rank in ir.rank_args[arg]:
        if world and world.get(rank_atom(arg, rank)):
            return rank
    return default_rank(ir, arg)


def rank_contradicts(guard, ranks: dict) -> bool:
    """Whether a guard condition on rank arguments only is false at these ranks."""
    from .conditions import cond_symbols

    for cond in guard:
        atom, polarity = literal(cond)
        symbols = cond_symbols(atom)
        if symbols and symbols <= set(ranks) and not reads_forward(atom):
            try:
                if guard_holds((atom,), dict(ranks)) != polarity:
                    return True
            except (Undefined, KeyError, TypeError, ZeroDivisionError):
                continue
    return False


def world_context(world: dict) -> frozenset:
    return frozenset(as_condition(atom, value) for atom, value in world.items())


def describe(conditions, render) -> str:
    """`when ratio > 1 is false and mask is given`: the world in words."""
    parts = []
    for cond in conditions:
        atom, polarity = literal(cond)
        if atom.op == "present":
            parts.append(f"`{atom.args[0]}` is {'given' if polarity else 'not given'}")
        elif atom.op == "is_none":
            parts.append(f"`{atom.args[0]}` is {'None' if polarity else 'not None'}")
        else:
            parts.append(f"`{render(atom)}` is {'true' if polarity else 'false'}")
    return " and ".join(parts)


# ---------------------------------------------------------------------------- witnesses


def find_witness(ir: BlockIR, conditions, requires) -> dict | None:
    """Argument values (and optional inputs) under which all `conditions` and the block's
    unguarded `require`s hold, from a deterministic sample; None when none was found."""
    # forward's truths (evaluate.holds): the optional inputs given and the flags set that the world asks for
    wanted_present = frozenset(literal(c)[0].args[0] for c in conditions
                               if literal(c)[0].op in ("present", "flag") and literal(c)[1])
    for env in _samples(ir):
        try:
            if guard_holds(conditions, env, wanted_present) and all(guard_holds((r,), env) for r in requires):
                return env
        except (Undefined, KeyError, TypeError, ZeroDivisionError):
            continue
    return None


_INTS = (1, 2, 3, 4, 8, 0, 5, 7, 16, 64, 6, 9, 12, 32, -1)
_FLOATS = (0.5, 0.0, 0.1, 1.0, 2.0)
_LISTS = ([1, 3], [3], [1, 3, 5, 7], [2, 4], [], [1])


def _samples(ir: BlockIR, count: int = 3000):
    """The defaults first, then one or two arguments varied, then random combinations."""
    domains = []
    for arg in ir.args:
        words = tuple(arg.choices) + ("",)  # "": none of the strings the spec names
        domain = {"int": _INTS, "float": _FLOATS, "bool": (True, False), "list[int]": _LISTS,
                  "layer": (arg.default,), "str": words,
                  "list[str]": ((),) + tuple((w,) for w in arg.choices) + (tuple(arg.choices),)}[arg.type]
        domain += (None,) if getattr(arg, "optional", False) else ()
        first = arg.default if not arg.required else domain[0]
        domains.append((arg.name, [first] + [v for v in domain if v != first]))
    base = {name: values[0] for name, values in domains}
    yield dict(base)
    for name, values in domains:
        for v in values[1:]:
            yield {**base, name: v}
    for (n1, v1), (n2, v2) in itertools.combinations(domains, 2):
        for a in v1[:6]:
            for b in v2[:6]:
                yield {**base, n1: a, n2: b}
    rng = random.Random(0)
    for _ in range(count):
        yield {name: rng.choice(values) for name, values in domains}


# ---------------------------------------------------------------------------- merging


def merge_guards(entries: list[tuple[tuple, tuple]], atoms: list[Cond], rank_args: dict | None = None) -> list[tuple]:
    """Guards for one check found in several worlds.

    Each entry is (base guard, world literals the check depended on). Two entries that
    differ only in the polarity of one literal merge into one without it, until nothing
    merges: a check made in every world of its node needs no world guard at all."""
    groups: dict[tuple, set[frozenset]] = {}
    rank_groups = _rank_groups(atoms, rank_args or {})
    words = _word_groups(atoms)
    for base, literals in entries:
        groups.setdefault(base, set()).add(_rank_literals_reduced(frozenset(literals), rank_groups))
    merged = []
    for base, sets in groups.items():
        changed = True
        while changed:
            changed = False
            if words:  # a merge of polarities may let values merge, and the other way round
                sets = _merge_words(sets, words)
            for a, b in itertools.combinations(sorted(sets, key=_set_key), 2):
                difference = a ^ b
                if len(difference) == 2 and len({literal(c)[0] for c in difference}) == 1:
                    sets -= {a, b}
                    sets.add(a & b)
                    changed = True
                    break
            for group in rank_groups.values():  # the same literals at every rank: no rank literal
                for literals in sorted(sets, key=_set_key):
                    rest = literals - set(group)
                    if len(rest) == len(literals) - 1 and all(rest | {atom} in sets for atom in group):
                        sets -= {rest | {atom} for atom in group}
                        sets.add(rest)
                        changed = True
                        break
        for literals in sorted(sets, key=_set_key):
            ordered = sorted(literals, key=lambda c: atoms.index(literal(c)[0]) if literal(c)[0] in atoms else 0)
            merged.append(tuple(base) + tuple(c for c in ordered if c not in base))
    return merged


def _rank_groups(atoms: list[Cond], rank_args: dict) -> dict[str, list[Cond]]:
    """The rank atoms among `atoms` (`dimension == 1`, `== 2`, `== 3`) by rank argument: of
    these, exactly one holds in any world (BlockChecker walks no other)."""
    groups = {arg: [a for a in (rank_atom(arg, r) for r in ranks) if a in atoms] for arg, ranks in rank_args.items()}
    return {arg: group for arg, group in groups.items() if group}


def _rank_literals_reduced(literals: frozenset, rank_groups) -> frozenset:
    """`dimension == 2` says `dimension == 1` and `== 3` are false: those go."""
    for group in rank_groups.values():
        if any(c in literals for c in group):
            literals = frozenset(c for c in literals if not (c.op == "not" and c.args[0] in group))
    return literals


_OTHER = None  # a str argument's value that no condition names


def _word_groups(atoms: list[Cond]) -> dict[str, tuple]:
    """The strings each str argument is compared with, among the world atoms."""
    words: dict[str, list] = {}
    for atom in atoms:
        if atom.op == "text":
            words.setdefault(atom.args[0], []).append(atom.args[1])
    return {name: tuple(values) + (_OTHER,) for name, values in words.items()}


def _merge_words(sets: set[frozenset], words: dict[str, tuple]) -> set[frozenset]:
    """Literal sets that agree but for the value of one str argument merge into one allowing
    the values of both: `mode == "a"` and `mode != "a" and mode != "b"` are `mode != "b"`, and
    every value (those named and any other) is no condition at all."""
    entries = {_split_words(literals, words) for literals in sets}
    changed = True
    while changed:
        changed = False
        for (rest_a, allowed_a), (rest_b, allowed_b) in itertools.combinations(sorted(entries, key=_entry_key), 2):
            differ = [i for i, (x, y) in enumerate(zip(allowed_a, allowed_b)) if x != y]
            if rest_a == rest_b and len(differ) == 1:
                union = tuple(x | y if i == differ[0] else x for i, (x, y) in enumerate(zip(allowed_a, allowed_b)))
                entries -= {(rest_a, allowed_a), (rest_b, allowed_b)}
                entries.add((rest_a, union))
                changed = True
                break
    return {_join_words(rest, allowed, words) for rest, allowed in entries}


def _entry_key(entry: tuple) -> tuple:
    """A deterministic order (a frozenset's own order follows string hashing, which varies by process)."""
    rest, allowed = entry
    return _set_key(rest), [sorted(repr(value) for value in values) for values in allowed]


def _split_words(literals: frozenset, words: dict[str, tuple]) -> tuple[frozenset, tuple]:
    """(the other literals, the values each str argument may have under `literals`)."""
    rest, allowed = set(literals), []
    for name, values in words.items():
        mine = [c for c in literals if literal(c)[0].op == "text" and literal(c)[0].args[0] == name]
        rest -= set(mine)
        chosen = [literal(c)[0].args[1] for c in mine if literal(c)[1]]
        excluded = {literal(c)[0].args[1] for c in mine if not literal(c)[1]}
        allowed.append(frozenset(chosen[:1]) if chosen else frozenset(v for v in values if v not in excluded))
    return frozenset(rest), tuple(allowed)


def _join_words(rest: frozenset, allowed: tuple, words: dict[str, tuple]) -> frozenset:
    literals = set(rest)
    for (name, values), values_allowed in zip(words.items(), allowed):
        if values_allowed == frozenset(values):
            continue  # any value: no condition
        if _OTHER in values_allowed:
            literals |= {Cond("not", (Cond("text", (name, v)),)) for v in values if v not in values_allowed}
        elif len(values_allowed) == 1:
            literals.add(Cond("text", (name, next(iter(values_allowed)))))
        else:
            literals.add(Cond("or", tuple(Cond("text", (name, v)) for v in values if v in values_allowed)))
    return frozenset(literals)


def _set_key(literals: frozenset):
    return sorted(repr(c) for c in literals)


def positions(ir: BlockIR) -> dict[int, int]:
    return {node: index for index, node in enumerate(ir.topological())}


__all__ = ["literal", "as_condition", "worlds", "contradicts", "world_context", "describe", "find_witness",
           "merge_guards", "MAX_ATOMS", "positions", "Fraction"]
