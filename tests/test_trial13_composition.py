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
