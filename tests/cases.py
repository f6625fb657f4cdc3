"""What one row of the case tables is (:class:`Case`, :class:`Extra`).

The tables themselves are ``tests/mechanisms.py`` (``CASES``: mechanisms with a spec,
compared against their reference) and ``tests/pending_cases.py`` (``PENDING_CASES``:
references waiting for their spec).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS_DIR = REPO_ROOT / "specs"

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Extra:
    """An optional forward kwarg built at random for a case.

    kind ``"mask"``: boolean, True = masked, about 30 % masked, never a fully masked
    row (the last dim always keeps at least one False).
    kind ``"keep"``: the opposite convention (True = attend, as in seed 003's
    MultiHeadAttention, which masks where ``mask == 0``), same draw.
    kind ``"weights"``: floating, uniform in [0.5, 1.5) (multiplies the logits);
    it is differentiable, so its gradient is compared too.
    """

    kind: str
    shape: tuple[int, ...]

    def build(self, gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
        if self.kind in ("mask", "keep"):
            mask = torch.rand(self.shape, generator=gen, dtype=torch.float64) < 0.3
            keep = torch.randint(self.shape[-1], self.shape[:-1], generator=gen)
            mask.scatter_(-1, keep.unsqueeze(-1), False)
            return mask if self.kind == "mask" else ~mask
        if self.kind == "weights":
            return (
                0.5 + torch.rand(self.shape, generator=gen, dtype=torch.float64)
            ).to(dtype)
        raise ValueError(f"unknown extra kind {self.kind!r}")

    @property
    def differentiable(self) -> bool:
        return self.kind == "weights"


@dataclass(frozen=True)
class Case:
    id: str
    stem: str
    class_name: str
    reference: type
    kwargs: Mapping[str, Any]
    inputs: Mapping[str, Shape]  # forward positional args, in order
    # the output's shape; a tuple of shapes when forward returns a tuple of tensors
    output_shape: Shape | tuple[Shape, ...]
    extras: Mapping[str, Extra] = field(default_factory=dict)  # forward kwargs
    rtol64: float = 1e-9  # max|gen - ref| <= rtol * max|ref|, float64
    rtol32: float = 1e-4  # same, float32
    # the batch axis of every input and output (1 for the channel-first layouts of
    # seed 003's ``batch_first=False``); batch independence slices along it
    batch_dim: int = 0
    note: str = ""

    @property
    def spec_path(self) -> Path:
        return SPECS_DIR / f"{self.stem}.attn"

    @property
    def seed(self) -> int:
        """A stable per-case seed (independent of PYTHONHASHSEED)."""
        return zlib.crc32(self.id.encode())

    @property
    def output_shapes(self) -> list[Shape]:
        """The shape of every output, in order (one for a single tensor)."""
        if self.output_shape and isinstance(self.output_shape[0], tuple):
            return list(self.output_shape)
        return [self.output_shape]

    def build_reference(self) -> torch.nn.Module:
        return self.reference(**dict(self.kwargs))

    def make_inputs(
        self,
        *,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        requires_grad: bool = False,
    ) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        """Random inputs (N(0, 1)) and extras, seeded; generated on CPU in float64 then
        cast, so every device and dtype sees the same values."""
        gen = torch.Generator().manual_seed(self.seed if seed is None else seed)
        args = [
            torch.randn(shape, generator=gen, dtype=torch.float64)
            for shape in self.inputs.values()
        ]
        args = [a.to(device=device, dtype=dtype) for a in args]
        kwargs = {
            name: extra.build(gen, dtype).to(device)
            for name, extra in self.extras.items()
        }
        if requires_grad:
            for a in args:
                a.requires_grad_(True)
            for name, extra in self.extras.items():
                if extra.differentiable:
                    kwargs[name].requires_grad_(True)
        return args, kwargs


def mask_weights(
    shape: tuple[int, ...], which: str = "mask+weights"
) -> dict[str, Extra]:
    """The optional ``attention_mask`` / ``attention_weights`` kwargs of the SDPA family."""
    extras = {}
    if "mask" in which:
        extras["attention_mask"] = Extra("mask", shape)
    if "weights" in which:
        extras["attention_weights"] = Extra("weights", shape)
    return extras
