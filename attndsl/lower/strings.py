"""Conditions on `str` and `list[str]` arguments: `pooling_type == "att"`, `mode != "avg"`,
`pooling_type in ["att", "avg"]`, `"channel_add" in fusion_types`. Each becomes a condition
the module decides when it is built, like a bool argument:

    Cond("text", (argument, string))  the argument is that string
    Cond("has", (argument, string))   the list argument holds that string

Each string an argument is compared with is noted on it (ArgInfo.choices), so that the
checker can try values under which a condition holds.

A `require` may also say what a list[str] argument may hold and how long it is, as GCNet
asserts it: `require all([t in ["channel_add", "channel_mul"] for t in fusion_types])`,
`require len(fusion_types) > 0`. It is checked when the module is built, as written; the
shape checker learns nothing from it (its worlds already try each string it names)."""

from __future__ import annotations

from .. import syntax as ast
from ..ir import Cond, negate
from ..symbolic import Expr
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

    def _about_string_list(self, node: ast.Node) -> bool:
        """Whether a `require`'s condition speaks of a list[str] argument's items or length
        (`all([t in [...] for t in types])`, `len(types) > 0`), and only in ways Python
        computes from the strings; an error where it mixes in anything else."""
        if isinstance(node, ast.BoolOp):
            found = [self._about_string_list(value) for value in node.values]
            if any(found) and not all(found):
                raise self.error("E0113", "a condition on a list[str] argument's items or length is required on "
                                 "its own", node.span, help="write it as a `require` of its own")
            return all(found)
        if isinstance(node, ast.UnaryOp) and node.op == "not":
            return self._about_string_list(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "all" and \
                len(node.args) == 1 and isinstance(node.args[0], ast.ListComp) and not node.args[0].more:
            comp = node.args[0]
            if not self._string_list(comp.iterable):
                return False
            self._string_logic(comp.element, comp.var)
            return True
        if isinstance(node, ast.Compare) and node.op in ("==", "!=", "<", "<=", ">", ">="):
            sides = [side for side in (node.left, node.right) if isinstance(side, ast.Call) and
                     isinstance(side.func, ast.Name) and side.func.id == "len" and len(side.args) == 1 and
                     self._string_list(side.args[0])]
            if sides:
                other = node.right if sides[0] is node.left else node.left
                if not isinstance(self._expr(other), Expr):
                    raise self.error("E0113", "the length of a list[str] argument is compared with a number",
                                     other.span)
                return True
        return False

    def _string_list(self, node: ast.Node) -> bool:
        return isinstance(node, ast.Name) and isinstance(self.scope.get(node.id, (None, None))[1], StrListArg)

    def _string_logic(self, node: ast.Node, var: str) -> None:
        """The test each item of a list[str] argument passes: `t in [...]`, `t == "..."`,
        `not`, `and`, `or` of them, on the loop's variable and strings written out."""
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self._string_logic(value, var)
            return
        if isinstance(node, ast.UnaryOp) and node.op == "not":
            return self._string_logic(node.operand, var)
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == var:
            if node.op in ("in", "not in") and isinstance(node.right, (ast.ListExpr, ast.TupleExpr)) and \
                    all(isinstance(item, ast.String) for item in node.right.items):
                return
            if node.op in ("==", "!=") and isinstance(node.right, ast.String):
                return
        raise self.error("E0113", f"each item `{var}` of a list[str] argument is tested against strings written "
                         "out", node.span, help=f'e.g. `{var} in ["channel_add", "channel_mul"]`')

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
