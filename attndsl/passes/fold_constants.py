"""Constant folding: arithmetic the compiler can do once instead of every forward.

- `x * 1`, `1 * x`, `x / 1`, `x + 0`, `0 + x`, `x - 0`, `x ** 1` and `-(-x)` are `x`
  (when `x` already has the result's shape: a scalar cannot broadcast it further);
- a chain of scalings `x * a / b * c` becomes one `x * (a*c/b)`, the factor computed
  at compile time from the constructor arguments (floating rounding moves by an ulp);
- an `if` whose condition is decided (a constant, or implied by the guard the join sits
  under, as after attention specialisation) keeps its one live branch.

Arithmetic on integer tensors is left as written: `index * 0.5 * 2` is a float tensor,
and folding it to `index` would change its element type.
"""

from __future__ import annotations

from ..ir import BlockIR, Cond, negate
from .. import symbolic as sym
from ..symbolic import Expr
from .rewrite import (attrs_of, guard_of, is_live, is_private, new_node, op_of, redirect, same_dims, scalar_node,
                      scalar_value, shape_of)

ONE, ZERO = Expr.const(1), Expr.const(0)


def fold_constants(ir: BlockIR) -> int:
    folded = 0
    changed = True
    while changed:
        changed = False
        for node in ir.topological():
            if not is_live(ir, node):
                continue
            for rule in (_identity_arithmetic, _scaling_chain, _decided_join):
                if rule is not _decided_join and _reads_integers(ir, node):
                    continue
                if rule(ir, node):
                    folded += 1
                    changed = True
                    break
    return folded


def _reads_integers(ir: BlockIR, node: int) -> bool:
    return any(ir.graph.nodes[n].get("dtype") == "int" for n in [node] + ir.operands(node))


def _identity_arithmetic(ir: BlockIR, node: int) -> bool:
    op = op_of(ir, node)
    operands = ir.operands(node)
    if op == "neg" and op_of(ir, operands[0]) == "neg":
        redirect(ir, node, ir.operands(operands[0])[0])
        return True
    if op not in ("add", "sub", "mul", "div", "pow") or len(operands) != 2:
        return False
    left, right = operands
    neutral = {"add": (ZERO, ZERO), "sub": (None, ZERO), "mul": (ONE, ONE), "div": (None, ONE),
               "pow": (None, ONE)}[op]
    for index, keep in ((0, right), (1, left)):
        value = scalar_value(ir, operands[index])
        if neutral[index] is None or value is None or value != neutral[index]:
            continue
        if op_of(ir, keep) != "scalar" and same_dims(ir, shape_of(ir, keep), shape_of(ir, node)):
            redirect(ir, node, keep)
            return True
    return False


def _scale_of(ir: BlockIR, node: int) -> tuple[int, Expr] | None:
    """(tensor, factor) when `node` is `tensor * factor`, `factor * tensor` or `tensor / factor`."""
    op = op_of(ir, node)
    if op not in ("mul", "div"):
        return None
    left, right = ir.operands(node)
    right_value, left_value = scalar_value(ir, right), scalar_value(ir, left)
    if right_value is not None and op_of(ir, left) != "scalar":
        if op == "div":
            # Only a constant divisor becomes a factor: a symbolic one (`min(g, b)`) may be 0
            # at run time, where `x / 0` is inf but the folded `x * (1 / 0)` raises in Python.
            nonzero = right_value.is_const and right_value != ZERO
            return (left, sym.truediv(ONE, right_value)) if nonzero else None
        return left, right_value
    if op == "mul" and left_value is not None and op_of(ir, right) != "scalar":
        return right, left_value
    return None


def _scaling_chain(ir: BlockIR, node: int) -> bool:
    outer = _scale_of(ir, node)
    if outer is None:
        return False
    inner_node, outer_factor = outer
    inner = _scale_of(ir, inner_node)
    if inner is None or not is_private(ir, inner_node, node):
        return False
    tensor, inner_factor = inner
    if ir.graph.nodes[tensor].get("dtype") == "int":  # `index * 0.5 * 2` is float; `index * 1` is not
        return False
    factor = inner_factor * outer_factor
    scalar_like = next(o for o in ir.operands(node) if op_of(ir, o) == "scalar")
    if factor.is_const and factor != ZERO and (ONE.exact_div(factor)).is_const and \
            ONE.exact_div(factor).value.denominator == 1 and factor.value.denominator != 1:
        # `x / 8` reads better than `x * 0.125`
        combined = new_node(ir, "div", [tensor, scalar_node(ir, ONE.exact_div(factor), like=scalar_like)],
                            like=node, shape=shape_of(ir, node))
    else:
        combined = new_node(ir, "mul", [tensor, scalar_node(ir, factor, like=scalar_like)], like=node,
                            shape=shape_of(ir, node))
    redirect(ir, node, combined)
    return True


def _decided_join(ir: BlockIR, node: int) -> bool:
    if op_of(ir, node) != "phi":
        return False
    condition: Cond = attrs_of(ir, node)["condition"]
    guard = guard_of(ir, node)
    then_value, else_value = ir.operands(node)
    if condition == Cond.const(True) or condition in guard:
        live = then_value
    elif condition == Cond.const(False) or negate(condition) in guard:
        live = else_value
    else:
        return False
    redirect(ir, node, live)
    return True
