"""What porting trial 14c found in guards, checks and lets (F04, F05, F08, F10), each pinned here.

- F08: inside `if ws > 0 or flag:` (the other operand decided in __init__: a bool argument,
  `k is None`, `not flag`) the checker took `ws > 0` as known, though it holds only where
  the other operand fails: windows of `ws` rows got no "`ws` must be at least 1" check, and
  `ws = 0, flag = True` divided by zero in the module.
- F10: an argument's bound check guarded by a condition on a `let` was emitted in __init__
  before the let was computed: UnboundLocalError for every valid argument.
- F04: `exp` in lets: the module's bound is where `math.exp` overflows, the interpreter
  refuses what Python cannot compute (OverflowError, ZeroDivisionError) as the module does,
  and the differential harness counts only the interpreter's own refusals as refusals.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch

from attndsl import interpret

from .differential import Disagreement, _judge_refusals, compile_both
from .language_support import agree, build, generated, rand

# (guard, arguments under which the guard holds by its other operand alone, and under
# which it fails with ws = 0)
OR_GUARDS = [
    ("ws > 0 or flag", {"flag": True}, {"flag": False}),
    ("ws > 0 or k is None", {}, {"k": 1}),
    ("ws > 0 or not flag", {"flag": False}, {"flag": True}),
    ("flag or ws >= 1", {"flag": True}, {"flag": False}),
    ("(ws > 0 or flag) and ws < 5", {"flag": True}, {"flag": False}),
]


def _windows_under(guard: str) -> str:
    return f"""
block A(ws: int = 2, flag: bool = false, k: int | None = None):
    input x: [b, n, d]
    if {guard}:
        y = rearrange(x, "b (m p) d -> b m p d", p=ws)
        y = sum(y, dim=2)
    else:
        y = x
    return y
"""


@pytest.mark.parametrize("guard, other, _", OR_GUARDS, ids=[g for g, _, _ in OR_GUARDS])
@pytest.mark.parametrize("ws", [0, -2])
def test_an_or_guard_does_not_teach_its_first_operand(guard, other, _, ws):
    source = _windows_under(guard)
    with pytest.raises(ValueError, match=r"^A: `ws` must be at least 1"):
        generated(source)(ws=ws, **other)
    with pytest.raises(interpret.Refusal):
        interpret.build(source, ws=ws, **other)(rand(2, 4, 3))
    assert agree(source, {"ws": ws, **other}, {"x": [2, 4, 3]}).startswith("both refused")


@pytest.mark.parametrize("guard, other, fails", OR_GUARDS, ids=[g for g, _, _ in OR_GUARDS])
def test_an_or_guard_computes_at_valid_values(guard, other, fails):
    source = _windows_under(guard)
    x = rand(2, 4, 3)
    for args in ({"ws": 2, **other}, {"ws": 2}, {"ws": 0, **fails}):
        module = build(source, **args)
        holds = eval(guard, {}, {"flag": False, "k": None, **args})  # the spec's guard, in Python
        want = x.reshape(2, -1, args["ws"], 3).sum(dim=2) if holds else x
        torch.testing.assert_close(module(x), want)
        assert agree(source, args, {"x": [2, 4, 3]}) == "agree"


def _layer_by_let(let: str, condition: str) -> str:
    return f"""
block A(ws: int = 0, k: int = 3):
    input x: [b, n, d]
    let {let}
    if {condition}:
        layer f = relu()
    else:
        layer f = identity()
    if not ws == 0:
        y = rearrange(f(x), "b (m p) d -> (b m) p d", p=ws)
        y = rearrange(y, "(b m) p d -> b (m p) d", b=b)
    else:
        y = f(x)
    return y
"""


LET_GUARDS = [("t = ws * 0.5", "t > 0", lambda ws, k: ws * 0.5 > 0),
              ("u = k - ws", "u > 0", lambda ws, k: k - ws > 0)]


@pytest.mark.parametrize("let, condition, relu", LET_GUARDS, ids=[c for _, c, _ in LET_GUARDS])
def test_a_bound_check_guarded_by_a_let_is_made_after_the_let(let, condition, relu):
    source = _layer_by_let(let, condition)
    x = rand(2, 4, 3)
    for ws, k in [(0, 3), (2, 3), (2, 1), (4, 9), (1, 0)]:
        want = torch.relu(x) if relu(ws, k) else x
        torch.testing.assert_close(build(source, ws=ws, k=k)(x), want)
        assert agree(source, {"ws": ws, "k": k}, {"x": [2, 4, 3]}) == "agree"
    with pytest.raises(ValueError, match=r"^A: `ws` must be at least 1"):
        generated(source)(ws=-2, k=-5)


EXP = """
block A(d: int = 4, s: float = 1.0):
    input x: [b, n, d]
    let c = exp(s)
    let e = exp(d) * 0
    return x * c + e
"""
LARGEST_EXP = math.log(sys.float_info.max)  # 709.782712893384: math.exp of the next float overflows


@pytest.mark.parametrize("s", [709.5, LARGEST_EXP, 1.0, -math.inf])
def test_exp_is_computed_up_to_where_math_exp_overflows(s):
    x = rand(1, 2, 4)
    torch.testing.assert_close(build(EXP, s=s)(x), x * math.exp(s))
    assert agree(EXP, {"s": s}, {"x": [1, 2, 4]}) == "agree"


@pytest.mark.parametrize("args", [{"s": math.nextafter(LARGEST_EXP, math.inf)}, {"s": math.inf}, {"d": 710},
                                  {"d": 1000}])
def test_exp_past_a_float_is_refused_by_both(args):
    with pytest.raises(ValueError, match=r"^A: (s|d) must be at most 709.782712893384"):
        generated(EXP)(**args)
    with pytest.raises(interpret.Refusal):
        interpret.build(EXP, **args)
    assert agree(EXP, args, {"x": [1, 2, args.get("d", 4)]}) == "both refused (init)"


def test_a_power_of_an_exponential_past_a_float_is_refused_naming_the_let():
    source = """
block A(d: int = 4):
    input x: [b, n, d]
    let c = exp(d) ** 2
    return x * c
"""
    x = rand(1, 2, 4)
    torch.testing.assert_close(build(source, d=4)(x), x * math.exp(4) ** 2)
    with pytest.raises(ValueError, match=r"^A: `c` = exp\(d\) \*\* 2 is too large for a float, with d = 400"):
        generated(source)(d=400)
    with pytest.raises(interpret.Refusal):
        interpret.build(source, d=400)
    assert agree(source, {"d": 400}, {"x": [1, 2, 400]}) == "both refused (init)"


def test_the_interpreter_refuses_a_cancelled_division_by_zero():
    source = """
block B(d: int = 4):
    input x: [b, n, d]
    let c = (n - 1) / (n - 1)
    return x * c
"""
    with pytest.raises(interpret.Refusal, match="division by zero"):
        interpret.build(source)(rand(1, 1, 4))
    assert agree(source, {}, {"x": [1, 1, 4]}) == "both refused (eval)"


def test_the_harness_counts_a_python_error_of_the_interpreter_as_a_bug():
    compiled = compile_both(EXP)
    with pytest.raises(Disagreement, match="interpreter raised ZeroDivisionError"):
        _judge_refusals("eval", compiled, ValueError("A: refused"), ZeroDivisionError("division by zero"))
    assert _judge_refusals("eval", compiled, ValueError("A: refused"), interpret.Refusal("refused"))
