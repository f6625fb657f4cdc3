"""Layout folding (attndsl/passes/fold_layout.py): consecutive transposes and
rearranges become one step, identities disappear, and the value is exactly the same."""

from __future__ import annotations

import textwrap

import pytest
import torch

import attndsl

from .optimizing import assert_same_function, build, pair

HEAD = "block L(heads: int = 4, flag: bool = true):\n    input x: [b, n, c]\n    input y: [b, c, hh, ww]\n"


def _forward(source: str, optimize: bool = True) -> str:
    result = attndsl.compile_source(source, "l.attn", runtime_checks=False, optimize=optimize)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.code.split("def forward", 1)[1]


def _check(body: str, ctor: dict | None = None) -> str:
    source = HEAD + "".join(f"    {line}\n" for line in textwrap.dedent(body).strip().splitlines())
    plain, fast = pair(build(source, "L", optimize=False, runtime_checks=False),
                       build(source, "L", optimize=True, runtime_checks=False), ctor or {}, seed=1)
    gen = torch.Generator().manual_seed(0)
    args = [torch.randn(2, 12, 8, generator=gen, dtype=torch.float64),
            torch.randn(2, 8, 3, 4, generator=gen, dtype=torch.float64)]
    assert_same_function(plain, fast, args, {}, seed=1, what=body)
    return _forward(source)


FOLDED = {
    # the keys of attention, written [b, h, d, n] and wanted [b, h, n, d]: one transpose
    'return transpose(rearrange(x, "b n (h d) -> b h d n", h=heads), 2, 3)': ".reshape(b, n, self.heads, -1).transpose(1, 2)",
    'return rearrange(transpose(x, 1, 2), "b c n -> b n c")': "return x  #",
    "return transpose(transpose(x, 1, 2), 2, 1)": "return x  #",
    'return rearrange(rearrange(x, "b n (h d) -> b h n d", h=heads), "b h n d -> b n (h d)")': "return x  #",
    'return rearrange(rearrange(y, "b c hh ww -> b c (hh ww)"), "b c (hh ww) -> b c hh ww", hh=hh)': "return y  #",
    'return rearrange(rearrange(y, "b c hh ww -> b (c hh) ww"), "b k ww -> b (k ww)")': "y.flatten(1)",
}


@pytest.mark.parametrize("body", FOLDED)
def test_consecutive_layout_ops_become_one(body):
    forward = _check(body)
    assert FOLDED[body] in forward, forward
    assert forward.count(".reshape(") + forward.count(".transpose(") + forward.count(".permute(") <= 2


def test_a_fold_that_would_render_longer_is_left_alone():
    # reshape + transpose (2 steps) would become reshape + permute + reshape (3)
    forward = _check('return transpose(rearrange(y, "b (g d) hh ww -> b g d (hh ww)", g=heads), 2, 3)')
    assert ".permute(" not in forward and ".transpose(" in forward


def test_a_value_read_twice_is_not_folded_into_one_reader():
    forward = _check("""
        t = rearrange(x, "b n (h d) -> b h d n", h=heads)
        return transpose(t, 2, 3) + transpose(t, 2, 3) * 0 + rearrange(t, "b h d n -> b h n d")""")
    assert ".permute(0, 2, 3, 1)" in forward


def test_a_transpose_after_an_if_moves_into_both_branches():
    forward = _check("""
        if flag:
            k = rearrange(x, "b n (h d) -> b h d n", h=heads)
        else:
            k = rearrange(x * 2, "b n (h d) -> b h d n", h=heads)
        return transpose(k, 2, 3)""", {"flag": True})
    assert ".permute(" not in forward and forward.count(".transpose(1, 2)") == 2, forward
