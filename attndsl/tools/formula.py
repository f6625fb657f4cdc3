"""Cost formulas: sums of guarded terms over a block's symbols, and their values.

A `Term` is `value`, counted when every condition of its `guard` holds (a compile-time
`if` on arguments, an optional input being given), and summed over a list argument when
it has a `loop` (`sum(... for k in kernels)`, one conv per kernel size). A formula
renders as Python-like math with Iverson brackets: `2*b*c + [ratio > 1]*(d*d)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .. import symbolic as sym
from ..ir import Cond, elements_source, iterated
from ..shapes.conjunctions import (
    Guard,
    make_guard,
    render_cond,
    render_expr,
    render_guard,
)
from ..symbolic import Expr


@dataclass(frozen=True)
class Term:
    guard: Guard
    value: Expr
    # (variable, list argument or range count): summed over the list, or over range(count)
    loop: tuple | None = None


def collect(terms) -> list[Term]:
    """Terms with the same guard and loop added up; a loop whose value does not depend on its
    variable becomes a multiplication by the list's length; zero terms dropped."""
    sums: dict[tuple, Expr] = {}
    for term in terms:
        loop = term.loop
        value = term.value
        if loop is not None and loop[0] not in value.symbols():
            value, loop = value * loop_length(loop[1]), None
        key = (term.guard, loop)
        sums[key] = sums.get(key, Expr.const(0)) + value
    # merged monomial by monomial: [c]*(x + y) + [not c]*x is x + [c]*y
    monomials = [Term(guard, Expr({monomial: coefficient}), loop) for (guard, loop), value in sums.items()
                 for monomial, coefficient in value.terms.items()]
    merged = _merge_cases(monomials) if any(t.guard for t in monomials) else monomials
    sums = {}
    for term in merged:  # a merged term may join the terms already without that condition
        sums[(term.guard, term.loop)] = sums.get((term.guard, term.loop), Expr.const(0)) + term.value
    out = [Term(guard, value, loop) for (guard, loop), value in sums.items() if value.terms]
    return sorted(out, key=lambda t: (len(t.guard), sorted(render_cond(c) for c in t.guard),
                                      tuple(map(str, t.loop or ()))))


def loop_length(elements) -> Expr:
    """How many values a loop variable takes: `len(kernels)`, or the count of a range."""
    if isinstance(elements, Expr):
        return sym.maximum(elements, Expr.const(0))
    return Expr.symbol(f"len({elements})")


def _negation(cond: Cond) -> Cond:
    return cond.args[0] if cond.op == "not" else Cond("not", (cond,))


def _merge_cases(terms: list[Term]) -> list[Term]:
    """`[c]*x + [not c]*x` is `x`: the same value under both cases of a condition."""
    merged = True
    while merged:
        merged = False
        present = {(t.guard, t.value, t.loop) for t in terms}
        for term in terms:
            for cond in term.guard:
                other = (term.guard - {cond}) | {_negation(cond)}
                if (other, term.value, term.loop) in present:
                    rest = [t for t in terms if (t.guard, t.value, t.loop) not in
                            ((term.guard, term.value, term.loop), (other, term.value, term.loop))]
                    terms = rest + [Term(term.guard - {cond}, term.value, term.loop)]
                    merged = True
                    break
            if merged:
                break
    return terms


def guarded(terms, conds) -> list[Term]:
    """`terms` under the extra conditions `conds` (dropping the ones that cannot hold)."""
    out = []
    for term in terms:
        guard = make_guard(list(term.guard) + list(conds))
        if guard is not None:
            out.append(Term(guard, term.value, term.loop))
    return out


# ---------------------------------------------------------------------------- rendering


def render_terms(terms: list[Term], order=None) -> str:
    if not terms:
        return "0"
    parts = []
    for term in terms:
        text = render_expr(term.value, order)
        if term.loop is not None:
            source = elements_source(term.loop[1], lambda e: render_expr(e, order) if isinstance(e, Expr) else e)
            text = f"sum({text} for {term.loop[0]} in {source})"
        if term.guard:
            condition = render_guard(term.guard, order)
            if " " in text and term.loop is None:  # `a + b`, `c // g`: one factor in brackets
                text = f"({text})"
            text = f"[{condition}]*{text}"
        parts.append(text)
    return " + ".join(parts)


def render_max(candidates: list[list[Term]], order=None) -> str:
    texts = [render_terms(c, order) for c in candidates]
    return texts[0] if len(texts) == 1 else "max(" + ", ".join(texts) + ")"


# ---------------------------------------------------------------------------- evaluation


def evaluate(terms: list[Term], values) -> Fraction:
    """The sum of the terms whose guards hold; raises values.Unbound for a missing size."""
    total = Fraction(0)
    for term in terms:
        if not all(values.truth(c) for c in term.guard):
            continue
        if term.loop is None:
            total += values.value(term.value)
        else:
            var, elements = term.loop
            items = iterated(elements, lambda e: values.value(e) if isinstance(e, Expr) else values.lists.get(e, []))
            for item in items:
                total += values.value(term.value, {var: item})
    return total


def dominated(small: list[Term], large: list[Term]) -> bool:
    """Whether `small` <= `large` for all sizes >= 1: every coefficient of large - small is >= 0."""
    by_key: dict[tuple, Expr] = {}
    for term in large:
        key = (term.guard, term.loop)
        by_key[key] = by_key.get(key, Expr.const(0)) + term.value
    for term in small:
        key = (term.guard, term.loop)
        by_key[key] = by_key.get(key, Expr.const(0)) - term.value
    return all(c >= 0 for value in by_key.values() for c in value.terms.values())
