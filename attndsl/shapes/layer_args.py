"""What a layer's constructor arguments must satisfy (attndsl.layers declares it per kind):
an error when the arguments are constants that torch would reject, else a check in
`__init__` (through the walk's `require`, which blames single arguments where it can)."""

from __future__ import annotations

from fractions import Fraction

from ..diagnostics import Span
from ..ir import Cond, LayerSpec
from ..limits import MAX_SIZE
from ..spec_expr import expr as spec_expr
from ..symbolic import Expr


class LayerArguments:
    """What a layer's `check` (attndsl.layers) may ask about its constructor arguments."""

    def __init__(self, walk, info, spec: LayerSpec, label: str):
        self.walk, self.info, self.spec = walk, info, spec
        self.label = label  # `fc`, or `mlp.fc1` for a child of a sequential
        self.element = info.element_key()
        self.view = walk.view_for_guard(info.guard, self.element)

    def value(self, name: str) -> Expr | None:
        value = self.spec.args.get(name)
        return value if isinstance(value, Expr) else None

    def constant(self, name: str) -> Fraction | None:
        value = self.value(name)
        n = self.view.normal(value) if value is not None else None
        return n.value if n is not None and n.is_const else None

    def number(self, name: str, none_ok: bool = False) -> bool:
        """Whether the argument is a number (an error, and the layer left unchecked, if not)."""
        value = self.spec.args.get(name)
        if isinstance(value, Expr) or (value is None and none_ok):
            return isinstance(value, Expr)
        self._error(name, f"`{name}` must be a finite number, got {'None' if value is None else value}", "E0113")
        self.walk.bad_layers.add(self.info.name)
        return False

    def _span(self, name: str) -> Span:
        source = self.spec.sources.get(name)
        return source.span if source is not None else (self.spec.span or self.info.span)

    @property
    def _kind(self) -> str:
        """The layer's kind as messages name it: `conv{dimension}d` for every rank's."""
        return self.spec.shown_kind or self.spec.kind

    def _error(self, name: str, message: str, code: str, help=None) -> None:
        self.walk.sink.error(code, f"{self._kind} `{self.label}`: {message}", self._span(name), help=help)

    def _require(self, condition, message: str, name: str) -> bool | None:
        separator = " " if message.startswith("(") else ": "
        return self.walk.require(condition, f"{self._kind} `{self.label}`{separator}{message}",
                                 span=self._span(name), guard=self.info.guard, element=self.element)

    def at_least(self, name: str, bound: int, code: str = "E0205", none_ok: bool = False) -> None:
        values = self.spec.args.get(name)
        if isinstance(values, (tuple, list)):  # one size per spatial dim (`kernel_size=(1, 7)`): each
            for value in values:
                if isinstance(value, Expr):
                    self._at_least(name, value, bound, code)
            return
        if name not in self.spec.args or not self.number(name, none_ok):
            return
        self._at_least(name, self.value(name), bound, code)

    def _named(self, name: str) -> str:
        """`out_channels`, or `out_channels` (`mid`) where the spec gives it another name or an
        expression: GAM's conv takes `mid`, and its block has an `out_channels` of its own."""
        source = self.spec.sources.get(name)
        given = spec_expr(source) if source is not None else None
        return f"`{name}`" if given in (None, name) else f"`{name}` (`{given}`)"

    def _at_least(self, name: str, value: Expr, bound: int, code: str) -> None:
        n = self.view.normal(value)
        if n.is_const:
            if n.value < bound:
                self._error(name, f"{self._named(name)} must be at least {bound}, got {n.value}", code)
            elif n.value > MAX_SIZE:
                self._error(name, f"`{name}` is {n.value}, more than any model could hold", "E0205",
                            help=f"a size is at most {MAX_SIZE}")
        elif self._require(Cond("cmp", (">=", value, Expr.const(bound))),
                           f"{self._named(name)} must be at least {bound}", name) is False:
            self._error(name, f"{self._named(name)} must be at least {bound}", code)

    def within(self, name: str, low, high) -> None:
        """low <= argument <= high (a probability)."""
        value = self.value(name)
        if value is None:
            return
        n = self.view.normal(value)
        if n.is_const:
            if not low <= n.value <= high:
                self._error(name, f"`{name}` must be between {low} and {high}, got {float(n.value):g}", "E0112")
            return
        condition = Cond("and", (Cond("cmp", (">=", value, Expr.const(low))),
                                 Cond("cmp", ("<=", value, Expr.const(high)))))
        self._require(condition, f"`{name}` must be between {low} and {high}", name)

    def divisible(self, name: str, by: str) -> None:
        a, b = self.value(name), self.value(by)
        if a is None or b is None:
            return
        na, nb = self.view.normal(a), self.view.normal(b)
        if nb.is_const and nb.value == 0:
            return  # reported by at_least
        if na.is_const and nb.is_const:
            if (na.value / nb.value).denominator != 1:
                self._error(by, f"{name} = {na.value} is not divisible by {by} = {nb.value}", "E0203")
            return
        self._require(("divides", a, b), f"({name} by {by})", by)

    def equal(self, name: str, expected: int, message: str, code: str = "E0112") -> None:
        """argument == expected (each entry of a tuple): an error when it is a different constant,
        else a check in __init__."""
        values = self.spec.args.get(name)
        for value in values if isinstance(values, (tuple, list)) else [self.value(name)]:
            if not isinstance(value, Expr):
                continue
            n = self.view.normal(value)
            if n.is_const:
                if n.value != expected:
                    self._error(name, message, code)
            elif self._require(Cond("cmp", ("==", value, Expr.const(expected))), message, name) is False:
                self._error(name, message, code)

    def condition(self, condition: Cond, name: str, message: str, code: str = "E0205") -> None:
        """A condition on the arguments: proven, checked in __init__, or an error where refuted."""
        if self._require(condition, message, name) is False:
            self._error(name, message, code)

    def require(self, holds: bool | None, name: str, message: str, code: str = "E0112") -> None:
        """A constraint decided at compile time (None: the caller checks it another way)."""
        if holds is False:
            self._error(name, message, code)
