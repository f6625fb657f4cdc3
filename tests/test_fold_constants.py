"""Constant folding (attndsl/passes/fold_constants.py)."""

from __future__ import annotations

import pytest
import torch

import attndsl

from .optimizing import assert_same_function, build, pair

HEAD = "block C(s: float = 0.5, d: int = 16, flag: bool = true):\n    input x: [b, n]\n"


def _check(body: str, ctor: dict | None = None) -> str:
    source = HEAD + f"    {body}\n"
    plain, fast = pair(build(source, "C", optimize=False, runtime_checks=False),
                       build(source, "C", optimize=True, runtime_checks=False), ctor or {}, seed=2)
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert_same_function(plain, fast, [x], {}, seed=2, what=body)
    result = attndsl.compile_source(source, "c.attn", runtime_checks=False)
    return result.code.split("def forward", 1)[1]


@pytest.mark.parametrize("body, expected", [
    ("return x * 1 + 0", "return x  #"),
    ("return (1 * x - 0) / 1", "return x  #"),
    ("return -(-x)", "return x  #"),
    ("return x / 2 / 4", "return x / 8  #"),
    ("return x * 2 * s * 3", "return x * (6 * self.s)  #"),
    # a symbolic divisor stays a division: `sqrt(d)` may be 0, where `x / 0` is inf and a
    # folded `x * (1 / 0)` would raise in Python (tests/differential_regressions/)
    ("return x * 2 * s / sqrt(d)", "return x * (2 * self.s) / self.d**0.5  #"),
    ("return sigmoid(x) * 3 * 0", "return x.sigmoid() * 0  #"),
])
def test_compile_time_arithmetic_is_done_once(body, expected):
    forward = _check(body)
    assert expected in forward, forward


def test_a_neutral_element_that_broadcasts_is_kept():
    # x [b, n] + a [1, 1, 1] has rank 3: dropping the addition would change the shape
    source = HEAD + "    param z: [1, 1, 1] = zeros\n    return x * 1 + z\n"
    forward = attndsl.compile_source(source, "c.attn").code.split("def forward", 1)[1]
    assert "self.z" in forward
