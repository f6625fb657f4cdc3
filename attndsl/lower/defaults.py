"""An argument's default: a literal, or arithmetic of literals computed as Python would
(`rd_ratio: float = 1 / 16` is 0.0625, `k: int = 2 ** 3` is 8), so that a published
signature written that way keeps its defaults."""

from __future__ import annotations

import math
import operator

from .. import syntax as ast

_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
              "//": operator.floordiv, "%": operator.mod, "**": operator.pow}
_LARGEST_EXPONENT = 64  # `2 ** 10 ** 6` is no size anyone means, and would take long to compute


class DefaultLowering:
    """Mixin of BlockLowering: expects `error` and `_number`."""

    def _literal_default(self, arg: ast.Arg):
        node = arg.default
        if arg.type == "bool":
            if not isinstance(node, ast.Bool):
                raise self.error("E0111", f"the default of bool argument `{arg.name}` must be true or false", node.span)
            return node.value
        if arg.type == "str":
            if not isinstance(node, ast.String):
                raise self.error("E0111", f"the default of str argument `{arg.name}` must be a string", node.span)
            return node.value
        if arg.type == "list[str]":
            items = node.items if isinstance(node, (ast.ListExpr, ast.TupleExpr)) else None
            if items is None or not all(isinstance(item, ast.String) for item in items):
                raise self.error("E0111", f"the default of `{arg.name}` must be a list of strings, like "
                                 "[\"channel_add\"]", node.span)
            return [item.value for item in items]
        if arg.type == "list[int]":
            if not isinstance(node, ast.ListExpr):
                raise self.error("E0111", f"the default of `{arg.name}` must be a list like [1, 3]", node.span)
            values = [self._constant(arg, item) for item in node.items]
            if any(not isinstance(v, int) for v in values):
                raise self.error("E0111", f"the default of `{arg.name}` must be a list of ints", node.span)
            return values
        value = self._constant(arg, node)
        if arg.type == "int" and not isinstance(value, int):
            raise self.error("E0111", f"the default of int argument `{arg.name}` must be an int, got {value}",
                             node.span, help="use `//` for a whole quotient" if "/" in _operators(node) else None)
        return float(value) if arg.type == "float" else value

    def _constant(self, arg: ast.Arg, node: ast.Node):
        """A number, or `+ - * / // % **` of numbers, with Python's semantics (`/` gives a float)."""
        if isinstance(node, ast.Number):
            return self._number(node)
        if isinstance(node, ast.UnaryOp) and node.op in ("-", "+"):
            value = self._constant(arg, node.operand)
            return -value if node.op == "-" else value
        if isinstance(node, ast.BinOp) and node.op in _OPERATORS:
            left, right = self._constant(arg, node.left), self._constant(arg, node.right)
            if node.op == "**" and abs(right) > _LARGEST_EXPONENT:
                raise self.error("E0111", f"the default of `{arg.name}` raises to the power {right}; at most "
                                 f"{_LARGEST_EXPONENT} is computed", node.span)
            try:
                value = _OPERATORS[node.op](left, right)
            except ZeroDivisionError:
                raise self.error("E0111", f"the default of `{arg.name}` divides by zero", node.span) from None
            except OverflowError:
                value = math.inf
            if isinstance(value, complex):  # `(-8) ** (1 / 3)`
                raise self.error("E0111", f"the default of `{arg.name}` is not a real number", node.span)
            if isinstance(value, float) and not math.isfinite(value):  # `1e308 * 10` has no literal
                raise self.error("E0111", f"the default of `{arg.name}` is too large for a number", node.span)
            return value
        raise self.error("E0111", f"the default of `{arg.name}` must be a number, or arithmetic of numbers",
                         node.span, help="defaults are computed before any argument is known: `1 / 16`, `2 ** 3`")


def _operators(node) -> set[str]:
    if isinstance(node, ast.BinOp):
        return {node.op} | _operators(node.left) | _operators(node.right)
    if isinstance(node, ast.UnaryOp):
        return _operators(node.operand)
    return set()
