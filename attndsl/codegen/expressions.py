"""Constructor-time expressions rendered as the spec wrote them, and small rendering helpers."""

from __future__ import annotations

from ..ir import Cond, KindName
from ..ops import ADD, ATOM, COMPARE, MUL, UNARY
from ..symbolic import Expr
from .text import python_string

_AST_PRECEDENCE = {"+": ADD, "-": ADD, "*": MUL, "/": MUL, "//": MUL, "%": MUL, "**": 14, "and": 4, "or": 3}


def source_expr(node, names) -> tuple[str, int]:
    """Render a constructor-time expression as the spec wrote it (names mapped, numbers
    canonical). Only validated AST nodes reach here, never raw spec text."""
    from .. import syntax as ast

    if isinstance(node, ast.Name):
        if node.id == "inf":  # the language's infinity (a reserved name), Python has no such name
            return 'float("inf")', ATOM
        return names(node.id), ATOM
    if isinstance(node, ast.Number):
        value = int(node.text) if node.text.isdigit() else float(node.text)
        return repr(value), ATOM
    if isinstance(node, ast.Bool):
        return ("True" if node.value else "False"), ATOM
    if isinstance(node, ast.NoneLit):
        return "None", ATOM
    if isinstance(node, ast.String):
        return python_string(node.value), ATOM
    if isinstance(node, ast.UnaryOp) and node.op == "-":
        text, precedence = source_expr(node.operand, names)
        return "-" + (text if precedence >= UNARY else f"({text})"), UNARY
    if isinstance(node, ast.BinOp):
        precedence = _AST_PRECEDENCE[node.op]
        left, lp = source_expr(node.left, names)
        right, rp = source_expr(node.right, names)
        right_assoc = node.op == "**"
        left = left if lp > precedence or (lp == precedence and not right_assoc) else f"({left})"
        # `d ** -0.5`: Python takes a unary minus as the exponent without parentheses
        right = right if rp > precedence or (rp == precedence or rp == UNARY) and right_assoc else f"({right})"
        return f"{left} {node.op} {right}", precedence
    if isinstance(node, ast.Compare):
        left = source_expr(node.left, names)
        right = source_expr(node.right, names)
        return f"{_paren(left, COMPARE + 1)} {node.op} {_paren(right, COMPARE + 1)}", COMPARE
    if isinstance(node, ast.BoolOp):
        precedence = _AST_PRECEDENCE[node.op]
        parts = [_paren(source_expr(v, names), precedence + 1) for v in node.values]
        return f" {node.op} ".join(parts), precedence
    if isinstance(node, ast.UnaryOp) and node.op == "not":
        return f"not {_paren(source_expr(node.operand, names), 5)}", 5
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "all":
        comp = node.args[0]
        inner = source_expr(comp.element, lambda n: n if n == comp.var else names(n))[0]
        return f"all({inner} for {comp.var} in {source_expr(comp.iterable, names)[0]})", ATOM
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("max", "min", "len",
                                                                                          "range"):
        args = ", ".join(source_expr(a, names)[0] for a in node.args)
        return f"{node.func.id}({args})", ATOM
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _NUMBER_FUNCTIONS:
        args = ", ".join(source_expr(a, names)[0] for a in node.args)
        return f"{_NUMBER_FUNCTIONS[node.func.id]}({args})", ATOM
    if isinstance(node, ast.Subscript) and len(node.items) == 1:  # an item of a list argument: `out_chs[2]`
        return f"{source_expr(node.value, names)[0]}[{source_expr(node.items[0], names)[0]}]", ATOM
    if isinstance(node, ast.ListExpr):  # the strings `in` tests: `pooling_type in ["avg", "att"]`
        return "[" + ", ".join(source_expr(item, names)[0] for item in node.items) + "]", ATOM
    if isinstance(node, ast.TupleExpr):  # a size per spatial axis: `(1, 2, 2)`
        items = [source_expr(item, names)[0] for item in node.items]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")", ATOM
    if isinstance(node, ast.IfExp):  # `a if c else b` binds more loosely than anything else
        body, condition, orelse = (source_expr(n, names) for n in (node.body, node.condition, node.orelse))
        return f"{_paren(body, 2)} if {_paren(condition, 2)} else {_paren(orelse, 1)}", 1
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sqrt":
        text, precedence = source_expr(node.args[0], names)
        return (text if precedence >= ATOM else f"({text})") + " ** 0.5", 14
    raise InternalError(f"cannot render {type(node).__name__} at construction time")


_NEGATED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">", "is": "is not", "is not": "is",
            "in": "not in", "not in": "in"}
# Functions of numbers in a `let` (attndsl/lower/numbers.py), as Python writes them.
_NUMBER_FUNCTIONS = {"int": "int", "round": "round", "ceil": "math.ceil", "floor": "math.floor", "abs": "abs",
                     "log": "math.log", "log2": "math.log2", "exp": "math.exp"}


def _negated(node, names, flip: bool = True) -> str:
    """`not (cond)` as it reads best: a comparison flips its operator, unless `flip` is
    false (a comparison of floats, which a NaN fails either way round)."""
    from .. import syntax as ast

    if isinstance(node, ast.Compare) and flip:
        flipped = ast.Compare(node.span, _NEGATED[node.op], node.left, node.right)
        return source_expr(flipped, names)[0]
    if isinstance(node, ast.UnaryOp) and node.op == "not":
        return source_expr(node.operand, names)[0]
    if isinstance(node, ast.Compare):  # `not (s > 3.3)`, not the `not s > 3.3` Python reads alike
        return f"not ({source_expr(node, names)[0]})"
    return "not " + _paren(source_expr(node, names), 6)


def _paren(rendered: tuple[str, int], needed: int) -> str:
    text, precedence = rendered
    return text if precedence >= needed else f"({text})"


def _fill(template: str, definition, operands, attrs, renderer) -> str:
    """Fill a registry template: operands by parameter name, `:recv` marks a method receiver."""
    values = {}
    tensor_params = [p for p in definition.params if p.kind in ("tensor", "operand")]
    for param, rendered in zip(tensor_params, operands):
        values[param.name] = rendered
    out = template
    for name, rendered in values.items():
        out = out.replace("{" + name + ":recv}", renderer.wrap(rendered, ATOM))
        out = out.replace("{" + name + "}", rendered[0])
    for name, value in attrs.items():
        if "{" + name + "}" in out:
            out = out.replace("{" + name + "}", value if isinstance(value, str) else renderer.axes(value)
                              if isinstance(value, tuple) else str(value) if not isinstance(value, Expr) else
                              renderer.dim(value))
    return out


def _is_default(value, default) -> bool:
    if isinstance(value, Cond):
        return value.op == "const" and value.args[0] == default
    if isinstance(value, Expr):
        return (value.is_const and default is not None and not isinstance(default, bool)
                and float(value.value) == float(default))
    return value == default


def _python_value(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return "[" + ", ".join(_python_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, KindName):  # an example's layer kind
        return layer_class(value)
    if isinstance(value, str):  # a str argument's default
        return python_string(value)
    return str(value)


class InternalError(Exception):
    """A compiler bug, never a user error."""


# ---------------------------------------------------------------------------- module


def layer_class(kind: str) -> str:
    """The torch class of a layer kind, as generated code names it: `nn.ReLU` for relu."""
    from ..layers import LAYERS

    return f"nn.{LAYERS[kind].torch_class}"
