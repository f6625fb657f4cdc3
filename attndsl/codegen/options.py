"""What the renderer is told (options) and what a render template may read of a node."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Options:
    runtime_checks: bool = True
    source_name: str = "spec.attn"


@dataclass
class NodeView:
    """What a render template may read about the node it renders."""

    shape: tuple
    operand_shapes: list
    operand_ops: list


