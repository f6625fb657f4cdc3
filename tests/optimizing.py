"""Helpers for the optimising-pass tests: one spec built with and without the passes,
and a float64 comparison of the two modules (outputs, input and parameter gradients,
buffers after a training step), in eval and in training mode.

The unoptimised module (`optimize=False`) is the spec as written; each pass must leave
the function unchanged, so the comparison is tight (rtol 1e-10 of the largest value).
Dropout is set to p = 0 for the training-mode comparison: the fused attention draws its
dropout mask from the generator differently than `nn.Dropout` (test_fuse_attention.py
checks that the fused call does apply the layer's `p` in training).
"""

from __future__ import annotations

import types

import torch
from torch import nn

import attndsl

from .harness import assert_close_rel, randomize_

RTOL = 1e-10


def load_source(code: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    return module


def compiled(source: str, *, optimize: bool, path: str = "spec.attn", runtime_checks: bool = True) -> str:
    result = attndsl.compile_source(source, path, optimize=optimize, runtime_checks=runtime_checks)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.code


def build(source: str, class_name: str, *, optimize: bool, path: str = "spec.attn", runtime_checks: bool = True) -> type:
    code = compiled(source, optimize=optimize, path=path, runtime_checks=runtime_checks)
    return getattr(load_source(code, f"{class_name}_{'opt' if optimize else 'plain'}"), class_name)


def pair(plain_cls: type, fast_cls: type, kwargs: dict, seed: int) -> tuple[nn.Module, nn.Module]:
    """Both modules, float64; the plain one randomised, its state_dict loaded (strict) into the other."""
    torch.manual_seed(seed)
    plain = randomize_(plain_cls(**kwargs).double(), seed)
    fast = fast_cls(**kwargs).double()
    fast.load_state_dict(plain.state_dict(), strict=True)
    return plain, fast


def no_dropout_(module: nn.Module) -> nn.Module:
    for child in module.modules():
        if isinstance(child, nn.modules.dropout._DropoutNd):
            child.p = 0.0
    return module


def _run(module: nn.Module, args, kwargs, seed: int):
    args = [a.detach().clone().requires_grad_(a.is_floating_point()) for a in args]
    kwargs = {k: v.detach().clone().requires_grad_(v.is_floating_point()) for k, v in kwargs.items()}
    module.zero_grad(set_to_none=True)
    out = module(*args, **kwargs)
    outputs = list(out) if isinstance(out, tuple) else [out]
    projection = torch.Generator().manual_seed(seed + 7)
    loss = sum((o * torch.randn(o.shape, generator=projection, dtype=o.dtype)).sum() for o in outputs)
    loss.backward()
    grads = {f"input {i}": a.grad for i, a in enumerate(args) if a.requires_grad}
    grads.update({f"input {k}": v.grad for k, v in kwargs.items() if v.requires_grad})
    grads.update({f"param {n}": p.grad for n, p in module.named_parameters()})
    buffers = {n: b.detach().clone() for n, b in module.named_buffers()}
    return [o.detach() for o in outputs], grads, buffers


def assert_same_function(plain: nn.Module, fast: nn.Module, args, kwargs, seed: int, what: str) -> None:
    """Outputs, gradients and buffers agree in eval mode and in training mode (p = 0)."""
    for mode in ("eval", "train"):
        for module in (plain, fast):
            module.train(mode == "train")
            no_dropout_(module) if mode == "train" else None
        want = _run(plain, args, kwargs, seed)
        got = _run(fast, args, kwargs, seed)
        for index, (g, w) in enumerate(zip(got[0], want[0])):
            assert_close_rel(g, w, RTOL, f"{what} [{mode}] output {index}")
        # A gradient that is zero in exact arithmetic (a bias of the keys, which the softmax
        # cancels) is rounding noise scaled like the other gradients: its floor follows them.
        overall = max((g.abs().max().item() for g in want[1].values() if g is not None and g.numel()), default=0.0)
        for name in want[1]:
            assert_close_rel(got[1][name], want[1][name], RTOL, f"{what} [{mode}] grad of {name}",
                             floor=max(1e-6, 1e-3 * overall))
        for name in want[2]:
            if want[2][name].is_floating_point():
                assert_close_rel(got[2][name], want[2][name], RTOL, f"{what} [{mode}] buffer {name}")
            else:
                assert torch.equal(got[2][name], want[2][name]), f"{what} [{mode}] buffer {name}"
