"""Small pure helpers of lowering: numbers, conditions, symbols."""

from __future__ import annotations

import math
from fractions import Fraction

from .. import symbolic as sym
from .. import syntax as ast
from ..diagnostics import Span
from ..ir import Cond, LayerSpec
from ..symbolic import Expr

def _label(span: Span, message: str):
    from ..diagnostics import Label

    return Label(span, message)


def _number_value(node: ast.Number, exact: bool = False):
    text = node.text
    if text.isdigit():
        return int(text)
    if not math.isfinite(float(text)):
        # Would render as `inf`, which is no Python literal; a spec means a real number.
        raise _NumberTooLarge(node)
    return Fraction(text) if exact else float(text)


class _NumberTooLarge(Exception):
    def __init__(self, node):
        super().__init__(node.text)
        self.node = node


def _default_value(param):
    default = param.default
    if isinstance(default, bool):
        return Cond.const(default)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return Expr.const(Fraction(str(default)))
    return default


def _float_source(node, float_names=frozenset()) -> ast.Node | None:
    """The part of an expression that is a float in Python (`2.0`, `1e3`, `a / 2`, `a ** 0.5`,
    or a name in `float_names`: a `let` whose definition is one, `let m = max(5., c)`)."""
    if isinstance(node, ast.Name):
        return node if node.id in float_names else None
    if isinstance(node, ast.Number):
        return None if node.is_int else node
    if isinstance(node, ast.BinOp):
        if node.op == "/":
            return node
        # `d ** 0.5`, `d ** -1` are floats; `2 ** floor(log2(h))`, whose exponent the arguments
        # give (a whole number >= 0, checked when built), is an int of ints
        if node.op == "**" and not (isinstance(node.right, ast.Number) and node.right.is_int) and \
                not ast.names_in(node.right):
            return node
        return _float_source(node.left, float_names) or _float_source(node.right, float_names)
    if isinstance(node, ast.UnaryOp):
        return _float_source(node.operand, float_names)
    if isinstance(node, ast.IfExp):
        return _float_source(node.body, float_names) or _float_source(node.orelse, float_names)
    if isinstance(node, ast.BoolOp) and node.op == "or":  # a number chosen: `qk_scale or head_dim ** -0.5`
        return next((found for found in (_float_source(v, float_names) for v in node.values) if found), None)
    if isinstance(node, (ast.TupleExpr, ast.ListExpr)):  # `(1, 2, 2.0)`: a float among the sizes
        for item in node.items:
            found = _float_source(item, float_names)
            if found is not None:
                return found
        return None
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in ("sqrt", "log", "log2", "exp"):
            return node
        if isinstance(node.func, ast.Name) and node.func.id in ("int", "round", "ceil", "floor"):
            return None  # whole numbers, whatever they round
        for arg in node.args:
            found = _float_source(arg, float_names)
            if found is not None:
                return found
    return None


def _symbols_of(value) -> set[str]:
    """The symbols an Expr, a Cond, a LayerSpec or a collection of them mentions; of a spec's
    node, every name it is written with (which its simplified value may have lost: `n - n`)."""
    if isinstance(value, ast.Node):
        return ast.names_in(value)
    if isinstance(value, Expr):
        return value.symbols()
    if isinstance(value, Cond):
        return _symbols_of(list(value.args))
    if isinstance(value, LayerSpec):
        return _symbols_of(list(value.args.values()) + [child for _, child in value.children])
    if isinstance(value, (list, tuple)):
        found: set[str] = set()
        for item in value:
            found |= _symbols_of(item)
        return found
    return set()


def _resolve_child(spec: LayerSpec, path: tuple[str, ...]) -> LayerSpec:
    for name in path:
        spec = next(child for child_name, child in spec.children if child_name == name)
    return spec


def _mod_fact(left: Expr, right: Expr, var: str):
    """Recognise `var % m == r` (as canonicalised: var - m*floordiv(var, m) == r)."""
    if not right.is_const:
        return None
    for monomial, coefficient in left.terms.items():
        for factor, _ in monomial:
            if isinstance(factor, sym.Atom) and factor.op == "floordiv":
                numerator, modulus = factor.args
                if numerator == Expr.symbol(var) and modulus.is_const:
                    m = int(modulus.value)
                    if left == Expr.symbol(var) - m * Expr.atom("floordiv", numerator, modulus):
                        return (m, int(right.value))
    return None

