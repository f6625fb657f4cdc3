"""Masks: comparisons of tensors (`mask == 0`, `x > y`), their logic (`and`, `or`, `not`) and `where`.

A comparison of a tensor gives a boolean tensor; in a spec the logic of masks is written
with `and`, `or` and `not`, which bind more loosely than comparisons (as in Python), so
`i - j < s and j - i < s` means what it reads. The generated code writes torch's
elementwise operators `&`, `|` and `~`, parenthesised where Python needs it.
"""

from __future__ import annotations

from .broadcasting import broadcast
from .registry import ATOM, COMPARE, UNARY, family, op

# Python's precedences of the bitwise operators: comparisons < | < & < + -.
BIT_OR, BIT_AND = 8, 9


def render_comparison(symbol: str):
    def render(r, node, operands, attrs):
        # Both sides tighter than a comparison: `(a == b) == c` is not a chained comparison.
        return f"{r.wrap(operands[0], COMPARE + 1)} {symbol} {r.wrap(operands[1], COMPARE + 1)}", COMPARE

    return render


def render_logic(symbol: str, precedence: int):
    def render(r, node, operands, attrs):
        return f"{r.wrap(operands[0], precedence)} {symbol} {r.wrap(operands[1], precedence + 1)}", precedence

    return render


def where_shape(ctx, node, shapes, attrs):
    operands = ctx.checker.ir.operands(ctx.node)
    if all(ctx.checker.ir.graph.nodes[o]["op"] == "scalar" for o in operands[1:]):
        # torch.where of two numbers makes a tensor of the default dtype, not the module's.
        ctx.error("E0113", "where() needs a tensor for `x` or `y`; with two numbers torch would pick the dtype",
                  help="fill a tensor instead: masked_fill(zeros([n, n]), mask, -inf)")
    return broadcast(ctx, node, shapes, attrs)


family("Comparisons and masks")
_COMPARED = "the operands broadcast as in torch; the result is a boolean mask"
_COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
for _name, _symbol in _COMPARISONS.items():
    op(_name, "x: operand[any], y: operand[any]", broadcast, render_comparison(_symbol), precedence=COMPARE,
       operator=_symbol, result="bool", doc=f"`x {_symbol} y`, elementwise: a boolean mask", shape_doc=_COMPARED,
       example=f"input x: [b, n, n]\nx {_symbol} 0")
op("logical_and", "x: tensor[bool], y: tensor[bool]", broadcast, render_logic("&", BIT_AND), precedence=BIT_AND,
   operator="and", result="bool", doc="`a and b` on masks: true where both are (torch's `a & b`)",
   shape_doc="the masks broadcast as in torch", example="input x: [b, n]\nx > -1 and x < 1")
op("logical_or", "x: tensor[bool], y: tensor[bool]", broadcast, render_logic("|", BIT_OR), precedence=BIT_OR,
   operator="or", result="bool", doc="`a or b` on masks: true where either is (torch's `a | b`)",
   shape_doc="the masks broadcast as in torch", example="input x: [b, n]\nx < -1 or x > 1")
op("logical_not", "x: tensor[bool]", lambda ctx, node, shapes, attrs: shapes[0],
   lambda r, n, o, a: (f"~{r.wrap(o[0], UNARY)}", UNARY), precedence=UNARY, operator="not", result="bool",
   doc="`not mask`: true where the mask is false (torch's `~mask`)", shape_doc="the shape of the mask",
   example="input x: [b, n]\nnot x > 0")
op("where", "condition: tensor[bool], x: operand[real], y: operand[real]", where_shape,
   lambda r, n, o, a: (f"torch.where({', '.join(text for text, _ in o)})", ATOM), result="promote",
   doc="`x` where the condition is true, else `y` (numbers or tensors; at least one a tensor)",
   shape_doc="the condition, `x` and `y` broadcast as in torch",
   example="input x: [b, n, n]\nwhere(x > 0, x, 0.1 * x)")
