"""What trial 13's probe of composition found (layer kinds, layer lists, sequentials),
each pinned here.

Wrong values: an activation given as `functools.partial(nn.ReLU, inplace=True)` was
checked only when it was a layer of its own; in a layer list, a sequential or a
sequential's loop it wrote over the caller's input (and a literal `relu(inplace=true)` in
a sequential's loop was not checked at all).
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

import attndsl

from .language_support import first_error, generated

IN_PLACE = functools.partial(nn.ReLU, inplace=True)


@pytest.mark.parametrize("spec", [
    # a layer list: each element is called on x, which is read again
    """
block K(d: int, act_layer: layer = relu):
    input x: [b, d]
    layer acts = [act_layer() for _ in range(2)]
    for a in acts:
        x = x + a(x)
    return x
""",
    # a sequential whose first child is the caller's activation
    """
block K(d: int, act_layer: layer = relu):
    input x: [b, d]
    layer s = sequential(act_layer(), linear(d, d))
    return x + s(x)
""",
    # named children, after a dropout that passes its input on
    """
block K(d: int, act_layer: layer = relu):
    input x: [b, d]
    layer s = sequential(drop=dropout(0.1), act=act_layer(), fc=linear(d, d))
    return x + s(x)
""",
    # children added in a loop: the first pass's activation is given x
    """
block K(d: int, n: int = 2, act_layer: layer = relu):
    input x: [b, d]
    layer s = sequential:
        for i in range(n):
            act{i} = act_layer()
            fc{i} = linear(d, d)
    return x + s(x)
""",
    # after a sigmoid, whose output autograd keeps
    """
block K(d: int, act_layer: layer = gelu):
    input x: [b, d]
    layer s = sequential(linear(d, d), sigmoid(), act_layer())
    return s(x)
""",
])
def test_an_in_place_kind_is_refused_wherever_it_is_built(spec):
    block = generated(spec)
    block(4)  # the default does not work in place
    with pytest.raises(ValueError, match="`act_layer` must not work in place"):
        block(4, act_layer=IN_PLACE)


def test_an_in_place_kind_after_a_fresh_layer_is_built():
    block = generated("""
block K(d: int, act_layer: layer = relu):
    input x: [b, d]
    layer s = sequential(linear(d, d), act_layer())
    return x + s(x)
""")
    x = torch.randn(2, 4)
    before = x.clone()
    block(4, act_layer=IN_PLACE)(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("body, output, want", [
    ("a{i} = relu(inplace=true)\n            fc{i} = linear(d, d)", "x + s(x)", "`x` is an input of the block"),
    ("s{i} = sigmoid()\n            a{i} = relu(inplace=true)", "s(x * 2)", "over the output of a sigmoid layer"),
])
def test_a_literal_in_place_child_of_a_loop_is_checked(body, output, want):
    code, _, _, message = first_error(f"""
block K(d: int, n: int):
    input x: [b, d]
    layer s = sequential:
        for i in range(n):
            {body}
    return {output}
""")
    assert code == "E0211" and want in message


COLLIDING = """
block N(d: int, n: int = 12, m: int = 3):
    input x: [b, d]
    layer s = sequential:
        for i in range(n):
            a{i} = linear(d, d)
        for j in range(m):
            a1{j} = linear(d, d)
    return s(x)
"""


@pytest.mark.parametrize("ranges", [("n", "m"), ("12", "3"), ("n", "3"), ("12", "m")])
def test_names_from_two_loops_that_may_meet_are_refused(ranges):
    """`a{i}` and `a1{j}` both name `a10`: add_module kept the later child only."""
    spec = COLLIDING.replace("range(n)", f"range({ranges[0]})").replace("range(m)", f"range({ranges[1]})")
    code, line, column, message = first_error(spec)
    assert (code, line, column) == ("E0103", 8, 13) and "`a1{j}` may have the name of `a{i}`" in message


@pytest.mark.parametrize("first, second, children", [
    (("i", "range(9)", "a{i}"), ("j", "range(3)", "a1{j}"), 12),  # a0..a8, a10..a12
    (("i", "range(3)", "x{i}"), ("j", "range(3, 6)", "x{j + 3}"), 6),  # x0..x2, x6..x8
    (("i", "range(n)", "fc{i}"), ("j", "range(n)", "fc{j}_bn"), 8),
    (("i", "range(2, n)", "a{i}b2c"), ("j", "range(n)", "a1b{j}c"), 6),  # a1b2c needs i = 1
])
def test_names_from_two_loops_that_cannot_meet_are_kept(first, second, children):
    loops = "".join(f"""
        for {var} in {loop}:
            {name} = linear(d, d)""" for var, loop, name in (first, second))
    module = generated(f"""
block N(d: int = 2, n: int = 4):
    input x: [b, d]
    layer s = sequential:{loops}
    return s(x)
""")()
    assert len(module.s) == children


TO_REQUIRED = """
block Inner(d: int, act_layer: layer = relu):
    input x: [b, d]
    layer act = act_layer()
    return act(x)

block Outer(d: int, act_layer: layer | None = gelu):
    input x: [b, d]
    layer inner = Inner(d, act_layer=act_layer)
    return inner(x)
"""


def test_an_optional_kind_passed_where_none_is_not_taken_is_refused():
    """`Outer(4, act_layer=None)` failed in Inner's __init__; an optional number is E0106."""
    code, line, column, message = first_error(TO_REQUIRED)
    assert (code, line, column) == ("E0106", 9, 38) and "`act_layer` may be None here" in message


def test_an_optional_kind_passed_under_a_test_is_built():
    guarded = TO_REQUIRED.replace("""    layer inner = Inner(d, act_layer=act_layer)
    return inner(x)""", """    if act_layer is not None:
        layer inner = Inner(d, act_layer=act_layer)
        x = inner(x)
    return x""")
    block = generated(guarded)
    x = torch.randn(2, 4)
    assert torch.equal(block(4, act_layer=None)(x), x)
    assert torch.equal(block(4, act_layer=nn.ReLU)(x), x.relu())


PASSED_ON = """
block Inner(d: int, norm_layer: layer[layer_norm] | None = None):
    input x: [b, d]
    if norm_layer is not None:
        layer norm = norm_layer(d)
        x = norm(x)
    return x

block Outer(d: int, norm_layer: layer[layer_norm] | None = None):
    input x: [b, d]
    layer inner = Inner(d, norm_layer=norm_layer)
    return inner(x)
"""


def test_an_optional_kind_is_passed_on_to_one_alike():
    """It was E0112 "`norm_layer` (a None kind) cannot be ...": its default was read, not its type."""
    block = generated(PASSED_ON)
    x = torch.randn(2, 4)
    assert torch.equal(block(4)(x), x)
    assert block(4, norm_layer=nn.LayerNorm).inner.norm.normalized_shape == (4,)


def test_a_kind_of_another_family_is_named_in_plain_words():
    spec = PASSED_ON.replace("block Outer(d: int, norm_layer: layer[layer_norm]", "block Outer(d: int, norm_layer: "
                             "layer[batch_norm1d]")
    code, _, _, message = first_error(spec)
    assert code == "E0112" and "`norm_layer` (one of batch_norm1d's family) cannot be" in message
    code, _, _, message = first_error(spec.replace("layer[batch_norm1d] | None", "layer | None"))
    assert code == "E0112" and "may be any kind (neither its type nor its default names one)" in message


def _first_help(source: str) -> tuple[str, int, int, str, str]:
    """(code, line, column, message, help) of the first error the spec gives."""
    error = next(d for d in attndsl.compile_source(source, "lang.attn").diagnostics if d.is_error)
    return error.code, error.span.line, error.span.column, error.message, error.help or ""


@pytest.mark.parametrize("keyword", ["if use_bn:", "else:"])
def test_a_condition_in_a_sequential_body_says_how_to_write_it(keyword):
    """It was E0002 "unexpected 'use_bn'", expected '=', '{'."""
    code, line, column, message, help = _first_help(f"""
block S(c: int, n: int, use_bn: bool = true):
    input x: [b, c, h, w]
    layer s = sequential:
        for i in range(n):
            conv_{{i}} = conv2d(c, c, 3, padding=1)
            {keyword}
                bn_{{i}} = batch_norm2d(c)
    return s(x)
""")
    assert (code, line, column) == ("E0002", 7, 13)
    assert "conditions are not allowed in a sequential body" in message
    assert "one sequential for each case" in help and "`layer s = sequential:`" in help


SIZES_TO_A_LAYER = """
block GridT(d: int):
    input x: [b, n, d]
    input hw: sizes[p, q]
    return rearrange(rearrange(x, "b (h w) d -> b d h w", h=p, w=q), "b d h w -> b (h w) d")

block Outer(d: int):
    input x: [b, n, d]
    input hw: sizes[p, q]
    layer g = GridT(d)
    return g(x, hw)
"""


@pytest.mark.parametrize("call", ["g(x, hw)", "g(x, p, q)"])
def test_a_block_with_a_sizes_input_as_a_layer_has_one_message(call):
    """`g(x, hw)` said "use the names of its sizes", `g(x, p, q)` "a layer's inputs must be tensors"."""
    code, line, column, message, help = _first_help(SIZES_TO_A_LAYER.replace("g(x, hw)", call))
    assert (code, line, column) == ("E0113", 11, 17)
    assert "`hw` of GridT is a tuple of sizes (sizes[p, q]), which a block used as a layer cannot be given" in message
    assert "`input p: int`, `input q: int`" in help and "`g(..., p=p, q=q)`" in help
    written = SIZES_TO_A_LAYER.replace("    input hw: sizes[p, q]\n    return rearrange",
                                       "    input p: int\n    input q: int\n    return rearrange") \
        .replace("g(x, hw)", "g(x, p=p, q=q)")
    assert generated(written)(4)(torch.randn(2, 6, 4), (2, 3)).shape == (2, 6, 4)


@pytest.mark.parametrize("statement, want", [
    ("for fc in fcs:\n            x = fc(x)", "loops do not nest: put the inner loop in a block of its own"),
    ("return x", "assign what it computes, and `return` it after the loop"),
])
def test_a_nested_loop_or_return_in_a_loop_gets_a_help_that_fits(statement, want):
    code, line, _, _, help = _first_help(f"""
block N(d: int, iters: int, depth: int):
    input x: [b, d]
    layer fcs = [linear(d, d) for _ in range(depth)]
    for _ in range(iters):
        {statement}
    return x
""")
    assert (code, line) == ("E0113", 6) and want in help
