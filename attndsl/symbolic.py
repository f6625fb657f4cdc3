"""A small canonical form for integer shape arithmetic.

Dimensions are sums of terms `coefficient * monomial`, where a monomial is a product of
factors raised to integer powers (negative powers arise from exact division such as the
`c/g` of a rearrange that splits `(g c)`). A factor is a symbol (a dim like `h`, a
constructor argument like `groups`) or an opaque atom for what the form cannot expand
(`a // b` when `b` is not known to divide `a`, `max`, `min`, `%`, `sqrt`).

Two expressions are equal exactly when their canonical forms are equal, which is what
the shape checker needs; sympy would do the same but costs ~0.3 s to import on the
compile path. `tests/test_symbolic.py` property-tests this module against sympy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache, reduce
from typing import Callable, Union

Scalar = Union[int, Fraction]


@dataclass(frozen=True, order=True)
class Atom:
    """An opaque factor: an operation the canonical form keeps unexpanded."""

    op: str  # "floordiv", "mod", "max", "min", "sqrt", "ceildiv"
    args: tuple["Expr", ...]

    def sort_key(self) -> str:
        return _atom_key(self)


Factor = Union[str, Atom]
Monomial = tuple[tuple[Factor, int], ...]  # sorted (factor, exponent != 0) pairs


_TEXTS: dict = {}


@lru_cache(maxsize=65536)
def _atom_key(atom: "Atom") -> str:
    return f"{atom.op}({','.join(str(a) for a in atom.args)})"


def _factor_key(factor: Factor) -> tuple[int, str]:
    return (0, factor) if isinstance(factor, str) else (1, factor.sort_key())


def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    powers: dict[Factor, int] = dict(a)
    for factor, exponent in b:
        powers[factor] = powers.get(factor, 0) + exponent
    return tuple(sorted(((f, e) for f, e in powers.items() if e), key=lambda fe: _factor_key(fe[0])))


def _mono_pow(a: Monomial, n: int) -> Monomial:
    return tuple((f, e * n) for f, e in a)


class Expr:
    """An immutable, hashable canonical polynomial (with Laurent monomials and atoms)."""

    __slots__ = ("terms", "_hash", "_text", "_plain")

    def __init__(self, terms: dict[Monomial, Fraction]):
        self._text = None  # its rendering, made once: sorting canonical forms asks for it often
        self._plain = False  # not yet computed (see `plain_symbols`)
        self.terms = {m: c for m, c in terms.items() if c != 0}
        self._hash = hash(frozenset(self.terms.items()))

    # ------------------------------------------------------------------ construction
    @staticmethod
    def const(value: Scalar) -> "Expr":
        if type(value) is int and -64 <= value <= 64:
            return _SMALL_CONSTANTS[value]
        return Expr({(): Fraction(value)})

    @staticmethod
    def symbol(name: str) -> "Expr":
        return Expr({((name, 1),): Fraction(1)})

    @staticmethod
    def atom(op: str, *args: "Expr") -> "Expr":
        return Expr({((Atom(op, tuple(args)), 1),): Fraction(1)})

    # ------------------------------------------------------------------ queries
    @property
    def is_const(self) -> bool:
        return all(m == () for m in self.terms)

    @property
    def value(self) -> Fraction:
        """The constant value; only valid when `is_const`."""
        return self.terms.get((), Fraction(0))

    @property
    def is_monomial(self) -> bool:
        return len(self.terms) == 1

    def plain_symbols(self) -> frozenset[str] | None:
        """Its symbols when it has no atom (a plain polynomial), else None: what substitution
        and re-folding look at to leave an expression they cannot change as it is."""
        if self._plain is False:
            found: set[str] = set()
            for monomial in self.terms:
                for factor, _ in monomial:
                    if not isinstance(factor, str):
                        self._plain = None
                        return None
                    found.add(factor)
            self._plain = frozenset(found)
        return self._plain

    def symbols(self) -> set[str]:
        found: set[str] = set()
        for monomial in self.terms:
            for factor, _ in monomial:
                if isinstance(factor, str):
                    found.add(factor)
                else:
                    for arg in factor.args:
                        found |= arg.symbols()
        return found

    def __eq__(self, other) -> bool:
        if other is self:
            return True
        if isinstance(other, (int, Fraction)):
            other = Expr.const(other)
        # Different hashes: different forms, without comparing their terms one by one.
        return isinstance(other, Expr) and self._hash == other._hash and self.terms == other.terms

    def __hash__(self) -> int:
        return self._hash

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other: "Expr | Scalar") -> "Expr":
        other = as_expr(other)
        terms = dict(self.terms)
        for monomial, coefficient in other.terms.items():
            terms[monomial] = terms.get(monomial, Fraction(0)) + coefficient
        return Expr(terms)

    __radd__ = __add__

    def __neg__(self) -> "Expr":
        return Expr({m: -c for m, c in self.terms.items()})

    def __sub__(self, other: "Expr | Scalar") -> "Expr":
        return self + (-as_expr(other))

    def __rsub__(self, other: "Expr | Scalar") -> "Expr":
        return as_expr(other) - self

    def __mul__(self, other: "Expr | Scalar") -> "Expr":
        other = as_expr(other)
        if other.is_const or self.is_const:  # scaling: no monomial changes (the common case)
            scalar, polynomial = (other, self) if other.is_const else (self, other)
            factor = scalar.value
            if factor == 1:
                return polynomial
            return Expr({m: c * factor for m, c in polynomial.terms.items()})
        terms: dict[Monomial, Fraction] = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in other.terms.items():
                monomial = _mono_mul(m1, m2)
                terms[monomial] = terms.get(monomial, Fraction(0)) + c1 * c2
        return Expr(terms)

    __rmul__ = __mul__

    def exact_div(self, other: "Expr | Scalar") -> "Expr":
        """self / other for a division known to be exact (other nonzero)."""
        other = as_expr(other)
        if not other.terms:
            raise ZeroDivisionError("division by zero in a shape expression")
        if other.is_monomial:
            ((monomial, coefficient),) = other.terms.items()
            inverse = Expr({_mono_pow(monomial, -1): 1 / coefficient})
            return self * inverse
        quotient = _polynomial_quotient(self, other)
        if quotient is not None:
            return quotient
        return Expr.atom("floordiv", self, other)

    def __pow__(self, exponent: int) -> "Expr":
        if exponent == 1:
            return self
        if exponent < 0:
            return Expr.const(1).exact_div(self**-exponent)
        return reduce(lambda acc, _: acc * self, range(exponent), Expr.const(1))

    # ------------------------------------------------------------------ rendering
    def __str__(self) -> str:
        if self._text is None:
            # Equal forms are rebuilt all the time (each substitution makes new ones): their
            # text, which orders canonical forms, is kept by value, not only per object.
            text = _TEXTS.get(self)
            if text is None:
                text = render(self, str, style="math")
                if len(_TEXTS) > 200_000:
                    _TEXTS.clear()
                _TEXTS[self] = text
            self._text = text
        return self._text

    def __repr__(self) -> str:
        return f"Expr({self})"

    def sort_key(self) -> str:
        return str(self)


_SMALL_CONSTANTS = {n: Expr({(): Fraction(n)}) for n in range(-64, 65)}


def as_expr(value: "Expr | Scalar") -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool):
        raise TypeError("booleans are not dimensions")
    return Expr.const(value)


def _polynomial_quotient(a: Expr, b: Expr) -> Expr | None:
    """Exact quotient a/b when b is a positive-integer multiple pattern we can see, else None."""
    if a == b:
        return Expr.const(1)
    if a.is_const and b.is_const and b.value != 0:
        return Expr.const(a.value / b.value)
    # a = k * b for a constant k?
    ratios = set()
    if set(a.terms) == set(b.terms):
        for monomial in a.terms:
            ratios.add(a.terms[monomial] / b.terms[monomial])
        if len(ratios) == 1:
            return Expr.const(ratios.pop())
    return None


# ---------------------------------------------------------------------------- facts


class Facts:
    """What is known to be an integer: dims, int arguments, and proven divisions."""

    def __init__(self, reals=()) -> None:
        self.integers: set[Expr] = set()
        self.reals = frozenset(reals)  # symbols that may hold any real number (float arguments)

    def add_integer(self, expr: Expr) -> None:
        self.integers.add(expr)

    def is_integer(self, expr: Expr) -> bool:
        if expr in self.integers:
            return True
        for monomial, coefficient in expr.terms.items():
            term = Expr({monomial: coefficient})
            if term in self.integers:
                continue
            if coefficient.denominator != 1:
                return False
            if Expr({monomial: Fraction(1)}) in self.integers:
                continue
            if any(e < 0 for _, e in monomial) or not all(self._factor_is_integer(f) for f, _ in monomial):
                return False
        return True

    def _factor_is_integer(self, factor: Factor) -> bool:
        if isinstance(factor, str):
            return factor not in self.reals
        if factor.op in ("floordiv", "ceildiv", "mod", "int", "round", "math.ceil", "math.floor"):
            return True
        if Expr.atom(factor.op, *factor.args) in self.integers:
            return True
        if factor.op in ("max", "min", "abs"):
            return all(self.is_integer(arg) for arg in factor.args)
        return False  # sqrt


# ---------------------------------------------------------------------------- operations
# These evaluate eagerly on constants and fold what the facts allow; everything else
# stays an atom so that equal inputs give equal canonical forms.


def floordiv(a: Expr, b: Expr, facts: Facts | None = None) -> Expr:
    a, b = as_expr(a), as_expr(b)
    if a.is_const and b.is_const:
        if b.value == 0:
            raise ZeroDivisionError("division by zero in a shape expression")
        return Expr.const(math.floor(a.value / b.value))
    quotient = a.exact_div(b)
    if _no_atom_floordiv(quotient, a, b) and (
        (facts if facts is not None else Facts()).is_integer(quotient)
    ):
        return quotient
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


def _lone_atom(expr: Expr) -> Atom | None:
    if expr.is_monomial:
        ((monomial, coefficient),) = expr.terms.items()
        if coefficient == 1 and len(monomial) == 1 and monomial[0][1] == 1 and isinstance(monomial[0][0], Atom):
            return monomial[0][0]
    return None


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

    def base(factor: Factor) -> Expr:
        if isinstance(factor, str):
            return Expr.symbol(factor)
        return _rebuild(factor.op, [simplify(arg, facts) for arg in factor.args], facts)

    return replace_factors(expr, base)


def replace_factors(expr: Expr, base: Callable[[Factor], Expr]) -> Expr:
    """`expr` with each factor replaced by `base(factor)`.

    Negative powers are cleared first and the result divided once by the replaced common
    denominator: replacing `g` by `h + w` in `c/g` must give `c // (h + w)` (exact), not
    `c * (1 // (h + w))`, which is 0.
    """
    _, denominator = _lcm_denominator(expr)
    numerator = expr * Expr({denominator: Fraction(1)}) if denominator else expr

    def replaced(polynomial: Expr) -> Expr:
        result = Expr.const(0)
        for monomial, coefficient in polynomial.terms.items():
            term = Expr.const(coefficient)
            for factor, exponent in monomial:
                term = term * base(factor) ** exponent
            result = result + term
        return result

    if not denominator:
        return replaced(numerator)
    divisor = replaced(Expr({denominator: Fraction(1)}))
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
    return Expr.atom(op, *args)


def substitute(expr: Expr, mapping: dict[str, Expr], facts: Facts | None = None) -> Expr:
    """Replace symbols by expressions (used to instantiate a sub-block's shapes)."""
    plain = expr.plain_symbols()
    if plain is not None and plain.isdisjoint(mapping):
        return expr  # nothing to replace, no atom to re-fold
    facts = facts or Facts()

    def base(factor: Factor) -> Expr:
        if isinstance(factor, str):
            return mapping.get(factor, Expr.symbol(factor))
        return _rebuild(factor.op, [substitute(a, mapping, facts) for a in factor.args], facts)

    return replace_factors(expr, base)


def evaluate(expr: Expr, values: dict[str, Scalar]) -> Fraction:
    """The value of `expr` with every symbol given (floor semantics for floordiv)."""
    result = substitute(expr, {k: Expr.const(v) for k, v in values.items()})
    if not result.is_const:
        raise ValueError(f"{expr} has no rational value at {values} (left: {result})")
    return result.value


# ---------------------------------------------------------------------------- rendering


def _lcm_denominator(expr: Expr) -> tuple[int, Monomial]:
    """The common denominator (constant and monomial) that clears negative powers."""
    constant = reduce(math.lcm, (c.denominator for c in expr.terms.values()), 1)
    powers: dict[Factor, int] = {}
    for monomial in expr.terms:
        for factor, exponent in monomial:
            if exponent < 0:
                powers[factor] = max(powers.get(factor, 0), -exponent)
    monomial = tuple(sorted(powers.items(), key=lambda fe: _factor_key(fe[0])))
    return constant, monomial


# Rendering lives in its own module; imported last, as it builds on the form above.
from .symbolic_render import precedence, render  # noqa: E402,F401
