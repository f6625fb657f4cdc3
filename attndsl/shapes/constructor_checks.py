"""What a block checks before any input: the numbers its constructor computes (each `let`
and `require` in the order written, list items it indexes), its layers' arguments, and
its params' sizes. A mixin of Walk (attndsl/shapes/walk.py), which runs these first.
"""

from __future__ import annotations

from .. import symbolic as sym
from ..diagnostics import Span
from ..ir import Cond, LayerSpec, display_name
from ..ranks import kind_at_rank
from ..layers import LAYERS
from ..limits import MAX_SIZE
from ..symbolic import Expr
from .layer_args import LayerArguments
from .requirements import STATEMENT_PHASE

# A precondition on the sign of a constructor-time number: the comparison with zero, what the
# generated check says, and the error when the spec's own numbers break it.
_SIGN_NEEDS = {
    "not_negative": (">=", "must not be negative", "E0120", "{} is negative"),  # an initialiser's std, an interval
    "positive": (">", "must be positive (its logarithm is taken)", "E0119",
                 "the logarithm of a number that is not positive"),
    "nonnegative": (">=", "must not be negative (its square root is taken)", "E0203",
                    "the square root of a negative number"),
    # of `EXP_LIMIT - x` (lower/numbers.py): exp(x) is a float
    "exp_range": (">=", "must not be negative (an exponential must fit in a float)", "E0119",
                  "an exponential too large for a float"),
}


class ConstructorChecks:
    def _statements(self) -> None:
        """What the constructor computes before any input: each let, require and `if` of the
        spec gets the checks it needs just before it, and a require is a fact after it."""
        steps = [(p.position, 0, p) for p in self.ir.preconditions]
        steps += [((r.span.line, r.span.column), 1, r) for r in self.ir.requires]
        most_items = _most_items(self.ir.preconditions)
        for position, kind, item in sorted(steps, key=lambda s: (s[0], s[1])):
            if self.skips(item.guard):
                continue
            order = (STATEMENT_PHASE, position, kind)
            if kind == 0:
                if item.need == "nonzero":
                    self.require_nonzero(item.expr, span=item.span, guard=item.guard, order=order, element=item.element)
                elif item.need == "items":  # `out_chs[2]`, `ws[i]`: the list has an item there
                    length = next(s for s in item.expr.symbols() if s.startswith("len("))
                    index = Expr.symbol(length) - 1 - item.expr
                    if index.is_const:
                        # the first of `out_chs[0]` ... `out_chs[4]` checks for all five items:
                        # one check, not five, and the rest are facts after it
                        count = most_items[(length, item.guard, item.element)]
                        item_expr = Expr.symbol(length) - count
                        what = f"`{length[4:-1]}` must have at least {count} {'item' if count == 1 else 'items'}"
                    else:
                        what = f"`{length[4:-1]}` must have an item at {sym.render(index, str, style='math')}"
                        item_expr = item.expr
                    self.require(Cond("cmp", (">=", item_expr, Expr.const(0))), what, span=item.span,
                                 guard=item.guard, order=order, element=item.element)
                else:
                    comparison, must, code, known_false = _SIGN_NEEDS[item.need]
                    shown = sym.render(item.expr, str, style="math")
                    ok = self.require(Cond("cmp", (comparison, item.expr, Expr.const(0))),
                                      item.what or f"{shown} {must}", span=item.span, guard=item.guard, order=order,
                                      element=item.element)
                    if ok is False:
                        self.sink.error(code, known_false.format(shown), item.span)
            else:
                self.knowledge.learn(item.condition, item.guard)

    def _whole(self, dim: Expr, span: Span, what: str, guard=()) -> None:
        """A param's dimension: a whole number of at least 1 (an empty param is refused like
        an empty input: torch ops disagree on empty tensors, `irfft2(..., s=...)` pads one)."""
        normal = self.view_for_guard(guard).normal(dim)
        if normal.is_const:
            if normal.value.denominator != 1 or normal.value < 1:
                self.sink.error("E0205", f"{what} has a dimension {dim} = {normal.value}, not a whole number "
                                "of at least 1", span, help="use `//` for integer division")
            elif normal.value > MAX_SIZE:
                self.sink.error("E0205", f"{what} has a dimension of {normal.value}, more than any model could hold",
                                span, help=f"a param dimension is at most {MAX_SIZE}")
            return
        self.require(Cond("cmp", (">=", dim, Expr.const(1))), f"{what}: each dimension must be at least 1",
                     span=span, guard=guard)

    def _check_layer_arguments(self, info, spec: LayerSpec, label: str) -> None:
        if spec.rank_arg is not None:  # `conv{dimension}d`: the kind of this walk's rank
            spec = kind_at_rank(spec, self.ranks[spec.rank_arg])
        for child_name, child in spec.children:
            self._check_layer_arguments(info, child, f"{label}.{display_name(child_name)}" if child_name else label)
        definition = LAYERS.get(spec.kind)
        if definition is not None and definition.check is not None:
            definition.check(LayerArguments(self, info, spec, label), spec.args)
        for kind, args in spec.alternatives.items():  # `act_layer()`: every kind the argument may be
            if kind != spec.kind and LAYERS[kind].check is not None:
                alternative = LayerSpec(kind, args, spec.positional, span=spec.span, sources=spec.sources)
                LAYERS[kind].check(LayerArguments(self, info, alternative, label), args)


def _most_items(preconditions) -> dict[tuple, int]:
    """For each list, guard and element: the most items a constant index needs (`out_chs[4]`
    needs five), so that the first index's check asks for all of them."""
    most: dict[tuple, int] = {}
    for item in preconditions:
        if item.need != "items":
            continue
        length = next(s for s in item.expr.symbols() if s.startswith("len("))
        index = Expr.symbol(length) - 1 - item.expr
        if index.is_const:
            key = (length, item.guard, item.element)
            most[key] = max(most.get(key, 0), int(index.value) + 1)
    return most
