"""Comparisons Python evaluates in floats (porting trial 14c, F01, F02, F03, F09).

The checker reasons in exact rationals, Python in floats. An `if` was rendered in the
checker's scaled form (`if 10 * s > 33:`) while a conditional `let` and a `require` were
rendered as written (`s > 3.3`); at s = 3.3000000000000003, or ws = 11 in
`ws * 0.1 * 3 > 3.3`, the two disagreed: layers of the wrong size (F01), a layer missing
(F02), and a size check dropped on a fact the written `require` did not ensure (F03).
`if ws > -0.5 and ws < 0.5:` (ws = 0 for an int) dropped the windows' size check (F09).

Now such a comparison (a non-integer constant, `/`, a float let, a float argument not
alone on its side) is one opaque atom (guards.Written): rendered and interpreted as
written everywhere, and the checker learns nothing from it. Comparisons of whole numbers
keep their exact form (no change in generated/, checked by test_generated_current).
"""

from __future__ import annotations

import pytest
import torch

import attndsl
from attndsl import interpret

from .language_support import agree, compile_ok, generated

F01 = """
block A(s: float = 1.0, d: int = 4):
    input x: [b, n, d]
    let e = d + 1 if s > 3.3 else d
    if s > 3.3:
        layer f = linear(d, d + 1)
    else:
        layer f = linear(d, d)
    layer g = linear(e, d)
    return g(f(x))
"""

F01B = """
block A(ws: int = 1, d: int = 4):
    input x: [b, n, d]
    let e = d + 1 if ws * 0.1 * 3 > 3.3 else d
    if ws * 0.1 * 3 > 3.3:
        layer f = linear(d, d + 1)
    else:
        layer f = linear(d, d)
    layer g = linear(e, d)
    return g(f(x))
"""

F02 = """
block A(ws: int = 12, d: int = 4):
    input x: [b, n, d]
    require ws * 0.1 * 3 > 3.3, "ws must be more than 11"
    if ws * 0.1 * 3 > 3.3:
        layer f = linear(d, d)
    return f(x)
"""

F03 = """
block A(d: int = 4):
    input x: [b, n, d]
    require n * 0.1 * 3 > 3.3, "needs more than 11 tokens"
    y = x[:, :12]
    return rearrange(y, "b (g t) d -> b g t d", t=12)
"""

F03B = """
block A(ws: int = 12, d: int = 4):
    input x: [b, n, d]
    require ws * 0.1 * 3 > 3.3, "ws must be more than 11"
    layer f = linear(d, ws - 12)
    return f(x)
"""

F09 = """
block A(ws: int = 2):
    input x: [b, n, d]
    if ws > -0.5 and ws < 0.5:
        y = rearrange(x, "b (m p) d -> b m p d", p=ws)
        y = sum(y, dim=2)
    else:
        y = x
    return y
"""


@pytest.mark.parametrize("source, args, n", [
    (F01, {"s": 3.3000000000000003}, 3), (F01, {"s": 3.3}, 3), (F01, {"s": 4.0}, 3),
    (F01B, {"ws": 11}, 3), (F01B, {"ws": 10}, 3), (F01B, {"ws": 12}, 3),
    (F02, {"ws": 11}, 3), (F02, {"ws": 10}, 3), (F02, {"ws": 12}, 3),
    (F03, {}, 11), (F03, {}, 12), (F03, {}, 24),
    (F03B, {"ws": 11}, 3), (F03B, {"ws": 13}, 3),
    (F09, {"ws": 0}, 4), (F09, {"ws": 2}, 4), (F09, {"ws": -1}, 4),
])
def test_module_and_interpreter_agree(source, args, n):
    agree(source, args, {"x": [2, n, 4]})


def test_float_comparison_is_written_the_same_everywhere():
    """F01: the `if` and the conditional `let` read `s > 3.3` alike, so at s just above 3.3
    the layers fit each other (it crashed in the matmul)."""
    code = compile_ok(F01)
    assert "if s > 3.3:" in code and "e = d + 1 if s > 3.3 else d" in code and "10 * s" not in code
    module = generated(F01)(s=3.3000000000000003)
    assert module.f.out_features == 5 and module.g.in_features == 5
    assert module(torch.randn(2, 3, 4)).shape == (2, 3, 4)
    assert generated(F01B)(ws=11)(torch.randn(2, 3, 4)).shape == (2, 3, 4)  # 11 * 0.1 * 3 > 3.3 in floats


def test_require_and_if_agree():
    """F02: ws = 11 passes the written require; the `if` it licenses builds `f` too."""
    assert generated(F02)(ws=11)(torch.randn(2, 3, 4)).shape == (2, 3, 4)
    with pytest.raises(ValueError, match="ws must be more than 11"):
        generated(F02)(ws=10)


def test_float_require_is_no_fact():
    """F03: `require n * 0.1 * 3 > 3.3` holds at n = 11 in floats: the slice's own check
    stays and refuses it (it was a reshape error); in __init__, the layer's size check."""
    with pytest.raises(ValueError, match="slice"):
        generated(F03)()(torch.randn(2, 11, 4))
    assert generated(F03)()(torch.randn(2, 12, 4)).shape == (2, 1, 12, 4)
    with pytest.raises(ValueError, match="ws"):
        generated(F03B)(ws=11)


def test_fractional_bounds_keep_the_size_check():
    """F09: `ws > -0.5 and ws < 0.5` holds at ws = 0: the windows of ws rows are refused
    there, as the interpreter does (it was a ZeroDivisionError)."""
    module = generated(F09)
    with pytest.raises(ValueError, match="`ws` must be at least 1"):
        module(ws=0)(torch.randn(2, 4, 3))
    with pytest.raises(Exception, match="ws|zero|divisible"):
        interpret.build(F09, ws=0)(torch.randn(2, 4, 3))
    assert module(ws=2)(torch.randn(2, 4, 3)).shape == (2, 4, 3)


def test_whole_number_conditions_keep_their_exact_form():
    """Controls: comparisons of whole numbers, and a float argument alone against a number,
    are exact in Python and keep the checker's form and facts (`if ws == 0:` refuses the
    windows at compile time)."""
    code = compile_ok(F09.replace("ws > -0.5 and ws < 0.5", "2 * ws > -1 and 2 * ws < 1"))
    assert "if 2 * ws > -1 and 2 * ws < 1:" in code and "`ws` must be at least 1" in code
    refused = attndsl.compile_source(F09.replace("ws > -0.5 and ws < 0.5", "ws == 0"), "w.attn")
    assert any(d.code == "E0205" for d in refused.diagnostics)
    dropout = """
block A(p: float = 0.1, d: int = 4):
    input x: [b, n, d]
    if p > 0:
        layer drop = dropout(p)
        y = drop(x)
    else:
        y = x
    return y
"""
    assert "if p > 0:" in compile_ok(dropout)


def test_constant_comparison_decided_as_python_does():
    """`0.1 * 3 > 0.3` holds in floats (not in exact arithmetic): decided now, as Python."""
    source = """
block A(d: int = 4):
    input x: [b, n, d]
    if 0.1 * 3 > 0.3:
        layer f = linear(d, d)
    return f(x)
"""
    assert generated(source)()(torch.randn(2, 3, 4)).shape == (2, 3, 4)


def test_a_float_require_refuses_nan():
    """`require s > 3.3` is tested as `not (s > 3.3)`, which a NaN fails, as in Python (the
    flipped `s <= 3.3` let it pass); in __init__ and, on a size, in forward."""
    source = """
block A(s: float = 4.0, d: int = 4):
    input x: [b, n, d]
    require s > 3.3, "s must be above 3.3"
    require n * s > 3.3, "n * s must be above 3.3"
    return x * s
"""
    code = compile_ok(source)
    assert "if not (s > 3.3):" in code and "if not (n * self.s > 3.3):" in code
    with pytest.raises(ValueError, match="s must be above 3.3"):
        generated(source)(s=float("nan"))
    agree(source, {"s": float("nan")}, {"x": [2, 3, 4]})
    agree(source, {"s": 4.0}, {"x": [2, 3, 4]})
