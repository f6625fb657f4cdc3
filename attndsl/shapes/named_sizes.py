"""Sizes the checker names: a strided conv's `h'`, a broadcast's `max(a, b)`. The name keeps
shapes and checks short; the definition is kept as written, in the names already given,
so the generated code computes it from them (`H_out`, then `max(H_out * W_out, m)`)."""

from __future__ import annotations

from .. import symbolic as sym
from ..symbolic import Expr


class NamedSizes:
    """Mixin of Walk: naming sizes and expanding the names."""

    def expand_derived(self, expr: Expr) -> Expr:
        """Checker-named dims (`h'`) replaced by their definitions: generated code cannot name them."""
        return sym.expand(expr, self.ir.derived)

    def derive(self, normal: Expr, base: Expr, written: Expr | None = None) -> Expr:
        if not any(isinstance(f, sym.Atom) for m in normal.terms for f, _ in m):
            return normal
        view = self.knowledge.view(self.context)
        if view.normal(base) == normal:
            return base  # a 1x1 conv keeps the size it was given: no new name
        for name, definition in self.ir.derived.items():
            if view.normal(definition) == normal:
                return Expr.symbol(name)
        symbols = base.symbols()
        single = next(iter(symbols)) if len(symbols) == 1 else None
        stem = single if single is not None and base == Expr.symbol(single) else "n"
        name = stem + "'"
        while name in self.ir.derived or name in self.opaque or name in self.ir.dim_origin:
            name += "'"
        # Kept as written, with the names already given (`max(H'*W', m)`, not H' written out
        # again): the generated code computes it from them.
        definition = written if written is not None and not self.is_opaque(written) else normal
        self.ir.derived[name] = _fold_names(definition, self.ir.derived)
        if self.is_opaque(normal):
            # Made from a size joined from the branches of an `if` (`2|w`): left to torch too.
            self.opaque.add(name)
        return Expr.symbol(name)


def _fold_names(expr: Expr, named: dict[str, Expr]) -> Expr:
    """`expr` with each named size's full form replaced by its name, largest first."""
    folded_terms: dict = {}
    for monomial, coefficient in expr.terms.items():
        new_monomial = []
        for factor, exponent in monomial:
            if isinstance(factor, sym.Atom):
                factor = sym.Atom(factor.op, tuple(_fold_whole(a, named) for a in factor.args))
            new_monomial.append((factor, exponent))
        key = tuple(new_monomial)
        folded_terms[key] = folded_terms.get(key, 0) + coefficient
    expr = Expr(folded_terms)
    constant = expr.terms.get((), 0)
    for name, definition in named.items():  # `h' + 1` where the whole is a named size plus a number
        if sym.expand(definition, named) == expr - constant and len(expr.terms) > 1:
            return Expr.symbol(name) + constant
    return expr

def _fold_whole(expr: Expr, named: dict[str, Expr]) -> Expr:
    for name, definition in named.items():
        if sym.expand(definition, named) == expr:
            return Expr.symbol(name)
    return _fold_names(expr, named)

