"""A number that scales a matrix product moves onto its smaller operand: (A·B)·s → (A·s)·B.

`q @ k / sqrt(d)` divides every one of the [n, n] logits; `(q / sqrt(d)) @ k` divides the
[n, d] queries, n/d times fewer values for the same result (up to rounding). Attention
that keeps its weights (MultiHeadAttention returns them, so nothing fuses) gains one full
pass over the largest tensor it makes.

The factor must be a number (a `scalar` node: an argument, a let, a constant), never a
tensor, which could broadcast the product to a larger shape. The product must have no
other reader, under the same guard, and no dtype-limit fill may reach it (`finfo(x).max`
overflows differently in the other order). The operand is taken when it has fewer elements than
the product for every size, or, when the counts cross, at every `example(...)` of the
spec (reassociate.py's rule); of two such operands, the smaller at the examples.
"""

from __future__ import annotations

from ..ir import BlockIR
from ..symbolic import Expr
from .reassociate import cheaper, example_values
from .rewrite import is_live, is_private, op_of, reads_dtype_limit, rebuild, shape_of


def scale_operands(ir: BlockIR) -> int:
    moved = 0
    examples = example_values(ir)
    for node in list(ir.topological()):
        if is_live(ir, node) and op_of(ir, node) in ("mul", "div") and _move(ir, node, examples):
            moved += 1
    return moved


def _move(ir: BlockIR, node: int, examples: list[dict]) -> bool:
    left, right = ir.operands(node)
    if op_of(ir, node) == "div":  # only `product / s`: `s / product` is no scaling
        product, factor, factor_first = left, right, False
    elif op_of(ir, right) == "scalar":
        product, factor, factor_first = left, right, False
    else:
        product, factor, factor_first = right, left, True
    if op_of(ir, product) != "matmul" or op_of(ir, factor) != "scalar" or not is_private(ir, product, node):
        return False
    if reads_dtype_limit(ir, product):  # s·(A·B) and (s·A)·B overflow differently there
        return False
    operand = _smaller_operand(ir, product, examples)
    if operand is None:
        return False
    # In place, so that the nodes keep their ids and the code its order: the product node
    # becomes the scaled operand, the scaling node the product.
    operands = ir.operands(product)
    target, other = operands[operand], operands[1 - operand]
    scaling, product_attrs = ir.graph.nodes[node]["attrs"], ir.graph.nodes[product]["attrs"]
    rebuild(ir, product, op_of(ir, node), [factor, target] if factor_first else [target, factor],
            attrs=scaling, shape_of=target)
    ir.graph.nodes[product]["name"] = None
    rebuild(ir, node, "matmul", [product, other] if operand == 0 else [other, product], attrs=product_attrs)
    return True


def _smaller_operand(ir: BlockIR, product: int, examples: list[dict]) -> int | None:
    """Index of the operand to scale: fewer elements than the product in every world (each
    combination of shape-changing `if`s, at its real sizes), the fewer of the two."""
    operands = ir.operands(product)
    candidates = [i for i, operand in enumerate(operands) if _fewer(ir, operand, product, examples)]
    if len(candidates) == 2:
        return 1 if _fewer(ir, operands[1], operands[0], examples) else 0
    return candidates[0] if candidates else None


def _fewer(ir: BlockIR, a: int, b: int, examples: list[dict]) -> bool:
    worlds = [shapes for _, shapes in getattr(ir, "world_shapes", None) or [] if a in shapes and b in shapes]
    if not worlds:
        worlds = [{a: shape_of(ir, a), b: shape_of(ir, b)}]
    return all(cheaper(ir, _elements(ir, shapes[a]), _elements(ir, shapes[b]), examples) for shapes in worlds)


def _elements(ir: BlockIR, shape) -> Expr:
    total = Expr.const(1)
    for dim in shape:
        total = total * dim
    normal = getattr(ir, "normal", None)
    return normal(total) if normal is not None else total
