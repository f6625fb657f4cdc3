"""Shapes as the generated code's comments and docstrings show them: `[b, c, h, w]`, and for a
block generic over rank, as they read at every rank (`[b, c, *spatial]`). Display only: the
checker made the shapes, codegen never re-derives one."""

from __future__ import annotations

from .. import symbolic as sym
from ..ranks import default_rank, input_dims, pack_dims, pack_of
from ..shapes import show
from ..symbolic import Expr


class ShapeDisplay:
    """Mixed into BlockRenderer: needs `self.ir`, `self.order` and `self.math`."""

    def show(self, shape) -> str:
        if self.ir.packs and isinstance(shape, (tuple, list)):
            return self._rank_generic(shape)
        return show(shape, self.order)

    def folded(self, shape):
        """A shape for forward's comments: a size that is exactly a `let`'s value reads as the
        let's name (`[bw, heads, n, n]` for `let n = wh * ww`, not the product of the window
        sizes). The docstring keeps the arguments' terms: its reader sees no lets."""
        if not isinstance(shape, tuple) or not all(isinstance(dim, Expr) for dim in shape):
            return shape
        folds = self._let_folds()
        return tuple(self._folded_dim(dim, folds) for dim in shape)

    def _folded_dim(self, dim: Expr, folds: dict) -> Expr:
        """A let's name for its value; a size a let makes simpler, its value (`dim_head` for
        `inner_dim/heads` where `let inner_dim = heads * dim_head`)."""
        if dim in folds:
            return folds[dim]
        expanded = sym.substitute(dim, self._let_values)
        if expanded in folds:
            return folds[expanded]
        symbols = expanded.symbols()
        lone = len(symbols) == 1 and expanded == Expr.symbol(next(iter(symbols)))  # one size, as it is
        return expanded if lone and expanded != dim else dim

    def _let_folds(self) -> dict[Expr, Expr]:
        """Each unconditional `let` of a size, by its value in the arguments' terms (the first
        let of a value wins; a constant, or a let made under `if`, is not folded)."""
        if getattr(self, "_folds", None) is None:
            folds: dict[Expr, Expr] = {}
            defined: dict[str, Expr] = {}
            counts: dict[str, int] = {}
            for let in self.ir.lets:
                counts[let.name] = counts.get(let.name, 0) + 1
            for let in self.ir.lets:
                value = sym.substitute(let.value, defined)
                defined[let.name] = value
                if counts[let.name] == 1 and not let.guard and not value.is_const and value != Expr.symbol(let.name) \
                        and not value.symbols() & set(self.float_symbols):
                    folds.setdefault(value, Expr.symbol(let.name))
                    quotient = _exact_quotient(value)
                    if quotient is not None:  # `dim // heads` where `dim % heads == 0` made it `dim/heads`
                        folds.setdefault(quotient, Expr.symbol(let.name))
            self._folds = folds
            self._let_values = {name: value for name, value in defined.items() if counts[name] == 1 and
                                all(not let.guard for let in self.ir.lets if let.name == name)}
        return self._folds

    def input_shape(self, info) -> list[Expr]:
        """An input's declared sizes, a pack's at the default rank (`show` writes `*spatial`)."""
        ranks = {arg: default_rank(self.ir, arg) for arg in self.ir.rank_args}
        return input_dims(self.ir, info, ranks)

    def _rank_generic(self, shape) -> str:
        """A shape of a block generic over rank, as it reads at every rank: `[b, c, *spatial]`,
        `[b, prod(spatial'), c]` (the display walk made it at the default rank); `[b, c, ...]`
        where a size depends on the rank in another way."""
        items, index = [], 0
        joins = getattr(self.ir, "joins", {})
        while index < len(shape):
            dim = shape[index]
            joined = sorted(dim.symbols() & set(joins))
            if joined and any(self._pack_symbols(part) for name in joined for part in joins[name]):
                # sizes joined from two branches (`g` pooled or not): each branch's, as it reads
                parts = []
                for side in (0, 1):
                    branch = sym.expand(dim, {name: sizes[side] for name, sizes in joins.items()})
                    for text in self._rank_generic((branch,))[1:-1].split("|"):
                        if text not in parts:
                            parts.append(text)
                items.append("|".join(parts))
                index += 1
                continue
            packed = self._pack_symbols(dim)
            if not packed:
                items.append(self.math(dim))
                index += 1
                continue
            name, primes = packed[0]
            rank = default_rank(self.ir, self.ir.packs[name])
            run = [Expr.symbol(f"{size}{primes}") for size in pack_dims(name, rank)]
            product = Expr.const(1)
            for size in run:
                product = product * size
            if list(shape[index:index + rank]) == run:
                items.append(f"*{name}{primes}")
                index += rank
            elif dim == product:
                items.append(f"prod({name}{primes})")
                index += 1
            else:
                items.append("...")
                index += 1
        return "[" + ", ".join(items) + "]"

    def _pack_symbols(self, dim: Expr) -> list[tuple[str, str]]:
        """(pack, primes) of each size of a pack `dim` reads (`spatial_0'` -> ("spatial", "'"))."""
        found = []
        for symbol in sorted(dim.symbols()):
            stem = symbol.rstrip("'")
            pack = pack_of(stem, self.ir.packs)
            if pack is not None:
                found.append((pack[0], symbol[len(stem):]))
        return found


def _exact_quotient(value: Expr) -> Expr | None:
    """`a // b` as the exact `a/b` it is where `b` divides `a` (the form shapes take then)."""
    if len(value.terms) != 1:
        return None
    ((monomial, coefficient),) = value.terms.items()
    if coefficient != 1 or len(monomial) != 1:
        return None
    ((factor, exponent),) = monomial
    if isinstance(factor, str) or factor.op != "floordiv" or exponent != 1:
        return None
    dividend, divisor = factor.args
    quotient = dividend.exact_div(divisor)
    return quotient if quotient != value else None
