"""Reasoning from the facts that hold in one context: normal forms and bounds.

`Knowledge.view(context)` gives a `View`: the facts whose guard the context contains,
turned into the rewrites (`k // 2` -> `(k - 1)/2` for odd k), lower bounds and nonzero
sizes that the shape rules ask about (`normal`, `lower_bound`, `at_least`, `nonzero`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .. import symbolic as sym
from ..ir import Cond
from ..symbolic import Atom, Expr
from .bounds import Bounds, primitive

if TYPE_CHECKING:
    from .knowledge import Knowledge

Context = frozenset  # of guard conditions (each a Cond, possibly a `not`)


@dataclass(frozen=True)
class Fact:
    guard: Context
    kind: str  # "integer" | "rewrite" | "bound" | "nonzero" | "element"
    subject: Any  # an Expr (integer, nonzero), a symbol or Atom (rewrite, bound), a list name (element)
    detail: Any = None  # the replacement (rewrite), the lower bound (bound), (var, Cond) (element)

    def __post_init__(self):
        # The hash the dataclass would compute on every call, made once: every view made (one
        # per new fact) is keyed by the set of its facts.
        object.__setattr__(self, "_hash", hash((self.guard, self.kind, self.subject, self.detail)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self):
        return Fact, (self.guard, self.kind, self.subject, self.detail)  # the hash is remade where unpickled


class View(Bounds):
    """The facts that hold in one context, and the questions the checker asks of them."""

    def __init__(self, knowledge: Knowledge, facts: list[Fact], lets, element, normals: dict | None = None,
                 folded: dict | None = None):
        self.knowledge = knowledge
        self.integers = sym.Facts(getattr(knowledge.ir, "float_symbols", ()))
        self.rewrites: dict = {}
        self.bounds: dict[str, Fraction] = {}
        self.nonzeros: set[Expr] = set()
        self.zeros: set[Expr] = set()  # differences a `require a == b` makes 0 that no rewrite solves
        self.expr_bounds: dict[Expr, Fraction] = {}
        self._bounds: dict = {}  # lower bounds found, by normal form
        self._deriving: set[str] = set()  # symbols whose bound `_bound_through_differences` is finding
        # A let defined under exclusive guards on both branches of an `if` has two values:
        # where the context does not say which, it stays a symbol (`self.q` at run time).
        values: dict[str, list[Expr]] = {}
        for let in lets:
            values.setdefault(let.name, []).append(let.value)
        self.substitutions: dict[str, Expr] = {name: v[0] for name, v in values.items() if len(v) == 1}
        self._branch_bounds(knowledge.ir.lets)
        for fact in facts:
            self._take(fact, element)
        if self.rewrites:
            # `c % g == 0`, then `g == n`: every later size says n, so c/n is whole as c/g is
            def rewritten(factor):
                return self.rewrites[factor] if factor in self.rewrites else Expr({((factor, 1),): Fraction(1)})

            for known in list(self.integers.integers):
                self.integers.add_integer(sym.replace_factors(known, rewritten))
        if element is not None and isinstance(element[0], Expr):  # the index of a range: 0 <= i < count
            count, index = element[0], Expr.symbol(element[1])
            self._take(Fact(frozenset(), "integer", index), None)
            self._take(Fact(frozenset(), "bound", element[1], Fraction(0)), None)
            self._take(Fact(frozenset(), "bound", count - 1 - index, Fraction(0)), None)
        self._normal: dict = {} if normals is None else normals
        # (number of derived sizes, symbol mapping, atom mapping, folded forms under them)
        self._mapping: tuple | None = None
        # Folded forms (`_folded`) and decided extrema (`_extrema_decided`) by what they depend
        # on, shared by every view of the block (the Knowledge's): views whose facts differ only
        # in bounds or nonzero sizes (a new check's fact makes new views) fold alike.
        self._folded_by_content: dict = {} if folded is None else folded
        self._extrema: dict | None = None  # max/min decided by these bounds (`_extrema_decided`)
        # A whole number at least 0 and not 0 is at least 1: `require ws >= 0` under `if ws != 0:`
        # makes the windows of ws rows whole (no check "`ws` must be at least 1" that the require
        # already asks, with a message saying 0 is refused where it is not).
        for name, bound in list(self.bounds.items()):
            symbol = Expr.symbol(name)
            if -1 < bound <= 0 and symbol in self.nonzeros and self.integers.is_integer(symbol):
                self.bounds[name] = Fraction(1)

    def _branch_bounds(self, lets) -> None:
        """A let one statement makes a number on every branch (`1 if order == 1 else 2`), where
        the context does not say which: at least the least of them, and not 0 where none is."""
        branches: dict[tuple, list[Expr]] = {}
        for let in lets:
            if let.guard and let.name not in self.substitutions:
                branches.setdefault((let.name, let.span), []).append(let.value)
        spans: dict[str, int] = {}
        for name, _ in branches:
            spans[name] = spans.get(name, 0) + 1
        for (name, _), candidates in branches.items():
            if spans[name] != 1 or len(candidates) < 2 or not all(c.is_const for c in candidates):
                continue
            least = min(c.value for c in candidates)
            self.bounds[name] = max(self.bounds.get(name, least), least)
            if all(c.value != 0 for c in candidates):
                self.nonzeros.add(Expr.symbol(name))

    def _take(self, fact: Fact, element) -> None:
        if fact.kind == "bound" and isinstance(fact.subject, Expr):
            # Kept without its constant term (`E + c >= b` as `E >= b - c`): any `E + c'` finds it.
            constant = fact.subject.terms.get((), Fraction(0))
            key, scale = primitive(fact.subject - constant)  # and by its content: `2*E >= b` as `E >= b/2`
            bound = (fact.detail - constant) / scale
            previous = self.expr_bounds.get(key)
            self.expr_bounds[key] = bound if previous is None else max(previous, bound)
        elif fact.kind == "integer":
            self.integers.add_integer(fact.subject)
        elif fact.kind == "rewrite":
            self.rewrites[fact.subject] = fact.detail
        elif fact.kind == "bound":
            previous = self.bounds.get(fact.subject)
            self.bounds[fact.subject] = fact.detail if previous is None else max(previous, fact.detail)
        elif fact.kind == "nonzero":
            self.nonzeros.add(fact.subject)
        elif fact.kind == "zero":
            self.zeros.add(fact.subject)
        elif fact.kind == "element" and element is not None and element[0] == fact.subject:
            var, inner = fact.detail
            renamed = _rename_cond(inner, var, element[1])
            scratch = type(self.knowledge)(self.knowledge.ir)  # a Knowledge, to learn the inner condition
            scratch.learn(renamed, ())
            for learned in scratch.facts:
                self._take(learned, None)

    def known_zero(self, expr: Expr) -> bool:
        """Whether a `require` made `expr` 0 (`pool_size * pool_size - agent_num`, which no
        rewrite solves: each side is the other's square root or square)."""
        if not self.zeros:
            return False
        difference = self.normal(expr)
        return any(self.normal(zero) in (difference, -difference) for zero in self.zeros)

    # ------------------------------------------------------------------ algebra
    def normal(self, expr: Expr) -> Expr:
        """Lets and solved symbols substituted, rewrites applied, atoms re-folded."""
        derived = self.knowledge.ir.derived  # read live: the walk names sizes as it goes
        key = (expr, len(derived))
        cached = self._normal.get(key)
        if cached is not None:
            return cached
        mapping, atoms, folded = self._symbol_mapping(derived)
        result = folded["forms"].get(expr)
        if result is None:
            result = folded["forms"][expr] = self._folded(expr, mapping, atoms, folded["memo"])
        try:
            result = expr if result is _CONTRADICTION else self._extrema_decided(result)
        except ZeroDivisionError:
            result = expr
        self._normal[key] = result
        return result

    def _extrema_decided(self, expr: Expr) -> Expr:
        """`_decided_extrema`, kept by the bounds it read: shared like the folded forms."""
        if expr.plain_symbols() is not None:
            return expr  # no max or min
        if self._extrema is None:
            bounds = (frozenset(self.bounds.items()), frozenset(self.expr_bounds.items()))
            self._extrema = self._folded_by_content.setdefault(("extrema", bounds), {})
        decided = self._extrema.get(expr)
        if decided is None:
            decided = self._extrema[expr] = self._decided_extrema(expr)
        return decided

    def _folded(self, expr: Expr, mapping: dict, atoms: dict, memo: dict):
        """Lets and solved symbols substituted, rewrites applied, atoms re-folded: what
        depends on the mapping, the solved atoms and the known integers only."""
        result = expr
        try:
            for _ in range(8):  # lets may refer to earlier lets; a rewrite may enable another
                expanded = sym.substitute(result, mapping, self.integers, memo)
                if atoms:
                    expanded = _rewrite_atoms(expanded, atoms, self.integers)
                if expanded == result:
                    break
                result = expanded
            return sym.simplify(result, self.integers)
        except ZeroDivisionError:
            # The facts here contradict each other (a size that would divide by zero): this
            # context cannot happen at run time; `normal` keeps the expression as written.
            return _CONTRADICTION

    def _symbol_mapping(self, derived: dict) -> tuple[dict[str, Expr], dict, dict]:
        """Lets, checker-named sizes and solved symbols, each to what it stands for; a solved
        symbol whose value reads itself again (`a` is `h'*w' - 47` where `h'` is
        `h - max(2, a - 6) + 1`) is left out: substituting it would never end. Also the
        solved atoms (`_atom_mapping`), and the folded forms made under all these."""
        if self._mapping is not None and self._mapping[0] == len(derived):
            return self._mapping[1:]
        mapping = {**self.substitutions, **derived}
        for name, value in self.rewrites.items():
            if isinstance(name, str) and not _reaches(value, name, {**mapping, name: value}):
                mapping[name] = value
        atoms = self._atom_mapping(mapping)
        content = (frozenset(mapping.items()), frozenset(atoms.items()), frozenset(self.integers.integers),
                   self.integers.reals)
        # "memo": substitutions of sub-expressions under this mapping (`sym.substitute`)
        folded = self._folded_by_content.setdefault(content, {"forms": {}, "memo": {}})
        self._mapping = (len(derived), mapping, atoms, folded)
        return mapping, atoms, folded

    def _atom_mapping(self, mapping: dict[str, Expr]) -> dict:
        """Solved atoms (`a // 2` is `n'`), less those whose value brings the atom back
        through the sizes it reads (`n'` is defined from `a // 2`)."""
        atoms = {}
        for atom, value in self.rewrites.items():
            if isinstance(atom, Atom) and not _reaches_atom(value, atom, mapping):
                atoms[atom] = value
        return atoms

    def _decided_extrema(self, expr: Expr) -> Expr:
        """`max(0, k - 1)` is `k - 1` where `k >= 1` is known: a max or min of two arguments
        whose difference has a known sign is that argument (TensorFlow-style "same"
        padding, MBConv's `max(..., 0)`, would otherwise hide that a size is unchanged)."""

        def base(factor) -> Expr:
            if isinstance(factor, str):
                return Expr.symbol(factor)
            args = tuple(self._decided_extrema(a) for a in factor.args)
            if factor.op in ("max", "min") and len(args) == 2:
                first, second = args
                if _at_least_zero(self.lower_bound(first - second, normalized=True)):
                    return first if factor.op == "max" else second
                if _at_least_zero(self.lower_bound(second - first, normalized=True)):
                    return second if factor.op == "max" else first
            return Expr({((Atom(factor.op, args), 1),): Fraction(1)})

        if all(isinstance(factor, str) for monomial in expr.terms for factor, _ in monomial):
            return expr
        return sym.replace_factors(expr, base)

    def is_integer(self, expr: Expr) -> bool:
        return self.integers.is_integer(self.normal(expr))


def mentions(expr: Expr, factor) -> bool:
    if isinstance(factor, str):
        return factor in expr.symbols()
    for monomial in expr.terms:
        for f, _ in monomial:
            if f == factor or (isinstance(f, Atom) and any(mentions(a, factor) for a in f.args)):
                return True
    return False


def _reaches(expr: Expr, symbol: str, mapping: dict[str, Expr]) -> bool:
    """Whether substituting `mapping` into `expr`, again and again, brings back `symbol`."""
    pending, seen = set(expr.symbols()), set()
    while pending:
        name = pending.pop()
        if name == symbol:
            return True
        if name in seen or name not in mapping:
            continue
        seen.add(name)
        pending |= mapping[name].symbols()
    return False


def _reaches_atom(expr: Expr, atom: Atom, mapping: dict[str, Expr]) -> bool:
    """Whether `expr`, or what its symbols stand for (again and again), contains `atom`."""
    pending, seen = [expr], set()
    while pending:
        current = pending.pop()
        if mentions(current, atom):
            return True
        for name in current.symbols():
            if name in mapping and name not in seen:
                seen.add(name)
                pending.append(mapping[name])
    return False


_CONTRADICTION = object()  # a folded form that divided by zero


def _at_least_zero(bound) -> bool:
    return bound is not None and bound >= 0


def _rewrite_atoms(expr: Expr, rewrites: dict, integers) -> Expr:
    """Replace atoms that a fact pinned down (`k // 2` -> `(k - 1)/2` for odd k)."""

    def base(factor) -> Expr:
        if isinstance(factor, str):
            return Expr.symbol(factor)
        inner = Atom(factor.op, tuple(_rewrite_atoms(a, rewrites, integers) for a in factor.args))
        replacement = rewrites.get(inner)
        return replacement if replacement is not None else Expr({((inner, 1),): Fraction(1)})

    return sym.replace_factors(expr, base)


def _rename_cond(cond: Cond, old: str, new: str) -> Cond:
    if old == new:
        return cond
    mapping = {old: Expr.symbol(new)}

    def rename(value):
        if isinstance(value, Expr):
            return sym.substitute(value, mapping)
        if isinstance(value, Cond):
            return _rename_cond(value, old, new)
        return value

    return Cond(cond.op, tuple(rename(a) for a in cond.args))
