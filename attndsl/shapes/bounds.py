"""Lower bounds and signs of sizes, from what a View knows: each symbol's bound, the
bounds facts give to whole expressions, and the rules that combine them (a sum of
non-negative terms, a remainder, a floor quotient, a product of positive factors).
A mixin of View (attndsl/shapes/view.py), whose normal forms it bounds.
"""

from __future__ import annotations

import copy
import math
from fractions import Fraction

from ..symbolic import Expr


def primitive(expr: Expr) -> tuple[Expr, Fraction]:
    """`expr` as `scale * part`, scale > 0 the content of its coefficients (the gcd of their
    numerators over the lcm of their denominators): `2*h - 4*k` is 2 * (h - 2*k), so that a
    bound learnt on `2*hidden` answers a question about `hidden`."""
    numerators = denominators = 0
    for coefficient in expr.terms.values():
        numerators = math.gcd(numerators, coefficient.numerator)
        denominators = math.lcm(denominators or 1, coefficient.denominator)
    if numerators == 0:
        return expr, Fraction(1)
    scale = Fraction(numerators, denominators)
    if scale == 1:
        return expr, scale
    return Expr({monomial: coefficient / scale for monomial, coefficient in expr.terms.items()}), scale


class Bounds:
    def symbol_bound(self, symbol: str) -> Fraction | None:
        known = self.bounds.get(symbol)
        learnt = self.expr_bounds.get(Expr.symbol(symbol))  # a let's bound is kept on its value's form
        if learnt is not None:
            known = learnt if known is None else max(known, learnt)
        if symbol in self.knowledge.dims:
            return max(known, Fraction(1)) if known is not None else Fraction(1)  # sizes are taken to be >= 1
        if symbol.startswith("len("):
            return max(known, Fraction(0)) if known is not None else Fraction(0)
        derived = self._bound_through_differences(symbol)
        return derived if known is None else known if derived is None else max(known, derived)

    def _bound_through_differences(self, symbol: str) -> Fraction | None:
        """`dist >= 2` from `dist - nb >= 1` and `nb >= 1` (`require dist > nb`): a bound on a
        difference, and the other side's lower bound. Each symbol once down a chain of them
        (`a - b >= 0`, `b - a >= 0` would go round)."""
        if symbol in self._deriving or not self.expr_bounds:
            return None
        self._deriving.add(symbol)
        try:
            best = None
            alone = ((symbol, 1),)
            for part, bound in list(self.expr_bounds.items()):
                coefficient = part.terms.get(alone)
                if coefficient is None or coefficient <= 0 or len(part.terms) < 2:
                    continue
                others = part - Expr({alone: coefficient})
                if symbol in others.symbols():
                    continue
                low = self.lower_bound(-others, normalized=True)
                if low is not None:
                    candidate = (bound + low) / coefficient
                    best = candidate if best is None else max(best, candidate)
            return best
        finally:
            self._deriving.discard(symbol)

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
        part, scale = primitive(expr - constant)
        known = self.expr_bounds.get(part)  # `h - k + 2*(k//2) + 1` from `h - k + 2*(k//2) >= 0`
        if known is not None:
            return scale * known + constant
        termwise = self._termwise_bound(expr)
        if termwise is None and any(coefficient < 0 for coefficient in expr.terms.values()):
            bound = self._remainder_bound(expr)
            return bound if bound is not None else self._floor_bound(expr)
        if termwise is not None and termwise - constant < 1 and self._positive_whole(expr - constant):
            return constant + 1
        return termwise

    def _positive_whole(self, expr: Expr) -> bool:
        """A product of positive factors that is a whole number is at least 1: `n / l` once
        `n % l == 0` is known (the number of segments), though no upper bound of `l` is kept."""
        if not expr.is_monomial or expr.is_const:
            return False
        ((monomial, coefficient),) = expr.terms.items()
        return self._positive_term(monomial, coefficient) and self.integers.is_integer(expr)

    def _positive_term(self, monomial, coefficient) -> bool:
        """A positive coefficient times factors each known to be positive."""
        if coefficient <= 0:
            return False
        for factor, _ in monomial:
            low = self._factor_bound(factor)
            if low is None or low <= 0:
                return False
        return True

    def _termwise_bound(self, expr: Expr) -> Fraction | None:
        """The sum of each term's lower bound, where every term is a product of factors known
        not to be negative, with a positive coefficient."""
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
                if (low is None or low < 0) and exponent > 0 and exponent % 2 == 0:
                    product = Fraction(0)  # a square is not negative, whatever the sign of its root
                    continue
                if low is None or low < 0 or (exponent < 0 and low <= 0):
                    return None
                # no upper bounds are tracked, so 1/x (x >= low > 0) is only known positive:
                # its lower bound is 0 (`1 / sqrt(d) >= 0` needs no check)
                product *= low**exponent if exponent > 0 else 0
            total += coefficient * product
        return total

    def _remainder_bound(self, expr: Expr) -> Fraction | None:
        """`a % m`, which the normal form writes `a - m*(a // m)`, is at least 0 for m > 0:
        a term `-k*m*(a // m)` is taken with `k*a` as k times a remainder, and the rest
        bounded (`(ws - W % ws) % ws >= 0`, Twins' padding). A term `-k*(a // m)` with a
        constant m > 0 is at least `-k*a/m` (`p - p // 2 >= 0` for p >= 0, a pad's far side)."""
        for monomial, coefficient in expr.terms.items():
            if coefficient >= 0:
                continue
            for factor, exponent in monomial:
                if isinstance(factor, str) or factor.op != "floordiv" or exponent != 1:
                    continue
                dividend, divisor = factor.args
                quotient = Expr({((factor, 1),): Fraction(1)})
                if len(monomial) == 1 and divisor.is_const and divisor.value > 0:
                    # `a - a // 2`: a quotient is at most the true one, `a // m <= a / m`
                    rest = expr - coefficient * quotient + coefficient * dividend * Fraction(1, divisor.value)
                    bound = self.lower_bound(rest, normalized=True)
                    if bound is not None:
                        return bound
                    continue
                if Expr({monomial: Fraction(1)}) != divisor * quotient:
                    continue
                low = self.lower_bound(divisor, normalized=True)
                if low is None or low <= 0:
                    continue
                # no normal(): a bound depends on bounds only (views with equal bounds share extrema)
                rest = expr + coefficient * (dividend - divisor * quotient)
                bound = self.lower_bound(rest, normalized=True)
                if bound is not None:
                    return bound
        return None

    def _floor_bound(self, expr: Expr) -> Fraction | None:
        """A term `c*(a // m)` (c > 0, a whole, m a constant > 0) is at least `c*(a - m + 1)/m`:
        `h + 2*(k // 2) - k >= h - 1`, so a kernel padded by half of it fits any input (a
        conv's `k` against `padding=k // 2`)."""
        for monomial, coefficient in expr.terms.items():
            quotients = [f for f, e in monomial if not isinstance(f, str) and f.op == "floordiv" and e == 1]
            if coefficient <= 0 or len(quotients) != 1:
                continue
            factor = quotients[0]
            # the other factors, known not negative (`d` of `2*d*(k // 2)`, a dilated kernel's padding)
            others = Expr({tuple((f, e) for f, e in monomial if f != factor): Fraction(1)})
            low = self.lower_bound(others, normalized=True)
            if low is None or low < 0:
                continue
            dividend, divisor = factor.args
            if not (divisor.is_const and divisor.value > 0 and Fraction(divisor.value).denominator == 1
                    and self.integers.is_integer(dividend)):
                continue
            floor = (dividend - (divisor.value - 1)) * Fraction(1, divisor.value)  # the least a // m can be
            rest = expr - coefficient * others * Expr({((factor, 1),): Fraction(1)}) + coefficient * others * floor
            bound = self.lower_bound(rest, normalized=True)
            if bound is not None:
                return bound
        return None

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
        if factor.op == "item":  # `ws[i]`: what a `require all(...)` said of every item
            return self.expr_bounds.get(Expr({((factor, 1),): Fraction(1)}))
        if factor.op == "pow":  # b ** k, k >= 0 whole: at least b ** (least k) for b >= 1
            base, exponent = (self.lower_bound(arg, normalized=True) for arg in factor.args)
            if base is None or base < 1 or exponent is None or exponent < 0:
                return None
            return base ** math.ceil(exponent)
        if factor.op in ("math.floor", "math.ceil", "int", "round"):  # whole numbers of x: at least floor(least x)
            low = self.lower_bound(factor.args[0], normalized=True)
            return Fraction(math.floor(low)) if low is not None else None
        if factor.op == "math.log2":  # increasing: log2 of the least x, for x at least 1
            low = self.lower_bound(factor.args[0], normalized=True)
            return Fraction(math.floor(math.log2(low))) if low is not None and low >= 1 else None
        return None

    def assuming(self, bounds: dict) -> "Bounds":
        """The same facts, with lower bounds assumed for some symbols (to blame arguments)."""
        other = copy.copy(self)
        other.bounds = {**self.bounds, **{name: Fraction(low) for name, low in bounds.items()}}
        other._bounds, other._extrema = {}, None
        return other

    def positive(self, expr: Expr) -> bool:
        """A sum of terms, each a positive coefficient times factors known to be positive:
        `dist / nb > 0` where both are at least 1 (no upper bounds are kept, so a quotient's
        lower bound is 0, and `at_least` cannot say so)."""
        normal = self.normal(expr)
        return bool(normal.terms) and all(self._positive_term(m, c) for m, c in normal.terms.items())

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
