"""The DistributedDataParallel case of tests/test_tool_export.py, in a module of its own
so that its worker processes import nothing else of the tests (fast to start)."""

from __future__ import annotations

from pathlib import Path

import torch

SDPA = Path(__file__).resolve().parent.parent / "specs" / "sdpa.attn"


def ddp_setup():
    """The module (sdpa without dropout, float64, training mode), a batch of 4, an SGD step."""
    import attndsl

    torch.manual_seed(0)
    model = attndsl.load(SDPA)(d_model=32, d_k=8, d_v=8, h=4, dropout=0.0).double().train()
    generator = torch.Generator().manual_seed(1)
    inputs = [torch.randn(4, 10, 32, generator=generator, dtype=torch.float64) for _ in range(3)]

    def step(module, lr=0.1):
        with torch.no_grad():
            for parameter in module.parameters():
                parameter -= lr * parameter.grad

    return model, inputs, step
