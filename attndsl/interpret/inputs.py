"""What forward is given: the call's arguments bound to the block's inputs (a flag left out
at its default), and each checked against its declaration, the language's contract:
tensors of the declared rank, element type and sizes (at least 1), sizes as whole numbers."""

from __future__ import annotations

import torch

from ..ranks import pack_dims
from ..symbolic import Expr
from .values import ContractRefusal, spec_value


# A tensor input's element type: whether a tensor has it, and how the refusal says it.
_ELEMENT_TYPES = {"float": (lambda t: t.is_floating_point(), "a floating-point"),
                  "bool": (lambda t: t.dtype == torch.bool, "a boolean"),
                  "int": (lambda t: t.dtype == torch.long, "an int64 (torch.long)")}


def bind_inputs(ir, name: str, args, kwargs) -> dict:
    names = [info.name for info in ir.inputs]
    if len(args) > len(names):
        raise TypeError(f"{name} takes {len(names)} inputs, got {len(args)}")
    given = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in names or name in given:
            raise TypeError(f"{name}: unexpected or repeated input {name!r}")
        given[name] = value
    for info in ir.inputs:
        if info.name not in given:
            if info.dtype == "flag" and info.default is not None:
                given[info.name] = info.default
                continue
            if not info.optional:
                raise TypeError(f"{name}: missing input {info.name!r}")
            given[info.name] = None
    return given

def check_inputs(ir, name: str, source_shapes: dict, inputs: dict, env: dict) -> None:
    """Each given input against its declared shape (`source_shapes`: the shapes as the spec
    wrote them); new symbols are bound where they first appear."""
    for info in ir.inputs:
        tensor = inputs[info.name]
        if tensor is None or info.dtype == "flag":
            continue
        if info.dtype == "size":  # `H`: a whole number of at least 1, named by the input
            if not isinstance(tensor, int) or isinstance(tensor, bool) or tensor < 1:
                raise ContractRefusal(f"{name}: {info.name} must be an int of at least 1, got {tensor!r}")
            env[info.name] = tensor
            continue
        if info.dtype == "sizes":  # `spatial_size=(a, b)`: each a whole size of at least 1, named
            sizes = tuple(tensor) if isinstance(tensor, (tuple, list)) else None
            if sizes is None or len(sizes) != len(info.shape) or not all(
                    isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes):
                raise ContractRefusal(f"{name}: {info.name} must be {len(info.shape)} sizes of at least 1, "
                                      f"got {tensor!r}")
            env.update({str(dim): size for dim, size in zip(info.shape, sizes)})
            continue
        if not isinstance(tensor, torch.Tensor):
            raise ContractRefusal(f"{name}: {info.name} must be a tensor")
        dtype = getattr(info, "dtype", "float")
        if not _ELEMENT_TYPES[dtype][0](tensor):
            raise ContractRefusal(f"{name}: {info.name} must be {_ELEMENT_TYPES[dtype][1]} tensor, got {tensor.dtype}")
        rank = len(info.shape)
        if info.pack:  # `[b, c, *spatial[dimension]]`: as many more sizes as the argument says
            rank += env[ir.packs[info.pack]]
        if tensor.dim() != rank:
            raise ContractRefusal(f"{name}: {info.name} must have rank {rank}, got {tensor.dim()}")
        if 0 in tensor.shape:  # the language's contract: every size of an input is at least 1
            raise ContractRefusal(f"{name}: {info.name} has an empty dimension: {tuple(tensor.shape)}")
        sources = source_shapes.get(info.name) or [None] * len(info.shape)
        for axis, (dim, source) in enumerate(zip(info.shape, sources)):
            size = tensor.shape[axis]
            symbol = _bare_symbol(dim)
            new = symbol is not None and (ir.dim_origin.get(symbol) == (info.name, axis) or
                                          (symbol in ir.optional_dims and symbol not in env))
            if new:
                env[symbol] = size
                continue
            expected = spec_value(source, dim, env)
            if expected != size:
                raise ContractRefusal(f"{name}: {info.name}.shape[{axis}] must be {dim} = {expected}, got {size}")
        if info.pack:  # the pack's sizes, by name (`spatial_0`, ...) and together (`spatial`)
            packed = tuple(tensor.shape[len(info.shape):])
            env[info.pack] = packed
            env.update({str(dim): size for dim, size in zip(pack_dims(info.pack, len(packed)), packed)})


def _bare_symbol(dim: Expr) -> str | None:
    symbols = dim.symbols()
    if len(symbols) == 1:
        name = next(iter(symbols))
        if dim == Expr.symbol(name):
            return name
    return None
