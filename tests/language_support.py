"""Helpers of the language-construct tests (tests/test_lang_*.py).

Each construct is checked three ways: the generated module against a direct torch
computation written in the test; the generated module against the interpreter
(`tests/differential.run_case`: random weights, eval and training mode, float64); and
its misuse, which must be a located diagnostic (`path:line:col` and a code).
"""

from __future__ import annotations

import torch

import attndsl

from .differential import Case, compile_both, run_case
from .fuzzing import load_module


def compile_ok(source: str, path: str = "lang.attn", **options) -> str:
    result = attndsl.compile_source(source, path, **options)
    if not result.ok:
        raise AssertionError("\n".join(f"{d.code} {d.span.line}:{d.span.column} {d.message}"
                                       for d in result.diagnostics))
    return result.code


def generated(source: str, block: str | None = None, **options):
    """The generated class of `block` (default: the last block of the spec)."""
    code = compile_ok(source, **options)
    namespace = load_module(code)
    if block is None:
        block = attndsl.compile_source(source, "lang.attn").blocks[-1].name
    return namespace[block]


def build(source: str, block: str | None = None, **arguments) -> torch.nn.Module:
    return generated(source, block)(**arguments).double().eval()


def agree(source: str, args: dict, inputs: dict, masks=(), seed: int = 0, ints=()) -> str:
    """Generated module and interpreter agree on one case (raises Disagreement if not);
    `masks` are drawn as booleans, `ints` as int64 (some negative, some large)."""
    compiled = compile_both(source)
    assert compiled is not None, "the spec does not compile"
    shapes = {k: v if isinstance(v, int) else list(v) for k, v in inputs.items()}  # a flag, a size: as they are
    return run_case(compiled, Case(args, shapes, frozenset(masks), seed, int_inputs=frozenset(ints)))


def first_error(source: str, path: str = "lang.attn"):
    """(code, line, column, message) of the first error the spec gives."""
    result = attndsl.compile_source(source, path)
    errors = [d for d in result.diagnostics if d.is_error]
    assert errors, "expected an error"
    d = errors[0]
    return d.code, d.span.line, d.span.column, d.message


def rand(*shape, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
