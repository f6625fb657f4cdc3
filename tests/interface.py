"""Interface checks shared by the equivalence tests and the reference self-tests:
signatures, ``state_dict`` shapes, batch independence, deterministic initial values."""

from __future__ import annotations

import inspect

import torch
from torch import nn

from .cases import Case
from .harness import assert_close_rel, outputs_of


def signature_of(fn) -> list[tuple[str, str, object]]:
    """(name, kind, default) of every parameter but ``self``; annotations ignored."""
    sig = inspect.signature(fn)
    return [
        (
            p.name,
            p.kind.name,
            p.default if p.default is not inspect.Parameter.empty else "<required>",
        )
        for p in sig.parameters.values()
        if p.name != "self"
    ]


def state_dict_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def check_batch_independence(
    module: nn.Module, case: Case, device: str = "cpu"
) -> None:
    """In eval mode, each sample's output must not depend on its batch-mates."""
    d = case.batch_dim
    args, kwargs = case.make_inputs(dtype=torch.float64, device=device)
    with torch.no_grad():
        full = outputs_of(module(*args, **kwargs))
        for i in range(args[0].shape[d]):
            one = module(
                *[a.narrow(d, i, 1) for a in args],
                **{k: v.narrow(d, i, 1) for k, v in kwargs.items()},
            )
            for (name, got), (_, want) in zip(outputs_of(one), full):
                assert_close_rel(
                    got,
                    want.narrow(d, i, 1),
                    1e-9,
                    f"{case.id}: sample {i} alone vs in its batch, {name}",
                )


def deterministic_init_names(case: Case) -> dict[str, torch.Tensor]:
    """state_dict entries of the reference whose *initial* value does not depend on the
    RNG (zeros/ones params, norm affines, BN stats): construct twice under two seeds
    and keep the entries that agree."""
    torch.manual_seed(0)
    a = case.build_reference().state_dict()
    torch.manual_seed(12345)
    b = case.build_reference().state_dict()
    return {k: v for k, v in a.items() if torch.equal(v, b[k])}
