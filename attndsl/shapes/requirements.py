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

from dataclasses import dataclass, field, replace
from fractions import Fraction

from .. import symbolic as sym
from ..diagnostics import Span
from ..ir import CheckInfo, Cond, elements_source, guard_includes
from ..symbolic import Atom, Expr
from .conditions import (cond_symbols, condition_key, condition_symbols, decide, exact_bound, expressions, map_cond,
                         nonnegative_form, runs_in)
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


def _lone_root(expr: Expr) -> Expr | None:
    """`x` of a divisor `c * sqrt(x)` (c a nonzero constant), else None."""
    if not expr.is_monomial:
        return None
    ((monomial, coefficient),) = expr.terms.items()
    if coefficient == 0 or len(monomial) != 1 or monomial[0][1] != 1:
        return None
    factor = monomial[0][0]
    return factor.args[0] if isinstance(factor, Atom) and factor.op == "sqrt" else None


class Requirements:
    """Mixin of the shape walk: recording checks. Expects `ir`, `knowledge`, `world`,
    `relevant`, `position`, `records`, `zero_divisors_reported`, `sink`, `display`, `view_for`
    and `_nodes` (each node's attributes)."""

    # ------------------------------------------------------------------ entry points
    def require(self, condition, what: str, *, node: int | None = None, span: Span | None = None, guard=None,
                element=None, order=None, kind: str = "auto") -> bool | None:
        """Make `condition` hold. True: proven or checked; False: refuted (the caller reports)."""
        if self.display:
            return True
        span, guard = self._where(node, span, guard)
        view = self.view_for_guard(guard, element)
        decided = decide(condition, view)
        if decided is not None:
            self._asked(node)
            return decided
        for expr in expressions(condition):
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
        root = _lone_root(divisor)
        asked = divisor if root is None else root  # sqrt(x) is zero exactly where x is: ask about x
        if view.nonzero(asked):
            self._asked(node)
            return
        if view.normal(asked).is_const:  # zero
            where = (divisor, span.line if span else None)
            if where not in self.zero_divisors_reported:  # `conv2d(c, c // zero)`: once, not again
                self.zero_divisors_reported.add(where)  # for its `out_channels >= 1`
                self.sink.error("E0203", f"division by {_math(divisor)}, which is zero", span)
            return
        self.ensure_defined(divisor, node=node, span=span, guard=guard, element=element, order=order)
        # Exactly what Python needs: `k != 0` (a negative divisor computes, so it is not refused).
        lone = len(asked.symbols()) == 1 and asked == Expr.symbol(next(iter(asked.symbols())))
        what = f"`{_math(asked)}` must not be zero" if lone else f"{_math(asked)} must not be zero (it divides)"
        self._record(Cond("cmp", ("!=", asked, Expr.const(0))), what, span=span, guard=guard, node=node,
                     element=element, order=order)

    # ------------------------------------------------------------------ blame
    def _blame(self, condition, view, *, span, guard, node) -> bool:
        """A lower bound on a size made of one argument, as a bound on the argument itself,
        when the two say exactly the same: `groups >= 1` for a split into `groups`, `d_k >= 0`
        for `h * d_k >= 0` once `h >= 1` is known. Anything looser would refuse arguments
        torch accepts; then the size itself is checked."""
        if not (isinstance(condition, Cond) and condition.op == "cmp" and condition.args[0] in (">=", ">")):
            return False
        target = nonnegative_form(*condition.args, view)  # target >= 0
        if target is None:
            return False
        ints = [a.name for a in self.ir.args if a.type == "int"]
        found = [(n, exact_bound(target, n, view)) for n in ints if n in target.symbols()]
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
        hoist = not any(cond_symbols(c) - {a.name for a in self.ir.args} for c in guard)
        for name, low in bounds.items():
            cond = Cond("cmp", (">=", Expr.symbol(name), Expr.const(low)))
            self._record(cond, f"`{name}` must be at least {low}", span=span, guard=guard, node=None,
                         order=(ARGUMENT_PHASE, 0, 0) if hoist else None, kind="argument")

    # ------------------------------------------------------------------ recording
    def _asked(self, node) -> int:
        """How many requirements the node has had settled so far (proven, refuted or recorded),
        this one included: its checks' order. Counted the same in every world, so a check one
        world proves (`a // 2 >= 1` where `a > 3`) keeps its place before the checks that read it
        (`a % (a // 2)`) when another world's merge brings it back."""
        self._asked_counts[node] = self._asked_counts.get(node, 0) + 1
        return self._asked_counts[node]

    def _where(self, node, span, guard):
        if node is not None:
            attrs = self._nodes[node]
            span = span or attrs["span"]
            guard = attrs["guard"] + self.scope_guard if guard is None else guard
        return span, tuple(guard or ())

    def _record(self, condition, what: str, *, span, guard, node=None, element=None, order=None, kind="auto") -> None:
        guard = tuple(guard)
        # Sizes the checker named (a conv's `H'`) stay named: the generated check computes them
        # first, which reads far better than their expansion.
        condition, what = self._over_elements(condition, what, element)
        symbols = condition_symbols(self._expanded(condition))
        unnameable = symbols - self.nameable()
        if unnameable:
            loop = next((layer for layer in self.ir.layers if layer.loop_var in unnameable), None)
            help = "please report this spec: the checker should have named this size" if loop is None else \
                (f"it depends on which element of `{loop.name}` runs: say what holds for every element with "
                 f"`require all([... for {loop.loop_var} in {elements_source(loop.elements, str)}])`")
            self.sink.error("E0208", f"{what}: the generated code cannot check this, because "
                            f"`{sorted(unnameable)[0]}` has no value at run time", span, help=help)
            return
        literals = self.literals_for(node)
        guard += self._given(condition, guard + literals)
        full_guard = guard + tuple(c for c in literals if c not in guard)
        where = runs_in(self.ir, condition, full_guard)
        # The same check made already under a guard this one's includes (or none) covers it:
        # a batch norm inside a loop's passes after one before the loop.
        key = condition_key(condition, self.view_for_guard(full_guard, None))
        made_under = self.seen_checks.setdefault(key, [])
        if any(set(earlier) <= set(full_guard) for earlier in made_under):
            return
        made_under.append(full_guard)
        if order is None:
            position = self.position.get(node, -1) if node is not None else -1
            order = (WALK_PHASE, position, self._asked(node))
        if kind != "argument" and self._strengthen_earlier(condition, what, span, full_guard, where, order):
            return
        position = None
        if order[0] == ARGUMENT_PHASE:
            position = (0, 0)
        elif order[0] == STATEMENT_PHASE:
            position, kind = order[1], ("statement" if kind == "auto" else kind)
        check = CheckInfo(condition, what, span, where, full_guard, kind=kind, position=position, node=node)
        self.records.append(Recorded(check, order, guard, tuple(c for c in literals if c not in guard)))
        self._learn(condition, full_guard)

    def _given(self, condition, guard: tuple) -> tuple:
        """`k is not None` for each optional argument the check reads where its guard does not
        say so: a `require` made it given there (`require not flag or k is not None`), and
        argument checks run before the requires in `__init__`, so they must not read a None.
        Where it is None the require refuses the arguments."""
        optional = {a.name for a in self.ir.args if a.optional}
        found = []
        for name in sorted(condition_symbols(condition) & optional):
            given = Cond("not", (Cond("is_none", (name,)),))
            if not guard_includes(guard, given):
                found.append(given)
        return tuple(found)

    def _strengthen_earlier(self, condition, what: str, span, guard, where, order) -> bool:
        """`len(ws) - 2 >= 0` after `len(ws) - 1 >= 0` for the same statement or node, under the
        same guard: the earlier check asks for the stronger bound instead, and no second check
        is made; the weaker one would say less, at the same place. So too for two layers' checks
        in `__init__` (a linear's `mid >= 0`, then its batch norm's `mid >= 1`): they all run
        before any layer is built, with nothing but arithmetic between. (Made at different
        places in forward, the earlier one guards what runs in between, and its message names
        what failed first. Bounds on one argument are left to `check_pruning.strongest_arguments`, which
        keeps their order.)"""
        if not _lower_bound(condition):
            return False
        view = self.view_for_guard(guard, None)
        target = view.normal(condition.args[1] - condition.args[2])
        for index, earlier in enumerate(self.records):
            check = earlier.check
            same_place = earlier.order[:2] == order[:2] or \
                where == "init" and earlier.order[0] == order[0] == WALK_PHASE
            if not same_place or check.kind == "argument" or not _lower_bound(check.condition) or \
                    check.where != where or set(check.guard) != set(guard):
                continue
            left, right = check.condition.args[1:]
            gap = view.normal(left - right) - target
            if not (gap.is_const and gap.value > 0):
                continue
            # The new condition as written, when the earlier place can compute it (no `let`
            # made in between); else the earlier one's, with the bound raised.
            written = condition_symbols(condition) <= condition_symbols(check.condition)
            stronger = condition if written else Cond("cmp", (">=", left, right + gap))
            self.records[index] = replace(earlier, check=replace(check, condition=stronger, message=what, span=span))
            self._learn(stronger, guard)
            return True
        return False

    def _learn(self, condition, guard) -> None:
        knowledge = self.knowledge
        if isinstance(condition, Cond):
            knowledge.learn(condition, guard, self.view_for_guard(guard, None).normal)
        elif condition[0] == "eq":
            knowledge.learn_equal(condition[1], condition[2], guard)
        else:
            normal = self.view_for_guard(guard, None).normal
            knowledge.learn_divisible(normal(condition[1]), normal(condition[2]), guard)

    def _expanded(self, condition):
        if isinstance(condition, Cond):
            return map_cond(condition, self.expand_derived)
        kind, a, b = condition
        return (kind, self.expand_derived(a), self.expand_derived(b))

    def _over_elements(self, condition, what: str, element):
        """A fact about each element of a layer list is checked for every element."""
        symbols = condition_symbols(condition)
        if element is not None and element[1] in symbols:  # inside `all([... for k in X])`
            elements, var = element
        else:
            loop = next((l for l in self.ir.layers if l.loop_var and l.loop_var in symbols), None)
            if loop is None:
                return condition, what
            elements, var = loop.elements, loop.loop_var
        if var in self.nameable():
            return condition, what
        every = f"for every {var} in {elements_source(elements, str)}"
        if isinstance(condition, Cond):
            inner, what = condition, f"{what}, {every}"
        elif condition[0] == "eq":
            inner, what = Cond("cmp", ("==", condition[1], condition[2])), f"{what} must agree {every}"
        else:
            # `k % m == 0` as written (sym.mod would expand it to `k - m * (k // m)`)
            inner = Cond("cmp", ("==", Expr.atom("mod", condition[1], condition[2]), Expr.const(0)))
            what = f"{what}: {_math(condition[1])} must be divisible by {_math(condition[2])} {every}"
        return Cond("all_elems", (elements, var, inner)), what

    def nameable(self) -> set[str]:
        ir = self.ir
        return (set(ir.dim_origin) | set(ir.optional_dims) | {a.name for a in ir.args} | {l.name for l in ir.lets}
                | {f"len({a.name})" for a in ir.args if a.type == "list[int]"} | set(ir.derived)
                | set(ir.list_items))  # `out_chs[2]` (attndsl/lower/indexing.py)

    def literals_for(self, node) -> tuple:
        if self.world is None:
            return ()
        # The world decides which branch of a conditional `let` a check read, knows facts of its
        # own (`a + 4 == g` from a linear under `if r % 2 == 0:`) and its conditions themselves
        # (`a > 2` makes `max(a - 1, 2)` be `a - 1`): a check's normal form may read any of them,
        # so it holds in this world only. Checks alike in every world merge back into one
        # (merge_guards). (Differential seed 23206174: a fold's window count simplified under
        # `a > 2` was checked where `a <= 2`.)
        return tuple(as_condition(atom, self.world[atom]) for atom in self.atoms)


# ---------------------------------------------------------------------------- helpers


def _lower_bound(condition) -> bool:
    return isinstance(condition, Cond) and condition.op == "cmp" and condition.args[0] == ">="


def _math(expr: Expr) -> str:
    return sym.render(expr, str, style="math")


__all__ = ["Requirements", "Recorded", "preconditions", "ARGUMENT_PHASE", "STATEMENT_PHASE", "WALK_PHASE", "literal",
           "Atom"]
