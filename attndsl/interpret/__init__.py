"""A second semantics for attndsl: an interpreter of checked specs.

    >>> from attndsl import interpret
    >>> module = interpret.build("specs/sge.attn", groups=8)      # an nn.Module
    >>> y = module(torch.randn(2, 64, 7, 7))

`build(source_or_path, block=None, **arguments)` checks the spec (parse, lower, shape
check: `attndsl.compiler.analyze`, raising `attndsl.CompileError` on errors) and returns
an `nn.Module` that evaluates `block` (default: the file's last block) with torch ops
directly. It never generates code: it shares the parser and the checker with the
compiler, and nothing with the renderer, so the differential tests
(tests/test_differential.py) can hold the generated modules to it.

The module registers params and layers under the spec's names (`state_dict` keys equal
the generated module's), checks its inputs against their declared shapes, and refuses
what the spec does not define with a `ValueError` (`Refusal`); torch's own errors pass
through. `load(source_or_path)` gives a `Program` to build many modules from one check.

Its meaning of each op is in `tensor_ops.TENSOR_OPS` (one entry per op).
"""

from __future__ import annotations

from .block import InterpretedBlock, InterpreterBug
from .program import Program, load
from .tensor_ops import TENSOR_OPS
from . import catalogue_ops  # noqa: F401,E402  (registers the catalogue's ops in TENSOR_OPS)
from . import language_ops  # noqa: F401,E402  (masks, constants, indexing: their entries in TENSOR_OPS)
from . import selection_ops  # noqa: F401,E402  (topk, sort, gather, scatter)
from .values import ContractRefusal, Refusal


def build(source_or_path, block: str | None = None, **arguments) -> InterpretedBlock:
    """An interpreted module for `block` of a spec (text, or a path to a .attn file)."""
    return load(source_or_path).build(block, **arguments)


__all__ = ["ContractRefusal", "InterpretedBlock", "InterpreterBug", "Program", "Refusal", "TENSOR_OPS", "build", "load"]
