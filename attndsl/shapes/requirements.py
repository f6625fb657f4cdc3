"""Turning what must hold into run-time checks, so that torch never sees a bad size.

`require` takes a condition an op, a layer or a statement needs. It is proven from the
facts (nothing to do), refuted (the caller reports the error), or recorded as a check
the generated module makes with its own `ValueError`:

- first the check's own expressions must be computable: a divisor is not zero, a square
  root's argument is not negative (`c % groups` with `groups = 0` would raise
  ZeroDivisionError inside the check itself);
- a need on sizes computed from arguments is blamed on the arguments when assuming them
  at least 0 (or 1) proves it: the module then says `groups must be at least 1, got 0`,
  hoisted to the top of `__init__`;
- a check goes to `__init__` when it involves constructor arguments only, else to
  `forward`; after it, what it established is a fact (under the check's guard).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .. import symbolic as sym
from ..diagnostics import Span
from ..ir import CheckInfo, Cond, elements_source
from ..symbolic import Atom, Expr
from .worlds import as_condition, literal

ARGUMENT_PHASE, STATEMENT_PHASE, WALK_PHASE = 0, 1, 2


@dataclass
class Recorded:
    check: CheckInfo
    order: tuple
    base_guard: tuple
    literals: tuple  # the world literals it depends on
    key: tuple = field(default=())


def preconditions(expr: Expr) -> list[tuple[str, Expr]]:
    """What rendering `expr` as Python needs: ("nonzero", divisor) / ("nonnegative", radicand)."""
    found: list[tuple[str, Expr]] = []
    for monomial in expr.terms:
        for factor, exponent in monomial:
            if isinstance(factor, str):
                if exponent < 0:
                    found.append(("nonzero", Expr.symbol(factor)))
                continue
            for arg in factor.args:
                found += preconditions(arg)
            if factor.op in ("floordiv", "mod", "ceildiv", "truediv"):
                found.append(("nonzero", factor.args[1]))
            elif factor.op == "sqrt":
                found.append(("nonnegative", factor.args[0]))
            if exponent < 0:
                found.append(("nonzero", Expr({((factor, 1),): Fraction(1)})))
    unique = []
    for item in found:
        if item not in unique:
            unique.append(item)
    return unique


class Requirements:
    """Mixin of the shape walk: recording checks. Expects `ir`, `knowledge`, `world`,
    `relevant`, `position`, `records`, `sink`, `display` and `view_for`."""

    # ------------------------------------------------------------------ entry points
    def require(self, condition, what: str, *, node: int | None = None, span: Span | None = None, guard=None,
                element=None, order=None, kind: str = "auto") -> bool | None:
        """Make `condition` hold. True: proven or checked; False: refuted (the caller reports)."""
        if self.display:
            return True
        span, guard = self._where(node, span, guard)
        view = self.view_for_guard(guard, element)
        decided = _decide(condition, view)
        if decided is not None:
            return decided
        for expr in _expressions(condition):
            self.ensure_defined(expr, node=node, span=span, guard=guard, element=element, order=order)
        if self._blame(condition, view, span=span, guard=guard, node=node):
            return True
        self._record(condition, what, span=span, guard=guard, node=node, element=element, order=order, kind=kind)
        return True

    def ensure_defined(self, expr: Expr, *, node=None, span=None, guard=None, element=None, order=None) -> None:
        """`expr` can be computed: its divisors are not zero, its square roots not negative."""
        for need, inner in preconditions(self.expand_derived(expr)):
            if need == "nonzero":
                self.require_nonzero(inner, node=node, span=span, guard=guard, element=element, order=order)
            else:
                ok = self.require(Cond("cmp", (">=", inner, Expr.const(0))),
                                  f"{_math(inner)} must not be negative (its square root is taken)", node=node,
                                  span=span, guard=guard, element=element, order=order)
                if ok is False:
                    self.sink.error("E0203", f"the square root of {_math(inner)}, which is negative", span)

    def require_nonzero(self, divisor: Expr, *, node=None, span=None, guard=None, element=None, order=None) -> None:
        if self.display:
            return
        span, guard = self._where(node, span, guard)
        view = self.view_for_guard(guard, element)
        normal = view.normal(divisor)
        if view.nonzero(divisor):
            return
        if normal.is_const:  # zero
            self.sink.error("E0203", f"division by {_math(divisor)}, which is zero", span)
            return
        for expr in (divisor,):
            self.ensure_defined(expr, node=node, span=span, guard=guard, element=element, order=order)
        # Exactly what Python needs: `k != 0` (a negative divisor computes, so it is not refused).
        lone = len(divisor.symbols()) == 1 and divisor == Expr.symbol(next(iter(divisor.symbols())))
        what = f"`{_math(divisor)}` must not be zero" if lone else f"{_math(divisor)} must not be zero (it divides)"
        self._record(Cond("cmp", ("!=", divisor, Expr.const(0))), what, span=span, guard=guard, node=node,
                     element=element, order=order)

    # ------------------------------------------------------------------ blame
    def _blame(self, condition, view, *, span, guard, node) -> bool:
        """A lower bound on a size made of one argument, as a bound on the argument itself,
        when the two say exactly the same: `groups >= 1` for a split into `groups`, `d_k >= 0`
        for `h * d_k >= 0` once `h >= 1` is known. Anything looser would refuse arguments
        torch accepts; then the size itself is checked."""
        if not (isinstance(condition, Cond) and condition.op == "cmp" and condition.args[0] in (">=", ">")):
            return False
        operator, left, right = condition.args
        target = view.normal(left - right) - (1 if operator == ">" else 0)  # target >= 0
        ints = [a.name for a in self.ir.args if a.type == "int"]
        found = [(n, _exact_bound(target, n, view)) for n in ints if n in target.symbols()]
        found = [(n, b) for n, b in found if b is not None]
        if not found:
            return False
        name, bound = found[0]
        known = view.symbol_bound(name)
        if known is not None and known >= bound:
            return True
        self._argument_checks({name: bound}, span, guard, node)
        return True

    @staticmethod
    def _raised(names, low, view, wanted=None) -> dict:
        """The bounds that assuming `low` (or `wanted[name]`) adds to what is known."""
        bounds = {}
        for name in names:
            target = wanted[name] if wanted is not None else low
            known = view.symbol_bound(name)
            if known is None or known < target:
                bounds[name] = target
        return bounds

    def _unbounded_arguments(self, expr: Expr, view, below=None) -> list[str]:
        """Int arguments in `expr` with no known lower bound (or one under `below`)."""
        order = [a.name for a in self.ir.args if a.type == "int"]
        names = {s for s in expr.symbols() if s in order and
                 (view.symbol_bound(s) is None or (below is not None and view.symbol_bound(s) < below))}
        return [a for a in order if a in names]

    def _argument_checks(self, bounds: dict[str, int], span, guard, node) -> None:
        guard = tuple(guard)
        # Evaluable before any `let` when the guard is over arguments only.
        hoist = not any(_cond_symbols(c) - {a.name for a in self.ir.args} for c in guard)
        for name, low in bounds.items():
            cond = Cond("cmp", (">=", Expr.symbol(name), Expr.const(low)))
            self._record(cond, f"`{name}` must be at least {low}", span=span, guard=guard, node=None,
                         order=(ARGUMENT_PHASE, 0, 0) if hoist else None, kind="argument")

    # ------------------------------------------------------------------ recording
    def _where(self, node, span, guard):
        if node is not None:
            attrs = self.ir.graph.nodes[node]
            span = span or attrs["span"]
            guard = attrs["guard"] if guard is None else guard
        return span, tuple(guard or ())

    def _record(self, condition, what: str, *, span, guard, node=None, element=None, order=None, kind="auto") -> None:
        guard = tuple(guard)
        # Sizes the checker named (a conv's `H'`) stay named: the generated check computes them
        # first, which reads far better than their expansion.
        condition, what = self._over_elements(condition, what, element)
        symbols = _condition_symbols(self._expanded(condition))
        unnameable = symbols - self.nameable()
        if unnameable:
            self.sink.error("E0208", f"{what}: the generated code cannot check this, because "
                            f"`{sorted(unnameable)[0]}` has no value at run time", span,
                            help="please report this spec: the checker should have named this size")
            return
        literals = self.literals_for(node)
        full_guard = guard + tuple(c for c in literals if c not in guard)
        where = runs_in(self.ir, condition, full_guard)
        key = _condition_key(condition, self.view_for_guard(full_guard, None)) + (full_guard,)
        if key in self.seen_checks:
            return
        self.seen_checks.add(key)
        if order is None:
            position = self.position.get(node, -1) if node is not None else -1
            order = (WALK_PHASE, position, len(self.records))
        position = None
        if order[0] == ARGUMENT_PHASE:
            position = (0, 0)
        elif order[0] == STATEMENT_PHASE:
            position, kind = order[1], ("statement" if kind == "auto" else kind)
        check = CheckInfo(condition, what, span, where, full_guard, kind=kind, position=position)
        self.records.append(Recorded(check, order, guard, tuple(c for c in literals if c not in guard)))
        self._learn(condition, full_guard)

    def _learn(self, condition, guard) -> None:
        knowledge = self.knowledge
        if isinstance(condition, Cond):
            knowledge.learn(condition, guard, self.view_for_guard(guard, None).normal)
        elif condition[0] == "eq":
            knowledge.learn_equal(condition[1], condition[2], guard)
        else:
            quotient = self.view_for_guard(guard, None).normal(condition[1]).exact_div(
                self.view_for_guard(guard, None).normal(condition[2]))
            knowledge.add(guard, "integer", quotient)

    def _expanded(self, condition):
        if isinstance(condition, Cond):
            return _map_cond(condition, self.expand_derived)
        kind, a, b = condition
        return (kind, self.expand_derived(a), self.expand_derived(b))

    def _over_elements(self, condition, what: str, element):
        """A fact about each element of a layer list is checked for every element."""
        symbols = _condition_symbols(condition)
        loop = next((l for l in self.ir.layers if l.loop_var and l.loop_var in symbols), None)
        if loop is None or loop.loop_var in self.nameable():
            return condition, what
        every = f"for every {loop.loop_var} in {elements_source(loop.elements, str)}"
        if isinstance(condition, Cond):
            inner, what = condition, f"{what}, {every}"
        elif condition[0] == "eq":
            inner, what = Cond("cmp", ("==", condition[1], condition[2])), f"{what} must agree {every}"
        else:
            # `k % m == 0` as written (sym.mod would expand it to `k - m * (k // m)`)
            inner = Cond("cmp", ("==", Expr.atom("mod", condition[1], condition[2]), Expr.const(0)))
            what = f"{what}: {_math(condition[1])} must be divisible by {_math(condition[2])} {every}"
        return Cond("all_elems", (loop.elements, loop.loop_var, inner)), what

    def nameable(self) -> set[str]:
        ir = self.ir
        return (set(ir.dim_origin) | set(ir.optional_dims) | {a.name for a in ir.args} | {l.name for l in ir.lets}
                | {f"len({a.name})" for a in ir.args if a.type == "list[int]"} | set(ir.derived)
                | set(ir.list_items))  # `out_chs[2]` (attndsl/lower/indexing.py)

    def literals_for(self, node) -> tuple:
        if self.world is None:
            return ()
        if node is None:
            # A check on layer arguments or lets: the world decides which branch of a
            # conditional `let` it read. Guarded by the whole world; the checks that every
            # world makes merge back into one (merge_guards). So a node that makes one is
            # walked in every world, never shared from the first (BlockChecker._reuse_first).
            self.world_independent.discard(self.inferring)
            return tuple(as_condition(atom, self.world[atom]) for atom in self.atoms)
        if self._world_facts:
            # The world knows facts of its own (`a + 4 == g` from a linear under `if r % 2 == 0:`):
            # a check's normal form may read them, so it holds in this world only. Checks alike
            # in every world merge back into one (merge_guards).
            return tuple(as_condition(atom, self.world[atom]) for atom in self.atoms)
        return tuple(as_condition(atom, self.world[atom]) for atom in self.atoms if atom in self.relevant.get(node, ()))


# ---------------------------------------------------------------------------- helpers


def runs_in(ir, condition, guard) -> str:
    """"forward" when the check or its guard reads an input (a size, its presence, training
    mode); else "init", where it runs once when the module is built."""
    dims = set(ir.dim_origin) | set(ir.optional_dims)
    derived: set[str] = set()
    changed = True
    while changed:  # a named size made from another (`h''` from `h'`) reads an input too
        changed = False
        for name, definition in ir.derived.items():
            if name not in derived and definition.symbols() & (dims | derived):
                derived.add(name)
                changed = True
    symbols = _condition_symbols(condition)
    if symbols & (dims | derived) or any(_runtime_condition(c, dims) for c in guard):
        return "forward"
    return "init"


def _exact_bound(target: Expr, name: str, view) -> int | None:
    """The bound `b` with `target >= 0` exactly when `name >= b`, if there is one: `target` is
    `c*name + k` (c > 0), or `c*name*P` with `P` a product of sizes known to be positive."""
    constant = target.terms.get((), Fraction(0))
    rest = target - constant
    if not rest.is_monomial or constant and not rest.is_const and rest.symbols() != {name}:
        return None
    ((monomial, coefficient),) = rest.terms.items()
    powers = dict(monomial)
    if coefficient <= 0 or powers.get(name) != 1:
        return None
    others = Expr({tuple((f, e) for f, e in monomial if f != name): Fraction(1)})
    if others == Expr.const(1):
        low = -constant / coefficient  # c*name + k >= 0
        return int(-(-low.numerator // low.denominator))  # the ceiling, for a whole argument
    if constant == 0 and all(e > 0 for f, e in monomial) and view.at_least(others, Fraction(1, 10**9)):
        return 0  # c * name * P >= 0 with P > 0
    return None


def _sign_known(difference: Expr, view) -> bool:
    """Whether a difference is provably positive or provably negative (never zero)."""
    for side in (difference, -difference):
        low = view.lower_bound(side)
        if low is not None and low > 0:
            return True
    return False


def _decide(condition, view) -> bool | None:
    if isinstance(condition, tuple):
        kind, a, b = condition
        na, nb = view.normal(a), view.normal(b)
        if kind == "eq":
            difference = na - nb
            if not difference.terms:
                return True
            if difference.is_const or _sign_known(difference, view):
                return False  # `a == 1` where a is known to be at least 3: never
            return None
        if nb == Expr.const(0):
            return False
        quotient = na.exact_div(nb)
        if na.is_const and nb.is_const:
            return quotient.value.denominator == 1
        if quotient != Expr.atom("floordiv", na, nb) and view.integers.is_integer(quotient):
            return True
        return None
    if condition.op == "const":
        return bool(condition.args[0])
    if condition.op != "cmp":
        return None
    operator, left, right = condition.args
    difference = view.normal(left - right)
    if difference.is_const:
        value = difference.value
        return {"==": value == 0, "!=": value != 0, "<": value < 0, "<=": value <= 0, ">": value > 0,
                ">=": value >= 0}[operator]
    if operator == ">=" and view.at_least(difference, 0):
        return True
    if operator == ">" and view.at_least(difference, Fraction(1, 10**9)):
        return True
    if operator == "!=" and right == Expr.const(0) and view.nonzero(left):
        return True
    return None


def _expressions(condition) -> list[Expr]:
    if isinstance(condition, tuple):
        return [condition[1], condition[2]]
    found = []
    for arg in condition.args:
        if isinstance(arg, Expr):
            found.append(arg)
        elif isinstance(arg, Cond):
            found += _expressions(arg)
    return found


def _condition_symbols(condition) -> set[str]:
    if isinstance(condition, tuple):
        return condition[1].symbols() | condition[2].symbols()
    return _cond_symbols(condition)


def _cond_symbols(cond: Cond) -> set[str]:
    if cond.op == "arg":
        return {cond.args[0]}
    if cond.op in ("present", "training"):
        return set()
    if cond.op == "all_elems":
        elements, var, inner = cond.args
        length = elements.symbols() if isinstance(elements, Expr) else {f"len({elements})"}
        return (_cond_symbols(inner) - {var}) | length
    found: set[str] = set()
    for arg in cond.args:
        if isinstance(arg, Expr):
            found |= arg.symbols()
        elif isinstance(arg, Cond):
            found |= _cond_symbols(arg)
    return found


def _map_cond(cond: Cond, function) -> Cond:
    return Cond(cond.op, tuple(function(a) if isinstance(a, Expr) else _map_cond(a, function) if isinstance(a, Cond)
                               else a for a in cond.args))


def _condition_key(condition, view) -> tuple:
    if isinstance(condition, tuple):
        return (condition[0], view.normal(condition[1]), view.normal(condition[2]))
    if condition.op == "cmp":
        operator, left, right = condition.args
        return ("cmp", operator, view.normal(left), view.normal(right))
    return ("cond", condition)


def _runtime_condition(cond: Cond, dims: set[str]) -> bool:
    """Whether a guard can only be evaluated in forward (an input's presence, an input's size)."""
    if cond.op in ("present", "training"):
        return True
    if cond.op in ("not", "and", "or"):
        return any(_runtime_condition(c, dims) for c in cond.args)
    return bool(_cond_symbols(cond) & dims)


def _math(expr: Expr) -> str:
    return sym.render(expr, str, style="math")


__all__ = ["Requirements", "Recorded", "preconditions", "ARGUMENT_PHASE", "STATEMENT_PHASE", "WALK_PHASE", "literal",
           "Atom"]
