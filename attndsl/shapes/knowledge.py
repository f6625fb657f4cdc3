"""What the checker knows about sizes, and where it knows it.

A fact (a size is a whole number, a symbol is at least 1, `k // 2` is `(k - 1)/2`, a size
is not zero) comes from a `require`, or from a run-time check the generated module makes
before it computes anything. Either holds only under the `if` conditions it was made
under: a divisibility proven inside `if flag:` says nothing after the `if`. So every fact
carries its guard, and `Knowledge.view(context)` gives the facts that hold in a context
(the guard of the node being checked): those whose guard the context contains.
"""

from __future__ import annotations

import math

from fractions import Fraction

from ..guards import plain
from ..ir import BlockIR, Cond, negate
from ..symbolic import Atom, Expr
from ..symbolic_core import lone_factor
from .view import Fact, View, mentions


class Knowledge:
    """The facts of one block, each under its guard. Cheap to copy: one per checked world."""

    def __init__(self, ir: BlockIR):
        self.ir = ir
        self.facts: list[Fact] = []
        self._known: set[Fact] = set()
        self._views: dict = {}
        # The view of each (context, element) since the last fact came: the walk asks for the
        # same few contexts for every node.
        self._by_context: dict = {}
        # Normal forms by the facts they were computed under, shared by the copies each world
        # walks with: most facts are the same in every world.
        self._normals: dict = {}
        self._folded: dict = {}  # View._folded_by_content, shared the same way
        # What each context's own conditions teach (`ratio > 1`: ratio is at least 2), shared the
        # same way: it depends on the block only.
        self._context_facts: dict = {}
        self.dims = set(ir.dim_origin) | set(ir.optional_dims)
        self.int_args = {a.name for a in ir.args if a.type == "int"}
        self.let_names = {let.name for let in ir.lets}
        self.generation = 0  # how many facts were added: a view found before is good while it is unchanged

    def copy(self) -> "Knowledge":
        other = Knowledge.__new__(Knowledge)
        other.generation = 0
        other.ir, other.facts, other._views, other._normals = self.ir, list(self.facts), {}, self._normals
        other._folded, other._context_facts = self._folded, self._context_facts
        other._known, other._by_context = set(self._known), {}
        other.dims, other.int_args, other.let_names = self.dims, self.int_args, self.let_names
        return other

    # ------------------------------------------------------------------ adding
    def add(self, guard, kind: str, subject, detail=None) -> None:
        fact = Fact(frozenset(guard), kind, subject, detail)
        if fact in self._known:
            return
        self._known.add(fact)
        self.facts.append(fact)
        self.generation += 1
        self._views.clear()
        self._by_context.clear()
        # Made under `if c:` and under its `else`, a fact holds after the `if` (each branch
        # checked it before anything after the `if` runs): MaxViT's `h % p == 0` in the grid
        # and the block branch makes the windows after them whole.
        for literal in fact.guard:
            rest = fact.guard - {literal}
            if any(Fact(rest | {other}, kind, subject, detail) in self._known for other in _opposites(literal)):
                self.add(rest, kind, subject, detail)

    def learn(self, cond: Cond, guard, normal=None) -> None:
        """What a condition that holds (a `require`, a passed check) teaches; `normal` puts
        compound sizes in the form later questions will ask about."""
        if cond.op == "and":
            for part in cond.args:
                self.learn(part, guard, normal)
        elif cond.op == "or":
            # `require k is None or k % 2 == 1`: where the others fail (`if k is not None:`), one
            # holds. Only where the others are what an `if` on the arguments tests (their
            # negations are what a guard holds); a broadcast check's `n == 1` never is.
            for index, part in enumerate(cond.args):
                others = [other for i, other in enumerate(cond.args) if i != index]
                if all(_argument_test(other) for other in others):
                    self.learn(part, tuple(guard) + tuple(negate(other) for other in others), normal)
        elif cond.op == "all_elems":
            list_name, var, inner = cond.args
            self.add(guard, "element", list_name, (var, inner))
        elif cond.op == "cmp":
            operator, left, right = cond.args
            self._learn_comparison(operator, left, right, guard, normal)

    def _learn_comparison(self, operator: str, left: Expr, right: Expr, guard, normal=None) -> None:
        mirrored = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}
        if left.is_const and not right.is_const or operator in ("<=", "<") and not right.is_const:
            operator, left, right = mirrored[operator], right, left  # `n <= max_len` as `max_len >= n`
        if operator == "==":
            if right == Expr.const(0):
                for a, b in _divisions(left):
                    # `d % h == 0`: d - h*(d // h) is 0, so d/h is a whole number from here on.
                    if left == a - b * Expr.atom("floordiv", a, b):
                        if normal is not None:  # and of the values (`kd` of `let kd = d // 2`), as asked
                            self.add(guard, "integer", a.exact_div(b))
                            a, b = normal(a), normal(b)
                        self.learn_divisible(a, b, guard)
            self.learn_equal(left, right, guard)
            return
        if operator == "!=" and right == Expr.const(0):
            self.add(guard, "nonzero", left)
            return
        quotient = _lone_floordiv(left)
        if quotient is not None and operator in (">=", ">") and right.is_const:
            # `rot // 2 >= 1` says `rot >= 2` (floor(a / m) >= c is a >= m*c for a whole c)
            dividend, divisor = quotient
            least = math.floor(right.value) + 1 if operator == ">" else math.ceil(right.value)
            self._learn_comparison(">=", dividend, Expr.const(divisor * least), guard, normal)
        symbol = _lone_symbol(left)
        if symbol in self.let_names and normal is not None:
            symbol = None  # a let reads as its value (`p` as `c // r`): bound the value, as it is asked about
        if symbol is None and operator in (">=", ">") and normal is None and right.is_const and \
                _lone_atom(left, "item"):
            # `ws[i] >= 1` of every element (view.py renames the loop variable, no normal form)
            self.add(guard, "bound", left, Fraction(math.floor(right.value) + 1 if operator == ">" else right.value))
            return
        if (symbol is None or not right.is_const) and operator in (">=", ">") and normal is not None:
            # `H - k + 2*(k//2) - 1 >= 0` (a window fits), `max_len >= n`: a bound on the difference.
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
            # a whole number above c is at least floor(c) + 1 (above -0.5: at least 0, not 1)
            self.add(guard, "bound", symbol, Fraction(math.floor(right.value) + 1) if whole else right.value)
            if right.value >= 0:
                self.add(guard, "nonzero", left)

    def learn_divisible(self, a: Expr, b: Expr, guard) -> None:
        """`a % b == 0` (a passed check, in normal form): a/b is a whole number, and an input's
        size, at least 1, is at least b: `h % p == 0` makes `h >= p` (a window of p rows fits)
        for any p the `%` allows (a negative p is below h anyway; 0 fails the `%`)."""
        self.add(guard, "integer", a.exact_div(b))
        if _lone_symbol(a) in self.dims and not (a - b).is_const:
            self.add(guard, "bound", a - b, Fraction(0))

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
            if mentions(rest, factor):
                continue
            rank = 0 if isinstance(factor, Atom) else 1 if factor in self.dims else 2
            candidates.append((rank, str(factor), factor, (-rest).exact_div(Expr.const(coefficient))))
        # known as a difference that is 0 too (attndsl/shapes/view.py), where a rewrite cannot
        # say it (`pool_size * pool_size == agent_num` for `let pool_size = int(sqrt(agent_num))`)
        self.add(guard, "zero", difference)
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
        quick = (context, element, len(self.ir.lets))
        view = self._by_context.get(quick)
        if view is not None:
            return view
        active = tuple(i for i, f in enumerate(self.facts) if f.guard <= context)
        lets = tuple(i for i, let in enumerate(self.ir.lets) if frozenset(let.guard) <= context)
        key = (active, lets, element, context)
        view = self._views.get(key)
        if view is None:
            facts = [self.facts[i] for i in active] + self._facts_of_context(context)
            signature = (frozenset(facts), lets, element)
            view = View(self, facts, [self.ir.lets[i] for i in lets], element,
                        self._normals.setdefault(signature, {}), self._folded)
            self._views[key] = view
        self._by_context[quick] = view
        return view

    def _facts_of_context(self, context: frozenset) -> list[Fact]:
        """Inside `if ratio > 1:` the condition itself is known: ratio is at least 2 there; in
        its `else:`, ratio is at most 1."""
        key = (context, len(self.ir.lets))
        found = self._context_facts.get(key)
        if found is None:
            scratch = Knowledge(self.ir)
            # a let in the condition (`if bands > 1:` for `let bands = (e - 1) // 2`) bounds its
            # value, as the checks under the `if` ask about it
            normal = self.view(frozenset()).normal if context else None
            for cond in sorted(context, key=repr):
                for part in _held(cond):
                    scratch.learn(part, (), normal)
            # `ws > 0 or flag` teaches `ws > 0` only where `not flag` also holds: a fact the
            # scratch learned under a guard of its own holds here only if the context holds it
            found = self._context_facts[key] = [f for f in scratch.facts if f.guard <= context]
        return found


def _divisions(expr: Expr):
    """The (numerator, divisor) of each floor division in `expr`."""
    for monomial in expr.terms:
        for factor, _ in monomial:
            if isinstance(factor, Atom) and factor.op == "floordiv":
                yield factor.args


def _lone_symbol(expr: Expr) -> str | None:
    factor = lone_factor(expr)
    return factor if isinstance(factor, str) else None


def _argument_test(cond: Cond) -> bool:
    """`k is None`, `flag`, or their negation: a test a guard of the block may hold as is."""
    return cond.op in ("is_none", "arg") or cond.op == "not" and _argument_test(cond.args[0])


def _lone_atom(expr: Expr, op: str) -> bool:
    """Whether `expr` is one atom of this op, alone (`ws[i]`)."""
    if not expr.is_monomial or len(expr.terms) != 1:
        return False
    ((monomial, coefficient),) = expr.terms.items()
    return coefficient == 1 and len(monomial) == 1 and monomial[0][1] == 1 and \
        isinstance(monomial[0][0], Atom) and monomial[0][0].op == op


def _opposites(literal: Cond) -> tuple[Cond, ...]:
    """The literals that hold exactly where `literal` does not, as guards spell them."""
    return (literal.args[0],) if literal.op == "not" else (negate(literal), Cond("not", (literal,)))


def _held(cond: Cond):
    """What a guard's condition says holds: the `else:` of `if k != 1:` knows k == 1, and that
    of `if h != dct_h or w != dct_w:` knows both sizes (FcaNet's pooling skipped)."""
    cond = plain(cond)
    if cond.op == "not" and cond.args[0].op == "or":
        for part in cond.args[0].args:
            yield from _held(Cond("not", (part,)))
    elif cond.op != "not":
        yield cond


def _lone_floordiv(expr: Expr):
    """(a, m) where `expr` is `a // m` for a constant whole m >= 1, else None."""
    factor = lone_factor(expr)
    if isinstance(factor, str) or factor is None or factor.op != "floordiv":
        return None
    dividend, divisor = factor.args
    if not divisor.is_const or divisor.value.denominator != 1 or divisor.value < 1:
        return None
    return dividend, int(divisor.value)
