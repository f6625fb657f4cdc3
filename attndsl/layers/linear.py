"""linear: the learned projection of the last dimension."""

from __future__ import annotations

from .registry import StateEntry, family, layer


def _linear(ctx, args, shape):
    ctx.expect_equal(shape[-1], args["in_features"], "the last dimension of the input and in_features")
    return tuple(shape[:-1]) + (args["out_features"],)


def _linear_state(args):
    return [StateEntry("weight", (args["out_features"], args["in_features"])),
            StateEntry("bias", (args["out_features"],), args["bias"])]


def _check_linear(a, args):
    a.at_least("in_features", 0)
    a.at_least("out_features", 0)


family("Projection")
layer("linear", "Linear", "in_features: int, out_features: int, bias: bool = true", _linear, check=_check_linear,
      state=_linear_state,
      doc="x @ weight.T + bias over the last dimension",
      shape_doc="[..., in_features] is [..., out_features]",
      example="(d: int = 16)\ninput x: [b, n, d]\nlayer proj = linear(d, 2 * d, bias=false)\nproj(x)")
