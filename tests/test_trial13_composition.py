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
