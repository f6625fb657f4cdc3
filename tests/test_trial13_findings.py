"""What porting trial 13 found (LeViT, Twins, CSWin, CCNet, GRN, EfficientFormer's
Attention4D; Linformer, Nyströmformer, T5, Transformer-XL, Performer; an adversarial probe
of sub-blocks, layer lists, kinds and loops), each pinned here.

Wrong values: a size written `ceil(n / 2)` in forward was rendered `math.ceil(n // 2)` (one
column short for odd n), and so was a real number under `sqrt`, `int`, `round` and `floor`.
"""

from __future__ import annotations

import math

import pytest
import torch

from .language_support import agree, build, compile_ok, rand


@pytest.mark.parametrize("size, want", [
    ("ceil(n / 2)", lambda n: math.ceil(n / 2)),
    ("floor((n + 1) / 3)", lambda n: (n + 1) // 3),
    ("int(2 * n / 3)", lambda n: int(2 * n / 3)),
    ("round(n / 4) + 1", lambda n: round(n / 4) + 1),
])
def test_a_size_under_ceil_or_floor_is_a_real_division(size, want):
    source = f"""
block A():
    input x: [b, n]
    return x[:, :{size}]
"""
    code = compile_ok(source)
    assert "n // " not in code.split("def forward")[1]
    module = build(source)
    for n in range(1, 12):
        if want(n) < 1 or want(n) > n:
            continue
        x = rand(2, n, seed=n)
        torch.testing.assert_close(module(x), x[:, :want(n)])
        agree(source, {}, {"x": [2, n]})


def test_an_interpolated_size_under_ceil_is_exact():
    source = """
block A():
    input x: [b, c, h, w]
    return interpolate(x, size=[h, ceil(w / 3)], mode="nearest")
"""
    module = build(source)
    for w in (3, 7, 8, 9):
        assert module(rand(1, 1, 2, w)).shape[-1] == math.ceil(w / 3)


def test_a_square_root_of_a_fraction_is_not_floored():
    """`sqrt(c / 2)` of an odd c: the root of 1.5, not of 1."""
    source = """
block A(c: int):
    input x: [b, c]
    return x * sqrt(c / 2)
"""
    x = rand(2, 3)
    torch.testing.assert_close(build(source, c=3)(x), x * math.sqrt(1.5))
