"""Trial 14d F03-F06: a float argument compared by a condition, a `require` or a
conditional `let` in the checker's exact form (`p > 0`, `p <= 0`, `p == q`) is taken as a
real number: `not (p <= 0)` becomes `p > 0`, the `else` of `if p > 0:` knows `p <= 0`,
`require p > 0` is `if p <= 0: raise`. NaN fails every comparison, so the module took other
branches than Python (F03: a wrong value), lost size checks (F04: a torch RuntimeError),
passed a require (F05), and the interpreter hit an InterpreterBug (F06).

Now `__init__` refuses NaN for such an argument, and the interpreter refuses it alike; a
float no condition compares (a factor, a dropout p) is not checked.
"""

from __future__ import annotations

import math

import pytest
import torch

from attndsl import interpret

from .language_support import agree, build, compile_ok, generated, rand

F03 = """
block A(p: float = 0.1):
    input x: [b, n, d]
    if not (p <= 0):
        y = x * 2
    else:
        y = x
    return y
"""

F04 = """
block A(p: float = 0.1, ws: int = 2):
    input x: [b, n, d]
    if p > 0:
        y = x
    else:
        if p < 1:
            y = x
        else:
            y = rearrange(x, "b (m p) d -> b m p d", p=ws)
            y = sum(y, dim=2)
    return y
"""

F04_CHAIN = """
block A(p: float = 0.1, q: float = 0.1, ws: int = 2):
    input x: [b, n, d]
    if p == q:
        y = x
    elif p < q:
        y = x
    elif p > q:
        y = x
    else:
        y = rearrange(x, "b (m p) d -> b m p d", p=ws)
        y = sum(y, dim=2)
    return y
"""

F05 = """
block A(p: float = 0.1):
    input x: [b, n, d]
    require p > 0, "p must be positive"
    if p > 0:
        y = x * 2
    return y
"""

F06 = """
block A(p: float = 0.1):
    input x: [b, n, d]
    if p > 0:
        y = x
    else:
        if p <= 0:
            y = x * 2
    return y
"""

LET = """
block A(p: float = 0.1):
    input x: [b, n, d]
    let c = 2 if p > 0 else 3
    return x * c
"""

OPTIONAL = """
block A(p: float | None = None):
    input x: [b, n, d]
    if p is not None and p > 0:
        y = x * 2
    else:
        y = x
    return y
"""

# (spec, the NaN arguments, valid arguments -> the factor the spec multiplies x by)
CASES = {
    "F03": (F03, {"p": math.nan}, [({"p": 0.5}, 2), ({"p": -1.0}, 1), ({"p": 0.0}, 1)]),
    "F04": (F04, {"p": math.nan, "ws": 0}, [({"p": 0.5, "ws": 0}, 1), ({"p": -0.5, "ws": 0}, 1)]),
    "F04 chain": (F04_CHAIN, {"p": math.nan, "ws": 0}, [({"p": 0.5, "q": 0.5, "ws": 0}, 1),
                                                         ({"p": 0.2, "q": 0.5, "ws": 0}, 1)]),
    "F04 chain q": (F04_CHAIN, {"q": math.nan, "ws": 0}, [({"p": 0.7, "q": 0.5, "ws": 0}, 1)]),
    "F05": (F05, {"p": math.nan}, [({"p": 0.5}, 2)]),
    "F06": (F06, {"p": math.nan}, [({"p": 0.5}, 1), ({"p": -0.5}, 2)]),
    "let": (LET, {"p": math.nan}, [({"p": 0.5}, 2), ({"p": -0.5}, 3)]),
    "optional": (OPTIONAL, {"p": math.nan}, [({"p": 0.5}, 2), ({"p": -0.5}, 1), ({}, 1), ({"p": None}, 1)]),
}


@pytest.mark.parametrize("name", CASES)
def test_nan_is_refused_by_module_and_interpreter(name):
    source, nan, _ = CASES[name]
    argument = next(k for k, v in nan.items() if isinstance(v, float) and math.isnan(v))
    with pytest.raises(ValueError, match=rf"^A: `{argument}` must be a number, got nan$"):
        generated(source)(**nan)
    with pytest.raises(interpret.Refusal, match=rf"^A: `{argument}` must be a number, got nan$"):
        interpret.build(source, **nan)
    assert agree(source, nan, {"x": [2, 4, 4]}) == "both refused (init)"


@pytest.mark.parametrize("name", CASES)
def test_valid_values_still_compute(name):
    source, _, valid = CASES[name]
    x = rand(2, 4, 4)
    for args, factor in valid:
        torch.testing.assert_close(build(source, **args)(x), x * factor)
        assert agree(source, args, {"x": [2, 4, 4]}) == "agree"


def test_a_float_no_condition_compares_is_not_checked():
    source = """
block A(scale: float = 0.5, p: float = 0.1, ws: int = 2):
    input x: [b, n, d]
    layer drop = dropout(p)
    if ws > 1:
        y = drop(x * scale)
    else:
        y = x
    return y
"""
    assert "isnan" not in compile_ok(source)
    module = generated(source)(scale=math.nan).eval()
    assert torch.isnan(module(rand(2, 4, 4))).all()  # computed, as Python would
    assert agree(source, {"scale": math.nan}, {"x": [2, 4, 4]}) == "agree"


def test_a_written_comparison_is_not_checked():
    """`p * 0.5 > 0.1` is evaluated as written (guards.Written), NaN included: nothing to refuse."""
    source = F03.replace("not (p <= 0)", "p * 0.5 > 0.1")
    assert "isnan" not in compile_ok(source)
    assert agree(source, {"p": math.nan}, {"x": [2, 4, 3]}) == "agree"


def test_a_huge_int_for_a_compared_float_is_taken():
    """The NaN test converts nothing: 10**400 (no float can hold it) compares as Python compares it."""
    x = rand(2, 4, 4)
    torch.testing.assert_close(build(F05, p=10**400)(x), x * 2)
    assert agree(F05, {"p": 10**400}, {"x": [2, 4, 4]}) == "agree"
