"""What porting trial 14a found (differential attention, Gemma 2, sigmoid attention, RetNet,
Longformer), each pinned here.

- A `let` (or a layer's arguments, a param's shape, an initialiser's arguments, a `require`)
  written with an input's size that its simplified value had lost (`(n - 1) / (n - 1)` is
  1, `n - n` is 0) was placed in __init__ by that value and rendered as written there:
  NameError when the module was built. It is now placed by what it is written with too.
- `exp` of a number in a `let` (differential attention's λ_init), as `log` is.
- `10 ** -depth`: refused at the exponent, saying what the language does not have, not as an
  example that does not fit.
- Found while fixing these: a `let` of input sizes written with `/` was computed in its int
  form (`n // 2`): `x * c` with `let c = n / 2` gave 2 for n = 5, not 2.5, and `x[:, :c]` took
  2 columns. It is now computed as written, a float, which no size may be (as `sqrt(n)`).
"""

from __future__ import annotations

import math

import pytest
import torch

import attndsl

from .language_support import agree, build, compile_ok, first_error, rand
from .mechanisms import REPO_ROOT

CANCELLING = [
    ("(n - 1) / (n - 1)", lambda n, d: 1), ("n - n", lambda n, d: 0), ("n * 0", lambda n, d: 0),
    ("n // n", lambda n, d: 1), ("n / n", lambda n, d: 1), ("n - n + d", lambda n, d: d),
    ("n * d // n", lambda n, d: d), ("(n + d) - n", lambda n, d: d), ("0 * n + 1", lambda n, d: 1),
    ("min(n, n) - n", lambda n, d: 0), ("d * n / n", lambda n, d: d),
]


def _cancelling(expression: str) -> str:
    return f"""
block B(d: int = 4):
    input x: [b, n, d]
    example(d=4, x=[1, 5, 4])
    let c = {expression}
    return x * c
"""


@pytest.mark.parametrize("optimize", [True, False])
@pytest.mark.parametrize("expression, want", CANCELLING, ids=[e for e, _ in CANCELLING])
def test_a_let_whose_input_size_cancels_is_computed_in_forward(expression, want, optimize):
    source = _cancelling(expression)
    code = compile_ok(source, optimize=optimize)
    assert "c = " not in code.split("def forward")[0].split("def __init__")[1]  # not in __init__
    module = build(source, d=4)
    for n in (2, 5):
        x = rand(3, n, 4, seed=n)
        torch.testing.assert_close(module(x), x * want(n, 4))
        agree(source, {"d": 4}, {"x": [3, n, 4]})


def test_a_cancelled_divisor_still_refuses_where_it_is_zero():
    source = _cancelling("(n - 1) / (n - 1)")
    with pytest.raises(ValueError, match="must not be zero"):
        build(source, d=4)(rand(1, 1, 4))
    # the interpreter refuses it too (it computes the let as written for its refusals)
    assert agree(source, {"d": 4}, {"x": [1, 1, 4]}).startswith("both refused")


@pytest.mark.parametrize("statement, use", [
    ("layer l = linear(d + n - n, d)", "l(x)"),
    ("param w: [d + n - n] = ones", "x * w"),
    ("param w: [d] = normal(std=n - n + 1)", "x * w"),
    ("let c = (n - n) if d > 0 else 1", "x * c"),
])
def test_what_init_builds_may_not_be_written_with_an_input_size(statement, use):
    source = f"""
block B(d: int = 4):
    input x: [b, n, d]
    example(d=4, x=[1, 5, 4])
    {statement}
    return {use}
"""
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0113", 5) and "`n`" in message


def test_a_require_written_with_an_input_size_is_not_computed_in_init():
    # (the checker may still make its canonical form, a bound on `d`, a check of __init__)
    source = """
block B(d: int = 4):
    input x: [b, n, d]
    example(d=4, x=[1, 5, 4])
    require n - n + d > 2, "d must be more than 2"
    return x
"""
    x = rand(1, 5, 4)
    torch.testing.assert_close(build(source, d=4)(x), x)
    with pytest.raises(ValueError):
        build(source, d=2)(rand(1, 5, 2))


EXP = """
block B(depth: int = 1):
    input x: [b, n]
    example(x=[1, 5])
    let lambda_init = 0.8 - 0.6 * exp(-0.3 * (depth - 1))
    return x * lambda_init
"""


@pytest.mark.parametrize("depth", [1, 3, 12])
def test_exp_of_a_number_in_a_let(depth):
    code = compile_ok(EXP)
    assert "math.exp(-0.3 * (depth - 1))" in code
    x = rand(2, 5)
    torch.testing.assert_close(build(EXP, depth=depth)(x), x * (0.8 - 0.6 * math.exp(-0.3 * (depth - 1))))
    agree(EXP, {"depth": depth}, {"x": [2, 5]})


def test_an_exp_too_large_for_a_float_is_refused_when_built():
    with pytest.raises(ValueError, match="`depth` must be at least -2364"):  # exp(709.5) is a float
        build(EXP, depth=-3000)
    source = EXP.replace("exp(-0.3 * (depth - 1))", "exp(depth * 1000)")
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0207", 5) and "709" in message


def test_exp_of_zero_is_one_but_a_float():
    source = """
block B(d: int = 4):
    input x: [b, n, d]
    example(x=[1, 5, 4])
    layer l = linear(d, d * exp(0))
    return l(x)
"""
    code, _, _, message = first_error(source)
    assert code == "E0113" and "float" in message


def test_a_negative_computed_exponent_is_refused_at_the_exponent():
    source = """
block B(depth: int = 2):
    input x: [b, n]
    example(x=[1, 5])
    let c = 10 ** -depth
    return x * c
"""
    code, line, column, message = first_error(source)
    assert (line, column) == (5, 19)  # `-depth`, not the example
    assert "whole number >= 0" in message and "depth = 2" in message
    assert "does not fit" not in message


@pytest.mark.parametrize("expression, want", [("n / 2", lambda n: n / 2), ("(n + 1) / 3", lambda n: (n + 1) / 3),
                                              ("n / d", lambda n: n / 4)])
def test_a_forward_let_with_a_true_division_is_a_float(expression, want):
    source = f"""
block B(d: int = 4):
    input x: [b, n]
    example(x=[1, 5])
    let c = {expression}
    return x * c
"""
    module = build(source)
    for n in (4, 5, 7):
        x = rand(2, n, seed=n)
        torch.testing.assert_close(module(x), x * want(n))
        agree(source, {}, {"x": [2, n]})


def test_a_forward_let_with_a_true_division_is_no_size():
    source = """
block B():
    input x: [b, n]
    example(x=[1, 6])
    let c = n / 2
    return x[:, :c]
"""
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0113", 6) and "float" in message


def test_a_sub_block_given_zero_heads_is_refused_when_built_not_by_an_internal_error(tmp_path):
    """Fuzz seed 10804964: a callee's `let d_k = d_model // h` given h = 0 divided by zero
    inside the checker (ZeroDivisionError). The let is left undecided there; the callee's own
    check refuses h = 0 when the module is built."""
    import shutil

    shutil.copy(REPO_ROOT / "specs" / "simplified_sdpa.attn", tmp_path)
    spec = tmp_path / "zero_heads.attn"
    spec.write_text("from simplified_sdpa import SimplifiedScaledDotProductAttention\n"
                    "block A(d: int = 64):\n"
                    "    input x: [b, n, d]\n"
                    "    layer pa = SimplifiedScaledDotProductAttention(d, 0)\n"
                    "    return pa(x, x, x)\n", encoding="utf-8")
    module = attndsl.load(spec)
    cls = getattr(module, "A", module)
    with pytest.raises(ValueError, match=r"SimplifiedScaledDotProductAttention: `h` must be at least 1, got 0"):
        cls()
