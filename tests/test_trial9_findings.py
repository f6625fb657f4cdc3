"""What porting trial 9 (Conformer's convolution module and relative attention, Linformer,
Nystromformer, Synthesizer; BiFormer's routing attention, ResNeSt's split attention,
MobileNetV3's and EfficientNet's SE, the Set Transformer; SegFormer, EdgeViT, Uformer,
Slot Attention; RWKV, Hyena, gated linear attention, wav2vec2) found, each fixed and kept
here: the failing spec, reduced."""

from __future__ import annotations

import re

import pytest
import torch

import attndsl

from .language_support import agree, compile_ok, first_error, generated, rand


PAIR = """\
block Pair(d: int):
    input x: [b, d]
    return x * 2, x > 0

block Outer(d: int = 4):
    input x: [b, d]
    example(x=[2, 4])
    layer pair = Pair(d)
    y, m = pair(x)
    return OUT
"""


def test_each_value_a_block_returns_keeps_its_own_element_type():
    """A block returning (float, bool): the caller took both for floats, accepted a softmax of
    the mask and torch failed ("not implemented for 'Bool'")."""
    code, line, _, message = first_error(PAIR.replace("OUT", "softmax(m, dim=-1) + y"))
    assert (code, line) == ("E0209", 10) and "bool" in message, message
    source = PAIR.replace("OUT", "masked_fill(y, m, 0.0)")
    module = generated(source)(4)
    x = rand(2, 4).float()
    torch.testing.assert_close(module(x), (x * 2).masked_fill(x > 0, 0.0))
    assert agree(source, {"d": 3}, {"x": (2, 3)}) == "agree"


def test_a_mask_returned_first_and_a_float_second_are_each_what_they_are():
    """The reverse order was refused: the float taken for the mask's bool."""
    source = PAIR.replace("return x * 2, x > 0", "return x > 0, x * 2").replace("y, m = pair(x)", "m, y = pair(x)")
    compile_ok(source.replace("OUT", "y * x"))


def test_a_block_that_returns_several_values_may_be_declared_on_both_branches():
    """An internal error: the branches' shapes were joined as if each were one shape."""
    source = """\
block Two(d: int, k: int):
    input x: [b, d]
    layer fc = linear(d, 2 * k)
    p, q = chunk(fc(x), 2, dim=-1)
    return p, q

block Outer(d: int = 4, flag: bool = true):
    input x: [b, d]
    example(x=[2, 4])
    if flag:
        layer two = Two(d, d)
    else:
        layer two = Two(d, 2 * d)
    p, q = two(x)
    return p * q
"""
    assert "# [b, d|2*d] each" in compile_ok(source)
    for flag, width in ((True, 4), (False, 8)):
        assert generated(source)(flag=flag)(torch.randn(2, 4)).shape == (2, width)


def test_a_size_that_is_a_polynomial_multiple_of_its_divisor_is_divided_out():
    """Transformer-XL's relative shift: `[b, n + n*n]` split into `n + 1` rows has `n` columns;
    the module checked `(n + n*n) % (n + 1) != 0` and showed `(n + n*n) // (n + 1)`."""
    source = """\
block RelShift():
    input s: [b, n, n]
    input mask: bool[b, mq, n] = None
    p = rearrange(pad(s, (1, 0)), "b i j -> b (i j)")
    p = rearrange(p, "b (r c) -> b r c", r=n + 1)[:, 1:]
    if mask:
        p = masked_fill(p, mask, 0.0)
    return p
"""
    code = compile_ok(source)
    assert "% (n + 1)" not in code and "p.reshape(b, n + 1, n)[:, 1:]" in code
    # the broadcast's size is named in the docstring, where it is used
    assert "returns: [b, n', n] if mask given;" in code and "where n' = max(mq, n)" in code
    s = rand(2, 3, 3)
    shifted = generated(source)().double()(s)
    expected = torch.nn.functional.pad(s, (1, 0)).reshape(2, 4, 3)[:, 1:]
    torch.testing.assert_close(shifted, expected)


def test_exact_division_of_polynomials_leaves_the_rest_to_floor_division():
    from attndsl import symbolic as sym
    from attndsl.symbolic import Expr

    n, m, k = Expr.symbol("n"), Expr.symbol("m"), Expr.symbol("k")
    assert (n * n - m * m).exact_div(n - m) == n + m
    assert (k * n + k * m + 2 * n + 2 * m).exact_div(n + m) == k + 2
    assert sym.floordiv(n * n + 1, n + 1) == Expr.atom("floordiv", n * n + 1, n + 1)  # not exact
    assert sym.mod(n + n * n, n + 1) == Expr.const(0)
    assert sym.floordiv(n * n + n, 2 * n + 2) == Expr.atom("floordiv", n * n + n, 2 * n + 2)  # n / 2: not whole


def test_an_example_the_module_refuses_points_at_the_statement_that_refuses_it():
    source = """\
block A(d: int = 8):
    input x: [b, n, d]
    example(d=8, x=[2, 3, 8])
    y = rearrange(x, "b n (h e) -> b h n e", h=2)
    z = rearrange(x, "b n (h e) -> b h n e", h=3)
    return y + z[:, :2]
"""
    result = attndsl.compile_source(source, "lang.attn")
    (error,) = [d for d in result.diagnostics if d.is_error]
    assert error.code == "E0207" and error.span.line == 3
    assert [(label.span.line, label.message) for label in error.labels] == [(5, "refused here")]


def test_a_value_named_like_an_optional_input_is_refused_in_words():
    source = """\
block A():
    input x: [b, n]
    input mask: [b, n] = None
    if mask:
        mask = mask * 2
        x = x + mask
    return x
"""
    assert first_error(source)[3] == "`mask` already names an optional input; pick another name"


def test_a_run_time_check_of_a_layer_names_the_layer():
    source = """\
block A(dim: int = 8, heads: int = 2):
    input x: [b, n, dim]
    example(dim=8, heads=2, x=[2, 3, 8])
    layer to_q = linear(dim, (dim // heads) * heads)
    layer proj = linear(dim, dim)
    return proj(to_q(x))
"""
    with pytest.raises(ValueError, match=r"A: linear `proj`: the last dimension of the input and in_features "
                                         r"must agree, but heads\*\(dim // heads\) = 4 and dim = 6"):
        generated(source)(6, 4)


CONTEXT = """\
block R(s: int = 8):
    input x: [b, n, d]
    input ctx: [b, m, d] = None
    example(x=[2, 3, 4], ctx=[2, 5, 4])
    y = x
    if ctx:
        require m <= s, "context too long"
        y = cat([ctx, x], dim=1)[:, :s]
    return y
"""


def test_a_require_of_an_optional_inputs_size_is_checked_where_the_input_is_given():
    """E0116 said a require "is made once, in __init__" and to move it before the `if`, where
    the context's size does not exist; the README says one of input sizes is forward's."""
    code = compile_ok(CONTEXT)
    assert 'if m > self.s:\n                raise ValueError(f"R: context too long' in code
    module = generated(CONTEXT)(s=4)
    x = torch.randn(2, 3, 4)
    assert module(x, torch.randn(2, 4, 4)).shape == (2, 4, 4)
    assert module(x).shape == (2, 3, 4)  # absent: nothing to check
    with pytest.raises(ValueError, match="context too long"):
        module(x, torch.randn(2, 5, 4))
    for ctx in (None, (2, 3, 4), (2, 5, 4)):
        inputs = {"x": (2, 3, 4)} | ({} if ctx is None else {"ctx": ctx})
        assert agree(CONTEXT, {"s": 4}, inputs) in ("agree", "both refused (eval)")


def test_a_require_of_an_optional_inputs_size_outside_its_if_is_refused():
    source = CONTEXT.replace('        require m <= s, "context too long"\n', "").replace(
        "    y = x\n", '    require m <= s, "context too long"\n    y = x\n')
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0113", 5) and "optional input `ctx`" in message, message


SHIFT = """\
block PadCrop(d: int = 4, k: int = 2):
    input x: [b, t, d]
    return pad(x, (0, 0, k, -k))
"""


@pytest.mark.parametrize("k", [2, 0, -1])
def test_a_width_an_argument_gives_may_crop_in_constant_mode(k):
    """RWKV's token shift by `k` steps: `__init__` refused every k but 0 (`k < 0`, then `-k < 0`),
    though the constant mode takes negative widths."""
    module = generated(SHIFT)(k=k)
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(module(x), torch.nn.functional.pad(x, (0, 0, k, -k)))
    if abs(k) > 1:
        with pytest.raises(ValueError, match="must not crop axis 1 by more than its size"):
            module(torch.randn(2, abs(k) - 1, 4))
    assert agree(SHIFT, {"k": k}, {"x": (2, 5, 4)}) == "agree"
    assert agree(SHIFT, {"k": k}, {"x": (2, 1, 4)}) in ("agree", "both refused (eval)")


def test_a_block_whose_defaults_do_not_build_is_warned_of():
    source = """\
block B(d: int = 10, h: int = 3):
    input x: [b, d]
    require d % h == 0, "d must be divisible by h"
    return x
"""
    (warning,) = [d for d in attndsl.compile_source(source, "lang.attn").diagnostics if d.code == "W0008"]
    assert warning.span.line == 1 and "cannot be built with its default arguments" in warning.message
    assert [label.span.line for label in warning.labels] == [3]
    fixed = source.replace("h: int = 3", "h: int = 2")
    assert not [d for d in attndsl.compile_source(fixed, "lang.attn").diagnostics if d.code == "W0008"]
    with_example = source.replace("    return x", "    example(d=9, x=[2, 9])\n    return x")
    assert not [d for d in attndsl.compile_source(with_example, "lang.attn").diagnostics if d.code == "W0008"]


def test_a_require_on_a_lets_name_spares_the_check_it_implies():
    """`require kd % h == 0` for `let kd = int(d * expand)`, then the same divisibility asked
    again as "splitting (h e) needs kd ... divisible by h"."""
    source = """\
block Dup(d: int = 8, expand: float = 0.5, h: int = 2):
    input x: [b, n, d]
    let kd = int(d * expand)
    require kd % h == 0, "kd must be divisible by h"
    layer proj = linear(d, kd)
    return rearrange(proj(x), "b n (h e) -> b h n e", h=h)
"""
    code = compile_ok(source)
    assert code.count("kd % h != 0") == 1 and "splitting" not in code


def test_a_divisor_an_if_on_a_let_keeps_nonzero_is_not_checked_under_it():
    """`if bands > 1: if bands == 1: raise`: the `if` on the let's name did not bound its value."""
    source = """\
block Dead(e: int = 5):
    input x: [b, n, e]
    let bands = (e - 1) // 2
    let step = 1 / (bands - 1) if bands > 1 else 0.0
    return x * step
"""
    code = compile_ok(source)
    assert "bands == 1" not in code and "step = 1 / (bands - 1) if bands > 1 else 0.0" in code
    for e in (1, 3, 5, 7):
        x = torch.randn(2, 3, e)
        bands = (e - 1) // 2
        torch.testing.assert_close(generated(source)(e=e)(x), x * (1 / (bands - 1) if bands > 1 else 0.0))


def test_a_reserved_name_is_refused_once_not_again_where_it_is_used():
    source = """\
block Names(c: int = 4, math: int = 2):
    input x: [b, c]
    let s = c * math
    return x / s
"""
    errors = [d for d in attndsl.compile_source(source, "lang.attn").diagnostics if d.is_error]
    assert [(d.code, d.span.line) for d in errors] == [("E0105", 1)]


def test_a_large_whole_fill_is_written_as_the_spec_writes_it():
    source = """\
block A():
    input x: [b, n]
    input m: bool[b, n]
    y = masked_fill(x, m, -1e9)
    return y + long(float(m)) * 2.5e8
"""
    code = compile_ok(source)
    assert "x.masked_fill(m, -1e9)" in code and "* 2.5e8" in code
    x, m = torch.randn(2, 3), torch.rand(2, 3) > 0.5
    torch.testing.assert_close(generated(source)()(x, m), x.masked_fill(m, -1e9) + m.long() * 2.5e8)
    assert generated(source)()(x, m).dtype == torch.float32  # an integer tensor times a float is float


@pytest.mark.parametrize("source, column, message", [
    ('block B(d: int = 4):\n    """never closed\n    input x: [b, d]\n    return x\n', 5,
     'this docstring is never closed: no """ after it'),
    ('block B(mode: str = "a):\n    input x: [b, d]\n    return x\n', 21, "this string is not closed on its line"),
])
def test_a_string_never_closed_is_said_to_be(source, column, message):
    """`unexpected character '"'`, at the third quote of the docstring's opening."""
    assert first_error(source)[1:] == (source.split("\n").index(next(l for l in source.split("\n") if '"' in l)) + 1,
                                       column, message)


def test_a_view_of_a_named_value_used_twice_goes_by_that_name():
    source = """\
block T():
    input q: [b, h, n, d]
    input m: bool[b, n]
    fm = rearrange(float(m), "b n -> b 1 n")
    q = q * unsqueeze(fm, -1)
    return q + q * unsqueeze(fm, -1) + unsqueeze(fm, 1)
"""
    code = compile_ok(source)
    assert "fm_2 = fm.unsqueeze(-1)" in code and "rearrange =" not in code


HEADS = """\
block W(d: int = 8, heads: int = 2, one: bool = false):
    input x: [b, n, d]
    let kv = d // heads if one else d
    q = rearrange(x, "b n (h e) -> b h n e", h=heads)
    k = rearrange(x[:, :, :kv], "b n (g e) -> b g n e", e=d // heads)
    a = q @ transpose(k, -1, -2)
    return rearrange(a @ k, "b h n e -> b n (h e)")
"""


def test_a_broadcast_of_heads_is_warned_of_once_at_the_tensors_axis():
    """The product's batch axes were counted from their own end (`dimension -1`, the heads'
    axis -3 of the tensors), and the next product warned again, its help a `max(...) *
    min(...)` of the first's size."""
    warnings = [d for d in attndsl.compile_source(HEADS, "w.attn").diagnostics if d.code == "W0006"]
    assert [(d.span.line, d.message.split(":")[0]) for d in warnings] == [
        (6, "broadcast dimension -3 pairs heads with heads*kv/d")]
    assert warnings[0].help == "if they must be equal, say so: `require heads == heads * kv // d`"


def test_a_size_the_checker_named_is_computed_once_in_init():
    code = compile_ok(HEADS)
    assert code.count("heads_out = max(") == 1, code
    for one in (False, True):
        module = generated(HEADS)(d=8, heads=2, one=one)
        x = torch.randn(2, 3, 8)
        q = x.reshape(2, 3, 2, 4).transpose(1, 2)
        k = x[:, :, : (4 if one else 8)].reshape(2, 3, -1, 4).transpose(1, 2)
        expected = ((q @ k.transpose(-1, -2)) @ k).transpose(1, 2).reshape(2, 3, -1)
        torch.testing.assert_close(module(x), expected)


def test_channels_given_as_the_last_dimension_are_warned_of():
    source = """\
block B(d: int = 8):
    input x: [b, n, d]
    layer bn = batch_norm1d(d)
    return bn(x)
"""
    (warning,) = [d for d in attndsl.compile_source(source, "b.attn").diagnostics if d.code == "W0009"]
    assert warning.span.line == 4 and "takes its channels from dim 1 (n)" in warning.message
    fixed = source.replace("return bn(x)", 'return rearrange(bn(rearrange(x, "b n d -> b d n")), "b d n -> b n d")')
    assert not [d for d in attndsl.compile_source(fixed, "b.attn").diagnostics if d.code == "W0009"]


def test_one_size_or_another_is_bracketed_within_a_term():
    source = """\
block Outer(d: int = 4, k: int = 2, flag: bool = false):
    input x: [b, n, d]
    example(x=[2, 6, 4])
    if flag:
        x = pad(x, [0, 0, 0, 2])
    return rearrange(x, "b (k m) d -> (b k) m d", k=k)
"""
    assert "# [b*k, (n + 2|n)/k, d]" in compile_ok(source)


POOLED_NORM = """\
block P(c: int = 4, norm_layer: layer = batch_norm2d):
    input x: [b, c, h, w]
    example(x=[2, 4, 5, 5])
    layer pool = adaptive_avg_pool2d((None, 1))
    layer bn = norm_layer(c)
    init bn.weight = constant(0.5)
    return bn(pool(x))
"""


def test_a_norm_kind_given_as_a_partial_is_checked_as_it_was_built():
    """`partial(nn.BatchNorm2d, track_running_stats=False)` normalises by the batch in eval too:
    the one-value check ran in training only, and torch refused `[1, c, 1, w]` in eval."""
    from functools import partial

    assert "if (self.training or not self.bn.track_running_stats) and b * h == 1:" in compile_ok(POOLED_NORM)
    one = torch.randn(1, 4, 1, 5)
    batch_only = generated(POOLED_NORM)(norm_layer=partial(torch.nn.BatchNorm2d, track_running_stats=False))
    with pytest.raises(ValueError, match="and in eval without running statistics"):
        batch_only.eval()(one)
    assert generated(POOLED_NORM)().eval()(one).shape == (1, 4, 1, 1)  # with running statistics, eval takes it


def test_an_init_of_a_parameter_a_partial_switches_off_is_skipped():
    """`partial(nn.BatchNorm2d, affine=False)` has no weight: `nn.init.constant_(None, 0.5)`
    failed in `__init__` (AttributeError)."""
    from functools import partial

    assert "if self.bn.weight is not None:\n            nn.init.constant_(self.bn.weight, 0.5)" in \
        compile_ok(POOLED_NORM)
    assert generated(POOLED_NORM)(norm_layer=partial(torch.nn.BatchNorm2d, affine=False)).bn.weight is None
    assert torch.all(generated(POOLED_NORM)().bn.weight == 0.5)


def test_an_optional_string_passed_on_to_a_block_that_tests_it():
    """An internal error (`'Expr' object has no attribute 'name'`): the caller's `mode: str |
    None` became the block's `mode == "a"`."""
    source = """\
block Inner(c: int, mode: str | None = None):
    input x: [b, c]
    if mode == "a":
        layer f = linear(c, c)
    else:
        layer f = identity()
    return f(x)

block Outer(c: int = 3, mode: str | None = None):
    input x: [b, c]
    example(x=[2, 3])
    layer inner = Inner(c, mode=mode)
    return inner(x)
"""
    for mode, kind in ((None, "Identity"), ("a", "Linear"), ("b", "Identity")):
        assert type(generated(source)(c=3, mode=mode).inner.f).__name__ == kind
        assert agree(source, {"c": 3, "mode": mode}, {"x": (2, 3)}) == "agree"


@pytest.mark.parametrize("function, words", [("nonzero", "only positions index"),
                                             ("index_select", "only positions index"),
                                             ("enumerate", "zips it with what varies per pass"),
                                             ("repeat_interleave", "`expand` a new axis of size `r`"),
                                             ("flip", "buffer rev = l - 1 - arange(l)"),
                                             ("glu", "a * sigmoid(g)")])
def test_a_function_the_language_lacks_says_what_to_write(function, words):
    source = f"block A():\n    input x: [b, n]\n    return {function}(x)\n"
    (error,) = [d for d in attndsl.compile_source(source, "a.attn").diagnostics if d.is_error]
    assert error.code == "E0102" and words in error.help, error.help


def test_an_element_of_a_layer_list_picked_by_an_index_says_to_loop():
    source = "block A(c: int = 4):\n    input x: [b, c]\n    layer fcs = [linear(c, c) for _ in range(2)]\n" \
             "    return fcs[0](x)\n"
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0113", 4) and "called in a loop over it, not picked by an index" in message


def test_a_split_whose_sizes_do_not_add_up_says_so_plainly():
    source = """\
block S(dim: int = 16):
    input x: [b, dim]
    a, c = split(x, [dim // 2, dim // 4], dim=1)
    return a
"""
    # `dim // 4 >= 1` (the second piece is not empty) teaches `dim >= 4`, where the sizes never
    # add up: an error now, not the module's check
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0201", 3) and "the sum of split()'s sizes and dimension 1" in message


AGENTS = """\
block A(agent_num: int = 4):
    input x: [b, c, h, w]
    example(x=[2, 3, 5, 5])
    let pool_size = int(sqrt(agent_num))
    REQUIRE
    layer pool = adaptive_avg_pool2d((pool_size, pool_size))
    param bias: [agent_num, 1] = zeros
    return rearrange(pool(x), "b c p q -> b c (p q) 1") + bias
"""


@pytest.mark.parametrize("require", ["require pool_size * pool_size == agent_num",
                                     "require int(agent_num ** 0.5) * int(agent_num ** 0.5) == agent_num"])
def test_a_require_that_two_sizes_are_equal_settles_their_broadcast(require):
    """Agent attention's `agent_num` pooled to a square: W0006 kept asking for the require it
    suggested, and forward kept checking the broadcast, once the spec said so."""
    bare = AGENTS.replace("    REQUIRE\n", "")
    assert [d.code for d in attndsl.compile_source(bare, "a.attn").diagnostics] == ["W0006"]
    source = AGENTS.replace("REQUIRE", require + ', "agent_num must be a square"')
    assert not [d for d in attndsl.compile_source(source, "a.attn").diagnostics if d.code == "W0006"]
    code = compile_ok(source)
    assert "broadcast dimension" not in code
    with pytest.raises(ValueError, match="agent_num must be a square"):
        generated(source)(agent_num=5)
    assert generated(source)(agent_num=9)(torch.randn(2, 3, 5, 5)).shape == (2, 3, 9, 1)
    assert agree(source, {"agent_num": 9}, {"x": (2, 3, 5, 5)}) == "agree"


def test_a_let_that_is_a_nonzero_number_on_every_branch_needs_no_zero_check():
    source = """\
block Z(dim: int = 8, order: int = 2):
    input x: [b, dim]
    let p = 1 if order == 1 else 2
    require dim % p == 0
    return x
"""
    code = compile_ok(source)
    assert "if p == 0:" not in code and "if dim % p != 0:" in code
    with pytest.raises(ValueError, match="dim % p == 0"):
        generated(source)(dim=7, order=2)
    assert generated(source)(dim=7, order=1)(torch.randn(2, 7)).shape == (2, 7)


TILES = """\
block Q(c: int = 4, scale: int = 2):
    input x: [b, c, h, w]
    layer pool = max_pool2d((scale, scale))
    layer proj = conv2d(c, c, 1)
    y = rearrange(pool(x), "b c hh ww -> b (hh ww) c")
    return proj(rearrange(y, "b (hh ww) c -> b c hh ww", hh=h // scale))
"""


@pytest.mark.parametrize("scale, h, w", [(2, 5, 7), (3, 9, 3), (1, 2, 2)])
def test_windows_that_tile_the_input_are_a_floor_division(scale, h, w):
    """A pool of kernel = stride = s (a patch embedding): `(h - s) // s + 1` was a named size
    `h'` unrelated to `h // s`, and the round trip through `(hh ww)` checked divisibility and a
    kernel fit that always hold."""
    code = compile_ok(TILES)
    assert "# [b, c, h // scale, w // scale]" in code and "%" not in code.split("def forward")[1]
    module = generated(TILES)(scale=scale).double()
    x = rand(2, 4, h, w)
    expected = module.proj(torch.nn.functional.max_pool2d(x, scale))
    torch.testing.assert_close(module(x), expected)
    assert agree(TILES, {"scale": scale}, {"x": (2, 4, h, w)}) == "agree"


def test_a_floor_division_of_a_floor_division_by_numbers_is_one():
    from attndsl import symbolic as sym
    from attndsl.symbolic import Expr

    h, s = Expr.symbol("h"), Expr.symbol("s")
    assert sym.floordiv(sym.floordiv(sym.floordiv(h, 2), 2), 2) == sym.floordiv(h, 8)
    assert sym.floordiv(sym.floordiv(h, 3), s) != sym.floordiv(h, 3 * s)  # s may be negative: left alone
    for value in range(-20, 21):
        assert (value // 2) // 3 == value // 6  # the identity, for negative numbers too


@pytest.mark.parametrize("source, words", [
    ("block A(h: int = 3):\n    input x: [b, c, 1, 1]\n    return expand(x, -1, -1, h, 5)\n",
     "give `sizes` as one tuple: `expand(..., (-1, -1, h, 5))`"),
    ("block A(order: int = 3, dim: int = 8):\n    input x: [b, dim]\n    let dims = [dim // 2 for i in range(order)]\n"
     "    return x\n", "declare it an argument (`dims: list[int] = [...]`)"),
    ("block A():\n    input x: [b, n]\n    return exp(rfft(x))\n", "exp and the other functions of complex numbers"),
])
def test_what_torch_code_writes_otherwise_is_said_how_to_write(source, words):
    (error,) = [d for d in attndsl.compile_source(source, "a.attn").diagnostics if d.is_error]
    assert words in (error.help or ""), (error.message, error.help)


def test_an_initialisers_need_is_said_in_its_own_words():
    """`uniform(-std, std)` asked "2*std must not be negative" (the math of b - a)."""
    source = """\
block A(d: int = 4, s: float = 1.0):
    input x: [b, d]
    layer fc = linear(d, d)
    let std = d ** -0.5 * s
    init fc.weight = uniform(-std, std)
    return fc(x)
"""
    assert "2*std" not in compile_ok(source)
    with pytest.raises(ValueError, match=r"uniform\(\): `a` must be at most `b`, with std = -0.5"):
        generated(source)(s=-1.0)


def test_a_calls_shape_is_shown_in_the_callers_names_case_by_case():
    """A block whose `if` changes its output: the caller's comment read `[b, ((-H) // k)*((-W)
    // k)|n, d]`, the callee's own names and a ceiling written as a floor of negatives."""
    source = """\
block Inner(k: int = 2):
    input x: [b, n, d]
    input H: int
    input W: int
    example(k=2, x=[1, 16, 4], H=4, W=4)
    if k > 1:
        y = rearrange(x, "b (hh ww) c -> b c hh ww", hh=H, ww=W)
        x = rearrange(y[:, :, ::k, ::k], "b c hh ww -> b (hh ww) c")
    return x


block Outer(k: int = 2):
    input x: [b, d, h, w]
    example(k=2, x=[1, 4, 4, 4])
    layer inner = Inner(k)
    t = rearrange(x, "b c h w -> b (h w) c")
    return inner(t, h, w)
"""
    assert "# [b, ceil(h/k)*ceil(w/k)|h*w, d]" in compile_ok(source)
    for k, size in ((2, 4), (3, 4), (1, 16)):
        assert generated(source)(k=k)(torch.randn(1, 4, 4, 4)).shape == (1, size, 4)


def test_a_ceiling_is_shown_as_one_in_shapes_and_messages():
    import math

    from attndsl import symbolic as sym
    from attndsl.symbolic import Expr

    h, w, k = Expr.symbol("h"), Expr.symbol("w"), Expr.symbol("k")
    ceiling = sym.ceildiv(h, k)
    cases = {ceiling: "ceil(h/k)", ceiling * sym.ceildiv(w, k): "ceil(h/k)*ceil(w/k)", 1 - ceiling: "1 - ceil(h/k)",
             -2 * ceiling: "-2*ceil(h/k)", ceiling + 1: "ceil(h/k) + 1"}
    for expr, shown in cases.items():
        assert sym.render(expr, str, style="math") == shown
        for values in ({"h": 5, "w": 7, "k": 2}, {"h": 1, "w": 3, "k": 3}, {"h": -3, "w": 2, "k": 2}):
            python = eval(sym.render(expr, str, style="python"), dict(values))
            assert eval(shown.replace("ceil", "math.ceil"), {"math": math, **values}) == python


def test_a_masking_step_under_its_own_if_is_not_nested_in_the_plain_paths():
    """The plain form of a fusable attention runs under `if causal or keep given:`; a step under
    `if causal:` was written inside both, `if self.causal: if self.causal or keep is not None:`,
    and its mask named `eq`."""
    source = """\
block Spec(d: int = 8, h: int = 2, causal: bool = false):
    input x: [b, n, d]
    input keep: bool[b, n] = None
    q = rearrange(x, "b n (h e) -> b h n e", h=h)
    att = q @ transpose(q, -1, -2)
    if causal:
        att = masked_fill(att, triu(ones([n, n]), diagonal=1) == 1, -1e9)
    if keep:
        att = masked_fill(att, not keep[:, None, None, :], -1e9)
    return softmax(att, dim=-1) @ q
"""
    code = compile_ok(source)
    assert re.search(r"        if self.causal:\n(            # .*\n)?            att = att.masked_fill\(", code)
    assert "self.causal or keep is not None:\n                att" not in code and "eq =" not in code
    for causal in (False, True):
        module = generated(source)(causal=causal).double()
        plain = generated(source, optimize=False)(causal=causal).double()
        x, keep = rand(2, 5, 8), torch.rand(2, 5) > 0.3
        keep[:, 0] = True
        for mask in (None, keep):
            torch.testing.assert_close(module(x, mask), plain(x, mask))
