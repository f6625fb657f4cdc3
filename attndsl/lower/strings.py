"""Conditions on `str` and `list[str]` arguments: `pooling_type == "att"`, `mode != "avg"`,
`pooling_type in ["att", "avg"]`, `"channel_add" in fusion_types`. Each becomes a condition
the module decides when it is built, like a bool argument:

    Cond("text", (argument, string))  the argument is that string
    Cond("has", (argument, string))   the list argument holds that string

Each string an argument is compared with is noted on it (ArgInfo.choices), so that the
checker can try values under which a condition holds."""

from __future__ import annotations

from .. import syntax as ast
from ..ir import Cond, negate
from .values import StrArg, StrListArg


class StringLowering:
    """Mixin of BlockLowering: expects `error`, `_expr` and `ir`."""

    def _string_compare(self, node: ast.Compare) -> Cond | None:
        """The condition of a comparison involving strings; None when it involves none."""
        if not _stringy(node.left, self.scope) and not _stringy(node.right, self.scope):
            return None
        if node.op in ("==", "!="):
            left, right = self._string_side(node.left), self._string_side(node.right)
            found = self._equal(node, left, right)
            return found if node.op == "==" else negate(found)
        if node.op in ("in", "not in"):
            found = self._member(node)
            return found if node.op == "in" else negate(found)
        raise self.error("E0113", f"`{node.op}` does not compare strings; use `==`, `!=`, `in` or `not in`",
                         node.span)

    def _equal(self, node: ast.Compare, left, right) -> Cond:
        if isinstance(left, str) and isinstance(right, str):
            return Cond.const(left == right)
        if isinstance(right, StrArg):
            left, right = right, left
        if isinstance(left, StrArg) and isinstance(right, str):
            return self._text(left, right)
        if isinstance(left, StrListArg) or isinstance(right, StrListArg):
            raise self.error("E0113", "a list[str] argument is tested with `in`, not compared", node.span,
                             help='e.g. `"channel_add" in fusion_types`')
        raise self.error("E0113", "a str argument can only be compared with a string written in the spec",
                         node.span, help='e.g. `pooling_type == "att"`')

    def _member(self, node: ast.Compare) -> Cond:
        needle, haystack = node.left, node.right
        if isinstance(haystack, (ast.ListExpr, ast.TupleExpr)):  # `mode in ["att", "avg"]`
            if not all(isinstance(item, ast.String) for item in haystack.items):
                raise self.error("E0113", "`in` tests a string against a list of strings", haystack.span)
            words = [item.value for item in haystack.items]
            value = self._string_side(needle)
            if isinstance(value, str):
                return Cond.const(value in words)
            if not isinstance(value, StrArg):
                raise self.error("E0113", "`in` tests a str argument or a string", needle.span)
            if not words:
                return Cond.const(False)
            found = [self._text(value, word) for word in words]
            return found[0] if len(found) == 1 else Cond("or", tuple(found))
        value, word = self._expr(haystack), self._expr(needle)
        if not isinstance(word, str):
            raise self.error("E0113", "`in` tests a string written in the spec", needle.span,
                             help='e.g. `"channel_add" in fusion_types`')
        if not isinstance(value, StrListArg):
            raise self.error("E0113", "`in` looks for a string in a list[str] argument or a list of strings",
                             haystack.span)
        self._note_choice(value.name, word)
        return Cond("has", (value.name, word))

    def _string_side(self, node: ast.Node):
        """A side of a string comparison: an optional str argument may be None there, which
        equals no string (`norm == "bn"` is False where `norm` is None, as in Python)."""
        entry = self.scope.get(node.id) if isinstance(node, ast.Name) else None
        if entry is not None and entry[0] == "arg" and isinstance(entry[1], StrArg):
            return entry[1]
        return self._expr(node)

    def _text(self, arg: StrArg, word: str) -> Cond:
        self._note_choice(arg.name, word)
        return Cond("text", (arg.name, word))

    def _note_choice(self, name: str, word: str) -> None:
        info = next(a for a in self.ir.args if a.name == name)
        if word not in info.choices:
            info.choices.append(word)


def _stringy(node: ast.Node, scope: dict) -> bool:
    """Whether a side of a comparison is a string, a list of them, or a str argument."""
    if isinstance(node, ast.String):
        return True
    if isinstance(node, (ast.ListExpr, ast.TupleExpr)):
        return any(isinstance(item, ast.String) for item in node.items)
    if isinstance(node, ast.Name):
        entry = scope.get(node.id)
        return entry is not None and isinstance(entry[1], (StrArg, StrListArg))
    return False
