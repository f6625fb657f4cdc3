"""What a size condition says, read under the facts of a view.

`decide` proves or refutes a condition (None: neither, so it becomes a run-time check);
`runs_in` says whether its check can run in `__init__` or must wait for `forward`; the
rest take conditions apart (their expressions, symbols, a key that identifies a check
whatever form its sizes are written in).
"""

from __future__ import annotations

import math

from fractions import Fraction

from ..guards import FORWARD_ATOMS
from ..ir import Cond
from ..symbolic import Expr


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
    symbols = condition_symbols(condition)
    if symbols & (dims | derived) or any(_runtime_condition(c, dims) for c in (condition, *guard)
                                         if isinstance(c, Cond)):
        return "forward"  # e.g. a batch norm's `not training or b*h*w > 1` with b*h*w constant
    return "init"


def nonnegative_form(operator: str, left: Expr, right: Expr, view) -> Expr | None:
    """T with `left op right` exactly when `T >= 0`, for op `>=` or `>`: `left - right`, or
    for `>` of whole numbers `left - right - 1`. A strict comparison of a fraction is scaled to
    whole numbers first (`a / 2 > 0` is `a - 1 >= 0`, not `a / 2 - 1 >= 0`, which would ask
    `a >= 2`); None where it is no whole number however scaled."""
    difference = view.normal(left - right)
    if operator == ">=":
        return difference
    scale = math.lcm(*(c.denominator for c in difference.terms.values())) if difference.terms else 1
    scaled = difference * scale
    return scaled - 1 if view.is_integer(scaled) else None


def exact_bound(target: Expr, name: str, view) -> int | None:
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
        low = Fraction(-constant) / coefficient  # c*name + k >= 0
        return int(-(-low.numerator // low.denominator))  # the ceiling, for a whole argument
    if constant == 0 and all(e > 0 for f, e in monomial) and view.at_least(others, Fraction(1, 10**9)):
        return 0  # c * name * P >= 0 with P > 0
    return None


def sign_known(difference: Expr, view) -> bool:
    """Whether a difference is provably positive or provably negative (never zero)."""
    for side in (difference, -difference):
        low = view.lower_bound(side)
        if low is not None and low > 0:
            return True
    return False


def decide(condition, view) -> bool | None:
    if isinstance(condition, tuple):
        kind, a, b = condition
        na, nb = view.normal(a), view.normal(b)
        if kind == "eq":
            difference = na - nb
            if not difference.terms or view.known_zero(difference):
                return True
            if difference.is_const or sign_known(difference, view):
                return False  # `a == 1` where a is known to be at least 3: never
            return None
        if nb == Expr.const(0):
            return False
        quotient = na.exact_div(nb)
        if na.is_const and nb.is_const:
            return quotient.value.denominator == 1
        if quotient != Expr.atom("floordiv", na, nb) and whole(quotient, view.integers):
            return True
        return None
    if condition.op == "const":
        return bool(condition.args[0])
    if condition.op in ("and", "or", "not"):  # decided where its parts are (`1 < 2 or 1 < 1`)
        parts = [decide(part, view) for part in condition.args]
        if condition.op == "not":
            return None if parts[0] is None else not parts[0]
        settles = condition.op == "or"  # a true part settles an `or`, a false one an `and`
        if settles in parts:
            return settles
        return None if None in parts else not settles
    if condition.op != "cmp":
        return None
    operator, left, right = condition.args
    difference = view.normal(left - right)
    if operator in ("==", "!=") and not difference.is_const and view.known_zero(difference):
        return operator == "=="
    if difference.is_const:
        value = difference.value
        return {"==": value == 0, "!=": value != 0, "<": value < 0, "<=": value <= 0, ">": value > 0,
                ">=": value >= 0}[operator]
    if operator == ">=" and view.at_least(difference, 0):
        return True
    if operator == ">" and (view.at_least(difference, Fraction(1, 10**9)) or view.positive(difference)):
        return True
    if operator == "!=" and right == Expr.const(0) and view.nonzero(left):
        return True
    # never: `-n >= 0` (a slice `x[-n:]` from the end by an input's size, which is at least 1)
    if operator == ">=" and view.at_least(-difference, Fraction(1, 10**9)):
        return False
    if operator == ">" and view.at_least(-difference, 0):
        return False
    return None


def whole(expr: Expr, integers) -> bool:
    """Whether `expr` is an integer under the facts: as `Facts.is_integer` says, or term by term
    a whole multiple of a quotient known to be whole. `c*h*w/(g*r)` is, once `c/(g*r)` is: a size
    split out of a group is whole, and splitting it again by 1 or by `h` needs no check."""
    if integers.is_integer(expr):
        return True
    known = [k for k in integers.integers if k.is_monomial and not k.is_const]
    for monomial, coefficient in expr.terms.items():
        term = Expr({monomial: coefficient})
        if not (integers.is_integer(term) or any(_whole_multiple(term, k, integers) for k in known)):
            return False
    return True


def _whole_multiple(term: Expr, known: Expr, integers, depth: int = 2) -> bool:
    """`term` is `known` times a product of whole factors (an integer coefficient, no division),
    or times another such multiple: `h*w/(b*b)` is `(h/b) * (w/b)` once both are known whole
    (a window partition checks each axis; the number of windows needs no check of its own)."""
    ((monomial, coefficient),) = term.exact_div(known).terms.items()
    if coefficient.denominator != 1:
        return False
    quotient = Expr({monomial: coefficient})
    if all(e > 0 for _, e in monomial) and integers.is_integer(quotient):
        return True
    if depth == 0 or all(e > 0 for _, e in monomial):
        return False
    return any(_whole_multiple(quotient, other, integers, depth - 1)
               for other in integers.integers if other.is_monomial and not other.is_const)


def expressions(condition) -> list[Expr]:
    if isinstance(condition, tuple):
        return [condition[1], condition[2]]
    found = []
    for arg in condition.args:
        if isinstance(arg, Expr):
            found.append(arg)
        elif isinstance(arg, Cond):
            found += expressions(arg)
    return found


def condition_symbols(condition) -> set[str]:
    if isinstance(condition, tuple):
        return condition[1].symbols() | condition[2].symbols()
    return cond_symbols(condition)


def cond_symbols(cond: Cond) -> set[str]:
    if cond.op in ("arg", "text", "has"):
        return {cond.args[0]}
    if cond.op in FORWARD_ATOMS:
        return set()
    if cond.op == "all_elems":
        elements, var, inner = cond.args
        length = elements.symbols() if isinstance(elements, Expr) else {f"len({elements})"}
        return (cond_symbols(inner) - {var}) | length
    found: set[str] = set()
    for arg in cond.args:
        if isinstance(arg, Expr):
            found |= arg.symbols()
        elif isinstance(arg, Cond):
            found |= cond_symbols(arg)
    return found


def map_cond(cond: Cond, function) -> Cond:
    return Cond(cond.op, tuple(function(a) if isinstance(a, Expr) else map_cond(a, function) if isinstance(a, Cond)
                               else a for a in cond.args))


def condition_key(condition, view) -> tuple:
    if isinstance(condition, tuple):
        return (condition[0], view.normal(condition[1]), view.normal(condition[2]))
    if condition.op == "cmp":
        operator, left, right = condition.args
        return ("cmp", operator, view.normal(left), view.normal(right))
    return ("cond", condition)


def _runtime_condition(cond: Cond, dims: set[str]) -> bool:
    """Whether a guard can only be evaluated in forward (an input's presence, an input's size)."""
    if cond.op in FORWARD_ATOMS:
        return True
    if cond.op in ("not", "and", "or"):
        return any(_runtime_condition(c, dims) for c in cond.args)
    return bool(cond_symbols(cond) & dims)
