"""A number scaling a matrix product moves onto the smaller operand (attndsl/passes/scale_operand.py)."""

from __future__ import annotations

import pytest
import torch

import attndsl

from .optimizing import assert_same_function, build, pair

# Attention logits [b, n, n] from queries and keys [b, n, d]: with n > d the queries are smaller.
LOGITS = """block Logits(d: int):
    input q: [b, n, d]
    input k: [b, m, d]
    example(d=8, q=[2, 32, 8], k=[2, 32, 8])
    param w: [1] = ones
    return {body}
"""


def _forward(body: str) -> str:
    result = attndsl.compile_source(LOGITS.format(body=body), "s.attn", runtime_checks=False)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.code.split("def forward", 1)[1]


def _same_function(body: str, shapes) -> None:
    source = LOGITS.format(body=body)
    plain, fast = pair(build(source, "Logits", optimize=False, runtime_checks=False),
                       build(source, "Logits", optimize=True, runtime_checks=False), {"d": shapes[0][-1]}, seed=3)
    gen = torch.Generator().manual_seed(1)
    args = [torch.randn(*s, generator=gen, dtype=torch.float64) for s in shapes]
    assert_same_function(plain, fast, args, {}, seed=3, what=body)


@pytest.mark.parametrize("body, moved", [
    ("q @ transpose(k, 1, 2) / sqrt(d)", "(q / self.d**0.5) @ k.transpose(1, 2)"),
    ("q @ transpose(k, 1, 2) * 0.125", "(q * 0.125) @ k.transpose(1, 2)"),
    ("0.125 * (q @ transpose(k, 1, 2))", "(0.125 * q) @ k.transpose(1, 2)"),
])
def test_the_factor_moves_onto_the_smaller_operand(body, moved):
    assert moved in _forward(body)
    _same_function(body, [(2, 40, 8), (2, 24, 8)])


@pytest.mark.parametrize("body", [
    "transpose(q, 1, 2) @ k / sqrt(d)",          # [b, d, d] from [b, n, d]: the product is the smaller
    "q @ transpose(k, 1, 2) * w",                # a tensor factor may broadcast the product
    "sqrt(d) / (q @ transpose(k, 1, 2))",        # a number divided by the product is no scaling
])
def test_the_product_keeps_its_factor(body):
    forward = _forward(body)
    assert "@" in forward and not any(f"({side}" in forward for side in ("q /", "q *", "k /"))
    _same_function(body, [(2, 40, 8), (2, 40, 8)])


def test_a_product_read_twice_keeps_its_factor():
    body = "q @ transpose(k, 1, 2) / sqrt(d) + sum(q @ transpose(k, 1, 2), dim=2, keepdim=true)"
    forward = _forward(body)
    assert "(q / self.d**0.5)" not in forward
    _same_function(body, [(2, 40, 8), (2, 40, 8)])


def test_without_examples_only_a_smaller_operand_for_every_size_is_taken():
    # [b, n, d] against [b, n, m]: which is smaller depends on d and m; no example, no move
    source = """block Logits(d: int):
    input q: [b, n, d]
    input k: [b, m, d]
    return q @ transpose(k, 1, 2) / sqrt(d)
"""
    result = attndsl.compile_source(source, "s.attn", runtime_checks=False)
    assert result.ok and "q @ k.transpose(1, 2) / self.d**0.5" in result.code


@pytest.mark.parametrize("body, moved", [
    # finfo fills in the product: s·(A·B) and (s·A)·B overflow differently, so it stays as written
    ("0.125 * (masked_fill(q, q > 0, finfo(q).max) @ transpose(k, 1, 2))", False),
    # the fills pass through a softmax first: bounded values, the factor moves as usual
    ("0.125 * (softmax(masked_fill(q, q > 0, finfo(q).max), dim=2) @ transpose(k, 1, 2))", True),
])
def test_a_product_of_dtype_limit_fills_keeps_its_factor(body, moved):
    """Campaign 20600001: g·(t @ p) with t holding finfo.max fills gave inf where (t @ g·p)
    gave nan or -inf; whichever operand takes the factor, the overflow changes."""
    forward = _forward(body)
    assert ("0.125 * (" in forward and "@" in forward.split("0.125 * (", 1)[1].split("\n", 1)[0]) is not moved, forward
