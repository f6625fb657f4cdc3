"""Blocks generic over the rank of their input: `input x: [b, c, *spatial[dimension]]`, layers
of that rank (`conv{dimension}d`), `unflatten(y, 2, spatial)`; the checker walks each rank
as a world of its own. Also a layer declared on each branch of an `if` and used after it
(NonLocalBlockND's `W`, a conv + BatchNorm or a conv), and `init W[1].weight` by position."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import attndsl

from .language_support import agree, build, compile_ok, first_error, generated, rand

# A 1x1 conv of the input's rank, then a pool over every spatial axis, back to the input's size.
POINTWISE = """\
block Pointwise(c: int = 4, dimension: int = 2):
    input x: [b, c, *spatial[dimension]]
    layer proj = conv{dimension}d(c, 2 * c, 1)
    layer pool = max_pool{dimension}d(2)
    y = flatten(pool(proj(x)), 2)
    return y
"""


def test_the_module_is_written_once_for_every_rank():
    code = compile_ok(POINTWISE)
    assert "conv_nd = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dimension]" in code
    assert "self.proj = conv_nd(c, 2 * c, 1)" in code
    assert "if x.dim() != self.dimension + 2" in code
    assert "[b, c, *spatial]" in code  # shapes in the docstring and messages read at any rank


@pytest.mark.parametrize("dimension, shape", [(1, (2, 4, 6)), (2, (2, 4, 6, 4)), (3, (2, 4, 2, 4, 6))])
def test_each_rank_computes_what_torch_does(dimension, shape):
    module = build(POINTWISE, dimension=dimension)
    x = rand(*shape)
    conv = getattr(F, f"conv{dimension}d")
    pool = getattr(F, f"max_pool{dimension}d")
    torch.testing.assert_close(module(x), pool(conv(x, module.proj.weight, module.proj.bias), 2).flatten(2))
    assert agree(POINTWISE, {"dimension": dimension}, {"x": shape}) == "agree"


def test_the_rank_is_checked_when_built_and_when_called():
    with pytest.raises(ValueError, match="`dimension` must be 1, 2 or 3"):
        generated(POINTWISE)(dimension=4)
    module = build(POINTWISE, dimension=3)
    with pytest.raises(ValueError, match=r"x must be a \(2 \+ dimension\)-d floating-point tensor"):
        module(rand(2, 4, 6, 6))
    # each rank's own needs: the pool needs 2 positions along every axis of that rank
    with pytest.raises(ValueError, match="kernel must fit"):
        module(rand(2, 4, 1, 4, 4))


def test_arguments_may_test_the_rank():
    # (1, 2, 2) at rank 3, 2 below: decided per rank by the checker, computed as written
    source = POINTWISE.replace("max_pool{dimension}d(2)", "max_pool{dimension}d((1, 2, 2) if dimension == 3 else 2)")
    code = compile_ok(source)
    assert "max_pool_nd((1, 2, 2) if dimension == 3 else 2)" in code
    assert build(source, dimension=3)(rand(2, 4, 3, 4, 4)).shape == (2, 8, 3 * 2 * 2)
    assert agree(source, {"dimension": 3}, {"x": (2, 4, 3, 4, 4)}) == "agree"


def test_an_error_of_one_rank_names_it():
    source = POINTWISE.replace("max_pool{dimension}d(2)", "max_pool{dimension}d((2, 2))")
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0112", 4) and "dimension == 1" in message


def test_unflatten_gives_the_pack_back():
    source = """\
block Back(c: int = 4, dimension: int = 1):
    input x: [b, c, *spatial[dimension]]
    return unflatten(softmax(flatten(x, 2), dim=-1), 2, spatial)
"""
    assert ".unflatten(2, spatial)" in compile_ok(source) and "b, _, *spatial = x.shape" not in compile_ok(source)
    for dimension, shape in [(1, (2, 4, 5)), (3, (2, 4, 2, 3, 2))]:
        x = rand(*shape)
        torch.testing.assert_close(build(source, dimension=dimension)(x), x.flatten(2).softmax(-1).reshape(shape))
        assert agree(source, {"dimension": dimension}, {"x": shape}) == "agree"


@pytest.mark.parametrize("body, code, line", [
    ("    input x: [b, *spatial[dimension], c]\n    return x", "E0113", 2),  # not last
    ("    input x: [b, c, *spatial[3]]\n    return x", "E0113", 2),  # not an argument
    ("    input x: [b, c, *spatial[dimension]]\n    input y: [b, *other[dimension]]\n    return x", "E0113", 3),
    ("    input x: [b, c, *spatial[dimension]]\n    layer f = linear{dimension}d(c, c)\n    return x", "E0102", 3),
    ("    input x: [b, c, *spatial[dimension]]\n    layer f = conv{c}d(c, c, 1)\n    return f(x)", "E0113", 3),
    ("    input x: [b, c, *spatial[dimension]]\n    return expand(x, spatial)", "E0113", 3),
    ("    input x: [b, c, *spatial[dimension]]\n    spatial = x * 2\n    return spatial", "E0103", 3),
])
def test_misuses_are_diagnostics(body, code, line):
    source = f"block B(c: int = 4, dimension: int = 2):\n{body}\n"
    assert first_error(source)[:2] == (code, line)


def test_the_default_rank_must_be_a_rank():
    code, _, _, message = first_error("block B(dimension: int = 4):\n    input x: [b, *spatial[dimension]]\n"
                                      "    return x\n")
    assert code == "E0113" and "must be one of 1, 2, 3" in message


# ---------------------------------------------------------------------------- branches
BRANCHES = """\
block Head(c: int = 4, norm: bool = true):
    input x: [b, c, h, w]
    if norm:
        layer W = sequential(conv2d(c, c, 1), batch_norm2d(c))
        init W[1].weight = zeros()
    else:
        layer W = conv2d(c, 2 * c, 1)
    return W(x)
"""


def test_a_layer_declared_on_each_branch_is_used_after_the_if():
    code = compile_ok(BRANCHES)
    assert "nn.init.zeros_(self.W[1].weight)" in code
    with_norm, without = build(BRANCHES), build(BRANCHES, norm=False)
    x = rand(2, 4, 3, 3)
    assert with_norm(x).shape == (2, 4, 3, 3) and without(x).shape == (2, 8, 3, 3)  # each world its own shape
    torch.testing.assert_close(with_norm(x), with_norm.W[1].bias.view(1, 4, 1, 1).expand(2, 4, 3, 3))
    for norm in (True, False):
        assert agree(BRANCHES, {"norm": norm}, {"x": (2, 4, 3, 3)}) == "agree"


def test_each_branch_s_layer_is_checked_where_it_is_used():
    # 2*c channels against c when `norm` is false: equal or 1 (c == 1), so a check there
    source = BRANCHES.replace("    return W(x)", "    return W(x) + x")
    code = compile_ok(source)
    assert "if not norm:\n            if 2 * c != c and 2 * c != 1 and c != 1:" in code
    assert "# [b, c|2*c, h, w]" in code  # the comment shows both branches' sizes
    with pytest.raises(ValueError, match="2\\*c and c must be equal or 1"):
        generated(source)(norm=False)
    assert generated(source)(c=1, norm=False)(rand(2, 1, 3, 3).float()).shape == (2, 2, 3, 3)


def test_a_child_by_position_must_exist():
    source = BRANCHES.replace("init W[1].weight", "init W[2].weight")
    assert first_error(source)[:2] == ("E0120", 5)


# ---------------------------------------------------------------------------- as a layer
NESTED = POINTWISE + """
block Video(c: int = 4):
    input x: [b, c, t, h, w]
    layer inner = Pointwise(c, 3)
    return inner(x)

block Any(c: int = 4, dimension: int = 1):
    input x: [b, c, *spatial[dimension]]
    layer inner = Pointwise(c, dimension)
    layer plain = Pointwise(c)
    return inner(x)
"""


def test_a_block_generic_over_rank_is_a_layer_of_the_rank_it_is_given():
    video = build(NESTED, "Video")
    x = rand(2, 4, 2, 4, 4)
    inner = video.inner
    expected = F.max_pool3d(F.conv3d(x, inner.proj.weight, inner.proj.bias), 2).flatten(2)
    torch.testing.assert_close(video(x), expected)
    for dimension, shape in [(1, (2, 4, 6)), (3, (2, 4, 2, 2, 4))]:  # the caller's own rank, passed on
        module = build(NESTED, "Any", dimension=dimension)
        pooled = 1
        for size in shape[2:]:
            pooled *= size // 2
        assert module(rand(*shape)).shape == (2, 8, pooled)
        assert type(module.plain.proj) is torch.nn.Conv2d  # its default rank
        assert agree(NESTED, {"dimension": dimension}, {"x": shape}) == "agree"


def test_a_rank_from_another_argument_is_checked_for_each_value():
    # `r` gives the inner block's rank: each value is a world; r = 3 needs a 5-d input
    source = POINTWISE + "\nblock Outer(c: int = 4, r: int = 2):\n    input x: [b, c, h, w]\n" \
        "    layer inner = Pointwise(c, r)\n    return inner(x)\n"
    result = attndsl.compile_source(source, "lang.attn")
    errors = {(d.code, d.span.line, d.message) for d in result.diagnostics if d.is_error}
    for rank, value in ((5, 3), (3, 1)):  # (a world where r is two values at once is none)
        assert ("E0202", 11, f"block Pointwise's input `x` has rank {rank}, got a tensor of shape [b, c, h, w] "
                f"(when `r == {value}` is true)") in errors, errors
    fixed = source.replace("    layer inner", "    require r == 2\n    layer inner")
    assert build(fixed, "Outer")(rand(2, 4, 4, 4)).shape == (2, 8, 4)


def test_a_check_on_the_pack_reads_as_the_code_does():
    source = """\
block B(c: int = 4, dimension: int = 2):
    input x: [b, c, *spatial[dimension]]
    return unflatten(flatten(x, 1), 1, spatial)
"""
    with pytest.raises(ValueError, match=r"splits into `spatial` must agree, but spatial\[0\]\*spatial\[1\]\*c = 36"):
        build(source)(rand(2, 4, 3, 3))
    assert build(source, c=1, dimension=3)(rand(2, 1, 2, 3, 4)).shape == (2, 2, 3, 4)
    assert agree(source, {"c": 4}, {"x": (2, 4, 3, 3)}) == "both refused (eval)"
