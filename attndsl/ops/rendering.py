"""Rendering an op as a call, `F.pad(x, (1, 1), mode="reflect")` or `x.flatten(1)`, from its signature.

Most ops added for the catalogue are one torch call each: tensors first, then a few
arguments by position, then keywords, each left out when it has its default (so the
generated code reads like the hand-written modules). `CallRender` writes that from the
op's own signature, so a new op needs no render function of its own.
"""

from __future__ import annotations

from fractions import Fraction

from ..symbolic import Expr
from .registry import ATOM, ParamSpec

FUNCTIONAL = ("import torch.nn.functional as F",)  # what an `F.` render needs in the module


class CallRender:
    def __init__(self, function: str, *, receiver: bool = False, positional: tuple[str, ...] = (),
                 always: tuple[str, ...] = ()):
        self.function = function  # "F.pad", "torch.roll", or a method name with receiver=True
        self.receiver = receiver  # x.flatten(...) rather than torch.flatten(x, ...)
        self.positional = positional  # attributes written by position, after the tensors
        self.always = always  # keywords written even at their default (they say what the call means)
        self.definition = None  # set by op()

    def bind(self, definition) -> None:
        self.definition = definition

    def __call__(self, r, node, operands, attrs):
        params = {p.name: p for p in self.definition.params}
        tensors = [text for text, _ in operands]
        arguments = [] if self.receiver else list(tensors)
        for name in self.positional:
            if attrs.get(name) is not None:  # `x.squeeze()`: a None default is left out
                arguments.append(render_value(r, params[name], attrs[name]))
        for param in self.definition.params:
            if param.kind in ("tensor", "tensors", "operand") or param.name in self.positional:
                continue
            value = attrs.get(param.name)
            if param.name not in self.always and not param.required and is_default(value, param.default):
                continue
            arguments.append(f"{param.name}={render_value(r, param, value)}")
        if self.receiver:
            return f"{r.wrap(operands[0], ATOM)}.{self.function}({', '.join(arguments)})", ATOM
        return f"{self.function}({', '.join(arguments)})", ATOM


def is_default(value, default) -> bool:
    if isinstance(value, (tuple, list)):
        return isinstance(default, tuple) and len(value) == len(default) and \
            all(is_default(v, d) for v, d in zip(value, default))
    if isinstance(value, Expr):
        return value.is_const and isinstance(default, (int, float)) and not isinstance(default, bool) and \
            value.value == Fraction(default)
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    return value == default


def render_value(r, param: ParamSpec, value) -> str:
    """An attribute as Python: sizes through the renderer (`self.k`), strings quoted, tuples as tuples."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return '"' + value + '"'  # a `choice`: one of the words of the signature
    if isinstance(value, (tuple, list)):
        items = [render_value(r, param, item) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, int):
        return str(value)
    if param.kind == "scalar":
        return r.scalar(value)[0]
    if isinstance(value, Expr):
        return r.dim(value)
    return r.scalar(value)[0]  # inf


def as_exprs(value) -> tuple[Expr, ...]:
    """An `ints` attribute as a tuple of sizes: `3` is (3,), `(1, 7)` stays."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    return tuple(item if isinstance(item, Expr) else Expr.const(item) for item in items)


def per_dim(ctx, value, count: int, what: str) -> tuple[Expr, ...]:
    """An int (the same for every spatial dim) or one size per spatial dim, as torch's _pair."""
    if not isinstance(value, (tuple, list)):
        return (as_exprs(value)[0],) * count
    if len(value) != count:
        ctx.error("E0112", f"{what} has {len(value)} entries, but the input has {count} spatial dimension"
                  f"{'s' if count != 1 else ''}", help=f"give one size, or {count}")
    return as_exprs(value)
