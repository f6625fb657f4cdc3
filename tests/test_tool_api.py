"""`attndsl.load`, and what the compile path must not import."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
import torch

import attndsl

from .mechanisms import REPO_ROOT, SPECS_DIR


def test_load_returns_the_class_without_writing(tmp_path):
    spec = tmp_path / "se.attn"
    spec.write_text((SPECS_DIR / "se.attn").read_text())
    cls = attndsl.load(spec)
    assert cls.__name__ == "SEAttention" and list(tmp_path.iterdir()) == [spec]
    module = cls(channel=32, reduction=4)
    assert module(torch.randn(2, 32, 5, 5)).shape == (2, 32, 5, 5)
    assert type(pickle.loads(pickle.dumps(module))) is cls  # its module is registered


def test_load_a_block():
    assert attndsl.load(SPECS_DIR / "cbam.attn").__name__ == "CBAMBlock"  # the last one
    assert attndsl.load(SPECS_DIR / "cbam.attn", block="SpatialAttention").__name__ == "SpatialAttention"
    with pytest.raises(ValueError, match="no block 'Nope'; its blocks are ChannelAttention, SpatialAttention"):
        attndsl.load(SPECS_DIR / "cbam.attn", block="Nope")


def test_load_without_the_optimising_passes():
    """Trial 14c: the README says Python takes `optimize=False`; `load` did not."""
    import inspect

    fused = attndsl.load(SPECS_DIR / "sdpa.attn")
    plain = attndsl.load(SPECS_DIR / "sdpa.attn", optimize=False)
    assert "scaled_dot_product_attention" in inspect.getsource(fused.forward)
    assert "scaled_dot_product_attention" not in inspect.getsource(plain.forward)
    torch.manual_seed(0)
    a = fused(d_model=16, d_k=4, d_v=4, h=2).double().eval()
    b = plain(d_model=16, d_k=4, d_v=4, h=2).double().eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    torch.testing.assert_close(a(x, x, x), b(x, x, x))


def test_load_a_bad_spec(tmp_path):
    bad = tmp_path / "bad.attn"
    bad.write_text("block B():\n    input x: [b, 4]\n    layer fc = linear(8, 2)\n    return fc(x)\n")
    with pytest.raises(attndsl.CompileError, match="E0201"):
        attndsl.load(bad)
    with pytest.raises(FileNotFoundError):
        attndsl.load(tmp_path / "missing.attn")


def test_compile_path_imports_neither_torch_nor_pygls(tmp_path):
    # every spec: a construct's own path may import (a comparison in floats read Python's
    # semantics from the interpreter's package, which imported torch: 3 s of a compile)
    script = (
        "import glob, sys, attndsl, attndsl.cli\n"
        f"assert attndsl.cli.main(['compile', *sorted(glob.glob('specs/*.attn')), '-o', {str(tmp_path)!r}]) == 0\n"
        "assert attndsl.cli.main(['--help']) == 0\n"
        "heavy = {'torch', 'pygls', 'lsprotocol', 'onnx'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
