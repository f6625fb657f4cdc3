"""Generated modules under torch.compile and torch.export (DESIGN.md section 5).

For every case of tests/mechanisms.py the generated module (float32, eval mode) runs
under ``torch.compile(fullgraph=True, backend="aot_eager")`` and ``torch.export.export``
with the same output as eager; for one case per spec, export also works with a
dynamic batch size. Plus the run-time shape checks: they name the block, and
``runtime_checks=False`` leaves them out.

aot_eager traces through dynamo and AOTAutograd (where graph breaks and unsupported
ops show up) without paying for inductor's C++ code generation.
"""

from __future__ import annotations

import ast
import re
import types

import pytest
import torch

import attndsl

from .harness import generated_class
from .mechanisms import CASES, SPECS_DIR, example_cases

ids = lambda c: c.id  # noqa: E731


def _eager_module(case, device):
    torch.manual_seed(case.seed)
    module = generated_class(case)(**dict(case.kwargs)).to(device).eval()
    args, kwargs = case.make_inputs(dtype=torch.float32, device=device)
    with torch.no_grad():
        want = module(*args, **kwargs)
    return module, args, kwargs, want


def _assert_same(got, want, what):
    if isinstance(want, tuple):  # several outputs (MultiHeadAttention, Self_Attn_*)
        assert isinstance(got, tuple) and len(got) == len(want), f"{what}: got {type(got).__name__}"
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same(g, w, f"{what} output[{i}]")
        return
    assert isinstance(got, torch.Tensor), f"{what}: got {type(got).__name__}"
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != eager {tuple(want.shape)}"
    # aot_eager runs the same aten kernels; allow for decompositions reordering float ops.
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, msg=lambda m: f"{what}: {m}")


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_torch_compile_fullgraph(case, device):
    module, args, kwargs, want = _eager_module(case, device)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        got = compiled(*args, **kwargs)
    _assert_same(got, want, f"{case.id} torch.compile(fullgraph=True) [{device}]")


# Each case is exported once: the first of every class with a symbolic batch size (below),
# the others (the constructor's other branches) as they are.
_EXPORTED_DYNAMIC = {c.id for c in example_cases()}


@pytest.mark.parametrize("case", [c for c in CASES if c.id not in _EXPORTED_DYNAMIC], ids=ids)
def test_torch_export(case, device):
    module, args, kwargs, want = _eager_module(case, device)
    program = torch.export.export(module, tuple(args), kwargs)
    with torch.no_grad():
        got = program.module()(*args, **kwargs)
    _assert_same(got, want, f"{case.id} torch.export [{device}]")


@pytest.mark.parametrize("case", example_cases(), ids=ids)
def test_torch_export_dynamic_batch(case, device):
    """Exported once with a symbolic batch size, the program runs on another batch size."""
    module, args, kwargs, _ = _eager_module(case, device)
    batch = torch.export.Dim("batch", min=2, max=64)
    dynamic = {
        **{name: {0: batch} for name in case.inputs},
        **{name: {0: batch} for name in kwargs},
    }
    program = torch.export.export(module, tuple(args), kwargs, dynamic_shapes=dynamic)
    bigger = [torch.cat([a, a[:1]]) for a in args]
    bigger_kwargs = {k: torch.cat([v, v[:1]]) for k, v in kwargs.items()}
    with torch.no_grad():
        want = module(*bigger, **bigger_kwargs)
        got = program.module()(*bigger, **bigger_kwargs)
    _assert_same(got, want, f"{case.id} torch.export, batch {args[0].shape[0]} -> {bigger[0].shape[0]} [{device}]")


# ----------------------------------------------------------------------------- run-time checks

SGE_SOURCE = (SPECS_DIR / "sge.attn").read_text(encoding="utf-8")


def _load(code: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    return module


def _forward_raises(code: str) -> int:
    return sum(
        isinstance(n, ast.Raise)
        for f in ast.walk(ast.parse(code))
        if isinstance(f, ast.FunctionDef) and f.name == "forward"
        for n in ast.walk(f)
    )


def test_runtime_check_names_the_block(device):
    result = attndsl.compile_source(SGE_SOURCE, "sge.attn")
    assert result.ok, result.diagnostics
    sge = _load(result.code, "sge_checked").SpatialGroupEnhance(groups=8).to(device).eval()
    with torch.no_grad():
        sge(torch.randn(2, 64, 5, 5, device=device))  # fine
        with pytest.raises(ValueError, match=r"^SpatialGroupEnhance: .*\b60\b.*\bgroups = 8\b"):
            sge(torch.randn(2, 60, 5, 5, device=device))
        with pytest.raises(ValueError, match=r"^SpatialGroupEnhance: x must be a 4-d floating-point tensor"):
            sge(torch.randn(2, 64, 25, device=device))


def test_runtime_check_under_torch_compile(device):
    """Without fullgraph the check's ValueError propagates unchanged; with fullgraph, dynamo
    reports it as Unsupported("Observed exception"), still carrying the message."""
    result = attndsl.compile_source(SGE_SOURCE, "sge.attn")
    sge = _load(result.code, "sge_checked").SpatialGroupEnhance(groups=8).to(device).eval()
    bad = torch.randn(2, 60, 5, 5, device=device)
    with torch.no_grad():
        with pytest.raises(ValueError, match=r"^SpatialGroupEnhance: .*\b60\b"):
            torch.compile(sge, backend="aot_eager")(bad)
        torch._dynamo.reset()
        with pytest.raises(Exception) as info:
            torch.compile(sge, fullgraph=True, backend="aot_eager")(bad)
    chain = f"{info.value}\n{info.value.__cause__!r}"
    assert "SpatialGroupEnhance: splitting (g c) needs c = 60" in chain, chain


def test_runtime_checks_can_be_left_out(device):
    checked = attndsl.compile_source(SGE_SOURCE, "sge.attn").code
    fast = attndsl.compile_source(SGE_SOURCE, "sge.attn", runtime_checks=False).code
    assert fast is not None
    assert _forward_raises(checked) > 0
    assert _forward_raises(fast) == 0
    assert not re.search(r"raise ValueError", fast)
    sge = _load(fast, "sge_fast").SpatialGroupEnhance(groups=8).to(device).eval()
    x = torch.randn(2, 64, 5, 5, device=device)
    with torch.no_grad():
        reference = _load(checked, "sge_checked").SpatialGroupEnhance(groups=8).to(device).eval()
        torch.testing.assert_close(sge(x), reference(x), rtol=0, atol=0)
        # no check of its own: torch's reshape is what fails now
        with pytest.raises(RuntimeError) as info:
            sge(torch.randn(2, 60, 5, 5, device=device))
    assert not isinstance(info.value, ValueError)
    assert "SpatialGroupEnhance" not in str(info.value)
