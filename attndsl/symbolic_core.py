"""The canonical form itself: `Expr` (a sum of terms, each a coefficient times a product of
symbols and opaque atoms raised to integer powers) and `Atom`. attndsl/symbolic.py is the
module to import: it gathers this, what is known to be an integer (symbolic_facts.py), the
operations (symbolic_ops.py) and the rendering (symbolic_render.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache, reduce
from typing import Union

Scalar = Union[int, Fraction]


@dataclass(frozen=True, order=True)
class Atom:
    """An opaque factor: an operation the canonical form keeps unexpanded."""

    op: str  # "floordiv", "mod", "max", "min", "sqrt", "ceildiv", "item" (a list argument's, by a loop variable)
    args: tuple["Expr", ...]

    def __post_init__(self):
        # The hash the dataclass would compute on every call, made once: atoms sit inside the
        # monomials that key every canonical form's terms.
        object.__setattr__(self, "_hash", hash((self.op, self.args)))

    def __hash__(self) -> int:
        return self._hash

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

    __slots__ = ("terms", "_hash", "_text", "_plain", "_symbols")

    def __init__(self, terms: dict[Monomial, Scalar]):
        self._text = None  # its rendering, made once: sorting canonical forms asks for it often
        self._plain = False  # not yet computed (see `plain_symbols`)
        self._hash = None  # made when first asked: most forms are partial sums, never hashed
        self._symbols = None  # see `symbols`
        # A whole coefficient is kept as an int, the rest as Fractions: shapes are almost all
        # whole, and int arithmetic and hashing are many times faster than Fraction's.
        kept = {}
        for monomial, coefficient in terms.items():
            if coefficient:
                if type(coefficient) is not int and coefficient.denominator == 1:
                    coefficient = coefficient.numerator
                kept[monomial] = coefficient
        self.terms = kept

    @classmethod
    def _kept(cls, terms: dict[Monomial, Scalar]) -> "Expr":
        """A form of terms already as `__init__` keeps them (no zero, whole coefficients ints)."""
        expr = object.__new__(cls)
        expr._text, expr._plain, expr._hash, expr._symbols, expr.terms = None, False, None, None, terms
        return expr

    # ------------------------------------------------------------------ construction
    @staticmethod
    def const(value: Scalar) -> "Expr":
        if type(value) is int and -64 <= value <= 64:
            return _SMALL_CONSTANTS[value]
        return Expr({(): value})

    @staticmethod
    def symbol(name: str) -> "Expr":
        # Forms are immutable, so one per name serves every caller (substitution asks for the
        # symbols it leaves as they are, thousands of times a spec).
        expr = _SYMBOLS.get(name)
        if expr is None:
            expr = Expr._kept({((name, 1),): 1})
            if len(_SYMBOLS) > 100_000:
                _SYMBOLS.clear()
            _SYMBOLS[name] = expr
        return expr

    @staticmethod
    def atom(op: str, *args: "Expr") -> "Expr":
        return Expr({((Atom(op, tuple(args)), 1),): 1})

    # ------------------------------------------------------------------ queries
    @property
    def is_const(self) -> bool:
        terms = self.terms  # no monomial but the empty one (keys are distinct)
        return not terms or (len(terms) == 1 and () in terms)

    @property
    def value(self) -> Fraction:
        """The constant value, as a Fraction; only valid when `is_const`."""
        return Fraction(self.terms.get((), 0))

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
        """Its symbols, atoms' arguments included: a new set each time, callers add to it."""
        return set(self.symbol_set())

    def symbol_set(self) -> frozenset[str]:
        """Its symbols, as `symbols`, without the copy: for the many callers that only read them."""
        if self._symbols is None:
            # Found once: the checker asks it of the same forms again and again (expanding
            # named sizes, following substitutions).
            found: set[str] = set()
            for monomial in self.terms:
                for factor, _ in monomial:
                    if isinstance(factor, str):
                        found.add(factor)
                    else:
                        for arg in factor.args:
                            found |= arg.symbol_set()
            self._symbols = frozenset(found)
        return self._symbols

    def __eq__(self, other) -> bool:
        if other is self:
            return True
        if not isinstance(other, Expr):  # asked first: an Expr is the common case, and testing
            if not isinstance(other, (int, Fraction)):  # for a Fraction (an ABC) is slow
                return False
            other = Expr.const(other)
        # Different hashes: different forms, without comparing their terms one by one.
        return hash(self) == hash(other) and self.terms == other.terms

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self.terms.items()))
        return self._hash

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other: "Expr | Scalar") -> "Expr":
        other = as_expr(other)
        if not other.terms:  # adding zero (sums start from it): forms are immutable, share them
            return self
        if not self.terms:
            return other
        terms = dict(self.terms)
        for monomial, coefficient in other.terms.items():
            terms[monomial] = terms.get(monomial, 0) + coefficient
        return Expr(terms)

    __radd__ = __add__

    def __neg__(self) -> "Expr":
        return Expr._kept({m: -c for m, c in self.terms.items()})

    def __sub__(self, other: "Expr | Scalar") -> "Expr":
        other = as_expr(other)
        if not other.terms:
            return self
        terms = dict(self.terms)  # as `self + (-other)`, without making `-other`
        for monomial, coefficient in other.terms.items():
            terms[monomial] = terms.get(monomial, 0) - coefficient
        return Expr(terms)

    def __rsub__(self, other: "Expr | Scalar") -> "Expr":
        return as_expr(other) - self

    def __mul__(self, other: "Expr | Scalar") -> "Expr":
        other = as_expr(other)
        if other.is_const or self.is_const:  # scaling: no monomial changes (the common case)
            scalar, polynomial = (other, self) if other.is_const else (self, other)
            factor = scalar.terms.get((), 0)
            if factor == 1:
                return polynomial
            return Expr({m: c * factor for m, c in polynomial.terms.items()})
        terms: dict[Monomial, Scalar] = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in other.terms.items():
                monomial = _mono_mul(m1, m2)
                terms[monomial] = terms.get(monomial, 0) + c1 * c2
        return Expr(terms)

    __rmul__ = __mul__

    def exact_div(self, other: "Expr | Scalar") -> "Expr":
        """self / other for a division known to be exact (other nonzero)."""
        other = as_expr(other)
        if not other.terms:
            raise ZeroDivisionError("division by zero in a shape expression")
        if other.is_monomial:
            ((monomial, coefficient),) = other.terms.items()
            if not monomial and type(coefficient) is int:  # by a whole number (the common case)
                if coefficient == 1:
                    return self
                return Expr({m: Fraction(c, coefficient) if type(c) is int else c / coefficient
                             for m, c in self.terms.items()})
            inverse = Expr({_mono_pow(monomial, -1): Fraction(1) / coefficient})
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
                from .symbolic_render import render  # which builds on this module

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


_SMALL_CONSTANTS = {n: Expr({(): n}) for n in range(-64, 65)}
_SYMBOLS: dict[str, Expr] = {}  # Expr.symbol's forms, by name


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
            ratios.add(Fraction(a.terms[monomial]) / b.terms[monomial])
        if len(ratios) == 1:
            return Expr.const(ratios.pop())
    if len(b.terms) > 1:
        return _long_division(a, b)
    return None


def _long_division(a: Expr, b: Expr) -> Expr | None:
    """a / b by polynomial long division when it leaves no remainder (`(n + n*n) / (n + 1)`
    is `n`, Transformer-XL's relative shift), else None. Polynomials only: a negative power
    would let the division run on without end."""
    if any(exponent < 0 for expr in (a, b) for monomial in expr.terms for _, exponent in monomial):
        return None
    # graded lexicographic order, the factors ranked by their sort keys: the leading term of
    # a product is the product of the leading terms, so each step removes the remainder's
    factors = sorted({factor for expr in (a, b) for monomial in expr.terms for factor, _ in monomial},
                     key=_factor_key)

    def order(monomial: Monomial) -> tuple:
        powers = dict(monomial)
        return (sum(powers.values()), tuple(powers.get(factor, 0) for factor in factors))

    lead = max(b.terms, key=order)
    quotient: dict[Monomial, Scalar] = {}
    remainder = a
    for _ in range(4 * len(a.terms) + 4):  # each step removes the leading term; terms may grow a little
        if not remainder.terms:
            return Expr(quotient)
        top = max(remainder.terms, key=order)
        step = _mono_mul(top, _mono_pow(lead, -1))
        if any(exponent < 0 for _, exponent in step):
            return None  # the leading term does not divide: not exact
        coefficient = Fraction(remainder.terms[top]) / b.terms[lead]
        quotient[step] = quotient.get(step, 0) + coefficient
        remainder = remainder - Expr({step: coefficient}) * b
    return None


def lone_factor(expr: Expr) -> Factor | None:
    """The symbol or atom `expr` is, alone (`h`, `a // 2`); None for anything else (`2*h`, `h + 1`)."""
    if expr.is_monomial:
        ((monomial, coefficient),) = expr.terms.items()
        if coefficient == 1 and len(monomial) == 1 and monomial[0][1] == 1:
            return monomial[0][0]
    return None


def _lone_atom(expr: Expr) -> Atom | None:
    factor = lone_factor(expr)
    return factor if isinstance(factor, Atom) else None


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
