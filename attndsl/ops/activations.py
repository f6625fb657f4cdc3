"""Pointwise functions (sigmoid, exp, ...) and softmax."""

from __future__ import annotations

from ..evaluate import integral
from ..symbolic import Expr
from .registry import ATOM, OPS, Shape, family, normalize_axis, op, same_shape
from .rendering import FUNCTIONAL, CallRender


def softmax_shape(ctx, node, shapes, attrs) -> Shape:
    normalize_axis(ctx, node, attrs["dim"], len(shapes[0]))
    return shapes[0]


family("Pointwise functions")
_SAME = "the shape of `x`"
_POINTWISE = {
    "sigmoid": "1 / (1 + exp(-x))", "exp": "e ** x", "relu": "max(x, 0)", "tanh": "hyperbolic tangent",
    "abs": "|x|", "sqrt": "square root (NaN below 0, as in torch)", "log": "natural logarithm",
    "log2": "base-2 logarithm", "sign": "-1, 0 or 1, as x is below, at or above 0",
    "cos": "cosine (radians): rotary and sinusoidal position tables", "sin": "sine (radians)",
    "floor": "the largest whole number not above x (still floating point: `long()` makes an index of it)",
    "ceil": "the smallest whole number not below x (still floating point)",
}
for _name, _doc in _POINTWISE.items():
    op(_name, "x: tensor", same_shape, f"{{x:recv}}.{_name}()", doc=_doc, shape_doc=_SAME,
       example=f"input x: [b, c, h, w]\n{_name}(x)")
# |i - j| of positions is an integer tensor too (AFTLocal's band).
OPS["abs"].params[0].dtype, OPS["abs"].result = "real", "first"


def clamp_shape(ctx, node, shapes, attrs) -> Shape:
    if attrs.get("min") is None and attrs.get("max") is None:
        ctx.error("E0112", "clamp() needs `min`, `max` or both", help="e.g. clamp(x, max=log(100))")
    ir = ctx.checker.ir
    if ctx.checker.dtypes.get(ir.operands(node)[0]) == "int":
        # torch would make an integer tensor clamped by a float a float tensor (T5's `-min(rp, 0)`,
        # DeBERTa's index clamp are whole numbers)
        floats = {arg.name for arg in ir.args if arg.type == "float"}
        for name in ("min", "max"):
            bound = attrs.get(name)
            if bound is not None and not (isinstance(bound, Expr) and integral(bound, floats)):
                ctx.error("E0209", f"clamp() of an integer tensor takes whole-number bounds, and `{name}` is not one",
                          help="float(x) clamps it as floating point")
    return shapes[0]


def render_clamp(r, node, operands, attrs):
    bounds = [f"{name}={r.scalar(attrs[name])[0]}" for name in ("min", "max") if attrs.get(name) is not None]
    return f"{r.wrap(operands[0], ATOM)}.clamp({', '.join(bounds)})", ATOM


op("clamp", "x: tensor, min: scalar = None, max: scalar = None", clamp_shape, render_clamp,
   doc="`x` held within [min, max] (either may be left out): Swin V2's logit scale, clamp(s, max=log(100))",
   shape_doc=_SAME, example="input x: [b, n, d]\nclamp(x, min=0, max=6)")
# clamp(arange(n) - k, min=0) keeps an integer tensor integer: T5's and DeBERTa's relative positions
OPS["clamp"].params[0].dtype, OPS["clamp"].result = "real", "first"

# Functional forms of the activations, where a spec applies one without a layer (the
# published code calls F.gelu(x)); each also exists as a layer kind.
op("gelu", 'x: tensor, approximate: choice[none|tanh] = "none"', same_shape, CallRender("F.gelu"),
   doc="Gaussian error linear unit; `approximate=\"tanh\"` for the tanh approximation", shape_doc=_SAME,
   example="input x: [b, n, d]\ngelu(x)", imports=FUNCTIONAL)
op("silu", "x: tensor", same_shape, CallRender("F.silu"), doc="x * sigmoid(x) (swish)", shape_doc=_SAME,
   example="input x: [b, c, h, w]\nsilu(x)", imports=FUNCTIONAL)
op("relu6", "x: tensor", same_shape, CallRender("F.relu6"), doc="min(max(x, 0), 6)", shape_doc=_SAME,
   example="input x: [b, c, h, w]\nrelu6(x + 3) / 6", imports=FUNCTIONAL)
op("hardsigmoid", "x: tensor", same_shape, CallRender("F.hardsigmoid"), doc="relu6(x + 3) / 6", shape_doc=_SAME,
   example="input x: [b, c, h, w]\nhardsigmoid(x)", imports=FUNCTIONAL)
op("hardswish", "x: tensor", same_shape, CallRender("F.hardswish"), doc="x * relu6(x + 3) / 6 (h-swish)",
   shape_doc=_SAME, example="input x: [b, c, h, w]\nhardswish(x)", imports=FUNCTIONAL)
op("elu", "x: tensor, alpha: scalar = 1.0", same_shape, CallRender("F.elu"),
   doc="x where x > 0, else alpha * (exp(x) - 1)", shape_doc=_SAME, example="input x: [b, n, d]\nelu(x) + 1",
   imports=FUNCTIONAL)
op("leaky_relu", "x: tensor, negative_slope: scalar = 0.01", same_shape, CallRender("F.leaky_relu"),
   doc="x where x > 0, else negative_slope * x", shape_doc=_SAME,
   example="input x: [b, c, h, w]\nleaky_relu(x, negative_slope=0.2)", imports=FUNCTIONAL)
op("softplus", "x: tensor, beta: scalar = 1.0, threshold: scalar = 20.0", same_shape, CallRender("F.softplus"),
   doc="log(1 + exp(beta * x)) / beta (linear above `threshold`)", shape_doc=_SAME,
   example="input x: [b, n, d]\nsoftplus(x)", imports=FUNCTIONAL)
op("softmax", "x: tensor, dim: axis", softmax_shape, "{x:recv}.softmax(dim={dim})",
   doc="softmax along `dim` (required: the axis matters, see DoubleAttention)",
   shape_doc="the shape of `x`; `dim` must be an axis of it", example="input x: [b, h, n, n]\nsoftmax(x, dim=-1)")
