"""Initialisation of an interpreted block (attndsl/inits.py): each `init` applies
`torch.nn.init.<function>` to the tensors its target names, written from the language's
definition (a param; a layer's parameter, each element's for a layer list; every module of
a layer kind among the block's modules, sub-blocks included), not from generated code."""

from __future__ import annotations

from torch import nn

from ..inits import INITIALIZERS
from ..layers import LAYERS
from .layers import argument_value


def apply_init(block: nn.Module, info, env: dict) -> None:
    function = getattr(nn.init, INITIALIZERS[info.initializer].function)
    arguments = {name: argument_value(info.args.get(name), source, env) for name, source in info.sources.items()}
    for tensor in _targets(block, info):
        if tensor is not None:  # a bias switched off by an argument
            function(tensor, **arguments)


def _targets(block: nn.Module, info) -> list:
    if info.target == "param":
        return [block._parameters[info.name]]
    if info.target == "kind":
        kind = getattr(nn, LAYERS[info.name].torch_class)
        return [getattr(module, info.parameter, None) for module in block.modules() if isinstance(module, kind)]
    layer = block._modules[info.name]
    owners = list(layer) if info.element else [layer]
    for child in info.path:
        owners = [owner[child] if isinstance(child, int) else getattr(owner, child) for owner in owners]
    return [getattr(owner, info.parameter) for owner in owners]
