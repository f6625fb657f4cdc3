"""Rendering the canonical form of attndsl/symbolic.py: as Python (`//` where a division is
exact, `self.`-prefixed names through a callback) or as math (`/`), with the fewest
brackets precedence allows and the terms in the order a block introduces its names.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

from .symbolic_core import Atom, Expr, Monomial, _factor_key, _lcm_denominator, _lone_atom


def render(expr: Expr, name: Callable[[str], str], *, style: str = "python", order: Callable | None = None) -> str:
    """Render as Python (`//` for exact division) or as math (`/`) with names from `name`;
    "shape" is math that shows a product of two sums factored, `b*(H + p)*(W + q)`; "real"
    is Python for a real number (`n / 2`, what ceil() or sqrt() takes); "float" is Python
    with float coefficients (`0.5 * n`).

    `order` maps a symbol to a sort key for display (e.g. the order in which a block
    introduces its dims and arguments, so `b*G` reads as the source does); the
    canonical form itself does not depend on it."""
    factor = style == "shape"  # math, with a product of two sums shown as one (shape comments)
    style = "math" if factor else style
    if len(expr.terms) == 1:  # a lone symbol or a whole number, the most common forms, at once
        ((monomial, coefficient),) = expr.terms.items()
        if not monomial and type(coefficient) is int:
            return str(coefficient)
        if coefficient == 1 and len(monomial) == 1 and monomial[0][1] == 1 and isinstance(monomial[0][0], str):
            return name(monomial[0][0])
    root = _inverse_root(expr) if style != "math" else None
    if root is not None:  # `d ** -0.5`, as written, not `1 / d ** 0.5` (which rounds differently)
        return _render_atom(root, name, style, order).removesuffix(" ** 0.5") + " ** -0.5"
    divide = "//" if style == "python" else "/"  # (a real number's quotient is a true division)
    constant, denominator = _lcm_denominator(expr)
    if style == "float":
        constant = 1  # float coefficients render as literals (1e-05), not as fractions
    if constant != 1 or denominator:
        numerator = expr * Expr({(): Fraction(constant)}) * Expr({denominator: Fraction(1)})
        denominator_expr = Expr({denominator: Fraction(constant)})
        factored = _render_factored(numerator, name, order) if factor else None
        top = factored or _render_sum(numerator, name, style, order)
        bottom = _render_sum(denominator_expr, name, style, order)
        if not factored and (not numerator.is_monomial or numerator.terms.get((), 1) < 0):
            top = f"({top})"
        if not (denominator_expr.is_const or (len(denominator) == 1 and constant == 1 and denominator[0][1] == 1)):
            bottom = f"({bottom})"
        return f"{top} {divide} {bottom}" if style in ("python", "real") else f"{top}/{bottom}"
    text = (_render_factored(expr, name, order) if factor else None) or \
        _render_sum(expr, name, style, order)
    if _is_bare_floordiv(expr) and not (style == "math" and _ceiling(next(iter(expr.terms))[0][0])):
        return text[1:-1]  # `a // b` on its own needs no parentheses
    return text


# Python's operator precedences, as attndsl.ops numbers them, for what `render` writes.
_ADD, _MUL, _UNARY, _POWER, _ATOM = 11, 12, 13, 14, 100


def precedence(expr: Expr, style: str = "python") -> int:
    """How tightly `render(expr, ..., style=style)` binds: the precedence of its top-level
    operator, so a caller knows when to parenthesise it (`x * (d // 2)`, not `x * d // 2`)."""
    if style != "math" and _inverse_root(expr) is not None:
        return _POWER  # `d ** -0.5`
    constant, denominator = _lcm_denominator(expr)
    if style == "float":
        constant = 1
    if constant != 1 or denominator:
        return _MUL  # `top // bottom`, `top/bottom`
    if not expr.terms:
        return _ATOM
    if len(expr.terms) > 1:
        return _ADD
    ((monomial, coefficient),) = expr.terms.items()
    if not monomial:
        return _UNARY if coefficient < 0 else _ATOM
    factors = sum(exponent for _, exponent in monomial)
    if abs(coefficient) != 1 or factors > 1:
        return _MUL  # `2 * a`, `-2 * a` (which is `(-2) * a`), `a * b`
    factor = monomial[0][0]
    if isinstance(factor, str):
        inner = _ATOM
    elif factor.op == "floordiv":
        inner = _MUL if coefficient == 1 else _ATOM  # bare `a // b`; under a minus it keeps its parentheses
    elif factor.op == "sqrt" and style != "math":
        inner = _POWER  # `x ** 0.5`
    else:
        inner = _ATOM  # max(...), min(...)
    return min(inner, _UNARY) if coefficient < 0 else inner


def _inverse_root(expr: Expr) -> Atom | None:
    """The square root `expr` is the inverse of, alone (`d ** -0.5`); None for anything else."""
    if not expr.is_monomial:
        return None
    ((monomial, coefficient),) = expr.terms.items()
    if coefficient != 1 or len(monomial) != 1 or monomial[0][1] != -1:
        return None
    factor = monomial[0][0]
    return factor if isinstance(factor, Atom) and factor.op == "sqrt" else None


def _is_bare_floordiv(expr: Expr) -> bool:
    if not expr.is_monomial:
        return False
    ((monomial, coefficient),) = expr.terms.items()
    return (coefficient == 1 and len(monomial) == 1 and monomial[0][1] == 1
            and isinstance(monomial[0][0], Atom) and monomial[0][0].op == "floordiv")


def _display_key(order):
    def key(factor):
        if isinstance(factor, str) and order is not None:
            return (0, order(factor), factor)
        return (0, (), factor) if isinstance(factor, str) else (1, (), factor.sort_key())

    return key


def _render_sum(expr: Expr, name, style, order=None) -> str:
    if not expr.terms:
        return "0"
    key = _display_key(order)
    ordered = sorted(expr.terms.items(), key=lambda mc: (len(mc[0]) == 0, sorted((key(f), e) for f, e in mc[0])))
    if style == "math":  # each `(-h) // k` is shown as -ceil(h/k): its sign goes to the term
        ordered = [(m, -c if sum(e for f, e in m if _ceiling(f)) % 2 else c) for m, c in ordered]
    if ordered[0][1] < 0:  # `2 - d`, not `-d + 2`: lead with a positive term where there is one
        first_positive = next((i for i, (_, c) in enumerate(ordered) if c > 0), None)
        if first_positive is not None:
            ordered.insert(0, ordered.pop(first_positive))
    parts: list[str] = []
    for monomial, coefficient in ordered:
        text = _render_term(monomial, abs(coefficient), name, style, order)
        sign = "-" if coefficient < 0 else "+"
        if len(expr.terms) > 1 and (parts or sign == "+") and _lone_floordiv(monomial, coefficient) and \
                not (style == "math" and _ceiling(monomial[0][0])):
            text = text[1:-1]  # in a sum, `(h - 3) // 2 + 1` needs no more parentheses
        if not parts:
            parts.append(f"-{text}" if sign == "-" else text)
        else:
            parts.append(f" {sign} {text}")
    return "".join(parts)


def _render_factored(expr: Expr, name, order=None) -> str | None:
    """A product of two sums as one, for display: the number of windows of a padded map is
    `b*(H + pad_b)*(W + pad_r)/(ws*ws)`, not its four expanded terms. None where `expr`
    (after a monomial factor common to every term) is no such product."""
    if len(expr.terms) < 4:
        return None
    common = _common_monomial(expr)
    if common and sum(e for f, e in common if _ceiling(f)) % 2:
        return None  # its sign would be lost: written term by term
    rest = expr.exact_div(Expr({common: Fraction(1)})) if common else expr
    split = _two_factors(rest)
    if split is None:
        return None
    texts = [_render_term(common, Fraction(1), name, "math", order)] if common else []
    texts += [f"({_render_sum(part, name, 'math', order)})" for part in split]
    return "*".join(texts)


def _common_monomial(expr: Expr) -> Monomial:
    """The largest monomial dividing every term (`b` of `b*h*w + b*h`), () for none."""
    monomials = list(expr.terms)
    shared = dict(monomials[0])
    for monomial in monomials[1:]:
        powers = dict(monomial)
        shared = {f: min(e, powers[f]) for f, e in shared.items() if f in powers and powers[f] > 0 and e > 0}
    return tuple(sorted(shared.items(), key=lambda fe: _factor_key(fe[0])))


def _two_factors(expr: Expr) -> tuple[Expr, Expr] | None:
    """(p, q), sums of at least two terms each with whole coefficients, p*q == expr; q is
    tried as the coefficient of each symbol s (`W + pad_r` of H), p is expr divided by it."""
    symbols = sorted({f for monomial in expr.terms for f, e in monomial if isinstance(f, str) and e == 1})
    for symbol in symbols:
        with_symbol = {m: c for m, c in expr.terms.items() if (symbol, 1) in m}
        coefficient = Expr({tuple(fe for fe in m if fe != (symbol, 1)): c for m, c in with_symbol.items()})
        if len(coefficient.terms) < 2 or len(coefficient.terms) == len(expr.terms):
            continue
        # its content off: `2*e*(a + b)` is tried as `a + b`
        shared = _common_monomial(coefficient)
        numbers = [Fraction(c) for c in coefficient.terms.values()]
        divisor = math.gcd(*(c.numerator for c in numbers)) if all(c.denominator == 1 for c in numbers) else 1
        coefficient = coefficient.exact_div(Expr({shared: Fraction(divisor)}))
        cofactor = _exact_quotient(expr, coefficient)
        if cofactor is None or len(cofactor.terms) < 2:
            continue
        if all(Fraction(c).denominator == 1 for part in (cofactor, coefficient) for c in part.terms.values()):
            return cofactor, coefficient
    return None


def _exact_quotient(dividend: Expr, divisor: Expr) -> Expr | None:
    """dividend / divisor where it divides exactly (polynomial division, graded-lex order), else None."""
    factors = sorted({f for part in (dividend, divisor) for m in part.terms for f, _ in m}, key=_factor_key)

    def degree_key(monomial: Monomial):
        powers = dict(monomial)
        return sum(powers.values()), tuple(powers.get(f, 0) for f in factors)

    lead = max(divisor.terms, key=degree_key)
    lead_coefficient = Fraction(divisor.terms[lead])
    remainder, quotient = dividend, Expr.const(0)
    for _ in range(len(dividend.terms) * len(divisor.terms) + 1):
        if not remainder.terms:
            return quotient
        top = max(remainder.terms, key=degree_key)
        powers = dict(top)
        for factor, exponent in lead:
            powers[factor] = powers.get(factor, 0) - exponent
            if powers[factor] < 0:
                return None
        monomial = tuple(sorted(((f, e) for f, e in powers.items() if e), key=lambda fe: _factor_key(fe[0])))
        step = Expr({monomial: Fraction(remainder.terms[top]) / lead_coefficient})
        quotient = quotient + step
        remainder = remainder - step * divisor
    return None


def _ceiling(factor) -> bool:
    """A floor division of a negated number, `(-h) // k`: the canonical form of -ceil(h/k)."""
    return isinstance(factor, Atom) and factor.op == "floordiv" and bool(factor.args[0].terms) and \
        all(c < 0 for c in factor.args[0].terms.values())


def _lone_floordiv(monomial: Monomial, coefficient: Fraction) -> bool:
    return (abs(coefficient) == 1 and len(monomial) == 1 and monomial[0][1] == 1
            and isinstance(monomial[0][0], Atom) and monomial[0][0].op == "floordiv")


def _render_term(monomial: Monomial, coefficient: Fraction, name, style, order=None) -> str:
    mul = " * " if style in ("python", "real") else "*"
    factors = []
    for factor, exponent in sorted(monomial, key=lambda fe: _display_key(order)(fe[0])):
        if style != "math" and not isinstance(factor, str) and factor.op == "sqrt" and \
                (exponent > 1 or _root(factor)[1] != Fraction(1, 2)):
            factors.append(_root_power(factor, exponent, name, style, order))  # `d ** 0.75`, not a product
            continue
        if style == "math" and _ceiling(factor):  # `(-h) // k` is -ceil(h/k): shown so (the sign is the sum's)
            numerator, denominator = factor.args
            top = render(-numerator, name, style=style, order=order)
            bottom = render(denominator, name, style=style, order=order)
            base = f"ceil({_wrap(-numerator, top)}/{_wrap(denominator, bottom)})"
        else:
            base = name(factor) if isinstance(factor, str) else _render_atom(factor, name, style, order)
        if "|" in base and not base.startswith("("):  # one size or another (`n + 2|n`) within a term
            base = f"({base})"
        factors += [base] * exponent
    if coefficient != 1 or not factors:
        factors.insert(0, _render_number(coefficient))
    return mul.join(factors)


def _root(atom: Atom) -> tuple[Expr, Fraction]:
    """A square root, or a root of one: the number under them and its power (`d`, 1/4)."""
    power = Fraction(1)
    while isinstance(atom, Atom) and atom.op == "sqrt":
        radicand, power = atom.args[0], power / 2
        atom = _lone_atom(radicand)
    return radicand, power


def _root_power(atom: Atom, exponent: int, name, style, order) -> str:
    """`d ** 0.25`, `d ** 1.5`: a root raised to a power, as one power of what is under it."""
    radicand, power = _root(atom)
    power *= exponent
    text = render(radicand, name, style=style, order=order)
    base = text if precedence(radicand, style=style) > _POWER else f"({text})"
    return base if power == 1 else f"{base} ** {_render_number(power) if power.denominator == 1 else float(power)}"


def _render_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return repr(float(value))


# Atoms whose arguments are real numbers, not sizes known whole: `ceil(n / 2)` must not be
# written `math.ceil(n // 2)`, nor `sqrt(n / 2)` `(n // 2) ** 0.5`.
_REAL_ARGUMENTS = frozenset({"int", "round", "math.ceil", "math.floor", "math.log", "math.log2", "math.exp", "sqrt",
                              "truediv"})


def _render_atom(atom: Atom, name, style, order=None) -> str:
    inner = "real" if style in ("python", "float") and atom.op in _REAL_ARGUMENTS else style
    args = [render(a, name, style=inner, order=order) for a in atom.args]
    if atom.op == "floordiv":
        return f"({_wrap(atom.args[0], args[0])} // {_wrap(atom.args[1], args[1])})"
    if atom.op == "sqrt":
        if style == "math":
            return f"sqrt({args[0]})"
        inner = _lone_atom(atom.args[0])
        # `(5 ** 0.5) ** 0.5`: `**` groups from the right, so a power as the base keeps its parentheses
        base = f"({args[0]})" if inner is not None and inner.op == "sqrt" else _wrap(atom.args[0], args[0])
        return f"{base} ** 0.5"
    if atom.op == "truediv":
        return f"({_wrap(atom.args[0], args[0])} / {_wrap(atom.args[1], args[1])})"
    if atom.op == "item":  # `sr_ratios[i]`: an item of a list argument by a loop's variable
        return f"{args[0]}[{args[1]}]"
    if atom.op == "pow":  # `2 ** floor(log2(h))`
        return f"({_wrap(atom.args[0], args[0])} ** {_wrap(atom.args[1], args[1])})"
    if atom.op == "mod":  # kept only where its value is a signed zero (see `mod`)
        return f"({_wrap(atom.args[0], args[0])} % {_wrap(atom.args[1], args[1])})"
    op = atom.op.removeprefix("math.") if style == "math" else atom.op  # `ceil(n/2)` in a comment
    return f"{op}({', '.join(args)})"


def _wrap(expr: Expr, text: str) -> str:
    if expr.is_const:
        simple = expr.value >= 0 and expr.value.denominator == 1
    elif expr.is_monomial:  # a lone factor to the first power: `c`, `(a // b)`, `max(a, b)`
        ((monomial, coefficient),) = expr.terms.items()
        simple = coefficient == 1 and len(monomial) == 1 and monomial[0][1] == 1 and not _is_bare_floordiv(expr)
    else:
        simple = False
    return text if simple else f"({text})"

