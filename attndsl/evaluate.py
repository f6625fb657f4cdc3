"""Concrete values of symbolic sizes and conditions, with Python's semantics.

The checker reasons symbolically; some questions need numbers: does an `example` satisfy
the block's contracts, and can a combination of `if` conditions happen at all (a witness
among sample argument values)? Floor division and `%` follow Python (towards -inf), as the
generated code computes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import math
import sys
from fractions import Fraction
from typing import Any, Mapping

from . import symbolic as sym
from .guards import written_values
from .ir import Cond, iterated, list_item
from .symbolic import Expr

Env = Mapping[str, Any]  # symbol -> number, bool argument -> bool, list argument -> list


class Undefined(Exception):
    """A value that the generated code could not compute either (division by zero, a symbol
    with no value, the square root of a negative number)."""


def value(expr: Expr, env: Env) -> Fraction | float:
    """The value of `expr`; `len(xs)` symbols read the length of list argument `xs`."""
    total: Fraction | float = Fraction(0)
    for monomial, coefficient in expr.terms.items():
        term: Fraction | float = coefficient
        for factor, exponent in monomial:
            base = _factor(factor, env)
            if base == 0 and exponent < 0:
                raise Undefined("division by zero")
            term = term * (Fraction(base) ** exponent if not isinstance(base, float) else base**exponent)
        total = total + term
    return total


def _factor(factor, env: Env):
    if isinstance(factor, str):
        if factor.startswith("len(") and factor.endswith(")"):
            items = env.get(factor[4:-1])
            if not isinstance(items, (list, tuple)):
                raise Undefined(f"no value for {factor}")
            return Fraction(len(items))
        item = list_item(factor) if factor not in env else None
        if item is not None:  # an item of a list argument: `out_chs[2]`
            items, index = env.get(item[0]), item[1]
            if not isinstance(items, (list, tuple)) or index >= len(items):
                raise Undefined(f"no value for {factor}")
            return Fraction(items[index])
        if factor not in env or env[factor] is None or isinstance(env[factor], (bool, list, tuple)):
            raise Undefined(f"no value for {factor}")  # None: an optional argument left out
        number = env[factor]
        return Fraction(number) if isinstance(number, int) else number
    if factor.op == "item":  # `sr_ratios[i]`: the list by its name, the index a number
        items, index = env.get(next(iter(factor.args[0].symbols()))), value(factor.args[1], env)
        if not isinstance(items, (list, tuple)) or not 0 <= index < len(items):
            raise Undefined(f"no value for {factor}")
        return Fraction(items[int(index)])
    args = [value(a, env) for a in factor.args]
    if factor.op in ("floordiv", "mod"):
        if args[1] == 0:
            raise Undefined("division by zero")
        quotient = math.floor(args[0] / args[1])
        return Fraction(quotient) if factor.op == "floordiv" else args[0] - args[1] * quotient
    if factor.op == "ceildiv":
        if args[1] == 0:
            raise Undefined("division by zero")
        return Fraction(-math.floor(-args[0] / args[1]))
    if factor.op == "truediv":
        if args[1] == 0:
            raise Undefined("division by zero")
        return args[0] / args[1]
    if factor.op == "max":
        return max(args)
    if factor.op == "min":
        return min(args)
    if factor.op == "sqrt":
        if args[0] < 0:
            raise Undefined("square root of a negative number")
        root = math.isqrt(int(args[0])) if isinstance(args[0], Fraction) and args[0].denominator == 1 else None
        return Fraction(root) if root is not None and root * root == args[0] else math.sqrt(args[0])
    if factor.op == "pow":  # `2 ** floor(log2(heads))`: a whole exponent, at least 0
        if args[1].denominator != 1 or args[1] < 0:
            raise Undefined("a power with an exponent that is not a whole number >= 0")
        return args[0] ** int(args[1])
    if factor.op in _NUMBER_FUNCTIONS:  # int(), round(), math.ceil(), ... of a `let`
        if factor.op in ("math.log", "math.log2") and args[0] <= 0:
            raise Undefined("the logarithm of a number that is not positive")
        if factor.op == "math.exp" and args[0] > LARGEST_EXP:
            raise Undefined("an exponential too large for a float")
        result = _NUMBER_FUNCTIONS[factor.op](args[0])
        return Fraction(result) if isinstance(result, int) else result
    raise Undefined(f"unknown operation {factor.op}")


# The largest float whose math.exp is a float (709.782712893384; math.exp of the next float up
# overflows): the bound the module checks exp's argument against, and the interpreter too.
LARGEST_EXP = math.log(sys.float_info.max)

_NUMBER_FUNCTIONS = {"int": math.trunc, "round": round, "math.ceil": math.ceil, "math.floor": math.floor,
                     "abs": abs, "math.log": math.log, "math.log2": math.log2,
                     "math.exp": math.exp}


_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def holds(cond, env: Env, present: frozenset = frozenset()) -> bool:
    """Whether a condition holds: a `Cond`, or a checker condition ("eq"/"divides", a, b)."""
    if isinstance(cond, tuple):
        kind, a, b = cond
        left, right = value(a, env), value(b, env)
        if kind == "eq":
            return left == right
        if right == 0:
            raise Undefined("division by zero")
        return (Fraction(left) / Fraction(right)).denominator == 1
    if cond.op == "const":
        return bool(cond.args[0])
    if cond.op == "arg":
        return bool(env[cond.args[0]])
    if cond.op == "text":  # a str argument is this string
        return env[cond.args[0]] == cond.args[1]
    if cond.op == "has":  # a list[str] argument holds this string
        return cond.args[1] in env[cond.args[0]]
    if cond.op in ("present", "flag"):  # forward's truths: the optional inputs given, the flags true
        return cond.args[0] in present
    if cond.op == "is_none":  # an optional argument (`x: int | None = None`)
        return env.get(cond.args[0]) is None
    if cond.op == "training":
        return bool(env.get("__training__", False))  # examples are read in eval mode
    if cond.op == "module_flag":  # an example builds the layer kinds it names, with torch's defaults
        return True
    if cond.op == "not":
        return not holds(cond.args[0], env, present)
    if cond.op == "and":
        return all(holds(c, env, present) for c in cond.args)
    if cond.op == "or":
        return any(holds(c, env, present) for c in cond.args)
    if cond.op == "cmp":
        operator, left, right = cond.args
        return _COMPARE[operator](value(left, env), value(right, env))
    if cond.op == "written":  # as Python evaluates it, in floats (guards.Written)
        from .interpret.values import source_value

        values = {name: value(v, env) for name, v in written_values(cond).items()}
        values = {k: v.numerator if isinstance(v, Fraction) and v.denominator == 1 else
                  float(v) if isinstance(v, Fraction) else v for k, v in values.items()}
        try:
            return bool(source_value(cond.args[0].node, {**env, **values}))
        except Exception as error:  # an Unbound name, a Refusal, a ZeroDivisionError
            raise Undefined(f"{cond.args[0].text}: {error}") from error
    if cond.op == "all_elems":
        elements, var, inner = cond.args
        items = iterated(elements, lambda e: value(e, env) if isinstance(e, Expr) else env[e])
        return all(holds(inner, {**env, var: item}, present) for item in items)
    raise Undefined(f"unknown condition {cond.op}")


def guard_holds(guard, env: Env, present: frozenset = frozenset()) -> bool:
    return all(holds(c, env, present) for c in guard)


class _NoneArgument:
    """An optional argument (`out_features: int | None`) the caller leaves None."""

    def __repr__(self) -> str:
        return "None"


NONE_ARGUMENT = _NoneArgument()


@dataclass(frozen=True)
class OptionalPassedOn:
    """An optional argument of the caller passed on as it is (`Inner(s=s)`, `s: float | None`):
    None where the caller's is, its value elsewhere."""

    name: str


def substitute_cond(cond: Cond, mapping: dict[str, Any]) -> Cond:
    """A condition over a sub-block's arguments, written over its caller's values.

    `mapping` sends numeric arguments to `Expr`s, bool arguments to `Cond`s, and optional
    ones the caller leaves None to NONE_ARGUMENT."""
    if cond.op == "arg":
        replacement = mapping.get(cond.args[0])
        return replacement if isinstance(replacement, Cond) else cond
    if cond.op in ("text", "has") and cond.args[0] in mapping:
        given = mapping[cond.args[0]]  # the string(s) the caller wrote, or its own argument passed on
        if isinstance(given, (str, list, tuple)):
            return Cond.const(given == cond.args[1] if cond.op == "text" else cond.args[1] in given)
        return Cond(cond.op, (given.name, cond.args[1]))
    if cond.op == "is_none" and isinstance(mapping.get(f"is_none({cond.args[0]})"), Cond):
        return mapping[f"is_none({cond.args[0]})"]  # the caller's own optional argument, passed on
    if cond.op == "is_none" and cond.args[0] in mapping:
        return Cond.const(mapping[cond.args[0]] is NONE_ARGUMENT)
    if cond.op in ("present", "flag") and isinstance(mapping.get(f"{cond.op}({cond.args[0]})"), Cond):
        # an optional input the caller gives or not; a flag the caller sets
        return mapping[f"{cond.op}({cond.args[0]})"]
    if cond.op in ("not", "and", "or"):
        return Cond(cond.op, tuple(substitute_cond(c, mapping) for c in cond.args))
    if cond.op == "cmp":
        operator, left, right = cond.args
        exprs = {k: v for k, v in mapping.items() if isinstance(v, Expr)}
        left, right = sym.substitute(left, exprs), sym.substitute(right, exprs)
        if left.is_const and right.is_const:
            return Cond.const(_COMPARE[operator](left.value, right.value))
        return Cond("cmp", (operator, left, right))
    if cond.op == "written":  # the values of the names it reads, in the caller's terms
        exprs = {k: v for k, v in mapping.items() if isinstance(v, Expr)}
        return Cond("written", (cond.args[0], *(sym.substitute(v, exprs) for v in cond.args[1:])))
    return cond


def fold(cond: Cond) -> Cond:
    """Constant parts folded: `not true` is false, `x and false` is false."""
    if cond.op == "not":
        inner = fold(cond.args[0])
        return Cond.const(not inner.args[0]) if inner.op == "const" else Cond("not", (inner,))
    if cond.op in ("and", "or"):
        parts = [fold(c) for c in cond.args]
        absorbing = cond.op == "or"
        if any(p.op == "const" and p.args[0] == absorbing for p in parts):
            return Cond.const(absorbing)
        parts = [p for p in parts if p.op != "const"]
        if not parts:
            return Cond.const(not absorbing)
        return parts[0] if len(parts) == 1 else Cond(cond.op, tuple(parts))
    return cond


# Atoms (attndsl/lower/numbers.py) whose value is a Python int whatever their argument, and
# those that are ints when their arguments are.
INTEGER_ATOMS = ("int", "round", "math.ceil", "math.floor", "item")
_INTEGER_OF_INTEGERS = ("floordiv", "mod", "ceildiv", "max", "min", "abs", "pow")  # pow: exponent >= 0


def integral(expr: Expr, float_symbols=()) -> bool:
    """Whether the generated code computes `expr` as a Python int: whole coefficients,
    whole powers, int arguments, int() and the like, and `//`, `%`, max, ... of ints (a
    square root or a true division is a float even where its value is whole)."""
    for monomial, coefficient in expr.terms.items():
        if coefficient.denominator != 1:
            return False
        for factor, exponent in monomial:
            if exponent < 0:
                return False
            if isinstance(factor, str):
                if factor in float_symbols:
                    return False
            elif factor.op not in INTEGER_ATOMS and (factor.op not in _INTEGER_OF_INTEGERS or not all(
                    integral(arg, float_symbols) for arg in factor.args)):
                return False
    return True


def nonzero_divisor(value: Expr, ir) -> Expr | None:
    """What must not be zero when a tensor is divided by the number `value`: `d_k` for
    `sqrt(d_k)`, the value itself for a polynomial with whole coefficients in sizes and int
    arguments (exact in the generated code too); None for anything else (`1.0 % (1 / 12)`
    is zero to exact arithmetic and not in floats: such a division is left to torch)."""
    if value.is_monomial:
        ((monomial, _),) = value.terms.items()
        if len(monomial) == 1 and isinstance(monomial[0][0], sym.Atom) and monomial[0][0].op == "sqrt":
            value = monomial[0][0].args[0]  # sqrt(d_k) is zero exactly when d_k is
    symbols = value.plain_symbols()
    whole = symbols is not None and not symbols & set(getattr(ir, "float_symbols", ())) and all(
        c.denominator == 1 for c in value.terms.values()) and all(e > 0 for m in value.terms for _, e in m)
    return value if whole else None
