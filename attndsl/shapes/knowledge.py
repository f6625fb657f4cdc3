"""What the checker knows about sizes, and where it knows it.

A fact (a size is a whole number, a symbol is at least 1, `k // 2` is `(k - 1)/2`, a size
is not zero) comes from a `require`, or from a run-time check the generated module makes
before it computes anything. Either holds only under the `if` conditions it was made
under: a divisibility proven inside `if flag:` says nothing after the `if`. So every fact
carries its guard, and `Knowledge.view(context)` gives the facts that hold in a context
(the guard of the node being checked): those whose guard the context contains.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .. import symbolic as sym
from ..ir import BlockIR, Cond
from ..symbolic import Atom, Expr

Context = frozenset  # of guard conditions (each a Cond, possibly a `not`)


@dataclass(frozen=True)
class Fact:
    guard: Context
    kind: str  # "integer" | "rewrite" | "bound" | "nonzero" | "element"
    subject: Any  # an Expr (integer, nonzero), a symbol or Atom (rewrite, bound), a list name (element)
    detail: Any = None  # the replacement (rewrite), the lower bound (bound), (var, Cond) (element)


class Knowledge:
    """The facts of one block, each under its guard. Cheap to copy: one per checked world."""

    def __init__(self, ir: BlockIR):
        self.ir = ir
        self.facts: list[Fact] = []
        self._views: dict = {}
        # Normal forms by the facts they were computed under, shared by the copies each world
        # walks with: most facts are the same in every world.
        self._normals: dict = {}
        self.dims = set(ir.dim_origin) | set(ir.optional_dims)
        self.int_args = {a.name for a in ir.args if a.type == "int"}

    def copy(self) -> "Knowledge":
        other = Knowledge.__new__(Knowledge)
        other.ir, other.facts, other._views, other._normals = self.ir, list(self.facts), {}, self._normals
        other.dims, other.int_args = self.dims, self.int_args
        return other

    # ------------------------------------------------------------------ adding
    def add(self, guard, kind: str, subject, detail=None) -> None:
        fact = Fact(frozenset(guard), kind, subject, detail)
        if fact not in self.facts:
            self.facts.append(fact)
            self._views.clear()

    def learn(self, cond: Cond, guard, normal=None) -> None:
        """What a condition that holds (a `require`, a passed check) teaches; `normal` puts
        compound sizes in the form later questions will ask about."""
        if cond.op == "and":
            for part in cond.args:
                self.learn(part, guard, normal)
        elif cond.op == "all_elems":
            list_name, var, inner = cond.args
            self.add(guard, "element", list_name, (var, inner))
        elif cond.op == "cmp":
            operator, left, right = cond.args
            self._learn_comparison(operator, left, right, guard, normal)

    def _learn_comparison(self, operator: str, left: Expr, right: Expr, guard, normal=None) -> None:
        mirrored = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}
        if left.is_const and not right.is_const:
            operator, left, right = mirrored[operator], right, left
        if operator == "==":
            if right == Expr.const(0):
                for a, b in _divisions(left):
                    # `d % h == 0`: d - h*(d // h) is 0, so d/h is a whole number from here on.
                    if left == a - b * Expr.atom("floordiv", a, b):
                        self.add(guard, "integer", a.exact_div(b))
            self.learn_equal(left, right, guard)
            return
        if operator == "!=" and right == Expr.const(0):
            self.add(guard, "nonzero", left)
            return
        symbol = _lone_symbol(left)
        if symbol is None and operator in (">=", ">") and normal is not None:
            # `H - k + 2*(k//2) - 1 >= 0` (a window fits): a bound on the whole expression.
            difference = normal(left - right)
            if not difference.is_const:
                self.add(guard, "bound", difference, Fraction(1 if operator == ">" else 0))
            return
        if symbol is None or not right.is_const:
            return
        if operator == ">=":
            self.add(guard, "bound", symbol, right.value)
        elif operator == ">":
            whole = symbol in self.int_args or symbol in self.dims or symbol.startswith("len(")
            self.add(guard, "bound", symbol, Fraction(int(right.value) + 1) if whole else right.value)
            if right.value >= 0:
                self.add(guard, "nonzero", left)

    def learn_equal(self, left: Expr, right: Expr, guard) -> None:
        """`left == right`: solve for one factor that appears once, to the first power, and
        rewrite it from now on (`nq == H*W` makes `nq` be `H*W`; `k % 2 == 1` makes `k // 2`
        be `(k - 1)/2`). Atoms first, then input sizes, then anything else."""
        difference = left - right
        if not difference.terms:
            return
        candidates = []
        for monomial, coefficient in difference.terms.items():
            if len(monomial) != 1 or monomial[0][1] != 1:
                continue
            factor = monomial[0][0]
            if sum(1 for m in difference.terms for f, _ in m if f == factor) != 1:
                continue
            rest = difference - Expr({monomial: coefficient})
            if _mentions(rest, factor):
                continue
            rank = 0 if isinstance(factor, Atom) else 1 if factor in self.dims else 2
            candidates.append((rank, str(factor), factor, (-rest).exact_div(Expr.const(coefficient))))
        if not candidates:
            return
        _, _, factor, solution = min(candidates, key=lambda c: (c[0], c[1]))
        self.add(guard, "rewrite", factor, solution)
        self.add(guard, "integer", solution)

    # ------------------------------------------------------------------ reading
    def view(self, context, element: tuple[str, str] | None = None) -> "View":
        """What holds under `context`; `element=(list, var)` adds what is known of every
        element of `list`, written with the loop variable `var`."""
        context = frozenset(context)
        active = tuple(i for i, f in enumerate(self.facts) if f.guard <= context)
        lets = tuple(i for i, let in enumerate(self.ir.lets) if frozenset(let.guard) <= context)
        key = (active, lets, element, context)
        view = self._views.get(key)
        if view is None:
            # Inside `if ratio > 1:` the condition itself is known: ratio is at least 2 there.
            scratch = Knowledge(self.ir)
            for cond in sorted(context, key=repr):
                if cond.op != "not":
                    scratch.learn(cond, ())
            facts = [self.facts[i] for i in active] + scratch.facts
            signature = (frozenset(facts), lets, element)
            view = View(self, facts, [self.ir.lets[i] for i in lets], element,
                        self._normals.setdefault(signature, {}))
            self._views[key] = view
        return view


class View:
    """The facts that hold in one context, and the questions the checker asks of them."""

    def __init__(self, knowledge: Knowledge, facts: list[Fact], lets, element, normals: dict | None = None):
        self.knowledge = knowledge
        self.integers = sym.Facts(getattr(knowledge.ir, "float_symbols", ()))
        self.rewrites: dict = {}
        self.bounds: dict[str, Fraction] = {}
        self.nonzeros: set[Expr] = set()
        self.expr_bounds: dict[Expr, Fraction] = {}
        self._bounds: dict = {}  # lower bounds found, by normal form
        # A let defined under exclusive guards on both branches of an `if` has two values:
        # where the context does not say which, it stays a symbol (`self.q` at run time).
        values: dict[str, list[Expr]] = {}
        for let in lets:
            values.setdefault(let.name, []).append(let.value)
        self.substitutions: dict[str, Expr] = {name: v[0] for name, v in values.items() if len(v) == 1}
        for fact in facts:
            self._take(fact, element)
        if element is not None and isinstance(element[0], Expr):  # the index of a range: 0 <= i < count
            count, index = element[0], Expr.symbol(element[1])
            self._take(Fact(frozenset(), "integer", index), None)
            self._take(Fact(frozenset(), "bound", element[1], Fraction(0)), None)
            self._take(Fact(frozenset(), "bound", count - 1 - index, Fraction(0)), None)
        self._normal: dict = {} if normals is None else normals
        self._mapping: tuple | None = None  # (number of derived sizes, symbol mapping, atom mapping)

    def _take(self, fact: Fact, element) -> None:
        if fact.kind == "bound" and isinstance(fact.subject, Expr):
            # Kept without its constant term (`E + c >= b` as `E >= b - c`): any `E + c'` finds it.
            constant = fact.subject.terms.get((), Fraction(0))
            key, bound = fact.subject - constant, fact.detail - constant
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
        elif fact.kind == "element" and element is not None and element[0] == fact.subject:
            var, inner = fact.detail
            renamed = _rename_cond(inner, var, element[1])
            scratch = Knowledge(self.knowledge.ir)
            scratch.learn(renamed, ())
            for learned in scratch.facts:
                self._take(learned, None)

    # ------------------------------------------------------------------ algebra
    def normal(self, expr: Expr) -> Expr:
        """Lets and solved symbols substituted, rewrites applied, atoms re-folded."""
        derived = self.knowledge.ir.derived  # read live: the walk names sizes as it goes
        key = (expr, len(derived))
        cached = self._normal.get(key)
        if cached is not None:
            return cached
        mapping, atoms = self._symbol_mapping(derived)
        result = expr
        try:
            for _ in range(8):  # lets may refer to earlier lets; a rewrite may enable another
                expanded = sym.substitute(result, mapping, self.integers)
                if atoms:
                    expanded = _rewrite_atoms(expanded, atoms, self.integers)
                if expanded == result:
                    break
                result = expanded
            result = sym.simplify(result, self.integers)
            result = self._decided_extrema(result)
        except ZeroDivisionError:
            # The facts here contradict each other (a size that would divide by zero): this
            # context cannot happen at run time; keep the expression as it was written.
            result = expr
        self._normal[key] = result
        return result

    def _symbol_mapping(self, derived: dict) -> tuple[dict[str, Expr], dict]:
        """Lets, checker-named sizes and solved symbols, each to what it stands for; a solved
        symbol whose value reads itself again (`a` is `h'*w' - 47` where `h'` is
        `h - max(2, a - 6) + 1`) is left out: substituting it would never end. Also the
        solved atoms (`_atom_mapping`)."""
        if self._mapping is not None and self._mapping[0] == len(derived):
            return self._mapping[1], self._mapping[2]
        mapping = {**self.substitutions, **derived}
        for name, value in self.rewrites.items():
            if isinstance(name, str) and not _reaches(value, name, {**mapping, name: value}):
                mapping[name] = value
        atoms = self._atom_mapping(mapping)
        self._mapping = (len(derived), mapping, atoms)
        return mapping, atoms

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

    def symbol_bound(self, symbol: str) -> Fraction | None:
        known = self.bounds.get(symbol)
        if symbol in self.knowledge.dims:
            return max(known, Fraction(1)) if known is not None else Fraction(1)  # sizes are taken to be >= 1
        if symbol.startswith("len("):
            return max(known, Fraction(0)) if known is not None else Fraction(0)
        return known

    def lower_bound(self, expr: Expr, normalized: bool = False) -> Fraction | None:
        """A lower bound of `expr` from the symbols' known bounds, or None."""
        expr = expr if normalized else self.normal(expr)
        cached = self._bounds.get(expr, False)
        if cached is not False:
            return cached
        result = self._lower_bound(expr)
        self._bounds[expr] = result
        return result

    def _lower_bound(self, expr: Expr) -> Fraction | None:
        constant = expr.terms.get((), Fraction(0))
        known = self.expr_bounds.get(expr - constant)  # `h - k + 2*(k//2) + 1` from `h - k + 2*(k//2) >= 0`
        if known is not None:
            return known + constant
        total = Fraction(0)
        for monomial, coefficient in expr.terms.items():
            if not monomial:
                total += coefficient
                continue
            if coefficient < 0:
                return None
            product = Fraction(1)
            for factor, exponent in monomial:
                low = self._factor_bound(factor)
                if low is None or low < 0 or (exponent < 0 and low <= 0):
                    return None
                if exponent < 0:
                    return None  # no upper bounds are tracked: 1/x has no useful lower bound
                product *= low**exponent
            total += coefficient * product
        return total

    def _factor_bound(self, factor) -> Fraction | None:
        if isinstance(factor, str):
            return self.symbol_bound(factor)
        if factor.op == "floordiv":
            a, b = (self.lower_bound(arg, normalized=True) for arg in factor.args)
            if a is None or b is None or a < 0 or b < 1:
                return None
            divisor = factor.args[1]
            return Fraction(a // divisor.value) if divisor.is_const else Fraction(0)
        if factor.op in ("max", "min"):
            bounds = [self.lower_bound(arg, normalized=True) for arg in factor.args]
            known = [b for b in bounds if b is not None]
            if not known or (factor.op == "min" and len(known) < len(bounds)):
                return None
            return max(known) if factor.op == "max" else min(known)
        if factor.op == "sqrt":
            low = self.lower_bound(factor.args[0], normalized=True)
            return Fraction(int(low**0.5)) if low is not None and low >= 0 else None
        return None

    def assuming(self, bounds: dict) -> "View":
        """The same facts, with lower bounds assumed for some symbols (to blame arguments)."""
        other = copy.copy(self)
        other.bounds = {**self.bounds, **{name: Fraction(low) for name, low in bounds.items()}}
        other._bounds = {}
        return other

    def at_least(self, expr: Expr, bound) -> bool:
        low = self.lower_bound(expr)
        return low is not None and low >= bound

    def nonzero(self, expr: Expr) -> bool:
        normal = self.normal(expr)
        if normal.is_const:
            return normal.value != 0
        if normal in self.nonzeros or -normal in self.nonzeros:
            return True
        low = self.lower_bound(normal, normalized=True)
        if low is not None and low > 0:
            return True
        low = self.lower_bound(-normal, normalized=True)
        if low is not None and low > 0:
            return True
        if normal.is_monomial:  # a product is nonzero when each factor is
            ((monomial, _),) = normal.terms.items()
            if len(monomial) > 1 or (monomial and monomial[0][1] != 1):
                return all(self.nonzero(Expr({((f, 1),): Fraction(1)})) for f, _ in monomial)
        return False


def _divisions(expr: Expr):
    """The (numerator, divisor) of each floor division in `expr`."""
    for monomial in expr.terms:
        for factor, _ in monomial:
            if isinstance(factor, Atom) and factor.op == "floordiv":
                yield factor.args


def _lone_symbol(expr: Expr) -> str | None:
    if expr.is_monomial:
        ((monomial, coefficient),) = expr.terms.items()
        if coefficient == 1 and len(monomial) == 1 and monomial[0][1] == 1 and isinstance(monomial[0][0], str):
            return monomial[0][0]
    return None


def _mentions(expr: Expr, factor) -> bool:
    if isinstance(factor, str):
        return factor in expr.symbols()
    for monomial in expr.terms:
        for f, _ in monomial:
            if f == factor or (isinstance(f, Atom) and any(_mentions(a, factor) for a in f.args)):
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
        if _mentions(current, atom):
            return True
        for name in current.symbols():
            if name in mapping and name not in seen:
                seen.add(name)
                pending.append(mapping[name])
    return False


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
