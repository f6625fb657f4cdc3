"""Symbolic shape inference and checking over the IR.

Each block's graph is walked in topological order and every node gets its shape (a tuple
of `Expr`) and element type. A rule that needs two sizes equal, one dividing another, or a
size to be at least something gets one of three answers: proven from what is known,
refuted (an error naming both shapes), or unknown until the module runs (a check, made by
the generated module with its own `ValueError`: in `__init__` when it depends on
constructor arguments only, else in `forward`). Nothing is left to torch.

The package, by concern: `knowledge` (facts under guards), `requirements` (from a need to
a check), `walk` (one pass over the graph), `worlds` (one pass per combination of
shape-changing `if` branches), `context` (what rules see), `layer_args` (what layer
constructors need), `dtypes`, `examples`.
"""

from __future__ import annotations

from ..diagnostics import DiagnosticSink
from ..ir import BlockIR
from .block_checker import BlockChecker
from .context import ShapeContext, show
from .layer_args import LayerArguments

__all__ = ["check_shapes", "show", "ShapeContext", "LayerArguments", "BlockChecker"]


def check_shapes(blocks: list[BlockIR], sink: DiagnosticSink) -> None:
    checked: dict[str, BlockIR] = {}
    for ir in blocks:
        BlockChecker(ir, sink, checked).run()
        checked[ir.name] = ir
