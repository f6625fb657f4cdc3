"""What porting trial 7 (Swin, Hugging Face self-attention, PVT v2, Nystromformer, linear
attention, timm's Attention) found, each fixed and kept here: the failing spec, reduced."""

from __future__ import annotations

from .language_support import agree, compile_ok, first_error

TWO_LOOPS = """\
block Two(d: int = 4):
    input x: [b, d]
    layer first = [linear(d, d) for _ in range(2)]
    layer second = [linear(d, d) for _ in range(3)]
    for blk in first:
        x = blk(x)
    for blk in second:
        x = blk(x) * 2
    return x
"""


def test_a_later_loop_may_reuse_an_earlier_loops_variable():
    """PVT's forward_features: `for blk in self.block1: ...` then `for blk in self.block2: ...`."""
    code = compile_ok(TWO_LOOPS)
    assert "for blk in self.first:" in code and "for blk in self.second:" in code
    assert agree(TWO_LOOPS, {}, {"x": (2, 4)}) == "agree"
    after = TWO_LOOPS.replace("    return x\n", "    return x + blk(x)\n")
    assert first_error(after)[0] == "E0106"  # still not defined after its loop


STAGE_BY_INDEX = """\
block Inner(d: int, k: int = 1):
    input x: [b, d]
    layer fc = linear(d, d)
    return fc(x) * k

block Stage(i: int, dims: list[int], heads: list[int]):
    input x: [b, c]
    let k = heads[i - 1] if i > 0 else 1
    layer one = Inner(d=dims[i], k=k)
    return one(x)
"""


def test_a_list_item_may_be_taken_by_an_argument():
    """PVT builds stage i from `embed_dims[i]` and `embed_dims[i - 1]`: the items' bounds are
    checked when the module is built (`i >= 0`, `len(dims) > i`)."""
    code = compile_ok(STAGE_BY_INDEX)
    assert "k = heads[i - 1] if i > 0 else 1" in code and "self.one = Inner(d=dims[i], k=k)" in code
    assert "`dims` must have an item at i" in code
    assert agree(STAGE_BY_INDEX, {"i": 1, "dims": [4, 8], "heads": [3, 2]}, {"x": (2, 8)}) == "agree"
    assert agree(STAGE_BY_INDEX, {"i": 0, "dims": [4, 8], "heads": [3, 2]}, {"x": (2, 4)}) == "agree"
    assert agree(STAGE_BY_INDEX, {"i": 2, "dims": [4, 8], "heads": [3, 2]}, {"x": (2, 8)}) == "both refused (init)"
    assert agree(STAGE_BY_INDEX, {"i": -1, "dims": [4, 8], "heads": [3, 2]}, {"x": (2, 8)}) == "both refused (init)"


def test_a_choice_on_a_loop_variable_says_how_to_write_it():
    """Swin's `shift_size=0 if (i % 2 == 0) else window_size // 2` in a layer list: a `let`
    cannot read i, so the help says how to write it as arithmetic."""
    source = """\
block Inner(d: int, s: int = 0):
    input x: [b, d]
    layer fc = linear(d, d)
    return fc(x) * s

block Outer(d: int = 4, depth: int = 2, ws: int = 4):
    input x: [b, d]
    layer blocks = [Inner(d, s=CHOICE) for i in range(depth)]
    for blk in blocks:
        x = blk(x)
    return x
"""
    code, line, _, _ = first_error(source.replace("CHOICE", "0 if i % 2 == 0 else ws // 2"))
    assert (code, line) == ("E0113", 8)
    from attndsl import compile_source

    help_text = compile_source(source.replace("CHOICE", "0 if i % 2 == 0 else ws // 2")).diagnostics[0].help
    assert "`(i % 2) * (ws // 2)`" in help_text
    assert agree(source.replace("CHOICE", "(i % 2) * (ws // 2)"), {}, {"x": (2, 4)}) == "agree"


OPTIONAL_KERNEL = """\
block A(c: int = 4, k: int | None = 3):
    input x: [b, c, n, d]
    example(c=4, k=None, x=[2, 4, 8, 5])
    REQUIRE
    if k is not None:
        layer conv = conv2d(c, c, kernel_size=(k, 1), padding=(k // 2, 0), bias=false, groups=c)
    y = x * 2.0
    if k is not None:
        y = y + conv(x)
    return y
"""


def test_an_optional_arguments_require_is_a_fact_where_it_is_given():
    """`require k is None or k % 2 == 1` holds as `k % 2 == 1` under `if k is not None:`: no
    W0006 and no broadcast check; the example with k=None fits (it was an internal message,
    "argument should be a string or a Rational instance"), and so does the optimiser."""
    from attndsl import compile_source

    bare = compile_source(OPTIONAL_KERNEL.replace("    REQUIRE\n", ""))
    warning = next(d for d in bare.diagnostics if d.code == "W0006")
    assert warning.help == "if they must be equal, say so: `require k is None or k == 2 * (k // 2) + 1`"
    assert "broadcast" in bare.code.split("def forward")[1]
    told = compile_source(OPTIONAL_KERNEL.replace("REQUIRE", "require k is None or k % 2 == 1, \"odd\""))
    assert told.ok and not told.diagnostics and "broadcast" not in told.code.split("def forward")[1]
    for k in (None, 3, 5):
        assert agree(OPTIONAL_KERNEL.replace("REQUIRE", "require k is None or k % 2 == 1, \"odd\""), {"k": k},
                     {"x": (2, 4, 8, 5)}) == "agree"


LINEAR = """\
block LinearAttention(query_dimensions: int, eps: float = 1e-6):
    input queries: [n, l, h, e]
    input keys: [n, s, h, e]
    input values: [n, s, h, m]
    q = elu(queries) + 1
    k = elu(keys) + 1
    kv = einsum("n s h d, n s h m -> n h m d", k, values)
    z = 1 / (einsum("n l h d, n h d -> n l h", q, sum(k, dim=1)) + eps)
    return contiguous(einsum("n l h d, n h m d -> n l h m", q, kv) * z[:, :, :, None])
"""


def test_contiguous_lays_the_output_out_for_a_caller_that_views_it():
    """fast-transformers' AttentionLayer does `inner_attention(...).view(N, L, -1)`: the
    einsum's output is a permuted view, which `.view` refuses; `contiguous(...)` copies it."""
    import torch

    from .language_support import build, rand

    arguments = {"query_dimensions": 4}
    inputs = (rand(2, 5, 2, 4), rand(2, 6, 2, 4, seed=1), rand(2, 6, 2, 3, seed=2))
    strided = build(LINEAR.replace("return contiguous(", "return ("), **arguments)
    assert not strided(*inputs).is_contiguous()
    laid_out = build(LINEAR, **arguments)
    assert torch.equal(laid_out(*inputs).view(2, 5, -1), strided(*inputs).reshape(2, 5, -1))
    assert agree(LINEAR, arguments, {"queries": (2, 5, 2, 4), "keys": (2, 6, 2, 4), "values": (2, 6, 2, 3)}) == "agree"


NEWTON = """\
block Newton(n: int = 4, iters: int = 6):
    input a: [b, n, n]
    v = transpose(a, -1, -2) / 10.0
    for _ in range(iters):
        v = v @ (2 * eye(n) - a @ v)
    return v
"""


def test_a_loop_may_run_a_number_of_passes_the_arguments_give():
    """Nystromformer's Moore-Penrose iterations: `for _ in range(iters):`, each pass alike."""
    import torch

    from .language_support import build, rand

    code = compile_ok(NEWTON)
    assert "        for _ in range(self.iters):\n            v = v @ (2 * torch.eye(" in code
    a = rand(2, 4, 4)
    want = a.transpose(-1, -2) / 10
    for _ in range(3):
        want = want @ (2 * torch.eye(4, dtype=torch.float64) - a @ want)
    assert torch.allclose(build(NEWTON, n=4, iters=3)(a), want)
    for iters in (0, 1, 6):
        assert agree(NEWTON, {"n": 4, "iters": iters}, {"a": (2, 4, 4)}) == "agree"


def test_a_loop_over_a_range_is_located_where_it_cannot_be():
    code, line, column, message = first_error(NEWTON.replace("for _ in range(iters)", "for i in range(iters)"))
    assert (code, line, column) == ("E0113", 4, 9) and "name them `_`" in message
    code, line, column, message = first_error(NEWTON.replace("range(iters)", "range(b)"))
    assert (code, line) == ("E0113", 4) and "a whole number the arguments give" in message


def test_returning_a_call_that_gives_several_tensors_returns_them_all():
    """`return inner(x)` of a block that returns (out, att) was "a block returns tensors"."""
    source = """\
block Inner(d: int = 4):
    input x: [b, n, d]
    att = softmax(x @ transpose(x, 1, 2), dim=-1)
    return att @ x, att

block Outer(d: int = 4):
    input x: [b, n, d]
    layer inner = Inner(d)
    return inner(x)
"""
    assert agree(source, {}, {"x": (2, 3, 4)}) == "agree"
    assert agree(source.replace("return inner(x)", "return chunk(x, 2, dim=2)"), {}, {"x": (2, 3, 4)}) == "agree"


def test_a_failed_statement_before_a_loop_is_the_only_error():
    """The failed `layer proj` made `x = proj(x)` vanish, and the loop then "gives nothing"."""
    from attndsl import compile_source

    source = """\
block Inner(d: int):
    input x: [b, n, d]
    layer fc = linear(d, d)
    return fc(x)

block Stage(i: int = 1, d: int = 4, depth: int = 2):
    input x: [b, n, d]
    layer proj = linear(d, d * 2 ** i)
    layer block = [Inner(d) for j in range(depth)]
    x = proj(x)
    for blk in block:
        x = blk(x)
    return x
"""
    errors = [d for d in compile_source(source).diagnostics if d.is_error]
    assert [(d.code, d.span.line) for d in errors] == [("E0119", 8)]


def test_a_name_declared_below_says_so():
    """Swin's `let wh = window_size[0]` used in an input's shape above it."""
    from attndsl import compile_source

    source = ("block Win(dim: int = 8, window_size: list[int] = [2, 3]):\n    input x: [bw, wh * ww, dim]\n"
              "    let wh = window_size[0]\n    let ww = window_size[1]\n    return x * 2.0\n")
    error = compile_source(source).diagnostics[0]
    assert (error.code, error.span.line) == ("E0101", 2)
    assert error.help == "`wh` is declared below, on line 3: declare it before this line"
    moved = source.replace("    input x: [bw, wh * ww, dim]\n", "").replace("    return", "    input x: [bw, wh * ww, dim]\n    return")
    assert compile_source(moved).ok


def test_a_layer_argument_takes_a_partial_of_its_kind():
    """Every pvt_v2 config passes `functools.partial(nn.LayerNorm, eps=1e-6)` as norm_layer."""
    import functools

    import pytest
    from torch import nn

    from .language_support import generated

    block = generated("block Block(dim: int = 8, norm_layer: layer = layer_norm):\n    input x: [b, n, dim]\n"
                      "    layer norm1 = norm_layer(dim)\n    return norm1(x)\n", "Block")
    assert block(dim=8, norm_layer=functools.partial(nn.LayerNorm, eps=1e-6)).norm1.eps == 1e-6
    with pytest.raises(ValueError, match=r"must be one of nn.LayerNorm \(or a functools.partial of one\)"):
        block(dim=8, norm_layer=functools.partial(nn.BatchNorm1d))


TWO_LEVELS = """\
block DW(d: int = 4):
    input x: [b, n, d]
    input H: int
    input W: int
    layer dwconv = conv2d(d, d, 3, 1, 1, groups=d)
    return rearrange(dwconv(rearrange(x, "b (h w) c -> b c h w", h=H, w=W)), "b c h w -> b (h w) c")

block Mlp(d: int = 4):
    input x: [b, n, d]
    input H: int
    input W: int
    layer fc = linear(d, d)
    layer dw = DW(d)
    return dw(fc(x), H, W)

block Res(d: int = 4):
    input x: [b, n, d]
    input H: int
    input W: int
    layer conv = Mlp(d)
    return x + conv(x, H, W)
"""


def test_what_a_sub_sub_block_checks_holds_after_the_call_too():
    """PVT v2's Block -> Mlp -> DWConv: DWConv's rearrange refuses n != H*W, so after Mlp's
    call Res knows n == H*W (it checked n against H*W and wrote [b, max(n, H*W), d])."""
    import pytest

    from .language_support import build, rand

    res = compile_ok(TWO_LEVELS).split("class Res")[1]
    assert "returns: [b, n, d]" in res and "broadcast" not in res
    with pytest.raises(ValueError, match="DW: "):
        build(TWO_LEVELS, "Res")(rand(2, 12, 4), 3, 3)
    assert agree(TWO_LEVELS, {}, {"x": (2, 12, 4), "H": 3, "W": 4}) == "agree"


CALLER_LISTS = """\
block Stage(i: int, c: int, dims: list[int]):
    input x: [b, c]
    layer fc = linear(c, dims[i])
    return fc(x)

block Outer(c: int = 2, dims: list[int] = [3, 5], ws: list[int] = [4, 6]):
    input x: [b, c]
    input y: [b, e]
    layer st = Stage(1, c, ws)
    return st(x) + y
"""


def test_a_sub_blocks_item_by_index_is_the_callers_list_it_was_given():
    """`dims[i]` in Stage, given the caller's `ws`: the caller's `ws[1]`, never its own `dims`
    (the item atom's list was left unmapped, so the output read [b, dims[1]])."""
    import pytest

    from .language_support import build, rand

    outer = compile_ok(CALLER_LISTS).split("class Outer")[1]
    assert "ws[1] and e must be equal or 1" in outer and "dims" not in outer.split("def forward")[1]
    module = build(CALLER_LISTS, "Outer")
    assert module(rand(2, 2), rand(2, 6)).shape == (2, 6)
    with pytest.raises(ValueError):
        module(rand(2, 2), rand(2, 5))
    assert agree(CALLER_LISTS, {}, {"x": (2, 2), "y": (2, 6)}) == "agree"
    literal = first_error(CALLER_LISTS.replace("Stage(1, c, ws)", "Stage(1, c, [4, 6])"))
    assert literal[0] == "E0208"
