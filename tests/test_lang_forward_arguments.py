"""Arguments of forward that are not tensors: flags (`input is_causal: bool = false`) and
sizes (`input H: int`).

An `if` on a flag is decided call by call, as an `if` on an optional input is: each branch
is checked as a world of its own, the module tests the flag by its name in forward, and
nothing __init__ builds may depend on it. timm's ViT `Attention(...)(x, attn_mask=None,
is_causal=False)` is the model. A size is a whole number forward is given, named by the
input, as an input's dimension is: PVT's `Attention(...)(x, H, W)`."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from torch import nn

import attndsl

from .language_support import agree, build, compile_ok, first_error, generated, rand

VIT = """\
block Attention(dim: int, num_heads: int = 8, qkv_bias: bool = false, qk_norm: bool = false,
        attn_drop: float = 0.0, proj_drop: float = 0.0, norm_layer: layer[layer_norm] = layer_norm):
    \"\"\"timm's ViT attention: an additive mask, causal when forward is told so.\"\"\"
    input x: [b, n, dim]
    input attn_mask: [b, mh, n, n] = None
    input is_causal: bool = false
    example(dim=16, num_heads=2, x=[2, 5, 16])
    example(dim=16, num_heads=2, qk_norm=true, x=[2, 5, 16], attn_mask=[2, 1, 5, 5], is_causal=true)
    require dim % num_heads == 0, "dim should be divisible by num_heads"

    let head_dim = dim // num_heads
    layer qkv = linear(dim, dim * 3, bias=qkv_bias)
    if qk_norm:
        layer q_norm = norm_layer(head_dim)
        layer k_norm = norm_layer(head_dim)
    else:
        layer q_norm = identity()
        layer k_norm = identity()
    layer attn_drop = dropout(attn_drop)
    layer proj = linear(dim, dim)
    layer proj_drop = dropout(proj_drop)

    t = rearrange(qkv(x), "b n (t h d) -> t b h n d", t=3, h=num_heads)
    attn = q_norm(t[0]) * head_dim ** -0.5 @ transpose(k_norm(t[1]), -2, -1)
    if attn_mask:
        attn = attn + attn_mask
    if is_causal:
        attn = masked_fill(attn, triu(ones([n, n], like=attn), diagonal=1) == 1, -inf)
    attn = attn_drop(softmax(attn, dim=-1))
    return proj_drop(proj(rearrange(attn @ t[2], "b h n d -> b n (h d)")))
"""


class Attention(nn.Module):
    """Our reference, written from the math in the structure of timm's ViT Attention
    (its non-fused path), with the published attribute names."""

    def __init__(self, dim, num_heads=8, qkv_bias=False, qk_norm=False, attn_drop=0.0, proj_drop=0.0,
                 norm_layer=nn.LayerNorm):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x, attn_mask=None, is_causal=False):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if attn_mask is not None:
            attn = attn + attn_mask
        if is_causal:
            future = torch.ones(N, N, dtype=torch.bool, device=x.device).triu(1)
            attn = attn.masked_fill(future, float("-inf"))
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


def _randomized(module: nn.Module, seed: int = 3) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in module.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype) / math.sqrt(tensor.numel()))
    return module


def _pair(device, **arguments):
    reference = _randomized(Attention(**arguments)).double().to(device)
    ours = generated(VIT)(**arguments).double().to(device)
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference.load_state_dict(ours.state_dict(), strict=True)
    return reference, ours


def _outputs_and_gradients(module, x, mask, is_causal):
    x = x.clone().requires_grad_()
    out = module(x, mask, is_causal=is_causal) if mask is not None else module(x, is_causal=is_causal)
    out.backward(torch.cos(torch.arange(out.numel(), dtype=out.dtype, device=out.device)).reshape(out.shape))
    grads = [x.grad] + [p.grad for _, p in sorted(module.named_parameters())]
    return out, grads


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("qk_norm", [False, True])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_vit_attention_with_is_causal_matches_the_reference(device, is_causal, masked, qk_norm, mode):
    reference, ours = _pair(device, dim=12, num_heads=3, qkv_bias=True, qk_norm=qk_norm)
    for module in (reference, ours):
        module.train(mode == "train")
    x = rand(2, 6, 12).to(device)
    mask = rand(2, 1, 6, 6, seed=1).to(device) if masked else None
    want, want_grads = _outputs_and_gradients(reference, x, mask, is_causal)
    have, have_grads = _outputs_and_gradients(ours, x, mask, is_causal)
    torch.testing.assert_close(have, want, rtol=1e-12, atol=1e-12)
    for a, b in zip(have_grads, want_grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_the_comparison_sees_the_flag_and_a_weight(device):
    """The comparison above can fail: the flag changes the output, and so does one weight."""
    reference, ours = _pair(device, dim=12, num_heads=3)
    x = rand(2, 6, 12).to(device)
    causal, plain = ours(x, is_causal=True), ours(x)
    assert not torch.allclose(causal, plain)
    torch.testing.assert_close(plain, ours(x, is_causal=False))  # the default is false
    with torch.no_grad():
        ours.proj.weight[0, 0] += 1e-3
    assert not torch.allclose(ours(x, is_causal=True), reference(x, is_causal=True))


def test_the_generated_forward_reads_the_flag_by_name():
    code = compile_ok(VIT)
    assert "def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False)" in code
    assert "        if is_causal:\n" in code and "self.is_causal" not in code
    assert "is_causal" not in code.split("def forward")[0].split("def __init__")[1]  # __init__ never reads it


@pytest.mark.parametrize("is_causal", [None, False, True])
def test_the_interpreter_agrees(is_causal):
    inputs = {"x": (2, 5, 16), "attn_mask": (2, 1, 5, 5)} | ({} if is_causal is None else {"is_causal": is_causal})
    assert agree(VIT, {"dim": 16, "num_heads": 2, "qk_norm": True}, inputs) == "agree"


# ---------------------------------------------------------------------------- worlds

WIDEN = """\
block Widen(d: int = 4):
    input x: [b, n, d]
    input twice: bool = false
    layer fc = linear(d, d)
    if twice:
        y = cat([x, x], dim=1)
    else:
        y = x
    return fc(y)
"""


@pytest.mark.parametrize("twice", [False, True])
def test_a_flag_that_changes_a_shape_is_checked_in_each_world(twice):
    code = compile_ok(WIDEN)
    assert "returns: [b, 2*n, d] if twice;\n                 [b, n, d] if not twice" in code
    module = build(WIDEN)
    out = module(rand(2, 3, 4), twice=twice)
    assert out.shape == (2, 6 if twice else 3, 4)
    assert agree(WIDEN, {}, {"x": (2, 3, 4), "twice": twice}) == "agree"


CHECKED_IN_ONE_WORLD = """\
block Pairs(d: int = 4):
    input x: [b, n, d]
    input pairs: bool = false
    if pairs:
        y = rearrange(x, "b (n two) d -> b n (two d)", two=2)
    else:
        y = cat([x, x], dim=-1)
    return y
"""


def test_a_check_needed_in_one_world_runs_only_there():
    """`n` must be even only when `pairs` is set: the module checks it under `if pairs:`."""
    module = build(CHECKED_IN_ONE_WORLD)
    assert module(rand(2, 3, 4)).shape == (2, 3, 8)
    assert module(rand(2, 4, 4), pairs=True).shape == (2, 2, 8)
    with pytest.raises(ValueError, match="Pairs: "):
        module(rand(2, 3, 4), pairs=True)


# ---------------------------------------------------------------------------- sub-blocks

CALLER = """\
block Inner(d: int):
    input x: [b, d]
    input doubled: bool = true
    if doubled:
        return x * 2
    return x

block Outer(d: int = 4):
    input x: [b, d]
    layer inner = Inner(d)
    return inner(x) + 1
"""


def test_a_block_used_as_a_layer_runs_with_its_flags_defaults():
    module = build(CALLER)
    x = rand(2, 4)
    torch.testing.assert_close(module(x), x * 2 + 1)
    assert agree(CALLER, {}, {"x": (2, 4)}) == "agree"


# ---------------------------------------------------------------------------- errors

ERRORS = {
    "a layer under a flag": ("""\
block A(d: int):
    input x: [b, d]
    input on: bool = false
    if on:
        layer fc = linear(d, d)
        x = fc(x)
    return x
""", ("E0116", 5, 9, "a layer is made once, in __init__, and cannot depend on `on`, an input of forward")),
    "a layer under an optional input's presence": ("""\
block A(d: int):
    input x: [b, d]
    input m: [b, d] = None
    if m:
        layer fc = linear(d, d)
        x = fc(x) + m
    return x
""", ("E0116", 5, 9, "a layer is made once, in __init__, and cannot depend on `m`, an input of forward")),
    "a let reading a flag": ("""\
block A(d: int):
    input x: [b, d]
    input on: bool = false
    let k = 2 if on else 3
    return x * k
""", ("E0113", 4, 18, "a flag input is known in forward only: it decides an `if` of forward, not a `let` or a "
      "`require`")),
    "a require reading a flag": ("""\
block A(d: int):
    input x: [b, d]
    input on: bool = false
    require on or d > 1
    return x
""", ("E0113", 4, 13, "a flag input is known in forward only: it decides an `if` of forward, not a `let` or a "
      "`require`")),
    "a flag defaulting to a number": ("""\
block A(d: int):
    input x: [b, d]
    input on: bool = 1
    return x
""", ("E0111", 3, 22, "the default of the flag `on` is true or false")),
    "a required input after a flag with a default": ("""\
block A(d: int):
    input on: bool = false
    input x: [b, d]
    return x
""", ("E0116", 3, 5, "input `x` is required but follows the optional input `on`")),
    "a flag as a value": ("""\
block A(d: int):
    input x: [b, d]
    input on: bool = false
    return x * on
""", ("E0113", 4, 16, "`on` is a flag: it decides an `if`, it is not a number")),
    "an example giving a flag a shape": ("""\
block A(d: int):
    input x: [b, d]
    input on: bool = false
    example(d=2, x=[1, 2], on=[1])
    return x
""", ("E0113", 4, 31, "the example of the flag `on` is true or false")),
    "a sub-block's flag without a default": ("""\
block Inner(d: int):
    input x: [b, d]
    input on: bool
    if on:
        return x * 2
    return x

block Outer(d: int = 4):
    input x: [b, d]
    layer inner = Inner(d)
    return inner(x)
""", ("E0112", 11, 12, "the call does not set the flag `on` of block Inner, which has no default")),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_flag_errors_are_located(name):
    source, expected = ERRORS[name]
    assert first_error(source) == expected


def test_a_flag_without_a_default_is_required():
    source = """\
block A(d: int = 2):
    input x: [b, d]
    input on: bool
    example(x=[1, 2], on=true)
    if on:
        return x * 2
    return x
"""
    code = compile_ok(source)
    assert "def forward(self, x: torch.Tensor, on: bool) -> torch.Tensor:" in code
    module = build(source)
    torch.testing.assert_close(module(rand(1, 2), True), rand(1, 2) * 2)
    with pytest.raises(TypeError):
        module(rand(1, 2))


def test_verify_passes_a_flag_from_args(tmp_path):
    reference = tmp_path / "vit_reference.py"
    reference.write_text("import torch\nfrom torch import nn\nimport math\n\n\n" +
                         "\n".join(line for line in _reference_source().splitlines()), encoding="utf-8")
    spec = tmp_path / "vit.attn"
    spec.write_text(VIT, encoding="utf-8")
    for flag in ("true", "false"):
        done = subprocess.run([sys.executable, "-m", "attndsl", "verify", str(spec), "--against",
                               f"{reference}:Attention", "--args", f"is_causal={flag}"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "matches" in done.stdout


def _reference_source() -> str:
    import inspect

    return inspect.getsource(Attention)


# ---------------------------------------------------------------------------- sizes

PVT = """\
block Attention(dim: int, num_heads: int = 8, qkv_bias: bool = false, attn_drop: float = 0.0,
        proj_drop: float = 0.0, sr_ratio: int = 1):
    \"\"\"PVT v1's spatial-reduction attention: forward is given the token map's height and width.\"\"\"
    input x: [b, n, dim]
    input H: int
    input W: int
    example(dim=16, num_heads=2, sr_ratio=2, x=[2, 24, 16], H=4, W=6)
    require dim % num_heads == 0, "dim should be divided by num_heads"

    layer q = linear(dim, dim, bias=qkv_bias)
    layer kv = linear(dim, dim * 2, bias=qkv_bias)
    layer attn_drop = dropout(attn_drop)
    layer proj = linear(dim, dim)
    layer proj_drop = dropout(proj_drop)
    if sr_ratio > 1:
        layer sr = conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
        layer norm = layer_norm(dim)

    qh = rearrange(q(x), "b n (h d) -> b h n d", h=num_heads)
    if sr_ratio > 1:
        x_ = sr(rearrange(x, "b (p q) c -> b c p q", p=H, q=W))
        x_ = norm(rearrange(x_, "b c p q -> b (p q) c"))
        kvh = rearrange(kv(x_), "b m (two h d) -> two b h m d", two=2, h=num_heads)
    else:
        kvh = rearrange(kv(x), "b m (two h d) -> two b h m d", two=2, h=num_heads)
    attn = attn_drop(softmax(qh @ transpose(kvh[0], -2, -1) * (dim // num_heads) ** -0.5, dim=-1))
    return proj_drop(proj(rearrange(attn @ kvh[1], "b h n d -> b n (h d)")))
"""


class PvtAttention(nn.Module):
    """Our reference, from the math, in the structure and names of PVT v1's `Attention`."""

    def __init__(self, dim, num_heads=8, qkv_bias=False, attn_drop=0.0, proj_drop=0.0, sr_ratio=1):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x, H, W):
        B, N, C = x.shape
        q = self.q(x).reshape(B, N, self.num_heads, C // self.num_heads).permute(0, 2, 1, 3)
        if self.sr_ratio > 1:
            x_ = self.sr(x.permute(0, 2, 1).reshape(B, C, H, W)).reshape(B, C, -1).permute(0, 2, 1)
            source = self.norm(x_)
        else:
            source = x
        kv = self.kv(source).reshape(B, -1, 2, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = self.attn_drop(((q @ kv[0].transpose(-2, -1)) * self.scale).softmax(dim=-1))
        return self.proj_drop(self.proj((attn @ kv[1]).transpose(1, 2).reshape(B, N, C)))


@pytest.mark.parametrize("sr_ratio, H, W", [(1, 3, 5), (2, 4, 6), (2, 5, 7), (3, 6, 3)])
def test_pvt_attention_is_given_its_map_size(device, sr_ratio, H, W):
    reference = _randomized(PvtAttention(12, num_heads=3, qkv_bias=True, sr_ratio=sr_ratio)).double().to(device)
    ours = generated(PVT)(12, num_heads=3, qkv_bias=True, sr_ratio=sr_ratio).double().to(device)
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = rand(2, H * W, 12).to(device)
    results = []
    for module in (reference, ours):
        given = x.clone().requires_grad_()
        out = module(given, H, W)
        out.backward(torch.cos(torch.arange(out.numel(), dtype=out.dtype, device=device)).reshape(out.shape))
        results.append([out, given.grad] + [p.grad for _, p in sorted(module.named_parameters())])
    for have, want in zip(results[1], results[0]):
        torch.testing.assert_close(have, want, rtol=1e-12, atol=1e-12)
    if sr_ratio > 1:  # the comparison sees the map's shape: the transposed map differs
        assert not torch.allclose(ours(x, H, W), reference(x.reshape(2, H, W, 12).transpose(1, 2).reshape(2, -1, 12),
                                                          W, H))
    assert agree(PVT, {"dim": 12, "num_heads": 3, "sr_ratio": sr_ratio}, {"x": (2, H * W, 12), "H": H, "W": W}) \
        == "agree"


def test_a_size_input_is_checked_when_forward_is_called():
    module = generated(PVT)(12, num_heads=3, sr_ratio=2).double()
    code = compile_ok(PVT)
    assert "def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:" in code
    with pytest.raises(ValueError, match="the group \\(p q\\) must agree, but n = 24 and H\\*W = 20"):
        module(rand(2, 24, 12), 4, 5)
    for wrong in (0, True, 2.0):
        with pytest.raises(ValueError, match="Attention: H must be an int of at least 1"):
            module(rand(2, 24, 12), wrong, 6)


SIZE_ERRORS = {
    "a size with a default": ("""\
block A(d: int):
    input x: [b, d]
    input H: int = 3
    return x
""", ("E0111", 3, 20, "the size `H` has no default: forward is given it")),
    "an example giving a size a shape": ("""\
block A(d: int):
    input x: [b, d]
    input H: int
    example(d=2, x=[1, 2], H=[2])
    return x * H
""", ("E0113", 4, 30, "the example of the size `H` is a whole number of at least 1")),
    "an input of another type without a shape": ("""\
block A(d: int):
    input x: [b, d]
    input H: float
    return x
""", ("E0111", 3, 5, "input `H` has no shape: it is a tensor (`[b, n]`), a flag (`bool`) or a size (`int`)")),
}


@pytest.mark.parametrize("name", sorted(SIZE_ERRORS))
def test_size_errors_are_located(name):
    source, expected = SIZE_ERRORS[name]
    assert first_error(source) == expected


# ---------------------------------------------------------------------------- passing them on

STAGE = """\
block Attn(dim: int, heads: int = 2):
    input x: [b, n, dim]
    input H: int
    input W: int
    input is_causal: bool = false
    layer qkv = linear(dim, dim * 3)
    layer proj = linear(dim, dim)
    layer dw = conv2d(dim, dim, 3, padding=1, groups=dim)
    t = rearrange(qkv(x), "b n (t h d) -> t b h n d", t=3, h=heads)
    attn = t[0] @ transpose(t[1], -2, -1)
    if is_causal:
        attn = masked_fill(attn, triu(ones([n, n], like=attn), diagonal=1) == 1, -inf)
    y = rearrange(softmax(attn, dim=-1) @ t[2], "b h n d -> b n (h d)")
    y = y + rearrange(dw(rearrange(x, "b (p q) c -> b c p q", p=H, q=W)), "b c p q -> b (p q) c")
    return proj(y)

block Stage(dim: int, depth: int = 2, causal: bool = false):
    input x: [b, c, h, w]
    example(dim=8, x=[2, 8, 3, 4])
    layer blocks = [Attn(dim) for _ in range(depth)]
    layer norm = layer_norm(dim)
    t = rearrange(x, "b c h w -> b (h w) c")
    for blk in blocks:
        t = t + blk(norm(t), h, w, is_causal=causal)
    return rearrange(t, "b (h w) c -> b c h w", h=h)
"""


@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("causal", [False, True])
def test_a_block_passes_sizes_and_flags_to_the_blocks_it_calls(depth, causal):
    """PVT's stage calls `blk(x, H, W)`; a ViT block passes `is_causal` on."""
    code = compile_ok(STAGE)
    assert "t = t + blk(self.norm(t), H=h, W=w, is_causal=self.causal)" in code
    module = build(STAGE, dim=8, depth=depth, causal=causal)
    x = rand(2, 8, 3, 4)
    t = x.permute(0, 2, 3, 1).reshape(2, 12, 8)
    for blk in module.blocks:  # the blocks themselves, called as the spec says
        t = t + blk(module.norm(t), 3, 4, is_causal=causal)
    torch.testing.assert_close(module(x), t.reshape(2, 3, 4, 8).permute(0, 3, 1, 2))
    assert agree(STAGE, {"dim": 8, "depth": depth, "causal": causal}, {"x": (2, 8, 3, 4)}) == "agree"
    if depth:  # the flag reaches the blocks: the output depends on it
        other = build(STAGE, dim=8, depth=depth, causal=not causal)
        other.load_state_dict(module.state_dict())
        assert not torch.allclose(other(x), module(x))


CALL_ERRORS = {
    "a size the call does not give": ("t = t + blk(norm(t))", (
        "E0112", 24, 17, "the call does not give the size `H` the block takes")),
    "a name the block does not take": ("t = t + blk(norm(t), h, w, causal=causal)", (
        "E0112", 24, 36, "block Attn has no input `causal`")),
    "a flag given a number": ("t = t + blk(norm(t), h, w, is_causal=1)", (
        "E0113", 24, 46, "`is_causal` is a flag of the block: true, false or a condition")),
    "a size given a tensor": ("t = t + blk(norm(t), t, w)", (
        "E0113", 24, 30, "`H` is a size of the block: a whole number, not a tensor")),
}


@pytest.mark.parametrize("name", sorted(CALL_ERRORS))
def test_passing_flags_and_sizes_errors_are_located(name):
    line, expected = CALL_ERRORS[name]
    source = STAGE.replace("t = t + blk(norm(t), h, w, is_causal=causal)", line)
    assert first_error(source) == expected


def test_an_example_calls_with_the_flags_defaults():
    """An example that leaves a flag out is checked with its default: here `pairs` is on,
    and 3 tokens do not make pairs."""
    source = CHECKED_IN_ONE_WORLD.replace("input pairs: bool = false", "input pairs: bool = true") \
        .replace("    if pairs:", "    example(x=[2, 3, 4])\n    if pairs:")
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0207", 4) and "the module would refuse it" in message
    assert attndsl.compile_source(source.replace("x=[2, 3, 4]", "x=[2, 4, 4]"), "pairs.attn").ok
    assert attndsl.compile_source(source.replace("x=[2, 3, 4]", "x=[2, 3, 4], pairs=false"), "pairs.attn").ok


def test_flags_and_sizes_compile_without_graph_breaks():
    """A flag and a size are Python values of the call: torch.compile specializes on them."""
    vit = generated(VIT)(16, num_heads=2).eval()
    pvt = generated(PVT)(16, num_heads=2, sr_ratio=2).eval()
    x = torch.randn(2, 24, 16)
    for module, call in ((vit, lambda m, causal: m(x, is_causal=causal)), (pvt, lambda m, _: m(x, 4, 6))):
        compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
        for causal in (False, True):
            torch.testing.assert_close(call(compiled, causal), call(module, causal))


def test_an_error_in_one_flags_world_names_the_flag():
    source = WIDEN.replace("input x: [b, n, d]", "input x: [b, n, 4]").replace("linear(d, d)", "linear(4, 4)") \
        .replace("cat([x, x], dim=1)", "cat([x, x], dim=-1)")
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0201", 9) and message.endswith("(when `twice` is true)")
