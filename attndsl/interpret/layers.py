"""Layers of an interpreted block, built as the torch modules the spec names.

A registry layer becomes `torch.nn.<torch_class>(**arguments)`, every argument passed by
its (torch) name; a `sequential` an `nn.Sequential` (with an OrderedDict when its
children are named); a list comprehension an `nn.ModuleList`; a block used as a layer
an interpreted block of its own. So `state_dict` keys come out as the generated
module's, and weights load with strict=True.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Callable

from torch import nn

from ..inits import takes_factory
from ..ir import Cond, LayerInfo, LayerSpec
from ..ranks import kind_at_rank
from ..layers import LAYERS
from ..lower import ListArg, Literal
from ..lower.layer_kinds import LayerKind, LayerKindArg
from ..symbolic import Expr
from .values import Refusal, Unbound, as_python, expr_value, source_value, spec_value


def argument_value(value, source, env: dict):
    """A constructor argument: its source as written when the IR kept it, else its IR value."""
    if isinstance(value, LayerKind):  # a block's `layer` argument: the class
        return getattr(nn, LAYERS[value.kind].torch_class)
    if isinstance(value, LayerKindArg):
        return env[value.name]
    if isinstance(value, (Expr, Cond)):
        return spec_value(source, value, env)
    if source is not None:  # a list, a tuple of sizes, a word: as written
        try:
            return source_value(source, env)
        except Unbound:
            pass
    if isinstance(value, Literal):  # inf
        return value.value
    if isinstance(value, ListArg):
        return env[value.name]
    return value  # None, "same", an axis


FACTORY = "<factory>"  # the env's entry for the block's `device` and `dtype` (no spec name has brackets)


def build_layer(spec: LayerSpec, env: dict, build_block: Callable) -> nn.Module:
    if spec.kind == "sequential" and any(child.kind == "loop" for _, child in spec.children):
        sequential = nn.Sequential()
        for name, module in _named_children(spec.children, env, build_block):
            if name in sequential._modules:
                raise Refusal(f"two children of a sequential are named {name!r}")
            sequential.add_module(name, module)
        return sequential
    if spec.kind == "list":  # an element of a layer list that is itself a list
        return nn.ModuleList([build_layer(child, env, build_block) for _, child in spec.children])
    if spec.kind == "sequential":
        children = [(name, build_layer(child, env, build_block)) for name, child in spec.children]
        if children and children[0][0] is not None:
            return nn.Sequential(OrderedDict(children))
        return nn.Sequential(*(module for _, module in children))
    if spec.rank_arg is not None:  # `conv{dimension}d`: the layer of the rank the argument gives
        spec = kind_at_rank(spec, env[spec.rank_arg])
    if spec.kind_arg is not None:  # `act_layer()`: the class the caller chose, if the checker checked it
        chosen = env[spec.kind_arg]
        kind = next((k for k in spec.alternatives if getattr(nn, LAYERS[k].torch_class) is chosen), None)
        if kind is None:
            raise Refusal(f"{spec.kind_arg} = {chosen!r} is not a kind the block was checked with")
        spec = LayerSpec(kind, spec.alternatives[kind], spec.positional, span=spec.span, sources=spec.sources)
    arguments = {name: argument_value(value, spec.sources.get(name), env) for name, value in spec.args.items()}
    if spec.kind == "block":
        return build_block(spec.block, arguments)
    definition = LAYERS[spec.kind]
    factory = env.get(FACTORY, {}) if takes_factory(spec.kind) else {}
    module = getattr(nn, definition.torch_class)(**arguments, **factory)
    module.register_forward_pre_hook(_contract(spec.kind, definition, arguments))
    return module


# What a layer's input must be, where torch itself is laxer than the language: torch takes
# unbatched (one rank less) inputs to convs, pools and norms, an InstanceNorm2d without
# affine weights ignores its num_features, and an empty input skips most checks (torch's
# instance norm refuses one position, but not none).
_FEATURES = {  # kind -> (axis, argument it must equal)
    "linear": (-1, "in_features"), "layer_norm": (-1, "normalized_shape"),
    "conv1d": (1, "in_channels"), "conv2d": (1, "in_channels"), "group_norm": (1, "num_channels"),
    **{f"conv_transpose{d}d": (1, "in_channels") for d in (1, 2, 3)},
    "batch_norm1d": (1, "num_features"), "batch_norm2d": (1, "num_features"), "instance_norm2d": (1, "num_features"),
}


_AFFINE_NORMS = ("batch_norm1d", "batch_norm2d", "batch_norm3d", "instance_norm2d")


def _contract(kind: str, definition, arguments: dict):
    def check(module, inputs):
        x = inputs[0]
        rank = x.dim()
        if rank < definition.min_rank or (definition.max_rank is not None and rank > definition.max_rank):
            raise Refusal(f"{kind} takes inputs of rank {definition.min_rank}..{definition.max_rank or ''}, got {rank}")
        if kind in _FEATURES:
            axis, name = _FEATURES[kind]
            if isinstance(arguments[name], (list, tuple)):  # layer_norm over several trailing dims
                if list(x.shape[x.dim() - len(arguments[name]):]) != list(arguments[name]):
                    raise Refusal(f"{kind}: the input's trailing sizes {tuple(x.shape)} are not {name} = "
                                  f"{arguments[name]}")
            elif x.shape[axis] != arguments[name]:
                raise Refusal(f"{kind}: the input has size {x.shape[axis]} in dimension {axis}, not {name} = "
                              f"{arguments[name]}")
        if kind in _AFFINE_NORMS and arguments.get("affine", True) and x.shape[1] == 0:
            raise Refusal(f"{kind} with affine weights on no channels (torch indexes its weight)")
        if kind == "instance_norm2d" and math.prod(x.shape[2:]) < 2:
            raise Refusal(f"instance norm needs more than one position, got {tuple(x.shape)}")

    return check


def _named_children(children, env: dict, build_block: Callable, var: str | None = None):
    """(name, module) of each child, those named in `for i in range(...)` loops once per pass."""
    for name, child in children:
        if child.kind == "loop":
            start, stop = (as_python(expr_value(child.args[k], env)) for k in ("start", "stop"))
            for index in range(start, stop):
                yield from _named_children(child.children, {**env, child.args["var"]: index}, build_block,
                                           child.args["var"])
        elif isinstance(name, tuple):  # (prefix, offset, suffix): the name of this pass
            prefix, offset, suffix = name
            yield f"{prefix}{env[var] + offset}{suffix}", build_layer(child, env, build_block)
        else:
            yield name, build_layer(child, env, build_block)


def build_declared_layer(info: LayerInfo, env: dict, build_block: Callable) -> nn.Module:
    """A `layer` statement: one module, or a ModuleList with one element per list item."""
    if info.element is None:
        return build_layer(info.spec, env, build_block)
    if info.count is not None:  # `[... for i in range(count)]`
        count = as_python(expr_value(info.count, env))
        index = info.loop_var or "_"
        return nn.ModuleList([build_layer(info.element, {**env, index: i}, build_block) for i in range(count)])
    items = env[info.iterable]
    return nn.ModuleList([build_layer(info.element, {**env, info.loop_var: item}, build_block) for item in items])
