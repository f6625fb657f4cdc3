"""IR passes: common-subexpression and dead-code elimination."""

from __future__ import annotations

import re

from attndsl.compiler import analyze, compile_source
from attndsl.passes import eliminate_common_subexpressions, eliminate_dead_code


def _block(source: str):
    blocks, sink = analyze(source, "p.attn")
    assert blocks, [d.message for d in sink.items]
    return blocks[-1]


def _ops(ir) -> list[str]:
    return [ir.graph.nodes[n]["op"] for n in ir.topological()]


def test_cse_merges_equal_computations():
    ir = _block("block P():\n    input x: [b, n]\n    a = sigmoid(x * 2)\n    c = sigmoid(x * 2)\n    return a + c\n")
    before = _ops(ir).count("sigmoid")
    merged = eliminate_common_subexpressions(ir)
    assert before == 2 and _ops(ir).count("sigmoid") == 1 and merged >= 2  # the mul and the sigmoid


def test_cse_keeps_stochastic_layer_calls_apart():
    source = ("block P(p: float = 0.5):\n    input x: [b, n]\n    layer drop = dropout(p)\n"
              "    return drop(x) + drop(x)\n")
    ir = _block(source)
    eliminate_common_subexpressions(ir)
    assert _ops(ir).count("call_layer") == 2  # two dropout masks in training, as written


def test_cse_respects_guards():
    source = ("block P(flag: bool = true):\n    input x: [b, n]\n    y = exp(x)\n    if flag:\n"
              "        y = exp(x) * 2\n    return y\n")
    ir = _block(source)
    eliminate_common_subexpressions(ir)
    assert _ops(ir).count("exp") == 2  # one is guarded, one is not


def test_dce_removes_what_no_output_needs():
    ir = _block("block P():\n    input x: [b, n]\n    unused = exp(x) * 3\n    return sigmoid(x)\n")
    removed = eliminate_dead_code(ir)
    assert removed == 3 and "exp" not in _ops(ir)  # exp, the scalar 3, the mul
    assert "input" in _ops(ir)


def test_generated_code_shows_the_passes():
    result = compile_source("block P():\n    input x: [b, n]\n    unused = exp(x)\n"
                            "    return sigmoid(x) * sigmoid(x)\n", "p.attn")
    forward = result.code.split("def forward", 1)[1]
    assert "exp" not in forward
    assert forward.count(".sigmoid()") == 1


def test_a_fused_attention_is_written_where_the_spec_computes_it():
    """Two attentions, one after the other: each fused call is written at its own lines,
    before the second attention's projections (not after every node made before the pass,
    which kept the first's q, k, v alive and named the second's q_2, k_2, v_2)."""
    source = """
block Two(dim: int):
    input x: [b, n, dim]
    layer to_qkv_a = linear(dim, 3 * dim)
    layer to_qkv_b = linear(dim, 3 * dim)
    q, k, v = [rearrange(t, "b n (g e) -> b g n e", g=2) for t in chunk(to_qkv_a(x), 3, dim=-1)]
    a = softmax(q @ transpose(k, -1, -2) / sqrt(dim), dim=-1) @ v
    a = rearrange(a, "b g n e -> b n (g e)")
    q, k, v = [rearrange(t, "b n (g e) -> b g n e", g=2) for t in chunk(to_qkv_b(x), 3, dim=-1)]
    return a + rearrange(softmax(q @ transpose(k, -1, -2) / sqrt(dim), dim=-1) @ v, "b g n e -> b n (g e)")
"""
    forward = compile_source(source, "two.attn").code.split("def forward", 1)[1]
    lines = [int(found.group(1)) for found in re.finditer(r"  two\.attn:(\d+)$", forward, re.MULTILINE)]
    assert lines == sorted(lines), lines
    assert forward.count("F.scaled_dot_product_attention(") == 2 and "q_2" not in forward


def test_topological_order_is_networkx_order_before_and_after_the_passes():
    """`BlockIR.topological` sorts the ids when every edge runs from a smaller id to a larger
    one; that must be exactly networkx's lexicographical order, on every spec, before the
    passes and after their rewrites (which can feed an old node from a new one, and sort a
    node they make as the one it stands for)."""
    import networkx as nx

    from attndsl.passes import run_passes
    from tests.mechanisms import REPO_ROOT

    rewired = 0
    for path in sorted((REPO_ROOT / "specs").glob("*.attn")):
        blocks, _ = analyze(path.read_text(encoding="utf-8"), path.as_posix())
        for ir in blocks:
            for stage in ("lowered", "optimised"):
                if stage == "optimised":
                    run_passes(ir, optimize=True)
                key = lambda n: (ir.graph.nodes[n].get("sort_as", n), n)  # noqa: E731
                assert ir.topological() == list(nx.lexicographical_topological_sort(ir.graph, key=key)), \
                    (path.name, stage)
                rewired += any(user < node for node, users in ir.graph.adj.items() for user in users)
    assert rewired  # the general sort is exercised too, not only the sorted ids
