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

import importlib

# values.py is Python's meaning of what a constructor computes, torch-free: the compiler reads
# it too (lower/conditions.py, evaluate.py) and must not import torch through this package,
# so the interpreter proper is imported when first used.
from .values import ContractRefusal, Refusal

_LAZY = {"InterpretedBlock": "block", "InterpreterBug": "block", "Program": "program", "load": "program",
         "TENSOR_OPS": "tensor_ops"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # the ops' entries in TENSOR_OPS: the catalogue's; masks, constants and indexing; selection
    for registering in ("catalogue_ops", "language_ops", "selection_ops"):
        importlib.import_module(f".{registering}", __name__)
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


def build(source_or_path, block: str | None = None, **arguments):
    """An interpreted module (InterpretedBlock) for `block` of a spec (text, or a path to a .attn file)."""
    return __getattr__("load")(source_or_path).build(block, **arguments)


__all__ = ["ContractRefusal", "InterpretedBlock", "InterpreterBug", "Program", "Refusal", "TENSOR_OPS", "build", "load"]
