"""Lines longer than `WIDTH` split at argument boundaries, as black splits Python.

A line is laid out from a *doc*: text pieces and bracketed groups (a call's arguments, a
list's items, a block's parameters), whose flat rendering is exactly `spec_expr.expr`'s.
When the flat line is too long, the last group of the line whose first and last lines fit
opens it: the text up to its bracket stays on the first line, its items go one indented
line further (all on one line when they fit there, else one a line with a trailing comma,
each laid out the same way), and the closing bracket starts the last line with what
follows it. A line without a group (`require a and b, "..."`) stays long. The spec means
the same: the parser joins the lines inside brackets, and a trailing comma changes nothing
in a call, a list or a header (none is written in a subscript or a comprehension).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import syntax as ast
from ..spec_expr import ADD, AND, NOT, OR, POSTFIX, UNARY, _BINARY, _item, expr, precedence, quote

WIDTH = 100
STEP = "    "


@dataclass
class Group:
    """`open item, item, ... close`: where a line may break."""

    open: str
    items: list[list]  # docs
    close: str
    trailing_comma: bool = True  # written after the last item when one a line (not in a subscript)


def flat(doc: list) -> str:
    return "".join(part if isinstance(part, str) else
                   part.open + ", ".join(flat(item) for item in part.items) + part.close for part in doc)


def lay_out(doc: list, indent: int) -> list[str]:
    """The doc's lines at `indent` characters (the first line's indent not included)."""
    line = flat(doc)
    groups = [index for index, part in enumerate(doc) if isinstance(part, Group) and part.items]
    if indent + len(line) <= WIDTH or not groups:
        return [line]
    # the last group whose opening and closing lines fit (`[a, b] for _ in range(n)` opens
    # the list, not range's brackets), else the last one
    ends = {at: (flat(doc[:at]) + doc[at].open, doc[at].close + flat(doc[at + 1:])) for at in groups}
    fitting = [at for at in groups if indent + max(len(ends[at][0]), len(ends[at][1])) <= WIDTH]
    at = (fitting or groups)[-1]
    group = doc[at]
    head, tail = ends[at]
    inner = indent + len(STEP)
    together = ", ".join(flat(item) for item in group.items)
    if inner + len(together) <= WIDTH:
        body = [together]
    else:
        body = []
        for index, item in enumerate(group.items):
            lines = lay_out(item, inner)
            if index < len(group.items) - 1 or group.trailing_comma:
                lines[-1] += ","
            body += lines
    return [head] + [STEP + text for text in body] + [tail]


# ---------------------------------------------------------------------------- docs of expressions


def doc(node) -> list:
    """The doc of an expression; `flat(doc(node)) == expr(node)`."""
    if isinstance(node, ast.Call):
        return _wrapped(node.func, POSTFIX) + [Group("(", [doc(a) for a in node.args + node.kwargs], ")")]
    if isinstance(node, ast.Keyword):
        return [f"{node.name}="] + doc(node.value)
    if isinstance(node, ast.ListExpr):
        return [Group("[", [doc(i) for i in node.items], "]")]
    if isinstance(node, ast.Subscript):
        return _wrapped(node.value, POSTFIX) + [Group("[", [[_item(i)] for i in node.items], "]", False)]
    if isinstance(node, ast.Attribute):
        return _wrapped(node.value, POSTFIX) + [f".{node.attr}"]
    if isinstance(node, ast.ListComp):
        inner = doc(node.element) + [f" for {', '.join(name for name, _ in node.targets)} in "] + doc(node.iterable)
        return [Group("[", [inner], "]", False)]
    if isinstance(node, ast.BinOp):
        level = _BINARY[node.op]
        if node.op == "**":
            return _wrapped(node.left, POSTFIX) + [" ** "] + _wrapped(node.right, UNARY)
        return _wrapped(node.left, level) + [f" {node.op} "] + _wrapped(node.right, level + 1)
    if isinstance(node, ast.Compare):
        return _wrapped(node.left, ADD) + [f" {node.op} "] + _wrapped(node.right, ADD)
    if isinstance(node, ast.BoolOp):
        inner = NOT if node.op == "and" else AND
        out: list = []
        for index, value in enumerate(node.values):
            out += ([f" {node.op} "] if index else []) + _wrapped(value, inner)
        return out
    if isinstance(node, ast.UnaryOp):
        return (["not "] + _wrapped(node.operand, NOT)) if node.op == "not" else [node.op] + _wrapped(node.operand, UNARY)
    if isinstance(node, ast.IfExp):
        return _wrapped(node.body, OR) + [" if "] + _wrapped(node.condition, OR) + [" else "] + _wrapped(node.orelse, 0)
    return [expr(node)]  # names, numbers, strings, tuples: never split


def _wrapped(node, at_least: int) -> list:
    inner = doc(node)
    return inner if precedence(node) >= at_least else [Group("(", [inner], ")", False)]


# ---------------------------------------------------------------------------- docs of statements


def statement_doc(stmt) -> list:
    """The doc of a one-line statement (`fmt._Layout` writes the compound ones)."""
    if isinstance(stmt, ast.Input) and stmt.shape is None:  # a flag: `input is_causal: bool = false`
        return [f"input {stmt.name}: {stmt.dtype}"] + ([" = "] + doc(stmt.default) if stmt.default is not None else [])
    if isinstance(stmt, ast.Input):
        dtype = getattr(stmt, "dtype", None) or ""  # `bool[...]` for a mask
        return [f"input {stmt.name}: {dtype}", _shape(stmt.shape)] + ([" = None"] if stmt.optional else [])
    if isinstance(stmt, ast.Param):
        keyword = "frozen param" if getattr(stmt, "frozen", False) else "param"
        return [f"{keyword} {stmt.name}: ", _shape(stmt.shape), " = "] + doc(stmt.init)
    for kind, keyword in ((ast.Layer, "layer"), (ast.Let, "let"), (ast.Buffer, "buffer")):
        if isinstance(stmt, kind):
            keyword = "persistent buffer" if getattr(stmt, "persistent", False) else keyword
            return [f"{keyword} {stmt.name} = "] + doc(stmt.value)
    if isinstance(stmt, ast.Init):  # `init W[1].weight = ...`: a sequential's child by position
        target = "".join(f"[{name}]" if isinstance(name, int) else ("." if index else "") + name
                         for index, (name, _) in enumerate(stmt.target))
        return [f"init {target} = "] + doc(stmt.value)
    if isinstance(stmt, ast.Require):
        return ["require "] + doc(stmt.condition) + ([f", {quote(stmt.message)}"] if stmt.message is not None else [])
    if isinstance(stmt, ast.Example):
        return ["example", Group("(", [doc(k) for k in stmt.kwargs], ")")]
    if isinstance(stmt, ast.Assign):
        return [f"{', '.join(name for name, _ in stmt.targets)} = "] + doc(stmt.value)
    if type(stmt).__name__ == "ExprStmt":  # `outs.append(y)` in a loop
        return doc(stmt.value)
    if isinstance(stmt, ast.Return):
        out: list = ["return "]
        for index, value in enumerate(stmt.values):
            out += ([", "] if index else []) + doc(value)
        return out
    raise TypeError(f"cannot format {type(stmt).__name__}")


def header_doc(block) -> list:
    """`block Name(arg: type = default, ...):`."""
    items, marked = [], False
    for arg in block.args:
        if arg.keyword_only and not marked:  # `*`: the arguments after it are keyword-only
            items.append(["*"])
            marked = True
        items.append([arg_text(arg)])
    return [f"block {block.name}", Group("(", items, ")"), ":"]


def arg_text(arg) -> str:
    return f"{arg.name}: {arg.type}" + (f" = {expr(arg.default)}" if arg.default is not None else "")


def _shape(dims) -> Group:
    return Group("[", [doc(d) for d in dims], "]")
