"""Numbers and conditions of a checked spec, evaluated with concrete values.

Three evaluators, each written from the language's meaning and sharing nothing with
code generation:

- `expr_value`: an `attndsl.symbolic.Expr` (the checker's canonical form: a sum of
  coefficient * monomial, factors being symbols or opaque atoms), exactly, in
  `Fraction`s; `sqrt` of a non-square falls back to a float.
- `cond_value`: an `attndsl.ir.Cond` tree (guards, `if` conditions).
- `source_value`: an expression as the spec wrote it (its AST), with Python's own
  semantics (`/` is true division, `//` floors, ints stay ints). This is what the spec
  *says*; the canonical form is what the checker *believes* it says, so evaluating the
  source where the IR keeps it is what lets the differential tests catch a lowering
  that canonicalised an expression wrongly.

Environments are plain dicts from names (arguments, lets, dims, `len(list)`, loop
variables) to Python values.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction

from .. import syntax as ast
from ..guards import written_values
from ..evaluate import LARGEST_EXP
from ..ir import Cond, iterated
from ..spec_expr import expr as spec_expr
from ..symbolic import Expr


class Unbound(Exception):
    """A name the environment does not give a value to."""


class Refusal(ValueError):
    """The interpreter refuses a module configuration or an input (its own diagnosis)."""


class ContractRefusal(Refusal):
    """An input does not have the shape its block declares."""


# ---------------------------------------------------------------------------- canonical form


def expr_value(expr: Expr, env: dict):
    """The value of `expr`: an exact Fraction, or a float where sqrt or a float argument enters."""
    total = Fraction(0)
    for monomial, coefficient in expr.terms.items():
        term = coefficient
        for factor, exponent in monomial:
            base = _factor_value(factor, env)
            if exponent < 0 and base == 0:
                raise ZeroDivisionError(f"division by zero evaluating {expr}")
            term = term * _power(base, exponent)
        total = total + term
    return total


def _power(base, exponent: int):
    if isinstance(base, (int, Fraction)):
        return Fraction(base) ** exponent
    return base**exponent


def _factor_value(factor, env: dict):
    if isinstance(factor, str):
        if factor not in env:
            raise Unbound(factor)
        value = env[factor]
        if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
            raise Unbound(f"{factor} is not a number ({value!r})")
        return Fraction(value) if isinstance(value, int) else value
    if factor.op == "item":  # `sr_ratios[i]`: the list argument by its name, at a whole number
        name, index = next(iter(factor.args[0].symbols())), expr_value(factor.args[1], env)
        items = env.get(name)
        if not isinstance(items, (list, tuple)) or index != int(index) or not 0 <= index < len(items):
            raise Refusal(f"`{name}` has no item {index}")
        return Fraction(items[int(index)])
    return _ATOMS[factor.op](*(expr_value(arg, env) for arg in factor.args))


def _floordiv(a, b):
    if b == 0:
        raise ZeroDivisionError("floor division by zero")
    return Fraction(math.floor(a / b))


def _truediv(a, b):
    """`a / b` of numbers (`layer_id / (n_layer - 1)`), as Python divides them."""
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return a / b


def _sqrt(a):
    if a < 0:
        raise Refusal(f"square root of a negative number ({a})")
    if isinstance(a, Fraction):
        top, bottom = math.isqrt(a.numerator), math.isqrt(a.denominator)
        if top * top == a.numerator and bottom * bottom == a.denominator:
            return Fraction(top, bottom)
    return math.sqrt(a)


def _whole_power(base, exponent):
    """`2 ** floor(log2(heads))`: a whole exponent at least 0, as the language has it."""
    if Fraction(exponent).denominator != 1 or exponent < 0:
        raise Refusal(f"a power with the exponent {exponent}, not a whole number >= 0")
    return Fraction(base) ** int(exponent) if isinstance(base, (int, Fraction)) else base ** int(exponent)


_ATOMS = {
    "floordiv": _floordiv,
    "ceildiv": lambda a, b: -_floordiv(-a, b),
    "mod": lambda a, b: a - b * _floordiv(a, b),
    "truediv": _truediv,
    "max": max,
    "min": min,
    "sqrt": _sqrt,
    # functions of numbers in a `let`: the canonical form names them as Python does
    "int": lambda a: Fraction(math.trunc(a)),
    "round": lambda a: Fraction(round(a)),
    "math.ceil": lambda a: Fraction(math.ceil(a)),
    "math.floor": lambda a: Fraction(math.floor(a)),
    "abs": abs,
    "math.log": lambda a: math.log(a),
    "math.log2": lambda a: math.log2(a),
    "math.exp": lambda a: _exp(a),
    "pow": _whole_power,
}


def as_python(value):
    """A Fraction as Python would hold it: an int when whole, else a float."""
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    return value


def as_size(value, what: str) -> int:
    """A value that must be a whole, non-negative size."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise Refusal(f"{what} is not a number: {value!r}")
    if isinstance(value, float) and not math.isfinite(value) or value != int(value):
        raise Refusal(f"{what} = {value} is not a whole number")
    if value < 0:
        raise Refusal(f"{what} = {value} is negative")
    return int(value)


# ---------------------------------------------------------------------------- conditions

_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}


def cond_value(cond: Cond, env: dict, present: frozenset | set = frozenset()) -> bool:
    op, args = cond.op, cond.args
    if op == "const":
        return bool(args[0])
    if op == "arg":
        if args[0] not in env:
            raise Unbound(args[0])
        return bool(env[args[0]])
    if op in ("text", "has"):  # a str argument is that string; a list[str] argument holds it
        if args[0] not in env:
            raise Unbound(args[0])
        return env[args[0]] == args[1] if op == "text" else args[1] in env[args[0]]
    if op in ("present", "flag"):  # an optional input is given; a flag is set
        return args[0] in present
    if op == "is_none":
        if args[0] not in env:
            raise Unbound(args[0])
        return env[args[0]] is None
    if op == "not":
        return not cond_value(args[0], env, present)
    if op == "and":
        return all(cond_value(a, env, present) for a in args)
    if op == "or":
        return any(cond_value(a, env, present) for a in args)
    if op == "cmp":
        comparison, left, right = args
        return _COMPARE[comparison](expr_value(left, env), expr_value(right, env))
    if op == "written":  # as Python evaluates it, in floats (guards.Written)
        values = {name: as_python(expr_value(value, env)) for name, value in written_values(cond).items()}
        return bool(source_value(args[0].node, {**env, **values}))
    if op == "all_elems":
        elements, var, inner = args
        if isinstance(elements, str) and elements not in env:
            raise Unbound(elements)
        items = iterated(elements, lambda e: expr_value(e, env) if isinstance(e, Expr) else env[e])
        return all(cond_value(inner, {**env, var: item}, present) for item in items)
    raise AssertionError(f"unknown condition {op}")


def guard_holds(guard, env: dict, present=frozenset()) -> bool:
    return all(cond_value(c, env, present) for c in guard)


# ---------------------------------------------------------------------------- source expressions


def _number(text: str):
    return int(text) if text.isdigit() else float(text)


def _sqrt_source(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Refusal(f"sqrt of {value!r}")
    if value < 0:
        raise Refusal(f"square root of a negative number ({value})")
    return value**0.5


def _exp(value):
    """math.exp, refused past the bound the module checks (exp(inf) too, as the module does)."""
    if value > LARGEST_EXP:
        raise Refusal(f"exp({value!r}): {value!r} is more than {LARGEST_EXP!r}, past which an exponential "
                      "is no float")
    return math.exp(value)


_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
           "//": operator.floordiv, "%": operator.mod, "**": operator.pow}
_FUNCTIONS = {"max": max, "min": min, "len": len, "int": int, "round": round, "abs": abs, "ceil": math.ceil,
              "floor": math.floor, "log": math.log, "log2": math.log2,
              "exp": _exp}


def source_value(node: ast.Node, env: dict):
    """The value of a constructor-time or scalar expression, with Python's semantics; what
    Python cannot compute (a division by zero, `exp(1000)`, `exp(400) ** 2`, the logarithm of
    a negative number) is a refusal, as the generated module refuses it, not Python's error."""
    try:
        return _source_value(node, env)
    except (ZeroDivisionError, OverflowError) as error:
        raise Refusal(f"{spec_expr(node)} cannot be computed: {error}") from None
    except ValueError as error:
        if isinstance(error, Refusal):
            raise
        raise Refusal(f"{spec_expr(node)} cannot be computed: {error}") from None


def _source_value(node: ast.Node, env: dict):
    if isinstance(node, ast.Number):
        return _number(node.text)
    if isinstance(node, ast.Bool):
        return node.value
    if isinstance(node, ast.NoneLit):
        return None
    if isinstance(node, ast.String):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id == "inf":
            return math.inf
        raise Unbound(node.id)
    if isinstance(node, ast.ListExpr):
        return [_source_value(item, env) for item in node.items]
    if isinstance(node, ast.TupleExpr):
        return tuple(_source_value(item, env) for item in node.items)
    if isinstance(node, ast.UnaryOp):
        value = _source_value(node.operand, env)
        return {"-": operator.neg, "+": operator.pos, "not": operator.not_}[node.op](value)
    if isinstance(node, ast.BinOp):
        left, right = _source_value(node.left, env), _source_value(node.right, env)
        if node.op == "**" and isinstance(right, int) and abs(right) > 4096:
            raise Refusal(f"exponent {right} is out of range")
        if node.op == "**" and ast.names_in(node.right) and not (isinstance(right, int) and right >= 0):
            # an exponent the arguments give is a whole number >= 0 (`2 ** floor(log2(heads))`)
            raise Refusal(f"the exponent {right!r} is not a whole number >= 0")
        result = _BINARY[node.op](left, right)
        if isinstance(result, complex):
            raise Refusal(f"{left} ** {right} is not a real number")
        return result
    if isinstance(node, ast.Compare):
        if node.op in ("is", "is not"):  # `x is None`, on an optional argument
            return (_source_value(node.left, env) is None) == (node.op == "is")
        if node.op in ("in", "not in"):  # strings: `mode in ["att", "avg"]`, `"channel_add" in fusion_types`
            return (_source_value(node.left, env) in _source_value(node.right, env)) == (node.op == "in")
        return _COMPARE[node.op](_source_value(node.left, env), _source_value(node.right, env))
    if isinstance(node, ast.IfExp):
        chosen = node.body if _source_value(node.condition, env) else node.orelse
        return _source_value(chosen, env)
    if isinstance(node, ast.Subscript) and len(node.items) == 1:  # an item of a list argument
        items, index = _source_value(node.value, env), _source_value(node.items[0], env)
        if not isinstance(items, list) or not 0 <= index < len(items):
            raise Refusal(f"{getattr(node.value, 'id', 'the list')} has no item {index}")
        return items[index]
    if isinstance(node, ast.BoolOp):
        if node.op == "or":  # Python's: the first true value, else the last (`qk_scale or d ** -0.5`)
            for part in node.values[:-1]:
                value = _source_value(part, env)
                if value:
                    return value
            return _source_value(node.values[-1], env)
        return all(_source_value(v, env) for v in node.values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        if name == "all":
            comp = node.args[0]
            items = _source_value(comp.iterable, env)
            return all(_source_value(comp.element, {**env, comp.var: item}) for item in items)
        if name == "sqrt":
            return _sqrt_source(_source_value(node.args[0], env))
        if name in _FUNCTIONS:
            return _FUNCTIONS[name](*(_source_value(a, env) for a in node.args))
    raise Unbound(f"cannot evaluate {type(node).__name__} at {node.span}")


def spec_value(source, value, env: dict, dataflow_names=frozenset()):
    """What the spec wrote (`source`, Python semantics) when it can be evaluated here, else
    the IR's value. A source naming a dataflow scalar (`s = d // 2; y = x * s`) is left to
    the IR, which has substituted it."""
    if source is not None and not (ast.names_in(source) & dataflow_names):
        try:
            return source_value(source, env)
        except Unbound:
            pass
    if isinstance(value, Expr):
        return as_python(expr_value(value, env))
    return cond_value(value, env)
