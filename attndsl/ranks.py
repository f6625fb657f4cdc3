"""Rank-generic blocks (`input x: [b, c, *spatial[dimension]]`, `conv{dimension}d`): a
pack's sizes at one rank, and a rank-generic layer as the layer of one rank."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .ir import LayerSpec
from .symbolic import Expr

if TYPE_CHECKING:
    from .ir import BlockIR, InputInfo


@dataclass(frozen=True)
class PackSizes:
    """`spatial` of `input x: [b, c, *spatial[dimension]]`: the pack's sizes, as a value
    (`unflatten(y, 2, spatial)`); how many there are depends on the rank."""

    name: str


RANKS = (1, 2, 3)  # the ranks a pack may have: torch has Conv1d/2d/3d, MaxPool1d/2d/3d, ...


def pack_dims(name: str, rank: int) -> list[Expr]:
    """The sizes a pack stands for at one rank: `spatial_0`, `spatial_1`, ..."""
    return [Expr.symbol(f"{name}_{i}") for i in range(rank)]


def pack_of(symbol: str, packs) -> tuple[str, int] | None:
    """`spatial_1` -> ("spatial", 1) when `spatial` is a pack; None for any other symbol."""
    name, _, index = symbol.rpartition("_")
    return (name, int(index)) if name in packs and index.isdigit() else None


def input_dims(ir: "BlockIR", info: "InputInfo", ranks: dict) -> list[Expr]:
    """An input's sizes at given ranks (`{"dimension": 2}`), its pack's sizes last."""
    return list(info.shape) + (pack_dims(info.pack, int(ranks[ir.packs[info.pack]])) if info.pack else [])


def default_rank(ir: "BlockIR", arg: str) -> int:
    """The rank a block generic over `arg` shows (its comments, its display walk): the default's."""
    default = next(a.default for a in ir.args if a.name == arg)
    return default if default in ir.rank_args[arg] else ir.rank_args[arg][0]


def kind_at_rank(spec: "LayerSpec", rank: int) -> "LayerSpec":
    """A rank-generic layer (`conv{dimension}d`) as the layer of one rank."""
    if spec.rank_arg is None:
        return spec
    kind = list(spec.alternatives)[RANKS.index(rank)]  # one kind per rank, in the order of RANKS
    shown = kind.replace(str(rank), "{" + spec.rank_arg + "}", 1)
    return LayerSpec(kind, spec.alternatives[kind], spec.positional, list(spec.children), span=spec.span,
                     sources=spec.sources, shown_kind=shown)
