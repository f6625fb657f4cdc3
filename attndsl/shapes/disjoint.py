"""Whether comparisons of whole numbers can hold together: `ws == 0` and `ws > 0` cannot.

A world (attndsl/shapes/worlds.py) fixes the truth of some conditions; a node under an `if`
whose condition cannot hold with them does not run in that world, so nothing under it is
checked there (SAM's layer chosen by `if ws == 0:` and its windows under `if ws > 0:`).
Skipping a check is only sound where the node really cannot run, so this is a proof, never
a guess:

- only comparisons of sums of products of the block's `int` arguments and input sizes with
  a constant are read (`ws > 0`, `h*w <= dim`): whole numbers, never None, exact in Python;
  a `let`, a float argument, an atom (`k // 2`) or anything else says nothing here;
- each such expression is treated as a free real number: bounds on `h*w - dim` are compared
  with bounds on `h*w - dim` only, never with what `h` or `dim` alone are known to be, so a
  conflict found is a conflict over the integers too;
- an expression is found empty only with at least one of its constraints an `==`, `<`,
  `<=`, `>` or `>=` the spec wrote as holding (not a negation, not `!=`): NaN fails each of
  those, so even an `int` argument given a float cannot slip through.
"""

from __future__ import annotations

from fractions import Fraction

from ..guards import plain
from ..ir import Cond
from ..symbolic import Expr

_MIRROR = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def whole_symbols(ir) -> frozenset[str]:
    """The names whose values are always whole numbers: `int` arguments that cannot be None,
    and the sizes of inputs that are always given."""
    return frozenset({a.name for a in ir.args if a.type == "int" and not a.optional} |
                     (set(ir.dim_origin) - set(ir.optional_dims)))


def cannot_meet(conditions, whole: frozenset[str]) -> bool:
    """Whether the conditions cannot all hold, by their comparisons of whole numbers alone."""
    by_expr: dict[Expr, list] = {}
    for condition in conditions:
        for constraint in _constraints(condition, True, whole):
            expr, operator, bound, strong = constraint
            by_expr.setdefault(expr, []).append((operator, bound, strong))
    return any(any(strong for _, _, strong in found) and _empty(found) for found in by_expr.values())


def _constraints(condition: Cond, spelled: bool, whole: frozenset[str]):
    """(expression, operator, bound, strong) for each comparison `condition` makes hold;
    `spelled`: the condition is as the spec wrote it, not a negation `plain` turned round."""
    if condition.op == "and":
        for part in condition.args:
            yield from _constraints(part, spelled, whole)
    elif condition.op == "not":
        inner = condition.args[0]
        if inner.op == "or":  # `not (a or b)`: neither holds
            for part in inner.args:
                yield from _constraints(Cond("not", (part,)), False, whole)
        elif inner.op == "cmp":
            turned = plain(condition)
            if turned.op == "cmp":
                yield from _constraints(turned, False, whole)
        elif inner.op == "not":
            yield from _constraints(inner.args[0], spelled, whole)
    elif condition.op == "cmp" and len(condition.args) == 3:
        found = _comparison(*condition.args, whole)
        if found is not None:
            expr, operator, bound = found
            yield expr, operator, bound, spelled and operator != "!="


def _comparison(operator: str, left, right, whole: frozenset[str]):
    """`left op right` as (expression, op, constant): the expression without a constant term,
    scaled so that its first term's coefficient is 1; None when it is not a polynomial in
    whole names."""
    if operator not in _MIRROR or not isinstance(left, Expr) or not isinstance(right, Expr):
        return None
    difference = left - right
    names = difference.plain_symbols()
    if names is None or not names or not names <= whole:
        return None
    if any(exponent < 0 for monomial in difference.terms for _, exponent in monomial):
        return None  # `1/ws`: a fraction, and no value where ws is 0
    constant = Fraction(difference.terms.get((), 0))
    expr = difference - Expr.const(constant)
    lead = Fraction(expr.terms[min(expr.terms, key=repr)])
    if lead < 0:
        operator = _MIRROR[operator]
    return expr * Expr.const(1 / lead), operator, -constant / lead


def _empty(constraints) -> bool:
    """Whether no real number meets all (operator, bound) constraints."""
    low, low_strict, high, high_strict = None, False, None, False
    equal, excluded = set(), set()
    for operator, bound, _ in constraints:
        if operator == "==":
            equal.add(bound)
        elif operator == "!=":
            excluded.add(bound)
        elif operator in (">", ">="):
            if low is None or bound > low or bound == low and operator == ">":
                low, low_strict = bound, operator == ">"
        elif high is None or bound < high or bound == high and operator == "<":
            high, high_strict = bound, operator == "<"
    if len(equal) > 1:
        return True
    if equal:
        (value,) = equal
        return value in excluded or low is not None and (value < low or value == low and low_strict) or \
            high is not None and (value > high or value == high and high_strict)
    if low is None or high is None:
        return False  # a half-line: some value avoids the finitely many excluded ones
    if low > high or low == high and (low_strict or high_strict):
        return True
    return low == high and low in excluded
