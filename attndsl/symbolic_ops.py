"""Operations on canonical forms: the folding constructors (`floordiv`, `mod`, `maximum`,
`sqrt`, ...), which evaluate constants and fold what the facts allow and leave the rest an
atom; re-folding (`simplify`), substitution and evaluation. attndsl.symbolic re-exports them.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

from .symbolic_core import Expr, Factor, Scalar, _lcm_denominator, _lone_atom, _polynomial_quotient, as_expr
from .symbolic_facts import Facts


# ---------------------------------------------------------------------------- operations
# These evaluate eagerly on constants and fold what the facts allow; everything else
# stays an atom so that equal inputs give equal canonical forms.


def floordiv(a: Expr, b: Expr, facts: Facts | None = None) -> Expr:
    a, b = as_expr(a), as_expr(b)
    if a.is_const and b.is_const:
        if b.value == 0:
            raise ZeroDivisionError("division by zero in a shape expression")
        return Expr.const(math.floor(a.value / b.value))
    facts = facts if facts is not None else Facts()
    inner = _lone_atom(a)
    if inner is not None and inner.op == "floordiv" and a == Expr.atom("floordiv", *inner.args) and \
            b.is_const and b.value >= 1 and b.value.denominator == 1 and inner.args[1].is_const and \
            inner.args[1].value >= 1 and inner.args[1].value.denominator == 1:
        # (x // m) // n is x // (m*n) for whole m, n >= 1: halved, then halved again, is quartered
        return floordiv(inner.args[0], inner.args[1] * b, facts)
    constant, denominator = _lcm_denominator(a)
    if constant != 1 or denominator:
        # floor((h*w/r) / b) is (h*w) // (r*b) where both are whole: Python's // floors exactly,
        # whatever the signs, where a true division of the two would round first
        scale = Expr({denominator: Fraction(constant)})
        numerator, divisor = a * scale, b * scale
        # (a divisor written whole: one known whole but written as a fraction would render `/`)
        if facts.is_integer(numerator) and facts.is_integer(divisor) and _lcm_denominator(divisor) == (1, ()):
            return floordiv(numerator, divisor, facts)
    folded = facts.quotients.get((a, b))
    if folded is None:
        quotient = a.exact_div(b)
        exact = _no_atom_floordiv(quotient, a, b) and facts.is_integer(quotient)
        folded = quotient if exact else _whole_plus_constant(quotient, a, b, facts)
        facts.quotients[(a, b)] = folded
    return folded


def _whole_plus_constant(quotient: Expr, a: Expr, b: Expr, facts: Facts) -> Expr:
    """floor(w + c) is w + floor(c) for a whole w: `(1 - d) // 2` is `-d/2` where `d` is even
    (the size of `x[..., 1::2]`), else the floor stays an atom."""
    constant = quotient.terms.get((), 0)
    rest = quotient - Expr.const(constant)
    if constant and rest.terms and _no_atom_floordiv(quotient, a, b) and facts.is_integer(rest):
        return rest + Expr.const(math.floor(constant))
    return Expr.atom("floordiv", a, b)


def _no_atom_floordiv(quotient: Expr, a: Expr, b: Expr) -> bool:
    return quotient != Expr.atom("floordiv", a, b)


def truediv(a: Expr, b: Expr) -> Expr:
    """a / b as Python's true division of numbers: exact and rational when `b` is a
    monomial (`d / k` is d * k^-1), else an atom (`1 / (a - 4)` is not `1 // (a - 4)`)."""
    a, b = as_expr(a), as_expr(b)
    if not b.terms:
        raise ZeroDivisionError("division by zero")
    if b.is_monomial:
        return a.exact_div(b)
    quotient = _polynomial_quotient(a, b)
    if quotient is not None:
        return quotient
    return Expr.atom("truediv", a, b)


def ceildiv(a: Expr, b: Expr, facts: Facts | None = None) -> Expr:
    return -floordiv(-as_expr(a), b, facts)


def mod(a: Expr, b: Expr, facts: Facts | None = None) -> Expr:
    a, b = as_expr(a), as_expr(b)
    if a.is_const and b.is_const:
        if b.value == 0:
            raise ZeroDivisionError("modulo by zero in a shape expression")
        return Expr.const(a.value - b.value * math.floor(a.value / b.value))
    remainder = a - b * floordiv(a, b, facts)
    whole = b.value.denominator == 1 and (facts if facts is not None else Facts()).is_integer(a) if b.is_const else True
    if not remainder.terms and b.is_const and b.value < 0 and not whole:
        # Python's `x % -0.5` of a whole x is -0.0 (a float), and `t / -0.0` is -inf: the
        # sign of that zero is a value, so the remainder stays as written. (Of two ints, 0.)
        return Expr.atom("mod", a, b)
    return remainder


def maximum(*args: Expr) -> Expr:
    return _extremum("max", *args)


def minimum(*args: Expr) -> Expr:
    return _extremum("min", *args)


def _extremum(op: str, *args: Expr) -> Expr:
    """max/min of the arguments, flattened (`max(m, max(m, n))` is `max(m, n)`), with an
    argument dropped where a constant difference decides it."""
    items: list[Expr] = []
    for value in map(as_expr, args):
        nested = _lone_atom(value)
        items += list(nested.args) if nested is not None and nested.op == op else [value]
    kept: list[Expr] = []
    for item in items:
        dominated = False
        for other in list(kept):
            difference = item - other
            if difference.is_const:
                wins = difference.value > 0 if op == "max" else difference.value < 0
                if wins:
                    kept.remove(other)
                else:
                    dominated = True
        if not dominated:
            kept.append(item)
    if len(kept) == 1:
        return kept[0]
    return Expr.atom(op, *sorted(kept, key=Expr.sort_key))


def sqrt(a: Expr) -> Expr:
    a = as_expr(a)
    if a.is_const and a.value >= 0:
        root = math.isqrt(a.value.numerator) if a.value.denominator == 1 else None
        if root is not None and root * root == a.value:
            return Expr.const(root)
    return Expr.atom("sqrt", a)


def simplify(expr: Expr, facts: Facts) -> Expr:
    """Re-fold atoms with what `facts` now knows (e.g. a divisibility proven later)."""

    if expr.plain_symbols() is not None:
        return expr  # no atom to re-fold
    refolded = facts.refolded.get(expr)
    if refolded is not None:
        return refolded

    def base(factor: Factor) -> Expr:
        if isinstance(factor, str):
            return Expr.symbol(factor)
        return _rebuild(factor.op, [simplify(arg, facts) for arg in factor.args], facts)

    refolded = facts.refolded[expr] = replace_factors(expr, base)
    return refolded


def replace_factors(expr: Expr, base: Callable[[Factor], Expr]) -> Expr:
    """`expr` with each factor replaced by `base(factor)`.

    Negative powers are cleared first and the result divided once by the replaced common
    denominator: replacing `g` by `h + w` in `c/g` must give `c // (h + w)` (exact), not
    `c * (1 // (h + w))`, which is 0.
    """
    bases = {factor: base(factor) for monomial in expr.terms for factor, _ in monomial}
    if all(replacement.terms == {((factor, 1),): 1} for factor, replacement in bases.items()):
        return expr  # every factor stands for itself (the common case: an expression already normal)
    _, denominator = _lcm_denominator(expr)
    numerator = expr * Expr({denominator: 1}) if denominator else expr

    def replaced(polynomial: Expr) -> Expr:
        result = Expr.const(0)
        for monomial, coefficient in polynomial.terms.items():
            term = Expr.const(coefficient)
            for factor, exponent in monomial:
                term = term * bases[factor] ** exponent
            result = result + term
        return result

    if not denominator:
        return replaced(numerator)
    divisor = replaced(Expr({denominator: 1}))
    if divisor == Expr.const(0):
        raise ZeroDivisionError("a denominator became zero")
    return replaced(numerator).exact_div(divisor)


def _rebuild(op: str, args: list[Expr], facts: Facts) -> Expr:
    if op == "floordiv":
        return floordiv(args[0], args[1], facts)
    if op == "max":
        return maximum(*args)
    if op == "min":
        return minimum(*args)
    if op == "sqrt":
        return sqrt(args[0])
    if op == "truediv":
        return truediv(args[0], args[1])
    if op == "mod":
        return mod(args[0], args[1], facts)
    if op == "pow":
        return power(args[0], args[1])
    return Expr.atom(op, *args)


def power(base: Expr, exponent: Expr) -> Expr:
    """`base ** exponent` for a whole exponent an argument gives (`2 ** floor(log2(h))`):
    computed once both are numbers (a whole exponent at least 0), else an atom."""
    base, exponent = as_expr(base), as_expr(exponent)
    if base.is_const and exponent.is_const and exponent.value.denominator == 1 and exponent.value >= 0:
        return Expr.const(base.value ** int(exponent.value))
    return Expr.atom("pow", base, exponent)


def substitute(expr: Expr, mapping: dict[str, Expr], facts: Facts | None = None,
               memo: dict[Expr, Expr] | None = None) -> Expr:
    """Replace symbols by expressions (used to instantiate a sub-block's shapes). `memo`, if
    given, keeps the results for this mapping and these facts, sub-expressions included:
    a caller substituting the same mapping many times (the checker's lets) passes one."""
    plain = expr.plain_symbols()
    if plain is not None and plain.isdisjoint(mapping):
        return expr  # nothing to replace, no atom to re-fold
    if memo is not None and expr in memo:
        return memo[expr]
    facts = facts or Facts()

    def base(factor: Factor) -> Expr:
        if isinstance(factor, str):
            replacement = mapping.get(factor)
            return Expr.symbol(factor) if replacement is None else replacement
        return _rebuild(factor.op, [substitute(a, mapping, facts, memo) for a in factor.args], facts)

    result = replace_factors(expr, base)
    if memo is not None:
        memo[expr] = result
    return result


def expand(expr: Expr, definitions: dict[str, Expr]) -> Expr:
    """`expr` with every defined name replaced until none is left: a definition may use
    another (`h''` is defined from `h'`), so one pass per definition at the most."""
    if definitions.keys().isdisjoint(expr.symbol_set()):
        return expr  # nothing defined in it (most calls)
    # The checker expands the same sizes under the same definitions in every world and at
    # every check that reads them: the result depends on those two only.
    key = (expr, tuple(definitions.items()))
    expanded = _EXPANDED.get(key)
    if expanded is None:
        expanded = expr
        for _ in range(len(definitions) + 1):
            if definitions.keys().isdisjoint(expanded.symbol_set()):
                break
            expanded = substitute(expanded, definitions)
        if len(_EXPANDED) > 20_000:
            _EXPANDED.clear()
        _EXPANDED[key] = expanded
    return expanded


_EXPANDED: dict[tuple, Expr] = {}  # expand's results, by (expression, definitions in order)


def evaluate(expr: Expr, values: dict[str, Scalar]) -> Fraction:
    """The value of `expr` with every symbol given (floor semantics for floordiv)."""
    # The passes evaluate the same sizes at the same example values again and again (each
    # pass that weighs two orders of a product asks for every example's values).
    key = (expr, tuple(values.items()))
    value = _EVALUATED.get(key)
    if value is None:
        result = substitute(expr, {k: Expr.const(v) for k, v in values.items()})
        if not result.is_const:
            raise ValueError(f"{expr} has no rational value at {values} (left: {result})")
        value = result.value
        if len(_EVALUATED) > 20_000:
            _EVALUATED.clear()
        _EVALUATED[key] = value
    return value


_EVALUATED: dict[tuple, Fraction] = {}  # evaluate's results, by (expression, values in order)


# ---------------------------------------------------------------------------- rendering
