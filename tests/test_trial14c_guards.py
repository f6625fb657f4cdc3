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

import pytest
import torch

from attndsl import interpret

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
