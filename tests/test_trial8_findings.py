"""What porting trial 8 (CaiT's class attention, talking heads, multi-query and Swin-V2
cosine attention; CCNet, GCNet, scSE, Attention U-Net's gate, PVT, axial attention;
FocalNet, gMLP, BoTNet, attention-augmented convs, PoolFormer, effective SE) found, each
fixed and kept here: the failing spec, reduced."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, compile_ok, first_error, generated


@pytest.mark.parametrize("tracked", [True, False])
def test_batch_norm_without_running_statistics_needs_two_values_in_eval_too(device, tracked):
    """`track_running_stats=false` normalises by the batch's statistics in eval mode as well:
    the module checked one value per channel in training only, and torch refused it in eval."""
    source = """\
block B(c: int = 4, tracked: bool = true):
    input x: [b, c, h, w]
    example(c=4, x=[2, 4, 3, 3])
    layer bn = batch_norm2d(c, track_running_stats=tracked)
    return bn(x)
"""
    assert "if (self.training or not self.tracked) and b * h * w == 1:" in compile_ok(source)
    module = generated(source)(tracked=tracked).to(device).eval()
    one = torch.randn(1, 4, 1, 1, device=device)
    if tracked:
        assert module(one).shape == (1, 4, 1, 1)
    else:
        with pytest.raises(ValueError, match="more than one value per channel"):
            module(one)
    module.train()
    with pytest.raises(ValueError, match="more than one value per channel"):
        module(one)
    assert agree(source, {"tracked": tracked}, {"x": (2, 4, 1, 1)}) == "agree"


def test_batch_norm_that_never_keeps_statistics_checks_in_any_mode():
    source = """\
block B(c: int = 4):
    input x: [b, c]
    example(c=4, x=[2, 4])
    layer bn = batch_norm1d(c, track_running_stats=false)
    return bn(x)
"""
    assert "if b == 1:" in compile_ok(source)
    with pytest.raises(ValueError, match="more than one value per channel"):
        generated(source)().eval()(torch.randn(1, 4))


def test_a_module_with_a_gather_index_builds_on_the_meta_device():
    """Deferred initialisation (`device="meta"`, or `with torch.device("meta"):`): the check
    of the index's values read them (`.any()` of a meta tensor), and `__init__` failed."""
    source = """\
block RelBias(n: int = 4, device: device = None, dtype: dtype = None):
    input x: [b, n, n]
    param table: [2 * n - 1] = zeros
    buffer idx = arange(n)[None, :] - arange(n)[:, None] + n - 1
    return x + table[idx]
"""
    cls = generated(source)
    assert cls(4, device="meta").table.is_meta
    with torch.device("meta"):
        assert cls(4).idx.is_meta
    # on a real device the values are still checked
    wrong = source.replace("+ n - 1", "+ n")
    with pytest.raises(ValueError, match="must lie in"):
        generated(wrong)(4)
