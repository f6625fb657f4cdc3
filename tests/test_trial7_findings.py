"""What porting trial 7 (Swin's WindowAttention, timm's Attention, the lambda layer, linear
attention, RetNet's retention, a Perceiver block, ALiBi) found, each fixed and kept here:
the failing spec, reduced."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, build, compile_ok, first_error, rand

INNER = """\
block Inner(d: int, wide: bool = false):
    input x: [b, n, d]
    let w = d * 2 if wide else d
    param W: [d, w] = randn
    return x @ W

"""


def test_a_sub_blocks_let_is_never_taken_for_the_callers_let_of_the_same_name():
    """Inner's `w` (2*d or d, as the caller's `wide` says) was read as Outer's own `w` (5*d):
    the checker accepted the spec, and torch refused the module's matmul."""
    source = INNER + """\
block Outer(d: int, wide: bool = false):
    input x: [b, n, d]
    example(d=8, x=[2, 3, 8])
    let w = 5 * d
    layer inner = Inner(d, wide)
    param P: [w, d] = zeros
    return inner(x) @ P
"""
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0201", 13)
    assert "2*d is not w" in message and "`wide`" in message


def test_a_sub_blocks_let_chosen_by_the_callers_argument_is_known_in_each_world():
    """`Inner(d, wide)` with the caller's own `wide`: its output is 2*d wide in the world where
    `wide` holds and d in the other (was E0208, "depends on `w`, which this block does not
    pass to it")."""
    source = INNER + """\
block Outer(d: int, wide: bool = false):
    input x: [b, n, d]
    example(d=8, x=[2, 3, 8])
    example(d=8, wide=true, x=[2, 3, 8])
    layer inner = Inner(d, wide)
    return inner(x)
"""
    for wide, width in ((False, 8), (True, 16)):
        module = build(source, d=8, wide=wide)
        assert module(rand(2, 3, 8)).shape == (2, 3, width)
        assert agree(source, {"d": 8, "wide": wide}, {"x": (2, 3, 8)}) == "agree"


def test_an_equality_of_sizes_is_asked_once_whichever_side_each_check_writes_first():
    """The lambda layer's two einsums each ask that `n*n` and `hh*ww` agree, one each way
    round: the second check was made too (the knowledge cannot rewrite a product)."""
    source = """\
block P(n: int):
    input x: [b, c, hh, ww]
    example(n=2, x=[2, 3, 2, 2])
    param e: [n * n, n * n] = randn
    y = rearrange(x, "b c hh ww -> b c (hh ww)")
    z = einsum("n m, b c m -> b n c", e, y)
    return einsum("b d n, b n c -> b c d", y, z)
"""
    code = compile_ok(source)
    assert code.count("hh * ww != self.n * self.n") + code.count("self.n * self.n != hh * ww") == 1
    module = build(source, n=2)
    with pytest.raises(ValueError, match="must agree"):
        module(rand(2, 3, 2, 3))
    assert module(rand(2, 3, 2, 2)).shape == (2, 3, 3)


LAMBDA = """\
block LambdaLayer(dim: int = 8, dim_k: int = 4):
    input x: [b, n, dim]
    layer to_k = linear(dim, dim_k, bias=false)
    layer to_v = linear(dim, dim, bias=false)
    layer λproj = linear(dim, dim)
    let scaleλ = dim_k ** -0.5
    k = softmax(to_k(x), dim=1)
    v = to_v(x)
    λc = einsum("b n k, b n v -> b k v", k, v)
    return λproj(einsum("b n k, b k v -> b n v", k, λc) * scaleλ)
"""


def test_names_beyond_ascii_are_python_s_identifiers():
    """lucidrains' lambda layer names its values `λc`, `λp` (was E0001 "unexpected character
    'λ'"): a name is a Python identifier, and the module uses it as written."""
    import torch


    code = compile_ok(LAMBDA)
    assert "λc = torch.einsum(" in code and "self.λproj = nn.Linear(dim, dim)" in code
    assert "self.scaleλ = scaleλ" in code
    module = build(LAMBDA, dim=8, dim_k=4)
    assert set(module.state_dict()) == {"to_k.weight", "to_v.weight", "λproj.weight", "λproj.bias"}
    x = rand(2, 5, 8)
    k = module.to_k(x).softmax(dim=1)
    λc = torch.einsum("bnk,bnv->bkv", k, module.to_v(x))
    torch.testing.assert_close(module(x), module.λproj(torch.einsum("bnk,bkv->bnv", k, λc) * 0.5))
    assert agree(LAMBDA, {"dim": 8, "dim_k": 4}, {"x": (2, 5, 8)}) == "agree"


@pytest.mark.parametrize("name, column, message, help", [
    ("scale²", 9, "`scale²` cannot be a name: Python reads it as `scale2`", "write `scale2`"),
    ("ﬁt", 9, "`ﬁt` cannot be a name: Python reads it as `fit`", "write `fit`"),
])
def test_a_name_python_would_read_as_another_is_refused_at_the_name(name, column, message, help):
    """Python reads identifiers in their NFKC form: `scale²` would be `scale2` in the module,
    possibly another name of the spec."""
    import attndsl

    source = LAMBDA.replace("scaleλ", name)
    assert first_error(source) == ("E0001", 6, column, message)
    (error,) = [d for d in attndsl.compile_source(source, "lang.attn").diagnostics if d.is_error]
    assert help in error.help


def test_a_fused_attention_names_the_line_of_the_scaling_it_absorbed():
    """timm's `q = q * scale` on its own line became SDPA's `scale=`: the comment said the
    call replaces lines 6-7 only."""
    source = """\
block A(d: int = 8, heads: int = 2):
    input x: [b, n, d]
    q = rearrange(x, "b n (h e) -> b h n e", h=heads)
    k = rearrange(x, "b n (h e) -> b h n e", h=heads)
    q = q * 0.5
    attn = softmax(q @ transpose(k, -2, -1), dim=-1)
    return attn @ k
"""
    code = compile_ok(source, path="a.attn")
    assert "# a.attn:5-7: softmax(q @ k * scale) @ v, fused into one scaled_dot_product_attention call" in code


def test_a_temporary_of_each_branch_may_differ_in_rank_when_nothing_after_the_if_reads_it():
    """Causal linear attention's `outer` on one branch and `kv` on the other were first one
    name, and E0202 refused it ("rank 4 on one branch and 3 on the other") though nothing
    after the `if` reads it; read after the `if`, it still is refused."""
    source = """\
block R(flag: bool = false):
    input x: [b, n, d]
    example(x=[2, 3, 4])
    if flag:
        t = unsqueeze(x, 1)
        y = sum(t, dim=1)
    else:
        t = x
        y = t * 2
    return y
"""
    for flag in (False, True):
        assert agree(source, {"flag": flag}, {"x": (2, 3, 4)}) == "agree"
    code, line, _, message = first_error(source.replace("return y", "return y + t"))
    assert (code, line) == ("E0202", 4) and "`t` has rank 4 on one branch and 3 on the other" in message


def test_a_view_of_a_named_value_read_twice_takes_its_name_where_it_is_free():
    """Swin's `bias[None]`, read by the plain and the fused attention, was `subscript`."""
    source = """\
block V(h: int = 2):
    input x: [b, h, n, n]
    bias = mean(x, dim=0)
    y = x + bias[None]
    return y * bias[None]
"""
    code = compile_ok(source)
    assert "bias = bias[None]" in code and "subscript" not in code
    kept = source.replace("return y * bias[None]", "return y * bias[None] + sum(bias)")
    assert "bias = bias[None]" not in compile_ok(kept)  # `bias` is still read: the view has a name of its own
    assert agree(source, {}, {"x": (2, 2, 3, 3)}) == "agree"


def test_a_layer_the_callers_class_builds_is_refused_in_place_where_its_input_is_read_again():
    """`act=partial(nn.ReLU, inplace=True)` got past the check of a layer-kind argument and
    wrote over `x` in `x + a(x)`: [[0, 4, 0]] for [[-1, 4, -3]]. Where the call's input is
    fresh (a linear's output), in place is harmless and allowed."""
    import functools

    import torch
    from torch import nn

    from .language_support import generated

    seen = """\
block P(act: layer = relu):
    input x: [b, c]
    example(x=[2, 3])
    layer a = act()
    return x + a(x)
"""
    block = generated(seen)
    x = torch.tensor([[-1.0, 2.0, -3.0]])
    assert torch.equal(block()(x), torch.tensor([[-1.0, 4.0, -3.0]]))
    with pytest.raises(ValueError, match="`act` must not work in place"):
        block(act=functools.partial(nn.ReLU, inplace=True))
    fresh = seen.replace("    return x + a(x)", "    layer fc = linear(c, c)\n    return a(fc(x))") \
        .replace("block P(act: layer = relu):", "block P(c: int = 3, act: layer = relu):")
    assert "inplace" not in compile_ok(fresh).split("def forward")[0].split("super().__init__()")[1]
    module = generated(fresh)(act=functools.partial(nn.ReLU, inplace=True))
    assert module(x).shape == (1, 3)


def test_a_declared_size_of_an_input_broadcast_against_a_size_of_the_arguments_is_warned_of():
    """Swin without `require n == wh * ww` compiled silently, and its reshapes read
    `max(max(n, wh*ww) * min(1, n, wh*ww), n)`: W0006 now says what to require. An optional
    input's sizes (a mask's) broadcast by design, and stay quiet. (An optional input that
    names a size twice, `[nw, m, m]`, was refused: "`m` is a size of the optional input".)"""
    import attndsl

    source = """\
block P(wh: int = 2, heads: int = 2):
    input x: [bw, heads, n, n]
    input mask: [nw, m, m] = None
    example(x=[2, 2, 4, 4], mask=[1, 4, 4])
    param t: [heads, wh * wh, wh * wh] = zeros
    a = x + t[None]
    if mask:
        a = a + mask[0][None, None]
    return a
"""
    warnings = [d for d in attndsl.compile_source(source, "p.attn").diagnostics if d.code == "W0006"]
    assert [(d.span.line, d.message.split(":")[0]) for d in warnings] == [
        (6, "broadcast dimension -2 pairs n with wh*wh"), (6, "broadcast dimension -1 pairs n with wh*wh")]
    assert "`require n == wh * wh`" in warnings[0].help
    fixed = source.replace("    param t", "    require n == wh * wh\n    param t")
    assert not [d for d in attndsl.compile_source(fixed, "p.attn").diagnostics if d.code == "W0006"]
    code = compile_ok(fixed)
    # the mask's broadcast by design is named in the docstring; the code computes no max
    assert "where n' = max(m, n)" in code and "max(" not in code.split('"""', 2)[2]


def test_checks_ask_only_what_is_not_known_where_they_are_made():
    """A split of `(t h c)` with t=3 asked `(3 * dim) % (3 * heads)` ("needs 3*dim = 30 to be
    divisible by 3*heads = 12" for dim=10); a dropout under `if p > 0:` asked `p < 0 or p > 1`."""
    split = """\
block M(dim: int, heads: int):
    input x: [b, n, dim]
    layer qkv = linear(dim, dim * 3)
    q, k, v = unbind(rearrange(qkv(x), "b n (t h c) -> t b h c n", t=3, h=heads), dim=0)
    return q
"""
    code = compile_ok(split)
    assert "if dim % heads != 0:" in code and "needs dim = {dim} to be divisible by heads = {heads}" in code
    with pytest.raises(ValueError, match="needs dim = 10 to be divisible by heads = 4"):
        build(split, dim=10, heads=4)
    dropout = """\
block D(c: int, p: float = 0.0):
    input x: [b, c]
    if p > 0:
        layer drop = dropout(p)
        x = drop(x)
    return x
"""
    code = compile_ok(dropout)
    assert "if p > 1:" in code and "p < 0" not in code
    with pytest.raises(ValueError, match="between 0 and 1"):
        build(dropout, c=2, p=1.5)


def test_a_value_an_if_rewrites_keeps_its_name_on_the_branch_that_rewrites_it():
    """Swin's masked branch rewrote `attn` twice, the first time as `attn_2`: the old `attn`
    is read after the `if` only where the mask is absent."""
    source = """\
block S(heads: int = 2):
    input x: [bw, heads, n, n]
    input mask: [nw, n, n] = None
    a = x * 2
    if mask:
        a = rearrange(a, "(bb nw) h n m -> bb nw h n m", nw=nw) + mask[None, :, None]
        a = rearrange(a, "bb nw h n m -> (bb nw) h n m")
    return a
"""
    code = compile_ok(source)
    assert "a_2" not in code and "a = a.reshape(-1, nw, self.heads, n, n) + mask[None, :, None]" in code
    for given in ({}, {"mask": (2, 3, 3)}):
        assert agree(source, {}, {"x": (4, 2, 3, 3)} | given) == "agree"


def test_a_kernel_padded_by_half_of_itself_fits_any_input_without_a_check():
    """`conv2d(c, c, k, padding=k // 2)` asked in forward whether `h + 2 * (k // 2) < k`,
    which no input can make true: a quotient `k // 2` is at least `(k - 1) / 2`."""
    source = """\
block L(c: int, k: int):
    input x: [b, c, h, w]
    layer conv = conv2d(c, c, k, padding=k // 2)
    return conv(x)
"""
    assert "kernel must fit" not in compile_ok(source)
    for k in (1, 2, 3, 4, 7):
        assert build(source, c=2, k=k)(rand(1, 2, 1, 1)).shape[2:] == ((2, 2) if k % 2 == 0 else (1, 1))
    dilated = source.replace("block L(c: int, k: int):", "block L(c: int, k: int, d: int = 1):") \
        .replace("padding=k // 2)", "padding=k // 2 * d, dilation=d)")
    assert "kernel must fit" not in compile_ok(dilated)
    for k, d in ((3, 2), (4, 3), (5, 1)):
        assert build(dilated, c=2, k=k, d=d)(rand(1, 2, 1, 1)).shape[2:] == ((1 + d, 1 + d) if k % 2 == 0 else (1, 1))
    # `k // 2` is at least (k - 1) / 2, no more: an even kernel grows the map by one, so the
    # output may or may not match its input (checked when called), never known to differ
    residual = source.replace("    return conv(x)", "    return x + conv(x)")
    assert build(residual, c=2, k=3)(rand(1, 2, 4, 4)).shape == (1, 2, 4, 4)
    with pytest.raises(ValueError, match="broadcast dimension"):
        build(residual, c=2, k=4)(rand(1, 2, 4, 4))
    # an odd kernel keeps a 1-pixel map at 1 pixel: a 2x2 conv after it must be refused there
    pooled = source.replace("    layer conv", "    layer pair = conv2d(c, c, 2)\n    layer conv") \
        .replace("    return conv(x)", "    return pair(conv(x))")
    with pytest.raises(ValueError, match="kernel must fit"):
        build(pooled, c=2, k=3)(rand(1, 2, 1, 1))
    assert build(pooled, c=2, k=4)(rand(1, 2, 1, 1)).shape == (1, 2, 1, 1)


def test_a_list_of_tensors_joins_a_comprehension_with_plus():
    """EfficientViT's multi-scale aggregation: `cat([y] + [op(y) for op in aggreg], dim=1)`
    (was "`+` needs numbers or tensors"); with no scales it is `y` alone, as published."""
    source = """\
block M(c: int, scales: list[int] = [3, 5]):
    input x: [b, c, h, w]
    example(c=4, x=[2, 4, 6, 6])
    require all([k % 2 == 1 for k in scales])
    layer aggreg = [conv2d(c, c, k, padding=k // 2, groups=c) for k in scales]
    y = x * 2
    return cat([y] + [op(y) for op in aggreg] + [x], dim=1)
"""
    code = compile_ok(source)
    assert "[y] + [op(y) for op in self.aggreg] + [x], dim=1" in code
    for scales in ([3, 5], [], [7]):
        module = build(source, c=4, scales=scales)
        x = rand(2, 4, 6, 6)
        expected = torch.cat([2 * x] + [conv(2 * x) for conv in module.aggreg] + [x], dim=1)
        torch.testing.assert_close(module(x), expected)
        assert agree(source, {"c": 4, "scales": scales}, {"x": (2, 4, 6, 6)}) == "agree"


def test_a_str_argument_may_be_none_and_equals_no_string_then():
    """efficientvit's `norm="bn2d"` or None: `str | None` was E0111, and the next use of the
    argument said "`norm` is a function; call it". An argument of a type the language does
    not know now gives that one error only."""
    source = """\
block N(c: int, norm: str | None = "bn"):
    input x: [b, c]
    example(c=4, x=[2, 4])
    if norm == "bn":
        layer bn = batch_norm1d(c)
        x = bn(x)
    elif norm is None:
        x = -x
    return x
"""
    code = compile_ok(source)
    assert 'norm: str | None = "bn"' in code
    x = rand(3, 4)
    assert torch.equal(build(source, c=4, norm=None)(x), -x)
    assert torch.equal(build(source, c=4, norm="ln")(x), x)
    for norm in ("bn", None, "ln"):
        assert agree(source, {"c": 4, "norm": norm}, {"x": (3, 4)}) == "agree"
    import attndsl

    unknown = source.replace("norm: str | None", "norm: tuple")
    errors = [d for d in attndsl.compile_source(unknown, "n.attn").diagnostics if d.is_error]
    assert [(d.code, d.span.line) for d in errors] == [("E0111", 1)]


def test_a_paired_gather_is_answered_with_the_flat_index_that_does_it():
    """lucidrains' `rel_pos_emb[n, m]` with two index tensors: the help said to gather along
    one axis and then the next, which picks every pair instead of the pairs."""
    import attndsl

    source = """\
block P(n: int = 3, d: int = 4):
    input x: [b, n * n, d]
    param emb: [2 * n - 1, 2 * n - 1, d] = randn
    buffer ri = arange(n * n)[None, :] // n - arange(n * n)[:, None] // n + n - 1
    buffer rj = arange(n * n)[None, :] % n - arange(n * n)[:, None] % n + n - 1
    return x + sum(emb[ri, rj], dim=1)
"""
    (error,) = [d for d in attndsl.compile_source(source, "p.attn").diagnostics if d.is_error]
    assert (error.code, error.span.line, error.message) == ("E0113", 6, "a subscript gathers with one tensor")
    assert '`buffer flat = rows * J + cols`' in error.help and '`rearrange(table, "i j d -> (i j) d")[flat]`' in error.help
    flat = source.replace("emb[ri, rj]", 'rearrange(emb, "i j d -> (i j) d")[rel]').replace(
        "    return", "    buffer rel = ri * (2 * n - 1) + rj\n    return")
    assert agree(flat, {}, {"x": (2, 9, 4)}) == "agree"


def test_shape_comments_read_a_size_in_the_lets_that_make_it_simplest():
    """`[b, heads, n, inner_dim/heads]` where `let inner_dim = heads * dim_head` reads
    `dim_head`; `dim/heads` where `let head_dim = dim // heads` (and dim % heads == 0) reads
    `head_dim`."""
    source = """\
block A(dim: int, heads: int = 2, dim_head: int = 4):
    input x: [b, n, dim]
    require dim % heads == 0
    let inner_dim = heads * dim_head
    let head_dim = dim // heads
    layer to_q = linear(dim, inner_dim)
    q = rearrange(to_q(x), "b n (h d) -> b h n d", h=heads)
    k = rearrange(x, "b n (h d) -> b h n d", h=heads)
    return sum(q, dim=-1, keepdim=true) * k
"""
    forward = compile_ok(source).split("def forward")[1]  # (the docstring keeps the arguments' terms)
    assert "# [b, heads, n, dim_head]" in forward and "# [b, heads, n, head_dim]" in forward
    assert "inner_dim/heads" not in forward and "dim/heads" not in forward


def test_a_let_that_is_zero_exactly_where_an_argument_is_asks_the_argument():
    """ALiBi's `head_dim = dim // heads` (dim % heads == 0): `dim < 0` and later `head_dim ==
    0` named a let the caller never passes; one check, `dim` must be at least 1, says it."""
    source = """\
block A(dim: int, heads: int):
    input x: [b, n, dim]
    require dim % heads == 0, "dim must be divisible by heads"
    let head_dim = dim // heads
    layer proj = linear(dim, dim)
    return rearrange(proj(x), "b n (h d) -> b h n d", h=heads) / sqrt(head_dim)
"""
    init = compile_ok(source).split("def __init__")[1].split("def forward")[0]
    assert "if dim < 1:" in init and "`dim` must be at least 1" in init and "head_dim == 0" not in init
    with pytest.raises(ValueError, match="`dim` must be at least 1"):
        build(source, dim=0, heads=2)


ROTARY = """\
block Rotary(dim: int = 8, theta: float = 10000.0):
    input x: [b, h, n, dim]
    require dim % 2 == 0
    buffer inv_freq = 1 / theta ** (float(arange(dim // 2)) * 2 / dim)
    freqs = float(arange(n))[:, None] * inv_freq[None, :]
    emb = cat([freqs, freqs], dim=-1)
    x1, x2 = chunk(x, 2, dim=-1)
    rotated = cat([-x2, x1], dim=-1)
    return x * cos(emb) + rotated * sin(emb)
"""


def test_rotary_position_embeddings_compute_their_tables_in_the_spec():
    """LLaMA's rotary embedding needs cos and sin of the position table (was E0102 "unknown
    function `cos`, did you mean `sign`?", and the port took cos and sin as inputs)."""
    module = build(ROTARY)
    x = rand(2, 3, 5, 8)
    inv_freq = 1 / 10000.0 ** (torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    freqs = torch.outer(torch.arange(5, dtype=torch.float64), inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    x1, x2 = x.chunk(2, dim=-1)
    expected = x * emb.cos() + torch.cat([-x2, x1], dim=-1) * emb.sin()
    torch.testing.assert_close(module(x), expected)
    assert agree(ROTARY, {}, {"x": (2, 3, 5, 8)}) == "agree"


def test_grouped_query_attention_fuses_when_a_require_makes_its_heads_agree():
    """`hq` query heads against `h * (hq // h)` repeated keys: equal once `hq % h == 0`, which
    the passes did not know (the checker's normal form was not theirs), so LLaMA-style
    attention stayed unfused."""
    source = """\
block GQA(d: int, hq: int, h: int):
    input q: [b, hq, n, d]
    input k: [b, h, n, d]
    input v: [b, h, n, d]
    example(d=8, hq=4, h=2, q=[2, 4, 5, 8], k=[2, 2, 5, 8], v=[2, 2, 5, 8])
    require hq % h == 0, "divisible"
    let g = hq // h
    k2 = rearrange(expand(k[:, :, None], (-1, -1, g, -1, -1)), "b h g n d -> b (h g) n d")
    v2 = rearrange(expand(v[:, :, None], (-1, -1, g, -1, -1)), "b h g n d -> b (h g) n d")
    return softmax(q @ transpose(k2, 2, 3) / sqrt(d), dim=-1) @ v2
"""
    assert "F.scaled_dot_product_attention(q, k2, v2" in compile_ok(source)
    assert agree(source, {"d": 8, "hq": 4, "h": 2}, {"q": (2, 4, 5, 8), "k": (2, 2, 5, 8), "v": (2, 2, 5, 8)}) \
        == "agree"


def test_a_mask_compared_with_false_is_told_to_write_not():
    """ESPnet's `mask.eq(0)` ported as `mask == false` said "expected a tensor or a number"."""
    import attndsl

    source = "block M():\n    input x: [b, n]\n    input mask: bool[b, n]\n    return masked_fill(x, mask == false, 0.0)\n"
    (error,) = [d for d in attndsl.compile_source(source, "m.attn").diagnostics if d.is_error]
    assert (error.code, error.span.line, error.span.column) == ("E0113", 4, 35)
    assert "`not mask` where it is false" in error.help


def test_a_let_after_the_input_it_would_size_says_to_come_first():
    import attndsl

    source = "block P(d: int = 8, h: int = 2):\n    input c: [b, n, hd]\n    let hd = d // h\n    return c\n"
    (error,) = [d for d in attndsl.compile_source(source, "p.attn").diagnostics if d.is_error]
    assert (error.code, error.span.line) == ("E0103", 3) and "declare the `let` before the input" in error.help
    fixed = "block P(d: int = 8, h: int = 2):\n    let hd = d // h\n    input c: [b, n, hd]\n    return c\n"
    assert "c.shape[2] != self.hd" in compile_ok(fixed)


def test_a_layer_named_like_its_optional_kind_argument_is_none_without_it():
    """efficientvit's ConvLayer: `self.norm = norm(c) if norm else None`. The module kept the
    argument as `self.norm_value` and had no `norm` attribute without the layer."""
    source = """\
block ConvLayer(c: int, norm: layer[batch_norm2d] | None = batch_norm2d):
    input x: [b, c, h, w]
    layer conv = conv2d(c, c, 1)
    if norm is not None:
        layer norm = norm(c)
    x = conv(x)
    if norm is not None:
        x = norm(x)
    return x
"""
    code = compile_ok(source)
    assert "self.norm = None" in code and "if self.norm is not None:" in code and "norm_value" not in code
    plain, normed = build(source, c=3, norm=None), build(source, c=3)
    assert plain.norm is None and isinstance(normed.norm, torch.nn.BatchNorm2d)
    x = rand(2, 3, 4, 4)
    torch.testing.assert_close(plain(x), plain.conv(x))
    torch.testing.assert_close(normed(x), normed.norm(normed.conv(x)))


def test_a_fact_checked_on_both_branches_of_an_if_holds_after_it():
    """MaxViT's grid and block partitions each check `h % p == 0` and `w % p == 0`; a split
    of the windows after the `if` was checked again before both, as "splitting (m) needs
    b*h*w to be divisible by p*p" (a group the spec never wrote), shadowing the branch's own."""
    source = """\
block W(c: int, p: int, grid: bool = false):
    input x: [b, h, w, c]
    example(c=8, p=2, x=[1, 4, 4, 8])
    if grid:
        t = rearrange(x, "b (p1 hh) (p2 ww) c -> (b hh ww) (p1 p2) c", p1=p, p2=p)
    else:
        t = rearrange(x, "b (hh p1) (ww p2) c -> (b hh ww) (p1 p2) c", p1=p, p2=p)
    return rearrange(t, "m t (g d) -> m g t d", g=2)
"""
    assert "splitting (m)" not in compile_ok(source)
    for grid in (False, True):
        with pytest.raises(ValueError, match=r"splitting \((hh p1|p1 hh)\) needs h = 3"):
            build(source, c=8, p=2, grid=grid)(rand(1, 3, 3, 8))
        assert agree(source, {"c": 8, "p": 2, "grid": grid}, {"x": (2, 4, 6, 8)}) == "agree"


def test_a_buffer_chosen_by_an_argument_is_built_as_one_conditional_expression():
    """`buffer t = arange(n) * 2 if flag else arange(n)` registered an undefined `chosen`
    (NameError when built): the choice's branches were never written in __init__."""
    source = """\
block M6(n: int, flag: bool = true):
    input x: [b, n]
    buffer t = arange(n) * 2 if flag else arange(n)
    return x + float(t)
"""
    assert 'self.register_buffer("t", torch.arange(n) * 2 if flag else torch.arange(n), persistent=False)' \
        in compile_ok(source)
    for flag, step in ((True, 2), (False, 1)):
        assert torch.equal(build(source, n=4, flag=flag).t, torch.arange(4) * step)
        assert agree(source, {"n": 4, "flag": flag}, {"x": (2, 4)}) == "agree"


def test_quarter_exponents_are_roots_of_roots_written_as_one_power():
    """Performer's `data_normalizer = d ** -0.25` was E0119 ("whole or half-whole")."""
    source = """\
block Q(d: int = 16):
    input x: [b, d]
    let s = d ** -0.25
    return x * s * d ** 0.75
"""
    code = compile_ok(source)
    assert "s = d**-0.25" in code and "self.d**0.75" in code
    torch.testing.assert_close(build(source, d=16)(torch.ones(1, 16, dtype=torch.float64)),
                               torch.full((1, 16), 16 ** -0.25 * 16 ** 0.75, dtype=torch.float64))
    assert agree(source, {"d": 16}, {"x": (2, 16)}) == "agree"


def test_a_layer_argument_given_by_another_name_is_named_in_its_check():
    """GAM's conv takes `mid` as `out_channels`, and the block has an `out_channels` of its
    own: "`out_channels` must be at least 1, got 0" read as the block's argument (2)."""
    source = """\
block G(in_channels: int, out_channels: int, rate: int = 4):
    input x: [b, in_channels, h, w]
    let mid = in_channels // rate
    layer conv = conv2d(in_channels, mid, 1)
    layer back = conv2d(mid, out_channels, 1)
    return back(conv(x))
"""
    with pytest.raises(ValueError, match=r"conv2d `conv`: `out_channels` \(`mid`\) must be at least 1, got 0"):
        build(source, in_channels=2, out_channels=2)


def test_a_random_buffer_is_told_where_a_spec_draws_at_random():
    """Performer's projection matrix as `buffer p = randn([m, d])` said "did you mean `round`?"."""
    import attndsl

    source = "block R(m: int = 4, d: int = 8):\n    input x: [b, d]\n    persistent buffer p = randn([m, d])\n    return x\n"
    (error,) = [d for d in attndsl.compile_source(source, "r.attn").diagnostics if d.is_error]
    assert (error.code, error.span.line) == ("E0102", 3) and "`param w: [m, d] = randn`" in error.help


def test_the_else_of_an_or_knows_each_part_fails():
    """FcaNet pools only `if h != dct_h or w != dct_w:`; its `else:` asked again whether h and
    dct_h (and w and dct_w) broadcast, which there they equal."""
    source = """\
block Fca(c: int, dct_h: int = 7, dct_w: int = 7):
    input x: [b, c, h, w]
    param weight: [c, dct_h, dct_w] = ones
    layer pool = adaptive_avg_pool2d((dct_h, dct_w))
    if h != dct_h or w != dct_w:
        y = pool(x)
    else:
        y = x
    return sum(y * weight, dim=[2, 3])
"""
    assert "broadcast dimension" not in compile_ok(source)
    for size in ((7, 7), (9, 5)):
        assert agree(source, {"c": 2}, {"x": (2, 2) + size}) == "agree"
