"""Integer tensors: `//` and `%` on them, and `float(x)` to leave them.

An integer tensor (int64, as torch counts) comes from `arange` and integer arithmetic on
it; it holds positions and the indices of a gather (`table[index]`, attndsl/ops/indexing.py).
`+ - *` keep it integer, a fractional number or `/` make it float (attndsl/shapes/dtypes.py).
`//` and `%` divide it by a whole number, never by a tensor: a number is checked not zero
when the module is built, where an integer tensor holding a zero would stop torch.
"""

from __future__ import annotations

from ..evaluate import integral
from ..symbolic import Expr
from .arithmetic import render_binary
from .registry import ATOM, MUL, Shape, family, op


def divided_shape(ctx, node, shapes, attrs) -> Shape:
    ir = ctx.checker.ir
    divisor = ir.graph.nodes[ir.operands(node)[1]]
    value = divisor["attrs"].get("value") if divisor["op"] == "scalar" else None
    symbol = "//" if ir.graph.nodes[node]["op"] == "floordiv" else "%"
    if not (isinstance(value, Expr) and integral(value, divisor["attrs"].get("float_symbols", ()))):
        ctx.error("E0209", f"`{symbol}` divides an integer tensor by a whole number",
                  help="a size, an int argument or a constant; write `/` for a true (float) division")
    ctx.checker.require_nonzero(value, node=node)  # a whole number, computed exactly
    return shapes[0]


def render_conversion(r, node, operands, attrs):
    """`index.to(x.dtype)` in forward (the block's floating-point input); in a buffer, the
    dtype buffers compute in (`buffer_dtype`)."""
    value = r.wrap(operands[0], ATOM)
    if len(operands) > 1:
        return f"{value}.to({r.wrap(operands[1], ATOM)}.dtype)", ATOM
    return f"{value}.to({r.buffer_dtype()})", ATOM


family("Integer tensors")
_DIVIDED = "the shape of `x`; the divisor is a whole number, not zero (checked when the module is built)"
op("floordiv", "x: tensor[int], y: operand", divided_shape, render_binary("//", MUL), precedence=MUL,
   operator="//", result="int", doc="`x // k`: an integer tensor divided by a whole number, rounded down",
   shape_doc=_DIVIDED, example="input x: [b, n, d]\nx + arange(d) // 2")
op("mod", "x: tensor[int], y: operand", divided_shape, render_binary("%", MUL), precedence=MUL, operator="%",
   result="int", doc="`x % k`: the remainder of an integer tensor divided by a whole number (sign of `k`)",
   shape_doc=_DIVIDED, example="input x: [b, n, d]\nx + arange(d) % 2")
op("long", "x: tensor[real]", lambda ctx, node, shapes, attrs: shapes[0], "{x:recv}.long()", result="int",
   doc="a tensor as int64, each value truncated toward zero as torch's `.long()` does (`floor()` first to round "
   "down): T5's relative-position buckets", shape_doc="the shape of `x`",
   example="input x: [b, n]\nx + float(long(x * 2) % 3)")
op("float", "x: tensor[countable], like: tensor[any] = None", lambda ctx, node, shapes, attrs: shapes[0],
   render_conversion, doc="an integer tensor, or a mask (1 where true, 0 where false: a one-hot matrix), as "
   "floating point: in forward, the dtype of the block's floating-point input; in a buffer, torch's default "
   "dtype (which moves with the module)",
   shape_doc="the shape of `x`", example="input x: [b, n]\nsoftmax(x + float(arange(n)), dim=-1)", converts=True)
