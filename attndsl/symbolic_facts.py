"""`Facts`: what is known to be an integer (dims, int arguments, proven divisions), and the
rules that decide whether an expression is whole under them (a whole multiple of a known
whole term, a product of known whole quotients)."""

from __future__ import annotations

from fractions import Fraction

from .symbolic_core import Expr, Factor


class Facts:
    """What is known to be an integer: dims, int arguments, and proven divisions."""

    def __init__(self, reals=()) -> None:
        self.integers: set[Expr] = set()
        self.reals = frozenset(reals)  # symbols that may hold any real number (float arguments)
        # Floor divisions folded under these facts, by (numerator, divisor): substitution and
        # re-folding rebuild the same few (a conv's output size) thousands of times a spec.
        self.quotients: dict[tuple[Expr, Expr], Expr] = {}
        self.refolded: dict[Expr, Expr] = {}  # `simplify`'s results under these facts

    def add_integer(self, expr: Expr) -> None:
        if expr not in self.integers:
            self.integers.add(expr)
            self.quotients.clear()  # a division may fold now that did not
            self.refolded.clear()

    def is_integer(self, expr: Expr) -> bool:
        if expr in self.integers:
            return True
        for monomial, coefficient in expr.terms.items():
            term = Expr({monomial: coefficient})
            if term in self.integers:
                continue
            if coefficient.denominator != 1:
                if self._whole_multiple(monomial, coefficient):
                    continue
                return False
            if Expr({monomial: 1}) in self.integers:
                continue
            if any(e < 0 for _, e in monomial) and self._product_of_known(monomial):
                continue
            if any(e < 0 for _, e in monomial) or not all(self._factor_is_integer(f) for f, _ in monomial):
                return False
        return True

    def _product_of_known(self, monomial) -> bool:
        """`H*W/(ws*ws)` where `H/ws` and `W/ws` are known whole: the monomial divided by known
        whole monomials (one at a time, each as often as it goes) down to whole factors."""
        powers = dict(monomial)
        known = [dict(next(iter(k.terms))) for k in self.integers
                 if len(k.terms) == 1 and next(iter(k.terms.values())) == 1 and
                 any(e < 0 for _, e in next(iter(k.terms)))]
        for _ in range(8):  # a few divisions: products of a handful of known quotients
            if not any(e < 0 for e in powers.values()):
                break
            for divisor in known:
                # dividing by `H/ws` removes a negative power of `ws` and a positive one of `H`
                if all(powers.get(f, 0) * e > 0 and abs(powers.get(f, 0)) >= abs(e) for f, e in divisor.items()):
                    for f, e in divisor.items():
                        powers[f] -= e
                    break
            else:
                return False
        return not any(e < 0 for e in powers.values()) and \
            all(self._factor_is_integer(f) for f, e in powers.items() if e)

    def _whole_multiple(self, monomial, coefficient) -> bool:
        """`-d/2` or `3d/2` where `d/2` is known whole (`require d % 2 == 0`): a whole multiple of
        a term the facts hold."""
        for known in self.integers:
            known_coefficient = known.terms.get(monomial) if len(known.terms) == 1 else None
            if known_coefficient is not None and (Fraction(coefficient) / Fraction(known_coefficient)).denominator == 1:
                return True
        return False

    def _factor_is_integer(self, factor: Factor) -> bool:
        if isinstance(factor, str):
            return factor not in self.reals
        if factor.op in ("floordiv", "ceildiv", "mod", "int", "round", "math.ceil", "math.floor", "item"):
            return True
        if Expr.atom(factor.op, *factor.args) in self.integers:
            return True
        if factor.op in ("max", "min", "abs"):
            return all(self.is_integer(arg) for arg in factor.args)
        return False  # sqrt
