"""The AST built while the LALR parser reduces (attndsl/ast_reductions.py) is the AST the
tree path builds (Lark tree with `propagate_positions`, then AstBuilder.transform), spans
included; a spec that does not parse, or nests too deeply, is still reported by the tree path."""

from __future__ import annotations

from pathlib import Path

from attndsl.ast_builder import AstBuilder
from attndsl.compiler import compile_source
from attndsl.diagnostics import DiagnosticSink
from attndsl.parser import _build_while_parsing, _lark, parse

ROOT = Path(__file__).resolve().parent.parent

# Where Lark's positions are subtle: a parenthesised first or last operand (the node starts at
# `(`, its container), placeholders of `[...]`, `?rule` pass-throughs, trailing commas, comments.
TRICKY = '''\
# leading comment
block B(d: int, *, k: int = 3, norm: layer[batch_norm2d] | None = None):
    """doc"""
    input x: [b, (d), n]  # trailing
    input m: bool[b, n, n] = None
    let h = (d + k) * 2 - (k)
    require (d % 2 == 0) and not (k < 1), "odd"
    layer proj = linear((d), d * 2,)
    y = (x + 1) * ((x - 2) / 3) ** 2
    if m is not None:
        y = y.masked_fill(m, -1.0)
    elif k > 2:
        y = -(y)
    else:
        y = y[:, ::2, None][..., 1:]
    return proj(y.transpose(1, 2)), (y if k > 1 else x)
'''


def _both_ways(text: str, path: str):
    fast = _build_while_parsing(text, path)
    tree = AstBuilder(path).transform(_lark().parse(text))
    return fast, tree


def test_every_spec_builds_the_same_ast_both_ways():
    sources = [(p.read_text(encoding="utf-8"), p.name) for p in sorted((ROOT / "specs").glob("*.attn"))]
    for text, path in sources + [(TRICKY, "tricky.attn")]:
        fast, tree = _both_ways(text, path)
        assert fast is not None, path  # the fast way ran: a silent fallback would only be slow
        assert repr(fast) == repr(tree), path


def test_a_mismatch_in_positions_would_show():
    # The comparison above can fail: a span off by the parentheses is a different repr. A
    # comparison starts where its first operand's container does, at `(`, not at `x`.
    fast, tree = _both_ways("block B():\n    input x: [n]\n    return (x + 1) == 2\n", "p.attn")
    for items in (fast, tree):
        compared = items[0].body[-1].values[0]
        assert (compared.span.column, compared.left.span.column) == (12, 13)


def test_errors_are_reported_by_the_tree_path():
    sink = DiagnosticSink()
    assert parse("block B():\n    input x: [n]\n    return f(a=1, x)\n", "e.attn", sink) is None
    assert [d.code for d in sink.items] == ["E0005"]
    sink = DiagnosticSink()
    assert parse("block B():\n    input x: [n]\n    return (x\n", "e.attn", sink) is None
    assert [d.code for d in sink.items] == ["E0002"]


def test_a_spec_nested_too_deeply_is_still_e0008():
    text = "block B(d: int = 4):\n    input x: [b, n, d]\n    return " + "(" * 3000 + "x" + ")" * 3000 + "\n"
    assert [d.code for d in compile_source(text, "deep.attn").diagnostics] == ["E0008"]
