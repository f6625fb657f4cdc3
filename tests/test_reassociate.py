"""Reassociation of matrix-product chains (attndsl/passes/reassociate.py)."""

from __future__ import annotations

import torch

import attndsl
from attndsl import symbolic as sym
from attndsl.compiler import analyze
from attndsl.passes.reassociate import cheaper

from .optimizing import assert_same_function, build, pair

# Linear attention without the softmax: (q kᵀ) v costs n·n·d + n·n·e, q (kᵀ v) d·n·e + n·d·e.
LINEAR = """block Linear(d: int):
    input q: [b, n, d]
    input k: [b, n, d]
    input v: [b, n, e]
{example}
    return (q @ transpose(k, 1, 2)) @ v
"""


def _forward(source: str) -> str:
    result = attndsl.compile_source(source, "r.attn", runtime_checks=False)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.code.split("def forward", 1)[1]


def _same_function(source: str, ctor: dict, shapes) -> None:
    plain, fast = pair(build(source, "Linear", optimize=False, runtime_checks=False),
                       build(source, "Linear", optimize=True, runtime_checks=False), ctor, seed=4)
    gen = torch.Generator().manual_seed(0)
    args = [torch.randn(*s, generator=gen, dtype=torch.float64) for s in shapes]
    assert_same_function(plain, fast, args, {}, seed=4, what=source.splitlines()[-1])


def test_the_examples_decide_when_the_costs_cross():
    long = LINEAR.format(example="    example(d=16, q=[2, 256, 16], k=[2, 256, 16], v=[2, 256, 16])")
    assert "q @ (k.transpose(1, 2) @ v)" in _forward(long)
    _same_function(long, {"d": 16}, [(2, 40, 16), (2, 40, 16), (2, 40, 8)])
    short = LINEAR.format(example="    example(d=64, q=[2, 8, 64], k=[2, 8, 64], v=[2, 8, 64])")
    assert "q @ k.transpose(1, 2) @ v" in _forward(short)


def test_without_an_example_the_written_order_stays():
    assert "q @ k.transpose(1, 2) @ v" in _forward(LINEAR.format(example=""))


def test_examples_that_disagree_keep_the_written_order():
    both = LINEAR.format(example="    example(d=16, q=[2, 256, 16], k=[2, 256, 16], v=[2, 256, 16])\n"
                                 "    example(d=64, q=[2, 8, 64], k=[2, 8, 64], v=[2, 8, 64])")
    assert "q @ k.transpose(1, 2) @ v" in _forward(both)


def test_a_product_read_twice_is_not_reassociated():
    source = LINEAR.format(example="    example(d=16, q=[2, 256, 16], k=[2, 256, 16], v=[2, 256, 16])").replace(
        "    return (q @ transpose(k, 1, 2)) @ v", "    s = q @ transpose(k, 1, 2)\n    return s @ v + sum(s, dim=2, keepdim=true)")
    assert "s @ v" in _forward(source)


def test_a_cost_lower_for_every_size_needs_no_example():
    n, d = sym.Expr.symbol("n"), sym.Expr.symbol("d")
    blocks, _ = analyze(LINEAR.format(example=""), "r.attn")
    assert cheaper(blocks[0], n * d, n * d * 2 + n, [])
    assert not cheaper(blocks[0], n * d * 2, n * d, [])
    assert not cheaper(blocks[0], n * n, n * d, [])  # crosses at n = d, no example: keep


def test_a_chain_of_dtype_limit_fills_keeps_the_written_order():
    """(q kᵀ) v would be rotated at these sizes, but q holds finfo.max fills: the two orders
    overflow differently (inf, -inf or nan), so the spec's order stays."""
    example = "    example(d=16, q=[2, 256, 16], k=[2, 256, 16], v=[2, 256, 16])"
    filled = LINEAR.format(example=example).replace(
        "return (q @ transpose(k, 1, 2)) @ v", "return (masked_fill(q, q > 0, finfo(q).max) @ transpose(k, 1, 2)) @ v")
    assert "@ (k.transpose(1, 2) @ v)" in _forward(LINEAR.format(example=example))
    assert "@ (k.transpose(1, 2) @ v)" not in _forward(filled)


def test_an_example_takes_the_branch_of_a_conditional_let_its_arguments_choose():
    """`let d = dim_out if dim_out is not None else dim` is two lets named d: an example that
    gives dim_out reads d = dim_out (the other branch, evaluated last, used to win)."""
    from attndsl.passes.reassociate import example_values

    source = """\
block P(dim: int, dim_out: int | None = None):
    input x: [b, dim]
    example(dim=8, dim_out=4, x=[2, 8])
    example(dim=8, x=[2, 8])
    let d = dim_out if dim_out is not None else dim
    layer fc = linear(dim, d)
    return fc(x)
"""
    blocks, _ = analyze(source, "p.attn")
    assert [values["d"] for values in example_values(blocks[0])] == [4, 8]
