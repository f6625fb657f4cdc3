"""The operators: `+ - * / **`, unary `-`, the matrix product `@`, and `einsum` with named axes."""

from __future__ import annotations

from ..einsum import parse_equation
from ..evaluate import nonzero_divisor
from ..symbolic import Expr
from .broadcasting import broadcast
from .rendering import CallRender
from .registry import ADD, ATOM, MUL, POWER, UNARY, Shape, family, op, same_shape


def matmul_shape(ctx, node, shapes, attrs) -> Shape:
    a, b = shapes
    if len(a) < 2 or len(b) < 2:
        ctx.error("E0202", f"`@` needs operands of rank >= 2, got ranks {len(a)} and {len(b)}")
    ctx.expect_equal(a[-1], b[-2], "the contracted dimension of `@` (last of the left, second-last of the right)",
                     operands=(0, 1))
    batch = broadcast(ctx, node, [a[:-2], b[:-2]], attrs, trailing=2)
    return tuple(batch) + (a[-2], b[-1])


def divide_shape(ctx, node, shapes, attrs) -> Shape:
    """Broadcasting; and a divisor that is a size expression (`att / sqrt(d_k)`) must not be
    zero, which would make the tensor inf or NaN (attndsl.evaluate.nonzero_divisor says which)."""
    ir = ctx.checker.ir
    divisor = ir.graph.nodes[ir.operands(node)[1]]
    value = divisor["attrs"].get("value") if divisor["op"] == "scalar" else None
    required = nonzero_divisor(value, ir) if isinstance(value, Expr) else None
    if required is not None:
        ctx.checker.require_nonzero(required, node=node)
    return broadcast(ctx, node, shapes, attrs)


def einsum_shape(ctx, node, shapes, attrs) -> Shape:
    """Each operand has the rank its term names; an axis named twice is one size; the
    result has the sizes of the axes after `->`."""
    equation = attrs["equation"]
    if len(equation.inputs) != len(shapes):
        ctx.error("E0112", f"the equation names {len(equation.inputs)} operand(s), and einsum got {len(shapes)} "
                  "tensor(s)")
    sizes: dict[str, Expr] = {}
    where: dict[str, int] = {}
    for index, (axes, shape) in enumerate(zip(equation.inputs, shapes)):
        if len(axes) != len(shape):
            ctx.error("E0202", f"operand {index} of einsum has rank {len(shape)}, and the equation names "
                      f"{len(axes)} axes for it ({' '.join(axes)})", help=f"its shape is {ctx.show(shape)}")
        for axis, dim in zip(axes, shape):
            if axis in sizes:
                ctx.expect_equal(sizes[axis], dim, f"axis `{axis}` of einsum", operands=(where[axis], index))
            else:
                sizes[axis], where[axis] = dim, index
    return tuple(sizes[axis] for axis in equation.output)


def render_einsum(r, node, operands, attrs):
    tensors = ", ".join(text for text, _ in operands)
    return f'torch.einsum("{attrs["equation"].subscripts()}", {tensors})', ATOM


def render_binary(symbol: str, precedence: int):
    def render(r, node, operands, attrs):
        left = r.wrap(operands[0], precedence)
        right = r.wrap(operands[1], precedence + 1)
        return f"{left} {symbol} {right}", precedence

    return render


def render_matmul(r, node, operands, attrs):
    # `*`, `/` and `@` bind alike in Python: `q / s @ k` is right but reads wrong, so a scaled
    # operand gets its parentheses; a chain `a @ b @ c` needs none.
    left = r.wrap(operands[0], MUL if node.operand_ops[0] == "matmul" else MUL + 1)
    right = r.wrap(operands[1], MUL + 1)
    return f"{left} @ {right}", MUL


family("Operators")
_BROADCAST = "the operands broadcast as in torch: aligned from the right, each pair of sizes equal or one of them 1"
_ELEMENTWISE = "x: operand[number], y: operand[number]"
op("add", _ELEMENTWISE, broadcast, render_binary("+", ADD), precedence=ADD, operator="+", result="promote",
   doc="`x + y`, elementwise", shape_doc=_BROADCAST, example="input x: [b, c, h, w]\ninput y: [b, c, 1, 1]\nx + y")
op("sub", _ELEMENTWISE, broadcast, render_binary("-", ADD), precedence=ADD, operator="-", result="promote",
   doc="`x - y`, elementwise", shape_doc=_BROADCAST, example="input x: [b, n, d]\nx - mean(x, dim=-1, keepdim=true)")
op("mul", _ELEMENTWISE, broadcast, render_binary("*", MUL), precedence=MUL, operator="*", result="promote",
   doc="`x * y`, elementwise", shape_doc=_BROADCAST, example="input x: [b, c, h, w]\nx * sigmoid(avg_pool(x))")
op("div", _ELEMENTWISE, divide_shape, render_binary("/", MUL), precedence=MUL, operator="/", result="promote",
   doc="`x / y`, elementwise (true division)", shape_doc=_BROADCAST,
   example="input x: [b, n, d]\nx / sum(x, dim=-1, keepdim=true)")
op("pow", "x: operand, y: operand", broadcast,
   lambda r, n, o, a: (f"{r.wrap(o[0], POWER + 1)} ** {r.wrap(o[1], POWER)}", POWER), precedence=POWER, operator="**",
   doc="`x ** y`, elementwise", shape_doc=_BROADCAST, example="input x: [b, n, d]\nx ** 2")
op("neg", "x: tensor[number]", same_shape, lambda r, n, o, a: (f"-{r.wrap(o[0], UNARY)}", UNARY), precedence=UNARY,
   operator="-", result="first", doc="`-x`", shape_doc="the shape of `x`", example="input x: [b, n]\n-x")
op("matmul", "x: tensor, y: tensor", matmul_shape, render_matmul, precedence=MUL, operator="@",
   doc="`x @ y`: matrix product over the last two dims, batch dims broadcast (torch.matmul; `bmm` is this too)",
   shape_doc="[..., n, k] @ [..., k, m] is [..., n, m]; both operands have rank >= 2 and the batch dims broadcast",
   example="input q: [b, h, n, d]\ninput k: [b, h, d, m]\nq @ k")

op("einsum", "equation: pattern, x: tensor, y: tensor = None", einsum_shape, render_einsum,
   doc="a sum of products over named axes: `einsum(\"b h i d, b h j d -> b h i j\", q, k)`; an axis missing "
   "from the result is summed over (torch.einsum, one letter per axis)",
   shape_doc="each operand has the rank of its term; an axis named twice has one size; the result has the sizes "
   "of the axes after `->`", example='input q: [b, h, n, d]\ninput k: [b, h, m, d]\n'
   'einsum("b h i d, b h j d -> b h i j", q, k)', parse=parse_equation)

# `max(x, y)` / `min(x, y)` on two tensors: elementwise (torch.maximum); on one tensor with
# `dim`, the reduction (attndsl/ops/reductions.py).
for _name, _function in (("maximum", "torch.maximum"), ("minimum", "torch.minimum")):
    op(_name, "x: tensor[real], y: tensor[real]", broadcast, CallRender(_function), result="promote",
       doc=f"the elementwise {_name[:3]} of two tensors (written `{_name[:3]}(x, y)`)", shape_doc=_BROADCAST,
       example="input x: [b, c, h, w]\ninput y: [b, c, 1, 1]\n" + f"{_name[:3]}(x, y)")
