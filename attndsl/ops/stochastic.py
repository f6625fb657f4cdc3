"""Train-mode randomness as an op: stochastic depth (GFNet's DropPath).

`stochastic_depth(x, p)` drops a whole sample's branch in training: each sample along the
first axis is kept with probability 1 - p and scaled by 1 / (1 - p), so that its mean is
x; in eval mode, or with p == 0, it is x. The mask is drawn as our reference draws it
(`torch.bernoulli` of a [b, 1, ...] tensor of 1 - p), so the generated module, the
interpreter and the reference agree given one seed. Written where published blocks keep
`self.drop_path = DropPath(p) if p > 0 else nn.Identity()`: no parameters either way.
"""

from __future__ import annotations

from ..ir import Cond
from ..symbolic import Expr
from .registry import LOWEST, Shape, family, op
from .rendering import render_value


def stochastic_depth_shape(ctx, node, shapes, attrs) -> Shape:
    if not shapes[0]:
        ctx.error("E0202", "stochastic_depth() drops samples along the first axis, and x has rank 0")
    p = attrs["p"]
    if isinstance(p, Expr) and p.is_const and not 0 <= p.value < 1:
        ctx.error("E0205", f"stochastic_depth(): `p` must be at least 0 and below 1, got {float(p.value)}")
    elif isinstance(p, Expr):  # p == 1 would scale by 1 / 0
        ctx.require(Cond("and", (Cond("cmp", (">=", p, Expr.const(0))), Cond("cmp", ("<", p, Expr.const(1))))),
                    "stochastic_depth(): `p` must be at least 0 and below 1")
    return shapes[0]


def render_stochastic_depth(r, node, operands, attrs):
    x = operands[0][0]  # a name: the op's operand is always given a line of its own
    p = attrs["p"]
    if isinstance(p, Expr) and p.is_const and p.value == 0:
        return x, operands[0][1]
    constant = isinstance(p, Expr) and p.is_const
    keep = render_value(r, _P, 1 - p) if constant else f"1 - {render_value(r, _P, p)}"
    ones = ", ".join(["1"] * (len(node.shape) - 1))
    # one draw per sample; a batch size only the run time knows (a join's) is read off x
    samples = f"{x}.shape[0]" if r.runtime_only(node.shape[0]) else r.dim(node.shape[0])
    mask = f"torch.bernoulli({x}.new_full(({samples}, {ones}), {keep}))"
    scaled = f"{x} * {mask} / {keep}" if constant else f"{x} * {mask} / ({keep})"
    when = "self.training" if constant else f"self.training and {render_value(r, _P, p)} > 0"
    return f"{scaled} if {when} else {x}", LOWEST


family("Stochastic depth")
_DEFINITION = op(
    "stochastic_depth", "x: tensor, p: scalar", stochastic_depth_shape, render_stochastic_depth,
    precedence=LOWEST, doc="in training, each sample (first axis) kept with probability 1 - p and scaled by "
    "1 / (1 - p); x itself in eval mode or when p is 0 (DropPath)", shape_doc="the shape of `x`",
    example="input x: [b, n, d]\nstochastic_depth(x, 0.1)", named_operand=True,
    random=True)  # two calls draw two masks: never merged (passes/cleanup.py)
_P = _DEFINITION.params[1]
