"""Reassociation of matrix-product chains: (A·B)·C ↔ A·(B·C), whichever costs less.

Linear attention is the classic case: (Q·Kᵀ)·V makes an [n, n] matrix, Q·(Kᵀ·V) a
[d, d] one. A product is rotated only when the inner product has no other reader and
nothing (no softmax, no scaling) sits between the two products, and no dtype-limit fill
(`finfo(x).max`) reaches them: on such values the two orders overflow differently.

The cost of `[.., m, k] @ [.., k, n]` is batch·m·k·n multiply-adds, a polynomial in the
block's symbols. The rotation is taken when it is cheaper for every size (each
coefficient of the difference is non-negative, sizes being positive), or, when the
polynomials cross, when it is strictly cheaper at every `example(...)` of the spec.
With no example to decide, the spec's order stays.
"""

from __future__ import annotations

from fractions import Fraction

from .. import symbolic as sym
from ..evaluate import Undefined, guard_holds
from ..ir import BlockIR
from ..symbolic import Expr
from .rewrite import is_live, is_private, new_node, op_of, reads_dtype_limit, redirect, shape_of

ONE = Expr.const(1)


def reassociate(ir: BlockIR) -> int:
    rotated = 0
    examples = example_values(ir)
    changed = True
    while changed:
        changed = False
        for node in ir.topological():
            if is_live(ir, node) and op_of(ir, node) == "matmul" and _rotate(ir, node, examples):
                rotated += 1
                changed = True
                break
    return rotated


def _rotate(ir: BlockIR, node: int, examples: list[dict]) -> bool:
    left, right = ir.operands(node)
    if op_of(ir, left) == "matmul" and is_private(ir, left, node):  # (x @ y) @ z → x @ (y @ z)
        written_inner, (x, y), z = left, ir.operands(left), right
        inner_operands, inner_first = (y, z), False
    elif op_of(ir, right) == "matmul" and is_private(ir, right, node):  # x @ (y @ z) → (x @ y) @ z
        written_inner, x, (y, z) = right, left, ir.operands(right)
        inner_operands, inner_first = (x, y), True
    else:
        return False
    if reads_dtype_limit(ir, node):  # (x·y)·z and x·(y·z) overflow differently on `finfo(x).max` fills
        return False
    inner_shape = product_shape(ir, *(shape_of(ir, n) for n in inner_operands))
    if inner_shape is None:
        return False
    other = z if inner_first else x
    outer_shapes = (inner_shape, shape_of(ir, other)) if inner_first else (shape_of(ir, other), inner_shape)
    if product_shape(ir, *outer_shapes) is None:
        return False
    written = _products_cost(ir, written_inner) + _products_cost(ir, node)
    proposed = cost(ir, *(shape_of(ir, n) for n in inner_operands)) + cost(ir, *outer_shapes)
    if not cheaper(ir, proposed, written, examples):
        return False
    inner = new_node(ir, "matmul", list(inner_operands), like=written_inner, shape=inner_shape)
    rotated = new_node(ir, "matmul", [inner, other] if inner_first else [other, inner], like=node,
                       shape=shape_of(ir, node), name=ir.graph.nodes[node]["name"])
    ir.graph.nodes[rotated]["comments"] = list(ir.graph.nodes[node]["comments"])
    redirect(ir, node, rotated)
    return True


def _products_cost(ir: BlockIR, product: int) -> Expr:
    return cost(ir, *(shape_of(ir, n) for n in ir.operands(product)))


def product_shape(ir: BlockIR, a, b):
    batch = _broadcast(ir, a[:-2], b[:-2])
    return None if batch is None else tuple(batch) + (a[-2], b[-1])


def cost(ir: BlockIR, a, b) -> Expr:
    total = ONE
    for dim in list(_broadcast(ir, a[:-2], b[:-2]) or ()) + [a[-2], a[-1], b[-1]]:
        total = total * dim
    return _normal(ir, total)


def _broadcast(ir: BlockIR, a, b):
    rank = max(len(a), len(b))
    a = (ONE,) * (rank - len(a)) + tuple(a)
    b = (ONE,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if _normal(ir, x) == ONE:
            out.append(y)
        elif _normal(ir, y) == ONE or _normal(ir, x) == _normal(ir, y):
            out.append(x)
        else:
            return None
    return out


def _normal(ir: BlockIR, expr: Expr) -> Expr:
    normal = getattr(ir, "normal", None)
    return normal(expr) if normal is not None else expr


def cheaper(ir: BlockIR, proposed: Expr, written: Expr, examples: list[dict]) -> bool:
    """Whether `proposed` costs less than `written`: for all sizes, or at every example."""
    difference = _normal(ir, written - proposed)
    if not difference.terms:
        return False
    if all(c >= 0 for c in difference.terms.values()):
        return True
    if all(c <= 0 for c in difference.terms.values()):
        return False
    decided = []
    for values in examples:
        try:
            decided.append(sym.evaluate(difference, values) > 0)
        except (ValueError, ZeroDivisionError):
            continue
    return bool(decided) and all(decided)


def example_values(ir: BlockIR) -> list[dict[str, Fraction]]:
    """Each `example(...)`'s value of every symbol it determines: arguments (and their
    defaults), the inputs' dims, lets and the checker's derived dims."""
    found = []
    defaults = {a.name: a.default for a in ir.args if _is_number(a.default)}
    for example in ir.examples:
        values = {name: Fraction(str(v)) for name, v in {**defaults, **example}.items()
                  if _is_number(v) and (name in defaults or any(a.name == name for a in ir.args))}
        for info in (i for i in ir.inputs if i.dtype != "flag"):
            for axis, size in enumerate(info.sizes_of(example[info.name]) if info.name in example else ()):
                symbol = next((s for s, origin in ir.dim_origin.items() if origin == (info.name, axis)), None)
                if symbol is not None:
                    values[symbol] = Fraction(size)
        # A conditional let is one let per branch, of one name: a branch the example's
        # arguments rule out (`dim if dim_out is None ...` with dim_out given) is skipped.
        lets = [(let.name, let.value) for let in ir.lets if _may_hold(let.guard, values)]
        for name, expr in lets + list(ir.derived.items()):
            try:
                values[name] = sym.evaluate(expr, values)
            except (ValueError, ZeroDivisionError):
                pass
        found.append(values)
    return found


def _may_hold(guard, values: dict) -> bool:
    """False where the guard is decided and does not hold (an argument left None is absent)."""
    try:
        return guard_holds(guard, values)
    except (KeyError, ValueError, ZeroDivisionError, Undefined):
        return True


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
