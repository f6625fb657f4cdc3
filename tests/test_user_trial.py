"""What a new user's porting trial found (GCNet's ContextBlock, CCNet's criss-cross
attention, Gather-Excite, timm's SE with make_divisible), fixed and kept fixed. Each
test runs the generated module, so a check that the compiler only claims is not enough."""

from __future__ import annotations

from pathlib import Path

import torch

import attndsl
from attndsl.api import load_code


def build(source: str, name: str):
    result = attndsl.compile_source(source, "trial.attn")
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics]
    return result.code, getattr(load_code(result.code, "trial"), name)


def test_a_layer_declared_under_the_complement_of_a_condition_is_usable_in_its_else(device):
    """`if extent != 0:` declares the pool; the `else:` of `if extent == 0:` is the same
    condition written the other way round (it was refused with E0106)."""
    source = """
block T(c: int, extent: int = 0):
    input x: [b, c, h, w]
    if extent != 0:
        layer pool = avg_pool2d(3, stride=1, padding=1)
    if extent == 0:
        y = x
    else:
        y = pool(x)
    return y
"""
    _, T = build(source, "T")
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64, device=device)
    assert torch.equal(T(3, 0).to(device)(x), x)
    pooled = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
    assert torch.allclose(T(3, 1).to(device)(x), pooled)
    assert not torch.allclose(pooled, x)


def test_a_loop_that_makes_no_pass_passes_any_input_through(device):
    """The children of `for i in range(n)` must keep the shape of a pass; with n = 0 there
    is no pass, and the input goes through whatever its size (it was refused at run time)."""
    source = """
block L(c: int, n: int = 0):
    input x: [b, c, h, w]
    layer down = sequential:
        for i in range(n):
            conv{i} = conv2d(c, c, 3, stride=2, padding=1)
    return down(x)
"""
    code, L = build(source, "L")
    x = torch.randn(2, 4, 8, 8, device=device)
    assert torch.equal(L(4, 0).to(device)(x), x)
    try:
        L(4, 1).to(device)(x)
    except ValueError as error:  # a pass halves the map: the check still holds when one runs
        assert "before and after a pass of the loop" in str(error)
    else:
        raise AssertionError("a pass that halves the map was not refused")
    assert "if self.n > 0:" in code


def test_the_shape_a_value_has_in_every_branch_is_the_one_shown(device):
    """`x * y` with y [b, c, h, w] on one branch and [b, c, 1, 1] on the other is
    [b, c, h, w] either way: the docstring and the comment say so, not `h|1`."""
    source = """
block T(c: int, flag: bool = false):
    input x: [b, c, h, w]
    if flag:
        y = x
    else:
        y = mean(x, dim=(2, 3), keepdim=true)
    return x * y
"""
    code, T = build(source, "T")
    assert "returns: [b, c, h, w]" in code and "h|1" not in code
    assert code.rstrip().splitlines()[-1].endswith("# [b, c, h, w]  trial.attn:8")
    x = torch.randn(2, 3, 4, 5, device=device)
    for flag in (False, True):
        assert T(3, flag).to(device)(x).shape == x.shape


def test_a_batch_norm_check_inside_a_loop_is_not_repeated():
    """A check made before a loop's passes covers the same check inside them: BAM's
    channel gate checks `training and b == 1` once, not once more under `num_layers > 1`."""
    spec = Path(__file__).resolve().parent.parent / "specs" / "bam.attn"
    code = attndsl.compile_source(spec.read_text(encoding="utf-8"), "specs/bam.attn").code
    channel_gate = code.split("class ChannelAttention")[1].split("class ")[0]
    assert channel_gate.count("batch norm in training needs more than one value") == 1


def test_a_value_assigned_under_an_if_and_under_its_complement_is_defined_after(device):
    """`if flag: y = ...` then `if not flag: y = ...` (and `mode == "a"` / `mode != "a"`)
    define `y` on every path, as an `if`/`else` would; the branches may differ in shape."""
    source = """
block B(c: int, flag: bool = true, mode: str = "a"):
    input x: [b, c, h, w]
    if flag:
        y = mean(x, dim=(2, 3), keepdim=true)
    if not flag:
        y = x + 1
    if mode == "a":
        z = y * 3
    if mode != "a":
        z = y - 1
    return x * z
"""
    code, B = build(source, "B")
    forward = code.split("def forward")[1]
    assert forward.count("else:") == 2
    x = torch.randn(2, 3, 4, 5, device=device)
    for flag, mode in ((True, "a"), (True, "b"), (False, "a"), (False, "b")):
        y = x.mean(dim=(2, 3), keepdim=True) if flag else x + 1
        z = y * 3 if mode == "a" else y - 1
        torch.testing.assert_close(B(3, flag, mode).to(device)(x), x * z)
