"""Spec expressions printed back from the AST, with only the parentheses the grammar needs.

Precedences follow the grammar (attn.lark), lowest first: or, and, not, comparison,
+ -, * / // % @, unary -, **, call/subscript/attribute, atom. Numbers print as written;
strings are escaped so that they parse back to the same value.
"""

from __future__ import annotations

from . import syntax as ast

OR, AND, NOT, COMPARE, ADD, MUL, UNARY, POWER, POSTFIX, ATOM = range(1, 11)
_BINARY = {"+": ADD, "-": ADD, "*": MUL, "/": MUL, "//": MUL, "%": MUL, "@": MUL, "**": POWER}


def precedence(node) -> int:
    if isinstance(node, ast.IfExp):
        return 0  # `a if c else b` binds more loosely than `or`
    if isinstance(node, ast.BoolOp):
        return OR if node.op == "or" else AND
    if isinstance(node, ast.UnaryOp):
        return NOT if node.op == "not" else UNARY
    if isinstance(node, ast.Compare):
        return COMPARE
    if isinstance(node, ast.BinOp):
        return _BINARY[node.op]
    if isinstance(node, (ast.Call, ast.Subscript, ast.Attribute)):
        return POSTFIX
    return ATOM


def expr(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Number):
        return node.text
    if isinstance(node, ast.String):  # as written: the AST keeps the raw text too
        return f'"{node.raw}"' if getattr(node, "raw", None) is not None else quote(node.value)
    if isinstance(node, ast.Bool):
        return "true" if node.value else "false"
    if isinstance(node, ast.NoneLit):
        return "None"
    if isinstance(node, ast.BinOp):
        level = _BINARY[node.op]
        if node.op == "**":  # postfix ** factor, right-associative
            return f"{_wrap(node.left, POSTFIX)} ** {_wrap(node.right, UNARY)}"
        return f"{_wrap(node.left, level)} {node.op} {_wrap(node.right, level + 1)}"
    if isinstance(node, ast.UnaryOp):
        if node.op == "not":
            return f"not {_wrap(node.operand, NOT)}"
        return f"{node.op}{_wrap(node.operand, UNARY)}"
    if isinstance(node, ast.Compare):
        return f"{_wrap(node.left, ADD)} {node.op} {_wrap(node.right, ADD)}"
    if isinstance(node, ast.BoolOp):
        inner = NOT if node.op == "and" else AND
        return f" {node.op} ".join(_wrap(v, inner) for v in node.values)
    if isinstance(node, ast.Call):
        return f"{_wrap(node.func, POSTFIX)}({arguments(node.args, node.kwargs)})"
    if isinstance(node, ast.Attribute):
        return f"{_wrap(node.value, POSTFIX)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return f"{_wrap(node.value, POSTFIX)}[{', '.join(_item(i) for i in node.items)}]"
    if isinstance(node, ast.ListExpr):
        return "[" + ", ".join(expr(i) for i in node.items) + "]"
    if isinstance(node, ast.IfExp):
        return f"{_wrap(node.body, OR)} if {_wrap(node.condition, OR)} else {_wrap(node.orelse, 0)}"
    if isinstance(node, ast.TupleExpr):
        return "(" + ", ".join(expr(i) for i in node.items) + ("," if len(node.items) == 1 else "") + ")"
    if isinstance(node, ast.ListComp):
        names = ", ".join(name for name, _ in node.targets)
        return f"[{expr(node.element)} for {names} in {expr(node.iterable)}]"
    if isinstance(node, ast.Keyword):
        return f"{node.name}={expr(node.value)}"
    if type(node).__name__ == "Pack":  # `*spatial[dimension]` in a shape
        return f"*{node.name}[{expr(node.length)}]"
    if type(node).__name__ == "KindTemplate":  # `conv{dimension}d`
        return f"{node.prefix}{{{expr(node.value)}}}{node.suffix}"
    raise TypeError(f"cannot print {type(node).__name__}")


def arguments(args, kwargs) -> str:
    return ", ".join([expr(a) for a in args] + [expr(k) for k in kwargs])


def _wrap(node, at_least: int) -> str:
    text = expr(node)
    return text if precedence(node) >= at_least else f"({text})"


def _item(node) -> str:
    if isinstance(node, ast.Slice):
        text = (expr(node.start) if node.start else "") + ":" + (expr(node.stop) if node.stop else "")
        return text + (":" + expr(node.step) if node.step else "")
    if isinstance(node, ast.Ellipsis_):
        return "..."
    return expr(node)


def quote(value: str) -> str:
    """A string literal that `attndsl.ast_expressions.unescape` reads back as `value`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'
