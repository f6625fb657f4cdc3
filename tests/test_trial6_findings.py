"""What porting trial 6 (timm ViT Attention and Block, PVT v2, Twins, Perceiver) found, each
fixed and kept here: the failing spec, reduced."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, build, compile_ok, first_error, rand

JOINED_BATCH = """\
block B(p: float = 0.1):
    input x: [b, n]
    input m: [mb, n] = None
    if m:
        y = x + m
    else:
        y = x
    return stochastic_depth(y, p)
"""


def test_stochastic_depth_of_a_joined_batch_draws_per_sample_of_the_tensor():
    """The batch of `y` is `b` or `max(b, mb)`, known at run time only: the mask is sized
    from `y` itself (this crashed the formatter with `(b'|b, 1)`)."""
    code = compile_ok(JOINED_BATCH)
    assert "y.new_full((y.shape[0], 1), 1 - self.p)" in code
    module = build(JOINED_BATCH).train()
    torch.manual_seed(0)
    assert module(rand(2, 3)).shape == (2, 3)
    assert module(rand(1, 3), rand(4, 3, seed=1)).shape == (4, 3)  # one mask entry per sample of the join
    for given in (False, True):
        inputs = {"x": (2, 3)} | ({"m": (2, 3)} if given else {})
        assert agree(JOINED_BATCH, {"p": 0.0}, inputs) == "agree"


PASSED_ON = """\
block Inner(d: int = 4):
    input x: [b, n, d]
    input m: [b, n, d] = None
    if m:
        return x + m
    return x * 2

block Outer(d: int = 4):
    input x: [b, n, d]
    input m: [b, n, d] = None
    layer inner = Inner(d)
    return inner(x, m)
"""


@pytest.mark.parametrize("call", ["inner(x, m)", "inner(x, m=m)"])
@pytest.mark.parametrize("given", [False, True])
def test_an_optional_input_is_passed_on_none_and_all(call, given):
    """timm's Block: `self.attn(self.norm1(x), attn_mask=attn_mask)`. The callee's `if m:`
    decides as the caller's `if m:` would."""
    source = PASSED_ON.replace("inner(x, m)", call)
    assert "return self.inner(x, m)" in compile_ok(source)
    module = build(source)
    x, m = rand(2, 3, 4), rand(2, 3, 4, seed=1)
    torch.testing.assert_close(module(x, m) if given else module(x), x + m if given else x * 2)
    assert agree(source, {}, {"x": (2, 3, 4)} | ({"m": (2, 3, 4)} if given else {})) == "agree"


def test_a_tensor_skipped_before_one_given_by_name_is_an_error():
    source = PASSED_ON.replace("input m: [b, n, d] = None\n    if m:", "input m: [b, n, d] = None\n"
                               "    input w: [b, n, d] = None\n    if m:").replace("inner(x, m)", "inner(x, w=m)")
    assert first_error(source) == ("E0112", 13, 21, "`w` is given by name, but `m` before it is not given")


MASKED = """\
block Inner(d: int = 4):
    input x: [b, n, d]
    input mask: bool[b, n]
    return masked_fill(x, rearrange(mask, "b n -> b n 1"), 0.0)

block Outer(d: int = 4):
    input x: [b, n, d]
    input m: bool[b, n]
    layer inner = Inner(d)
    return inner(x, m)
"""


def test_a_block_takes_the_element_types_its_inputs_declare():
    module = build(MASKED)
    x, m = rand(2, 3, 4), rand(2, 3, seed=1) > 0
    torch.testing.assert_close(module(x, m), x.masked_fill(m[..., None], 0.0))
    assert agree(MASKED, {}, {"x": (2, 3, 4), "m": (2, 3)}, masks={"m"}) == "agree"
    wrong = MASKED.replace("input m: bool[b, n]", "input m: [b, n]")
    assert first_error(wrong) == ("E0209", 10, 12, "block Inner's input `mask` is a boolean tensor, not a float tensor")


OPTIONAL_ARGUMENTS = """\
block Inner(d: int = 4, s: float | None = None, h: int | None = None):
    input x: [b, n, d]
    let hidden = h if h is not None else d * 2
    layer fc1 = linear(d, hidden)
    layer fc2 = linear(hidden, d)
    y = fc2(relu(fc1(x)))
    if s is not None:
        return y * s
    return y

block Outer(d: int = 4, s: float | None = None, h: int | None = None):
    input x: [b, n, d]
    layer inner = Inner(d, s=s, h=h)
    return inner(x)
"""


@pytest.mark.parametrize("arguments", [{}, {"s": 0.5}, {"h": 3}, {"s": 2.0, "h": 5}])
def test_an_optional_argument_is_passed_on_none_and_all(arguments):
    assert "self.inner = Inner(d=d, s=s, h=h)" in compile_ok(OPTIONAL_ARGUMENTS)
    module = build(OPTIONAL_ARGUMENTS, **arguments)
    assert module.inner.fc1.out_features == arguments.get("h", 8)
    assert agree(OPTIONAL_ARGUMENTS, arguments, {"x": (2, 3, 4)}) == "agree"


BRANCHES_BY_FLAG = """\
block Inner(d: int = 4):
    input x: [b, n, d]
    input twice: bool = false
    if twice:
        return cat([x, x], dim=1)
    return x

block Outer(d: int = 4, both: bool = false):
    input x: [b, n, d]
    input again: bool = false
    layer inner = Inner(d)
    layer inner2 = Inner(d)
    return inner(x, twice=both) + inner2(x, twice=again)
"""


@pytest.mark.parametrize("both", [False, True])
@pytest.mark.parametrize("again", [False, True])
def test_a_blocks_shape_chosen_by_a_flag_the_caller_passes(both, again):
    """Which branch of Inner runs is a condition of the caller's: its worlds take it."""
    assert "# [b, 2*n|n, d]" in compile_ok(BRANCHES_BY_FLAG)
    outcome = agree(BRANCHES_BY_FLAG, {"both": both}, {"x": (2, 3, 4), "again": again})
    assert outcome == ("agree" if both == again else "both refused (eval)")


IN_PLACE_IN_A_BRANCH = """\
block B(d: int = 4, flag: bool = false):
    input x: [b, d]
    layer fc = linear(d, d)
    layer act = relu(inplace=true)
    y = fc(x)
    if flag:
        y = act(y)
    return y
"""


@pytest.mark.parametrize("flag", [False, True])
def test_an_in_place_layer_in_a_branch_overwrites_what_only_the_other_branch_reads(flag):
    """PVT v2's Mlp: `x = fc1(x); if linear: x = relu_inplace(x)`. The old `y` is read by
    the join only where the branch is not taken."""
    module = build(IN_PLACE_IN_A_BRANCH, flag=flag).double()
    x = rand(3, 4).requires_grad_()
    out = module(x)
    want = torch.relu(module.fc(x)) if flag else module.fc(x)
    torch.testing.assert_close(out, want)
    grad, = torch.autograd.grad(out.sum(), x)
    want_grad, = torch.autograd.grad(want.sum(), x)
    torch.testing.assert_close(grad, want_grad)
    seen = IN_PLACE_IN_A_BRANCH.replace("    return y\n", "    return y + fc(x)\n").replace(
        "    y = fc(x)\n    if flag:\n        y = act(y)", "    z = fc(x)\n    y = z\n    if flag:\n        y = act(z)\n"
        "    y = y + z")
    assert first_error(seen)[0] == "E0211"  # the old value read after the branch still counts


WIDENED = """\
block Inner(d: int = 4):
    input x: [b, n, d]
    input m: [b, n, d] = None
    if m:
        return cat([x, m], dim=1)
    return x

block Outer(d: int = 4):
    input x: [b, n, d]
    input m: [b, n, d] = None
    layer inner = Inner(d)
    return inner(x, m)
"""


@pytest.mark.parametrize("given", [False, True])
def test_a_blocks_shape_chosen_by_an_optional_input_passed_on(given):
    """Whether Inner's `m` is given is whether Outer's is: the shape follows, world by world."""
    assert "# [b, 2*n|n, d]" in compile_ok(WIDENED)
    assert agree(WIDENED, {}, {"x": (2, 3, 4)} | ({"m": (2, 3, 4)} if given else {})) == "agree"


def test_the_cost_of_a_block_given_an_optional_input_counts_it_where_it_is_given(tmp_path):
    import subprocess
    import sys

    spec = tmp_path / "widened.attn"
    spec.write_text(WIDENED, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "attndsl", "cost", str(spec)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "[m given]*4*b*n*d + [m not given]*2*b*n*d" in done.stdout


CALLEE_CHECKS = """\
block Inner(d: int = 4):
    input x: [b, n, d]
    input H: int
    input W: int
    y = rearrange(x, "b (h w) c -> b c h w", h=H, w=W)
    return rearrange(y, "b c h w -> b (h w) c")

block Outer(d: int = 4):
    input x: [b, n, d]
    input H: int
    input W: int
    layer inner = Inner(d)
    return x + inner(x, H, W)

block Early(d: int = 4):
    input x: [b, n, d]
    input H: int
    input W: int
    layer inner = Inner(d)
    y = x * rearrange(x, "b (p q) c -> b (q p) c", p=H, q=W)
    return inner(y, H, W)
"""


def test_what_a_sub_block_checks_of_its_inputs_holds_after_the_call():
    """PVT v2's Block: `x + mlp(norm2(x), H, W)`. The Mlp checks n == H*W, so the sum after
    it needs no broadcast check and keeps the shape [b, n, d]."""
    code = compile_ok(CALLEE_CHECKS)
    outer = code[code.index("class Outer"):code.index("class Early")]
    assert "returns: [b, n, d]" in outer and "broadcast" not in outer
    module = build(CALLEE_CHECKS, "Outer")
    x = rand(2, 6, 4)
    assert torch.equal(module(x, 2, 3), 2 * x)
    with pytest.raises(ValueError, match="Inner: "):  # the callee's own check refuses n != H*W
        module(rand(1, 6, 4), 2, 2)
    for H, W in ((2, 3), (3, 2)):
        assert agree(CALLEE_CHECKS, {}, {"x": (2, 6, 4), "H": H, "W": W}) == "agree"


def test_a_callees_check_does_not_stand_for_the_callers_before_the_call():
    """Early's own rearrange, before the call, needs n == H*W: checked there, by Early."""
    early = compile_ok(CALLEE_CHECKS).split("class Early")[1]
    assert early.count("raise ValueError") == 5  # x, H, W, d, and its own n == H*W
    with pytest.raises(ValueError, match="Early: "):
        build(CALLEE_CHECKS, "Early")(rand(1, 6, 4), 2, 2)


PAD_TO_WINDOW = """\
block B(d: int = 4, ws: int = 2):
    input x: [b, H, W, d]
    REQUIRE
    let pad_r = (ws - W % ws) % ws
    return pad(x, (0, 0, 0, pad_r))
"""


def test_a_let_of_sizes_is_computed_as_written_and_a_remainder_is_not_negative():
    """Twins pads to a multiple of the window: `(ws - W % ws) % ws` is written as such (it was
    its 80-character normal form), and is at least 0 where ws >= 1, so no check is made."""
    code = compile_ok(PAD_TO_WINDOW.replace("REQUIRE", "require ws >= 1"))
    assert "pad_r = (self.ws - W % self.ws) % self.ws\n" in code and "pad_r < 0" not in code
    module = build(PAD_TO_WINDOW.replace("REQUIRE", "require ws >= 1"), ws=3)
    for width, padded in ((5, 6), (6, 6), (1, 3)):
        assert module(rand(1, 2, width, 4)).shape == (1, 2, padded, 4)


def test_a_remainder_by_a_divisor_that_may_be_negative_crops_as_torch_does():
    """Python's `%` by a negative number is negative: the checker does not take the width for
    nonnegative. (A negative width of the constant mode crops, as F.pad does; what it cuts
    must exist, which is checked.)"""
    source = PAD_TO_WINDOW.replace("    REQUIRE\n", "")
    assert "if pad_r < 0:" not in compile_ok(source)
    x = rand(1, 2, 5, 4)
    torch.testing.assert_close(build(source, ws=-2)(x), torch.nn.functional.pad(x, (0, 0, 0, -1)))
    assert agree(source, {"ws": -2}, {"x": (1, 2, 5, 4)}) == "agree"


STAGE = """\
block Attn(d: int = 8, heads: int = 2, sr: int = 1):
    input x: [b, n, d]
    require d % heads == 0
    layer qkv = linear(d, 3 * d)
    layer proj = linear(d, d)
    q, k, v = chunk(qkv(x), 3, dim=-1)
    q = rearrange(q, "b n (h e) -> b h n e", h=heads)
    k = rearrange(k, "b n (h e) -> b h n e", h=heads)
    v = rearrange(v, "b n (h e) -> b h n e", h=heads)
    att = softmax(q @ transpose(k, -2, -1) * sr, dim=-1)
    return proj(rearrange(att @ v, "b h n e -> b n (h e)"))


block Stage(d: int = 8, heads: list[int] = [1, 2, 4], srs: list[int] = [4, 2, 1]):
    input x: [b, n, d]
    require all([d % heads[i] == 0 for i in range(len(heads))]), "d must split into each stage's heads"
    layer blocks = [Attn(d, heads[i], srs[i]) for i in range(len(heads))]
    for blk in blocks:
        x = x + blk(x)
    return x
"""


def test_list_items_by_a_loop_index_build_each_element():
    """PVT's stages: `Attn(d, heads[i], srs[i]) for i in range(len(heads))` indexes two lists
    by one i. The range proves `heads[i]` exists; `srs[i]` is checked for every i; what a
    `require all(...)` says of each item (`d % heads[i] == 0`) is known of each element."""
    code = compile_ok(STAGE)
    assert "nn.ModuleList([Attn(d=d, heads=heads[i], sr=srs[i]) for i in range(len(heads))])" in code
    assert "`heads` must have" not in code
    assert "if not all(len(srs) - i - 1 >= 0 for i in range(len(heads))):" in code
    stage = build(STAGE, "Stage", heads=[2, 8], srs=[1, 3])
    assert [(blk.heads, blk.sr) for blk in stage.blocks] == [(2, 1), (8, 3)]
    for arguments in ({}, {"heads": [2, 8], "srs": [1, 3]}):
        assert agree(STAGE, arguments, {"x": (2, 5, 8)}) == "agree"
    with pytest.raises(ValueError, match="`srs` must have an item at i, for every i in range"):
        build(STAGE, "Stage", heads=[2, 8, 4], srs=[1, 3])
    with pytest.raises(ValueError, match="d must split into each stage's heads"):
        build(STAGE, "Stage", heads=[3], srs=[1])
    assert agree(STAGE, {"heads": [2, 8, 4], "srs": [1, 3]}, {"x": (2, 5, 8)}) == "both refused (init)"


def test_a_list_item_by_an_inputs_size_is_an_error():
    source = STAGE.replace("srs[i]) for i", "srs[n]) for i")
    code, line, column, message = first_error(source)
    assert (code, line) == ("E0113", 17) and "computed from the arguments, a constant or a loop's variable" in message


EARLY_RETURN = """\
block Inner(d: int = 4):
    input x: [b, n, d]
    input H: int
    input on: bool = false
    if on:
        return x * 2
    y = rearrange(x, "b (h w) c -> b c h w", h=H)
    return rearrange(y, "b c h w -> b (h w) c")


block Outer(d: int = 4):
    input x: [b, n, d]
    input H: int
    input on: bool = false
    layer inner = Inner(d)
    y = inner(x, H, on=on)
    return y + rearrange(rearrange(x, "b (h w) c -> b c h w", h=H), "b c h w -> b (h w) c")
"""


def test_a_callees_check_on_one_branch_only_is_no_fact_after_the_call():
    """Inner checks n % H only where `on` is false (it returns early otherwise): Outer keeps
    its own check, which refuses n = 6, H = 4 whichever way `on` is."""
    outer = compile_ok(EARLY_RETURN).split("class Outer")[1]
    assert "if n % H != 0:" in outer
    for on in (False, True):
        with pytest.raises(ValueError, match="Outer: splitting"):
            build(EARLY_RETURN, "Outer")(rand(2, 6, 4), 4, on=on)


CONV_THEN_PAD = """\
block B(c: int = 4, k: int = 3, p: int = 1):
    input x: [b, c, h, w]
    layer conv = conv2d(c, c, k, padding=p)
    let q = max(k - 1, 0)
    return pad(conv(x), [q // 2, q - q // 2, 0, 0])
"""


def test_a_checks_sides_read_as_written_not_as_a_difference_with_zero():
    """`h + 2 * self.p < self.k`, as one would write it, not `h - self.k + 2 * self.p < 0`."""
    code = compile_ok(CONV_THEN_PAD)
    assert "if h + 2 * self.p < self.k:" in code and "< 0:" not in code.split("def forward")[1]
    module = build(CONV_THEN_PAD, k=5, p=0)
    assert module(rand(1, 4, 5, 5)).shape == (1, 4, 1, 1 + 4)  # a 1x1 output, padded by 4 on the right axis
    with pytest.raises(ValueError, match="B: "):
        module(rand(1, 4, 4, 5))


def test_the_far_side_of_a_split_pad_is_known_not_negative():
    """`q - q // 2` for q >= 0 (the far side of a pad split in two) needs no check."""
    code = compile_ok(CONV_THEN_PAD)
    assert "q // 2" in code and "must be at least 0, with q" not in code


def test_the_far_side_of_a_pad_split_from_a_number_that_may_be_negative_crops():
    """`s - s // 2` is -1 for s = -3 (floor division rounds down): not taken for nonnegative;
    the constant mode crops by it, and what it cuts must exist."""
    source = """\
block B(s: int = 2):
    input x: [b, n]
    return pad(x, [0, s - s // 2])
"""
    code = compile_ok(source)
    assert "must not crop axis 1 by more than its size" in code
    assert build(source, s=3)(rand(1, 2)).shape == (1, 4)
    assert build(source, s=-3)(rand(1, 2)).shape == (1, 1)
    with pytest.raises(ValueError, match="must not crop axis 1 by more than its size"):
        build(source, s=-7)(rand(1, 2))  # a crop by 3
    assert agree(source, {"s": -3}, {"x": (1, 2)}) == "agree"


SEGMENTS = """\
block B(d: int = 4, l: int = 3):
    input x: [b, n, d]
    parts = rearrange(x, "b (s l) d -> s b l d", l=l)
    outs = []
    for part in parts:
        outs.append(part * 2)
    return stack(outs, dim=0)
"""


def test_a_whole_positive_quotient_is_at_least_one():
    """n / l segments, once n % l == 0 is checked, is a whole number above 0, so at least 1:
    `stack` of one list item per segment needs no check that the list is not empty."""
    code = compile_ok(SEGMENTS)
    assert "at least one tensor" not in code and "% self.l != 0" in code
    assert build(SEGMENTS)(rand(2, 6, 4)).shape == (2, 2, 3, 4)


def test_a_whole_product_with_a_factor_that_may_be_zero_is_not_taken_to_be_positive():
    """`p * n - 1` is -1 for p = 0: a crop by one, of an axis never empty (n >= 1), so no check."""
    source = """\
block B(p: int = 1):
    input x: [b, n]
    require p >= 0
    return pad(x, [0, p * n - 1])
"""
    assert "must not crop" not in compile_ok(source)
    assert build(source, p=1)(rand(1, 3)).shape == (1, 5)
    assert build(source, p=0)(rand(1, 3)).shape == (1, 2)
    assert agree(source, {"p": 0}, {"x": (1, 3)}) == "agree"


WINDOWS = """\
block B(c: int = 2, s: int = 2):
    input x: [b, c, h, w]
    windows = rearrange(x, "b c (nh p) (nw r) -> (b nh nw) (p r) c", p=s, r=s)
    return rearrange(windows, "(b l) t c -> b l t c", b=b)
"""


def test_a_product_of_whole_quotients_is_whole():
    """h/s and w/s are whole once each axis is checked: the number of windows h*w/(s*s) is
    their product, so splitting by it needs no check of its own."""
    code = compile_ok(WINDOWS)
    forward = code.split("def forward")[1]
    assert "h % self.s != 0" in forward and "w % self.s != 0" in forward and forward.count("% (") == 0
    assert build(WINDOWS)(rand(2, 2, 4, 6)).shape == (2, 6, 4, 2)
    with pytest.raises(ValueError, match="divisible"):
        build(WINDOWS)(rand(2, 2, 4, 5))


UNPARTITION = """\
block B(c: int = 2, s: int = 2):
    input x: [b, c, h, w]
    windows = rearrange(x, "b c (nh p) (nw r) -> (b nh nw) (p r) c", p=s, r=s)
    return rearrange(windows * 2, "(b nh nw) (p r) c -> b c (nh p) (nw r)", b=b, nh=h // s, p=s)
"""


def test_a_floor_division_known_exact_reads_as_the_size_it_gives_back():
    """Windows put back together: `h // s` blocks of `s` rows are `h` rows once `h % s == 0`
    is checked, so the code reshapes to `(b, c, h, w)` and the comment says `[b, c, h, w]`
    (they read `s*(h // s)` and `h*w/(s*(h // s))`)."""
    code = compile_ok(UNPARTITION)
    assert ".reshape(b, self.c, h, w)" in code and "# [b, c, h, w]" in code and "h // self.s)" not in code
    assert ".reshape(b, h // self.s, w // self.s, self.s, self.s, self.c)" in code
    x = rand(2, 2, 4, 6)
    assert torch.equal(build(UNPARTITION)(x), 2 * x)
    # and with the layout passes off, the same sizes
    assert "# [b, c, h, w]" in compile_ok(UNPARTITION.replace("windows * 2", "windows"), optimize=False)


EXPAND_OR_NOT = """\
block B(c: int = 4, r: int = 2):
    input x: [b, c, h, w]
    let wide = c * r
    if r != 1:
        layer expand = conv2d(c, wide, 1)
        y = expand(x)
    else:
        y = x
    layer mix = conv2d(wide, c, 1)
    z = y * 2
    return mix(z)
"""


def test_a_size_that_is_right_on_both_branches_is_the_joined_size():
    """MBConv's expansion: `y` is [b, wide, h, w] after the conv, and the input itself where
    r == 1, where wide is c. After the `if`, the comment says `[b, wide, h, w]` (true on both
    branches), not `[b, wide|c, h, w]`, nor `[b, c, h, w]` (true only where r == 1)."""
    code = compile_ok(EXPAND_OR_NOT)
    assert "z = y * 2  # [b, wide, h, w]" in code
    # where r == 1 (the `else:` of `if r != 1:`), wide is c: no check that they agree
    assert "c != wide" not in code and "else:" not in code.split("def forward")[0]
    for r in (1, 2):
        assert build(EXPAND_OR_NOT, r=r)(rand(2, 4, 3, 3)).shape == (2, 4, 3, 3)
    assert agree(EXPAND_OR_NOT, {"c": 4, "r": 1}, {"x": [2, 4, 3, 3]})
    assert agree(EXPAND_OR_NOT, {"c": 4, "r": 3}, {"x": [2, 4, 3, 3]})


def test_what_an_else_branch_knows_stays_in_it():
    """`k == 1` holds in the `else:` of `if k != 1:` only: after the `if`, a linear layer of
    c * k inputs on c features is still checked, and refuses k = 2."""
    source = """\
block B(c: int = 4, k: int = 1):
    input x: [b, c]
    if k != 1:
        y = x * 2
    else:
        y = x
    layer fc = linear(c * k, c)
    return fc(y)
"""
    assert build(source, k=1)(rand(2, 4)).shape == (2, 4)
    with pytest.raises(ValueError, match="must agree"):
        build(source, k=2)(rand(2, 4))


def test_a_failed_broadcast_says_the_sizes_it_read():
    source = """\
block B():
    input x: [b, n]
    input y: [b, m]
    return x + y
"""
    assert build(source)(rand(2, 3), rand(2, 1)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"n and m must be equal or 1, with m = 2, n = 3$"):
        build(source)(rand(2, 3), rand(2, 2))
