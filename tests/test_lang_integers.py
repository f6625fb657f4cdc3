"""Integer tensors, gathers and persistent buffers: `arange` counts in int64, `//` and `%`
divide an integer tensor, `float()` leaves it; `table[index]` gathers by an integer buffer
whose values are checked against the axis when the module is built; `persistent buffer`
keeps a buffer in state_dict. Swin's WindowAttention, written with all three, loads the
published module's state_dict strictly and computes what it computes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attndsl.tools.fmt import format_spec

from .language_support import agree, build, compile_ok, first_error, generated, rand


def _block(body: str, args: str = "n: int = 4, d: int = 3") -> str:
    lines = body.strip("\n").split("\n")
    return f"block T({args}):\n" + "".join(f"    {line}\n" for line in lines)


# ---------------------------------------------------------------------------- element types

ARITHMETIC = _block("""
input x: [b, n]
buffer halves = arange(n) // 2
buffer parity = arange(n) % 2
buffer scaled = arange(n) * 0.5
buffer folded = arange(n) * (4 / 2)
buffer shifted = where(arange(n) > 1, arange(n) - 1, 0)
return x * float(halves + parity) + scaled + folded + shifted + abs(arange(n) - 2) + arange(n) / 2
""")


def test_arange_counts_in_int64_and_keeps_integers_under_integer_arithmetic():
    module = build(ARITHMETIC)
    positions = torch.arange(4)
    assert module.halves.dtype == module.parity.dtype == module.shifted.dtype == torch.int64
    assert torch.equal(module.halves, positions // 2) and torch.equal(module.parity, positions % 2)
    # a fractional number makes it float, even one the compiler folds to a whole number (4 / 2)
    assert module.scaled.is_floating_point() and module.folded.is_floating_point()
    assert torch.equal(module.shifted, torch.tensor([0, 0, 1, 2]))
    code = compile_ok(ARITHMETIC)
    assert "torch.arange(n) * 2.0" in code and "dtype=" not in code.split("def forward")[0]
    x = rand(2, 4)
    expected = x * (positions // 2 + positions % 2) + positions * 0.5 + positions * 2.0 + torch.tensor(
        [0, 0, 1, 2]) + (positions - 2).abs() + positions / 2
    torch.testing.assert_close(module(x), expected.to(torch.float64))
    assert agree(ARITHMETIC, {}, {"x": (2, 4)}) == "agree"


def test_float_in_forward_takes_the_dtype_of_the_input():
    source = _block("input x: [b, n]\nreturn softmax(x + float(arange(n)), dim=-1)")
    assert ".to(x.dtype)" in compile_ok(source)
    module = generated(source)()
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(2, 4, dtype=dtype)
        got = module(x)
        assert got.dtype == dtype
        torch.testing.assert_close(got, (x + torch.arange(4).to(dtype)).softmax(dim=-1))
    assert agree(source, {}, {"x": (2, 4)}) == "agree"


# mutants integer_not_promoted, integer_folded_away, integer_identity_removed
def test_positions_made_float_by_a_fraction_go_where_floats_go():
    source = _block("input x: [b, n]\n"
                    "return x + softmax(arange(n) * 0.5 * 2, dim=-1) + softmax(arange(n) * 1.0, dim=-1)")
    module = build(source)  # the optimiser must not fold `* 0.5 * 2` or `* 1.0` away: that would leave int64
    x = rand(2, 4)
    positions = torch.arange(4, dtype=torch.float64)
    torch.testing.assert_close(module(x), x + 2 * positions.softmax(-1))
    assert agree(source, {}, {"x": (2, 4)}) == "agree"


@pytest.mark.parametrize("body, code, needle", [
    ("return x + softmax(arange(n), dim=-1)", "E0209", "softmax"),
    ("layer fc = linear(n, n)\nreturn x + fc(arange(n))", "E0209", "a layer takes floating-point tensors"),
    ("return x // 2", "E0209", "integer tensor"),
    # torch refuses mean (and std, var, norm) of an integer tensor; sum, max and min keep it integer
    ("return x + mean(arange(n))", "E0209", "must be a floating-point tensor, got an int tensor"),
    ("return x + arange(n) // 0.5", "E0209", "divides an integer tensor by a whole number"),
    ("return x + arange(n) // 0", "E0203", "zero"),
    ("return x + 2 // arange(n)", "E0113", "by a whole number"),
    ("return x + arange(n) % x", "E0113", "by a whole number"),
])
def test_integer_tensors_refused_where_torch_wants_floats_or_a_whole_divisor(body, code, needle):
    got = first_error(_block("input x: [b, n]\n" + body))
    assert got[0] == code and needle in got[3], got


def test_softmax_of_positions_says_how_to_convert():
    import attndsl

    result = attndsl.compile_source(_block("input x: [b, n]\nreturn x + softmax(arange(n), dim=-1)"), "t.attn")
    (error,) = [d for d in result.diagnostics if d.is_error]
    assert (error.span.line, error.span.column) == (3, 16) and "float(x)" in error.help


def test_a_divisor_from_an_argument_is_checked_not_zero_when_built():
    module = generated(_block("input x: [b, n]\nbuffer q = arange(n) // k\nreturn x + q", "n: int = 4, k: int = 2"))
    assert torch.equal(module().q, torch.arange(4) // 2)
    with pytest.raises(ValueError, match="k"):
        module(k=0)


# ---------------------------------------------------------------------------- gathers

GATHER = _block("""
input x: [b, n, n, d]
param table: [2 * n - 1, d] = normal()
buffer offsets = arange(n)[:, None] - arange(n)[None, :] + n - 1
buffer halves = arange(n) // 2
buffer last = arange(d) * 0 + d - 1
return x + table[offsets] + x[:, :, halves] + x[..., last]
""")


def test_a_gather_picks_rows_by_an_integer_buffer():
    module = build(GATHER)
    x = rand(2, 4, 4, 3).requires_grad_()
    offsets = torch.arange(4)[:, None] - torch.arange(4)[None, :] + 3
    table = module.table
    expected = x + table.index_select(0, offsets.reshape(-1)).reshape(4, 4, 3) + x[:, :, [0, 0, 1, 1]] + x[
        ..., [2, 2, 2]]
    got = module(x)
    torch.testing.assert_close(got, expected)
    # the gradient reaches the table: each row once per pair at its offset
    (weights,) = torch.autograd.grad(got.sum(), table)
    counts = torch.bincount(offsets.reshape(-1), minlength=7).to(torch.float64)
    torch.testing.assert_close(weights, 2 * counts[:, None].expand(7, 3))
    assert agree(GATHER, {}, {"x": (2, 4, 4, 3)}) == "agree"
    assert agree(GATHER, {"n": 1, "d": 1}, {"x": (1, 1, 1, 1)}) == "agree"


def test_the_index_is_checked_against_the_axis_when_the_module_is_built():
    source = _block("""
input x: [b, n]
param table: [n] = zeros()
buffer shifted = arange(n) + k
return x + table[shifted]
""", "n: int = 4, k: int = 0")
    code = compile_ok(source)
    assert "if not self.shifted.is_meta and ((self.shifted < 0) | (self.shifted >= n)).any():" in code
    module = generated(source)
    module(k=0)
    with pytest.raises(ValueError, match=r"`shifted` must lie in \[0, 4\) to gather along its axis, got 1\.\.4"):
        module(k=1)
    # negative values are refused too: torch would wrap them round to the end of the axis
    with pytest.raises(ValueError, match=r"got -1\.\.2"):
        module(k=-1)
    # the interpreter refuses the same configuration (and agrees where it is fine)
    assert agree(source, {"k": 0}, {"x": (2, 4)}) == "agree"
    assert agree(source, {"k": 1}, {"x": (2, 4)}) != "agree"
    # without run-time checks (`--no-checks`), no bound is checked either
    assert "self.shifted < 0" not in compile_ok(source, runtime_checks=False)


@pytest.mark.parametrize("body, code, line, needle", [
    ("return x[arange(n)]", "E0113", 3, "a gather's index is a buffer"),
    ("buffer i = arange(n)\nreturn x[i, i]", "E0113", 4, "one tensor"),
    ("buffer i = arange(n)\nreturn x[:, None, i]", "E0113", 4, "other items are slices"),
    ("buffer i = arange(n)\nreturn x[0, i]", "E0113", 4, "other items are slices"),
    ("buffer i = float(arange(n))\nreturn x[:, i]", "E0209", 4, "must be an integer tensor"),
    ("buffer i = arange(n) < 2\nreturn x[:, i]", "E0209", 4, "must be an integer tensor"),
    ("buffer i = arange(n)\nreturn x[i]", "E0204", 4, "depends on an input"),
    ("buffer i = arange(n)\nreturn x[:, :, i]", "E0202", 4, "3 indices for a tensor of rank 2"),
])
def test_gathers_that_cannot_be_checked_are_refused_at_their_place(body, code, line, needle):
    got = first_error(_block("input x: [b, n]\n" + body))
    assert (got[0], got[1]) == (code, line) and needle in got[3], got


# Swin's relative_position_index as its published code builds it: the offsets along each
# axis stacked last, the row offset scaled, then summed over that last axis (an int tensor).
SUMMED_INDEX = _block("""
input x: [b, heads, wh * ww, wh * ww]
let n = wh * ww
param table: [(2 * wh - 1) * (2 * ww - 1), heads] = normal()
buffer relative = stack([(arange(n)[:, None] // ww - arange(n)[None, :] // ww + wh - 1) * (2 * ww - 1), \
arange(n)[:, None] % ww - arange(n)[None, :] % ww + ww - 1], dim=-1)
buffer index = sum(relative, dim=-1)
buffer widest = max(relative, dim=(0, 1))
buffer narrowest = min(relative, dim=-1, keepdim=true)
return x + rearrange(table[index], "i j h -> h i j")
""", "wh: int = 2, ww: int = 3, heads: int = 2")


def _swin_index(wh, ww):
    """timm's WindowAttention.__init__, in place as it writes it."""
    coords = torch.flatten(torch.stack(torch.meshgrid([torch.arange(wh), torch.arange(ww)], indexing="ij")), 1)
    relative_coords = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    relative_coords[:, :, 0] += wh - 1
    relative_coords[:, :, 1] += ww - 1
    relative_coords[:, :, 0] *= 2 * ww - 1
    return relative_coords, relative_coords.sum(-1)


@pytest.mark.parametrize("wh, ww", [(2, 3), (3, 2), (1, 4)])
def test_sum_of_an_integer_tensor_is_an_integer_index(wh, ww):
    """`relative_coords.sum(-1)` on an int tensor, as Swin builds its index: integer, so that it
    gathers rows of the bias table (float(...) would have left nothing to gather with)."""
    assert "self.register_buffer(\"index\", self.relative.sum(dim=-1), persistent=False)" in compile_ok(
        SUMMED_INDEX)
    module = build(SUMMED_INDEX, wh=wh, ww=ww)
    relative, index = _swin_index(wh, ww)
    assert module.index.dtype == module.widest.dtype == module.narrowest.dtype == torch.int64
    assert torch.equal(module.index, index)
    assert torch.equal(module.widest, relative.amax(dim=(0, 1)))
    assert torch.equal(module.narrowest, relative.amin(dim=-1, keepdim=True))
    n = wh * ww
    x = rand(2, 2, n, n)
    table = module.table
    got = module(x)
    torch.testing.assert_close(got, x + table[index.reshape(-1)].reshape(n, n, 2).permute(2, 0, 1))
    (weights,) = torch.autograd.grad(got.sum(), table)
    counts = torch.bincount(index.reshape(-1), minlength=table.shape[0]).to(torch.float64)
    torch.testing.assert_close(weights, 2 * counts[:, None].expand(-1, 2))
    assert agree(SUMMED_INDEX, {"wh": wh, "ww": ww}, {"x": (2, 2, n, n)}) == "agree"


# ---------------------------------------------------------------------------- persistent buffers

PERSISTENT = _block("""
input x: [b, n]
persistent buffer index = arange(n) // 2
buffer constant = arange(n)
return x + index + constant
""")


def test_a_persistent_buffer_is_in_the_state_dict_and_stays_integer():
    module = build(PERSISTENT)
    assert list(module.state_dict()) == ["index"] and module.index.dtype == torch.int64
    other = build(PERSISTENT)
    other.index.fill_(1)
    module.load_state_dict(other.state_dict(), strict=True)
    assert torch.equal(module.index, torch.ones(4, dtype=torch.int64))
    assert format_spec(PERSISTENT, "t.attn") == PERSISTENT  # the formatter keeps the word
    assert agree(PERSISTENT, {}, {"x": (2, 4)}) == "agree"


def test_two_buffers_may_compute_the_same_tensor():
    # common-subexpression elimination merged the second `arange(n)` into the first and
    # left the second buffer pointing at a node that no longer existed
    source = _block("input x: [b, n]\nbuffer a = arange(n) * 2\nbuffer c = arange(n)\nreturn x + a + c")
    module = build(source)
    assert torch.equal(module.c, torch.arange(4)) and torch.equal(module.a, 2 * torch.arange(4))


# ---------------------------------------------------------------------------- Swin's WindowAttention

SWIN = """\
block WindowAttention(
    dim: int,
    window_size: list[int],
    num_heads: int,
    qkv_bias: bool = true,
    qk_scale: float | None = None,
    attn_drop: float = 0.0,
    proj_drop: float = 0.0,
):
    input x: [bw, window_size[0] * window_size[1], dim]
    input mask: [nw, window_size[0] * window_size[1], window_size[0] * window_size[1]] = None
    require len(window_size) == 2, "window_size is (Wh, Ww)"
    require dim % num_heads == 0, "dim must be divisible by num_heads"

    let wh = window_size[0]
    let ww = window_size[1]
    let n = wh * ww
    let given_scale = qk_scale if qk_scale is not None else 0.0
    let scale = given_scale if given_scale != 0 else (dim // num_heads) ** -0.5
    param relative_position_bias_table: [(2 * wh - 1) * (2 * ww - 1), num_heads] = trunc_normal(std=0.02)
    # the table row of the offset between positions i and j of the window
    persistent buffer relative_position_index = (
        arange(n)[:, None] // ww - arange(n)[None, :] // ww + wh - 1
    ) * (2 * ww - 1) + arange(n)[:, None] % ww - arange(n)[None, :] % ww + ww - 1
    layer qkv = linear(dim, dim * 3, bias=qkv_bias)
    layer attn_drop = dropout(attn_drop)
    layer proj = linear(dim, dim)
    layer proj_drop = dropout(proj_drop)
    layer softmax = softmax(dim=-1)

    qkv_ = rearrange(qkv(x), "b n (three h d) -> three b h n d", three=3, h=num_heads)
    attn = qkv_[0] * scale @ transpose(qkv_[1], -2, -1)
    bias = relative_position_bias_table[relative_position_index]
    attn = attn + unsqueeze(rearrange(bias, "i j h -> h i j"), 0)
    if mask:
        attn = rearrange(attn, "(b w) h i j -> b w h i j", w=nw) + mask[None, :, None]
        attn = rearrange(attn, "b w h i j -> (b w) h i j")
    attn = attn_drop(softmax(attn))
    return proj_drop(proj(rearrange(attn @ qkv_[2], "b h n d -> b n (h d)")))
"""


class WindowAttention(nn.Module):
    """Written by us from the paper's math, following the published module's structure and names."""

    def __init__(self, dim, window_size, num_heads, qkv_bias=True, qk_scale=None, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        self.window_size, self.num_heads = window_size, num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        wh, ww = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        rows, cols = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
        position = torch.stack([rows.flatten(), cols.flatten()])
        offset = position[:, :, None] - position[:, None, :]
        self.register_buffer("relative_position_index", (offset[0] + wh - 1) * (2 * ww - 1) + offset[1] + ww - 1)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x, mask=None):
        windows, n, c = x.shape
        qkv = self.qkv(x).reshape(windows, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)].reshape(n, n, -1)
        attn = attn + bias.permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            groups = mask.shape[0]
            attn = attn.reshape(windows // groups, groups, self.num_heads, n, n) + mask[None, :, None]
            attn = attn.reshape(-1, self.num_heads, n, n)
        attn = self.attn_drop(self.softmax(attn))
        return self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(windows, n, c)))


@pytest.mark.parametrize("window_size, with_mask", [([3, 3], False), ([2, 3], True), ([1, 4], True)])
def test_swin_window_attention_loads_the_published_state_dict_strictly(window_size, with_mask):
    torch.manual_seed(0)
    arguments = dict(dim=8, window_size=window_size, num_heads=2)
    reference = WindowAttention(**arguments).double().eval()
    with torch.no_grad():
        reference.relative_position_bias_table.normal_()
    module = generated(SWIN)(**arguments).double().eval()
    assert torch.equal(module.relative_position_index, reference.relative_position_index)
    module.load_state_dict(reference.state_dict(), strict=True)
    n = window_size[0] * window_size[1]
    x = rand(6, n, 8).requires_grad_()
    mask = torch.where(rand(3, n, n, seed=1) > 0, 0.0, -100.0).double() if with_mask else None
    got, expected = module(x, mask), reference(x, mask)
    torch.testing.assert_close(got, expected)
    weights = [module.relative_position_bias_table, module.qkv.weight]
    theirs = [reference.relative_position_bias_table, reference.qkv.weight]
    for mine, published in zip(torch.autograd.grad(got.square().sum(), [x] + weights),
                               torch.autograd.grad(expected.square().sum(), [x] + theirs)):
        torch.testing.assert_close(mine, published)
    # the comparison can fail: one table row moved changes the output
    with torch.no_grad():
        module.relative_position_bias_table[0] += 1
    assert not torch.allclose(module(x, mask), expected)
    inputs = {"x": (6, n, 8)} | ({"mask": (3, n, n)} if with_mask else {})
    assert agree(SWIN, arguments, inputs, masks=()) == "agree"


def test_shape_comments_name_a_size_by_its_let():
    """`let n = wh * ww`: forward's comments say `n`; the docstring, whose reader sees no
    lets, keeps the arguments' terms."""
    code = compile_ok(SWIN)
    assert "  # [bw, num_heads, n, n]  lang.attn:" in code and "  # [bw, n, dim]  lang.attn:" in code
    assert "x: [bw, window_size[0]*window_size[1], dim]" in code.split("def __init__")[0]
