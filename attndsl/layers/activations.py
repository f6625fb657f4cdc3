"""Activation layers (relu ... prelu), softmax, dropout, dropout2d and identity: shape-preserving kinds.

`inplace=true` is accepted where torch has it and rendered as given, so that the module's
repr and behaviour match the published one; attndsl/inplace.py refuses it where writing
over the input could be observed.
"""

from __future__ import annotations

from ..ops import normalize_axis
from .registry import StateEntry, check_choice, family, identity, layer

_SAME = "the shape of the input"


def _softmax(ctx, args, shape):
    normalize_axis(ctx, None, args["dim"], len(shape))  # nn.Softmax(dim=3) fails on a rank-3 input
    return shape


def _prelu(ctx, args, shape):
    # One slope per channel (dim 1), or one for everything.
    if not ctx.is_one(args["num_parameters"]):
        if len(shape) < 2:
            ctx.error("E0202", "prelu with several parameters needs a channel dimension (dim 1)")
        ctx.expect_equal(shape[1], args["num_parameters"], "the channel dimension (dim 1) of the input and "
                         "num_parameters")
    return shape


def _check_dropout(a, args):
    if a.number("p"):
        a.within("p", 0, 1)  # torch's Dropout refuses any other probability


def _check_gelu(a, args):
    check_choice(a, args, "approximate", ("none", "tanh"))


def _check_prelu(a, args):
    a.at_least("num_parameters", 1)
    a.number("init")


family("Activations")
_ACTIVATIONS = {
    "relu": ("ReLU", "max(x, 0)"), "relu6": ("ReLU6", "min(max(x, 0), 6)"), "silu": ("SiLU", "x * sigmoid(x)"),
    "hardsigmoid": ("Hardsigmoid", "relu6(x + 3) / 6"), "hardswish": ("Hardswish", "x * relu6(x + 3) / 6"),
}
for _name, (_class, _doc) in _ACTIVATIONS.items():
    layer(_name, _class, "inplace: bool = false", identity, doc=_doc, shape_doc=_SAME,
          example=f"input x: [b, c, h, w]\nlayer act = {_name}()\nact(x)")
layer("elu", "ELU", "alpha: float = 1.0, inplace: bool = false", identity,
      doc="x where x > 0, else alpha * (exp(x) - 1)", shape_doc=_SAME,
      example="input x: [b, n, d]\nlayer act = elu(alpha=0.5)\nact(x)")
layer("leaky_relu", "LeakyReLU", "negative_slope: float = 0.01, inplace: bool = false", identity,
      doc="x where x > 0, else negative_slope * x", shape_doc=_SAME,
      example="input x: [b, c, h, w]\nlayer act = leaky_relu(0.2, inplace=true)\nact(x * 2)")
layer("prelu", "PReLU", "num_parameters: int = 1, init: float = 0.25", _prelu, check=_check_prelu,
      state=lambda args: [StateEntry("weight", (args["num_parameters"],))],
      doc="leaky relu with a learned slope (`weight`), one per channel or one in all",
      shape_doc=_SAME + "; with num_parameters > 1, dim 1 is num_parameters",
      example="(c: int = 8)\ninput x: [b, c, h, w]\nlayer act = prelu(c)\nact(x)")
layer("gelu", "GELU", 'approximate: choice = "none"', identity, check=_check_gelu,
      doc='Gaussian error linear unit; approximate="tanh" for the tanh approximation', shape_doc=_SAME,
      example="input x: [b, n, d]\nlayer act = gelu()\nact(x)")
layer("softplus", "Softplus", "beta: float = 1.0, threshold: float = 20.0", identity,
      doc="log(1 + exp(beta * x)) / beta", shape_doc=_SAME,
      example="input x: [b, n, d]\nlayer act = softplus()\nact(x)")
layer("sigmoid", "Sigmoid", "", identity, doc="1 / (1 + exp(-x))", shape_doc=_SAME,
      example="input x: [b, c, h, w]\nlayer gate = sigmoid()\ngate(x)")
layer("tanh", "Tanh", "", identity, doc="hyperbolic tangent", shape_doc=_SAME,
      example="input x: [b, n, d]\nlayer act = tanh()\nact(x)")
layer("softmax", "Softmax", "dim: axis", _softmax, doc="softmax along `dim`",
      shape_doc=_SAME + "; `dim` must be one of its axes",
      example="input x: [b, n, n]\nlayer attend = softmax(dim=-1)\nattend(x)")

family("Other layers")
layer("dropout", "Dropout", "p: float = 0.5, inplace: bool = false", identity, check=_check_dropout,
      doc="zero each value with probability p in training (scaling the rest by 1 / (1 - p)); the identity in eval",
      shape_doc=_SAME, example="input x: [b, n, d]\nlayer drop = dropout(0.1)\ndrop(x)")
layer("dropout2d", "Dropout2d", "p: float = 0.5, inplace: bool = false", identity, min_rank=4, max_rank=4,
      check=_check_dropout,
      doc="zero each whole channel (an [h, w] map of [b, c, h, w]) with probability p in training, scaling the "
          "rest by 1 / (1 - p); the identity in eval",
      shape_doc=_SAME + " [b, c, h, w]", example="input x: [b, c, h, w]\nlayer drop = dropout2d(0.1)\ndrop(x)")
layer("identity", "Identity", "", identity, doc="returns its input (a placeholder, as in published code)",
      shape_doc=_SAME, example="input x: [b, n, d]\nlayer skip = identity()\nskip(x)")
