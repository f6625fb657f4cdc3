"""What op and layer shape rules may ask of the checker while they run on one node."""

from __future__ import annotations

from fractions import Fraction

from .. import symbolic as sym
from ..diagnostics import Abort, Label
from ..ir import Cond
from ..ops import ListShape
from ..symbolic import Expr
from ..symbolic_core import _lcm_denominator


def show(shape, order=None) -> str:
    """A shape as people write it: `[b*G, channel/G, h, w]`."""
    if isinstance(shape, ListShape):
        return f"{show(shape.element, order)} x {sym.render(shape.length, str, style='shape')}"
    return "[" + ", ".join(sym.render(d, str, style="shape", order=order) for d in shape) + "]"


class ShapeContext:
    """The checker as seen by one rule on one node: prove, refute or check, and report."""

    def __init__(self, walk, node: int, element: tuple[str, str] | None = None):
        self.checker = walk
        self.node = node
        self.element = element  # (list argument, loop variable) inside a layer-list element
        self.subject = None  # the layer a rule checks for (`linear \`proj\``): named in its run-time checks
        # a layer whose kind an argument gives (maybe a partial): its rule reads what the partial may
        # set from the built module (`self.bn.track_running_stats`)
        self.kind_layer = None

    def about(self, subject: str, kind_layer: str | None = None) -> "ShapeContext":
        """This context, for the rule of the layer `subject`."""
        context = ShapeContext(self.checker, self.node, self.element)
        context.subject, context.kind_layer = subject, kind_layer
        return context

    @property
    def view(self):
        return self.checker.view_for(self.node, self.element)

    @property
    def facts(self):
        return self.view.integers

    @property
    def op(self) -> str:
        """The op whose rule is asking (`zeros`), for its messages."""
        return self._attrs["op"]

    @property
    def _attrs(self):
        return self.checker.ir.graph.nodes[self.node]

    def error(self, code: str, message: str, *, help=None, labels=None) -> None:
        self.checker.sink.error(code, message, self._attrs["span"], help=help, labels=labels or [])
        raise Abort()

    def warn(self, code: str, message: str, *, help=None) -> None:
        self.checker.warn(code, message, self._attrs["span"], help=help)

    def show(self, shape) -> str:
        return show(shape)

    def normal(self, expr: Expr) -> Expr:
        return self.view.normal(expr)

    def known_when_built(self, expr: Expr) -> bool:
        """Whether `expr` reads constructor arguments only (no size of an input)."""
        from .conditions import runs_in

        return runs_in(self.checker.ir, Cond("cmp", (">=", expr, Expr.const(0))), ()) == "init"

    def record_index_bound(self, size: Expr, axis: int) -> None:
        """A gather's index buffer must hold values in [0, size) of the table's `axis`: checked
        in __init__, after the buffer is built (codegen/init.py), under the conditions of the
        worlds that found the size (BlockChecker). One entry per size found."""
        self.checker.index_bounds.setdefault(self.node, {})[str(size)] = (size, axis)

    def is_one(self, dim: Expr) -> bool:
        return self.normal(dim) == Expr.const(1)

    def _require(self, condition, what: str) -> bool | None:
        if self.subject is not None:
            what = f"{self.subject}: {what}"
        return self.checker.require(condition, what, node=self.node, element=self.element)

    def require(self, condition: Cond, what: str) -> None:
        """A condition on the op's arguments: an error when it is refuted, else proven or checked."""
        if self._require(condition, what) is False:
            self.error("E0205", what)

    def expect_equal(self, a: Expr, b: Expr, what: str, operands=()) -> None:
        na, nb = self.normal(a), self.normal(b)
        difference = na - nb
        if not difference.terms:
            return
        if difference.is_const or (na.is_const and nb.is_const) or _never_equal(difference, self.view):
            self.checker.sink.error(
                "E0201", f"shape mismatch in {what}: {a} is not {b}", self._attrs["span"],
                labels=self._operand_labels(operands), help=self.checker.suggest_fix(na, nb))
            raise Abort()
        if self.checker.is_opaque(na) or self.checker.is_opaque(nb):
            return  # the display walk: this is checked in each world
        left, right = _cancelled(a, b, difference, self.view)
        self._require(("eq", left, right), what)

    def expect_at_least(self, expr: Expr, bound: int, what: str, *, code: str = "E0205", help=None) -> None:
        """expr >= bound: proven, refuted, or checked at run time.

        Unlike `expect_equal` and `divide`, which compose their sentence from a noun phrase,
        `what` is the whole requirement ("the size of axis 0 must not be negative"): the
        generated module says it as it is, followed only by the value it got."""
        n = self.normal(expr)
        if n.is_const:
            if n.value < bound:
                self.error(code, f"{what}: it is {n.value}" if expr.is_const else f"{what}: {expr} = {n.value}",
                           help=help)
            return
        if self.checker.is_opaque(n):
            return
        if self._require(Cond("cmp", (">=", expr, Expr.const(bound))), what) is False:
            self.error(code, f"{what}: {expr} is less than {bound}", help=help)

    def expect_rank_equal(self, a, b, what: str) -> None:
        if len(a) != len(b):
            self.error("E0202", f"{what}: ranks {len(a)} and {len(b)} differ")

    def derive(self, expr: Expr, base: Expr) -> Expr:
        """Name a dim that has no short closed form (a strided conv's output size)."""
        return self.checker.derive(self.normal(expr), base, written=expr)

    def ensure_defined(self, expr: Expr) -> None:
        self.checker.ensure_defined(expr, node=self.node, element=self.element)

    def divide(self, numerator: Expr, denominator: Expr, what: str) -> Expr:
        """numerator / denominator, which must be exact: proven, refuted, or checked at run time."""
        n, d = self.normal(numerator), self.normal(denominator)
        if d == Expr.const(0):
            self.error("E0203", f"{what}: division by zero")
        quotient = n.exact_div(d)
        if n.is_const and d.is_const:
            if quotient.value.denominator != 1:
                self.error("E0203", f"{what}: {numerator} is not divisible by {denominator}",
                           help=self.checker.suggest_fix(numerator, denominator, divide=True))
            return quotient
        if not self.checker.is_opaque(n):
            self._require(("divides", *_in_whole_terms(numerator, denominator)), what)
        return numerator.exact_div(denominator)

    def _operand_labels(self, indices) -> list[Label]:
        ir = self.checker.ir
        operands = ir.operands(self.node)
        labels = []
        for index in indices:
            if index < len(operands):
                source = ir.graph.nodes[operands[index]]
                shape = self.checker.shapes.get(operands[index])
                if isinstance(shape, tuple):
                    labels.append(Label(source["span"], f"this has shape {show(shape)}"))
        return labels


def _never_equal(difference: Expr, view) -> bool:
    from .conditions import sign_known

    return sign_known(difference, view)


def _cancelled(a: Expr, b: Expr, difference: Expr, view) -> tuple[Expr, Expr]:
    """`h + 2*(k//2) - k + 1 == h` is `2*(k//2) + 1 == k`: a check on arguments alone, made in
    `__init__`, reads (and is) simpler than the sizes it came from."""
    if len(difference.symbols()) >= len(view.normal(a).symbols() | view.normal(b).symbols()):
        return a, b
    positive = Expr({m: c for m, c in difference.terms.items() if c > 0})
    negative = Expr({m: -c for m, c in difference.terms.items() if c < 0})
    return positive, negative


def _in_whole_terms(numerator: Expr, denominator: Expr) -> tuple[Expr, Expr]:
    """`a/p` divisible by `c` is `a` divisible by `c*p`: the check is written without the
    fraction, which the generated code would render as `a // p`, and `a // p % c` is no
    check of whether `p` divides `a`."""
    constant, monomial = _lcm_denominator(numerator)
    if constant == 1 and not monomial:
        return numerator, denominator
    scale = Expr({monomial: Fraction(constant)})
    return numerator * scale, denominator * scale
