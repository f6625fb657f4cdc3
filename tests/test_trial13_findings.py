"""What porting trial 13 found (LeViT, Twins, CSWin, CCNet, GRN, EfficientFormer's
Attention4D; Linformer, Nyströmformer, T5, Transformer-XL, Performer; an adversarial probe
of sub-blocks, layer lists, kinds and loops), each pinned here.

Wrong values: a size written `ceil(n / 2)` in forward was rendered `math.ceil(n // 2)` (one
column short for odd n), and so was a real number under `sqrt`, `int`, `round` and `floor`.
"""

from __future__ import annotations

import math

import pytest
import torch

from .language_support import agree, build, compile_ok, rand


@pytest.mark.parametrize("size, want", [
    ("ceil(n / 2)", lambda n: math.ceil(n / 2)),
    ("floor((n + 1) / 3)", lambda n: (n + 1) // 3),
    ("int(2 * n / 3)", lambda n: int(2 * n / 3)),
    ("round(n / 4) + 1", lambda n: round(n / 4) + 1),
])
def test_a_size_under_ceil_or_floor_is_a_real_division(size, want):
    source = f"""
block A():
    input x: [b, n]
    return x[:, :{size}]
"""
    code = compile_ok(source)
    assert "n // " not in code.split("def forward")[1]
    module = build(source)
    for n in range(1, 12):
        if want(n) < 1 or want(n) > n:
            continue
        x = rand(2, n, seed=n)
        torch.testing.assert_close(module(x), x[:, :want(n)])
        agree(source, {}, {"x": [2, n]})


def test_an_interpolated_size_under_ceil_is_exact():
    source = """
block A():
    input x: [b, c, h, w]
    return interpolate(x, size=[h, ceil(w / 3)], mode="nearest")
"""
    module = build(source)
    for w in (3, 7, 8, 9):
        assert module(rand(1, 1, 2, w)).shape[-1] == math.ceil(w / 3)


def test_a_square_root_of_a_fraction_is_not_floored():
    """`sqrt(c / 2)` of an odd c: the root of 1.5, not of 1."""
    source = """
block A(c: int):
    input x: [b, c]
    return x * sqrt(c / 2)
"""
    x = rand(2, 3)
    torch.testing.assert_close(build(source, c=3)(x), x * math.sqrt(1.5))


def test_a_size_every_world_agrees_on_is_shown_as_it_is():
    """Rows `q` whatever `mems` is: not `(m + q|q) - m|m + q|q`, the joined walk's join of
    joins; where the worlds differ, the name the join was given (`m + q|q`)."""
    code = compile_ok("""
block MemSlice():
    input w: [q, d]
    input mems: [m, d] = None
    if mems:
        c = cat([mems, w], dim=0)
    else:
        c = w
    x = c
    if mems:
        x = x[m:]
    y = x * 2.0
    return y @ transpose(c, 0, 1)
""")
    assert "return y @ c.transpose(0, 1)  # [q, m + q|q]" in code


def test_a_condition_on_none_is_said_in_words():
    from .language_support import first_error

    code, _, _, message = first_error("""
block A(c: int = 4, stride: int | None = None):
    input x: [b, c, h, w]
    if stride is not None:
        layer down = conv2d(c, c, 3, stride=stride, padding=1)
    y = x
    if stride is not None:
        y = down(x)
    if stride is not None:
        y = interpolate(y, scale_factor=stride, mode="bilinear")
    return y
""")
    assert code == "E0115" and message.endswith("(when `stride` is not None)"), message


def test_an_unknown_layer_kind_is_not_said_to_be_the_block_itself():
    import attndsl

    result = attndsl.compile_source("""
block EmbeddingLayer(num_buckets: int = 32, heads: int = 4):
    input x: [b, h, n, n]
    layer relative_attention_bias = embedding(num_buckets, heads)
    return x
""", "lang.attn")
    (error,) = [d for d in result.diagnostics if d.is_error]
    assert error.code == "E0102" and "EmbeddingLayer" not in (error.help or "")


@pytest.mark.parametrize("source", [
    "    y = x\n    if false:\n        y = no_such_op(x) @ undefined_name\n    return y\n",
    "    return no_such_op(x, 42) if false else x\n",
    "    y = x\n    if 2 <= 2:\n        y = x * 2\n    else:\n        y = x @ x @ cat([x], dim=7)\n    return y\n",
])
def test_a_branch_that_never_runs_is_said_to_be_unchecked(source):
    """A typo in an `if false:` branch compiled silently (trial 13b): the branch is still not
    compiled, but the author is told so."""
    import attndsl

    result = attndsl.compile_source("block A():\n    input x: [b, n]\n" + source, "lang.attn")
    assert result.ok
    assert [d.code for d in result.diagnostics] == ["W0010"]


def test_a_rank_arguments_branches_are_not_said_to_never_run():
    import attndsl
    from tests.mechanisms import REPO_ROOT

    result = attndsl.compile_source((REPO_ROOT / "specs" / "non_local.attn").read_text(), "non_local.attn")
    assert "W0010" not in [d.code for d in result.diagnostics]


T5_BIAS = """
block T5Bias(num_buckets: int = 32, heads: int = 4, k: int = 31):
    input x: [b, heads, n, n]
    param relative_attention_bias: [num_buckets, heads] = normal()
    rel = arange(n)[None, :] - arange(n)[:, None]
    bucket = clamp(rel + num_buckets // 2, min=0, max=k)
    bias = relative_attention_bias[bucket]
    return x + rearrange(bias, "i j h -> 1 h i j")
"""


def test_an_index_clamped_to_the_table_looks_it_up():
    """T5's relative-position buckets are computed in forward, from the length: clamped to
    [0, k] they index a table of more than k rows (trial 13a could not write it)."""
    module = build(T5_BIAS, num_buckets=8, heads=2, k=7)
    x = rand(1, 2, 11, 11)
    rel = torch.arange(11)[None, :] - torch.arange(11)[:, None]
    table = module.relative_attention_bias
    want = x + table[(rel + 4).clamp(0, 7)].permute(2, 0, 1)[None]
    torch.testing.assert_close(module(x), want)
    for n in (1, 5, 11):
        agree(T5_BIAS, {"num_buckets": 8, "heads": 2, "k": 7}, {"x": [1, 2, n, n]})


@pytest.mark.parametrize("k, message", [(-1, "must be at least 0"), (8, "must be less than that size")])
def test_an_index_clamped_outside_the_table_is_refused_when_built(k, message):
    with pytest.raises(ValueError, match=message):
        build(T5_BIAS, num_buckets=8, heads=2, k=k)


@pytest.mark.parametrize("clamped, code", [
    ("clamp(arange(n), max=m - 1)", "E0204"),  # no least value: a negative one would wrap
    ("clamp(arange(n) - 5, min=-1, max=m - 1)", "E0204"),
    ("clamp(x, min=0, max=m - 1)", "E0209"),  # a float tensor is no index
])
def test_an_index_clamped_without_a_floor_of_zero_is_refused(clamped, code):
    from .language_support import first_error

    source = f"""
block A(m: int = 5):
    input x: [b, n]
    param table: [m, 2] = normal()
    i = {clamped}
    return table[i]
"""
    assert first_error(source)[0] == code


def test_a_whole_quotient_stays_whole_once_its_divisor_is_known_equal_to_another_size():
    """`c % g == 0`, then `g == n` (the zip): c/n is whole as c/g is, so the element conv's
    `c/g == c // g` and a second `c % g` check (with another message) are gone (trial 13d)."""
    source = """
block Z(c: int, g: int, n: int):
    input x: [b, c, h]
    layer convs = [conv1d(c // g, c // g, 1) for _ in range(n)]
    xs = rearrange(x, "b (g c) h -> g b c h", g=g)
    outs = []
    for conv, t in zip(convs, xs):
        outs.append(conv(t))
    return rearrange(stack(outs, dim=0), "g b c h -> b (g c) h")
"""
    code = compile_ok(source)
    assert "c // g != c // g" not in code and code.count("c % g != 0") == 1
    module = build(source, c=6, g=3, n=3)
    x = rand(2, 6, 4)
    convs = module.convs
    want = torch.cat([convs[i](x[:, 2 * i:2 * i + 2]) for i in range(3)], dim=1)
    torch.testing.assert_close(module(x), want)
    with pytest.raises(ValueError, match="divisible"):
        build(source, c=7, g=3, n=3)


def test_elements_of_differing_widths_get_no_help_about_conv_padding():
    import attndsl

    result = attndsl.compile_source("""
block C(d: int, n: int):
    input x: [b, d]
    layer fcs = [linear(d, d * (i + 1)) for i in range(n)]
    return cat([f(x) for f in fcs], dim=1)
""", "lang.attn")
    (error,) = [d for d in result.diagnostics if d.is_error]
    assert error.code == "E0201" and "padding" not in error.help and "kernel" not in error.help


@pytest.mark.parametrize("size, columns", [("ceil(19 / 2)", 10), ("floor(-(7 // 2) / 2)", -2), ("round(5 / 2)", 2)])
def test_a_quotient_of_whole_constants_is_folded_when_compiled(size, columns):
    """`ceil(19 / 2)` is 10 when the spec is compiled, as `10` would be: a slice past 9 columns is
    refused then, not by every `__init__` (trial 13h)."""
    import attndsl

    result = attndsl.compile_source(f"block A():\n    input x: [b, 9]\n    return x[:, :{size}]\n", "lang.attn")
    errors = [d.code for d in result.diagnostics if d.is_error]
    if columns > 9:
        assert errors == ["E0204"]
        return
    assert not errors and f"x[:, :{columns}]" in result.code
    x = rand(2, 9)
    torch.testing.assert_close(build(f"block A():\n    input x: [b, 9]\n    return x[:, :{size}]\n")(x), x[:, :columns])


def test_a_size_a_branch_changes_is_not_commented_as_one():
    """`proj(x)` after a loop of convs padded by `k // 2`: rows `n'` where `use_conv`, `h`
    where not; its comment said `h` for both (trial 13d)."""
    code = compile_ok("""
block Br(c: int, use_conv: bool = true, k: int = 3, n: int = 2):
    input x: [b, c, h, w]
    example(c=2, x=[1, 2, 5, 5])
    if use_conv:
        let kk = k
        let pad = k // 2
        layer proj = conv2d(c, c, kk, padding=pad)
    else:
        let kk = 1
        let pad = 0
        layer proj = conv2d(c, 2 * c, 1)
    layer extra = [conv2d(c, c, kk, padding=pad) for _ in range(n)]
    for e in extra:
        x = e(x) + x
    return proj(x)
""")
    assert "# [b, c|2*c, n'|h, n''|w]" in code and "# [b, c|2*c, h, w]" not in code


CLAMPED_ON_BRANCHES = """
block A(m: int = 5, k: int = 3, use: bool = true):
    input x: [b, n]
    param table: [m, 2] = normal()
    i = clamp(arange(n) - 1, min=0, max=m - 1)
    if use:
        i = clamp(arange(n) + 1, min=0, max=k)
    return x[:, :1] * sum(table[i], dim=0)
"""


def test_an_index_clamped_on_both_branches_of_an_if_indexes():
    """Each branch clamps the index: it indexes, bounded by the larger `max` (trial 13h)."""
    for use in (False, True):
        module = build(CLAMPED_ON_BRANCHES, m=5, k=3, use=use)
        x = rand(2, 7)
        i = (torch.arange(7) + 1).clamp(0, 3) if use else (torch.arange(7) - 1).clamp(0, 4)
        torch.testing.assert_close(module(x), x[:, :1] * module.table[i].sum(dim=0))
        agree(CLAMPED_ON_BRANCHES, {"m": 5, "k": 3, "use": use}, {"x": [2, 7]})
    with pytest.raises(ValueError, match="less than that size"):
        build(CLAMPED_ON_BRANCHES, m=5, k=5)


def test_an_index_clamped_on_one_branch_only_does_not_index():
    from .language_support import first_error

    source = CLAMPED_ON_BRANCHES.replace("i = clamp(arange(n) - 1, min=0, max=m - 1)", "i = arange(n) - 1")
    assert first_error(source)[0] == "E0113"
