"""Shared by the tools' tests (tests/test_tool_*.py): the specs, analysed once per process,
and their generated classes from the harness's per-process cache (compiling is the slow
part, so every test file shares one compile per spec)."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from attndsl.compiler import analyze
from attndsl.diagnostics import Span

from .mechanisms import SPECS_DIR

SPECS = sorted(SPECS_DIR.glob("*.attn"))


@functools.cache
def analyzed(path: Path) -> list:
    """The checked blocks of a catalogue spec (attndsl.compiler.analyze)."""
    blocks, sink = analyze(path.read_text(encoding="utf-8"), f"specs/{path.name}")
    assert blocks, f"specs/{path.name} does not check: {[d.message for d in sink.items]}"
    return blocks


@functools.cache
def optimized(path: Path) -> list:
    """The blocks as code generation gets them, after attndsl.passes (what the cost model reads)."""
    from attndsl.tools.common import optimized as run_passes

    blocks, _ = analyze(path.read_text(encoding="utf-8"), f"specs/{path.name}")
    return run_passes(blocks)


def generated_class(path: Path, block: str) -> type:
    from .harness import load_generated

    return getattr(load_generated(path.stem), block)


def strip_spans(node):
    """An AST as nested tuples without its spans (and the source text), for comparing."""
    if isinstance(node, Span):
        return None
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(
            (f.name, strip_spans(getattr(node, f.name))) for f in dataclasses.fields(node)
            if f.name not in ("span", "var_span", "source"))
    if isinstance(node, (list, tuple)):
        return tuple(strip_spans(item) for item in node)
    return node
