"""`attndsl fmt` on the newer syntax (tuples, buffers, `init`, conditional values, `is None`,
optional types, subscripts, sequentials written child by child): the formatted spec parses
to the same AST and formats to itself."""

from __future__ import annotations

from attndsl.diagnostics import DiagnosticSink
from attndsl.parser import parse
from attndsl.tools.fmt import format_spec

from .test_lang_init import EXTERNAL
from .test_lang_masks import CAUSAL
from .test_lang_numbers import ECA, VOLO
from .test_lang_sequentials import SPATIAL
from .test_lang_tuples import CONV, PAIR
from .tool_support import strip_spans

SOURCES = [EXTERNAL, CAUSAL, ECA, VOLO, SPATIAL, CONV, PAIR,
           "block B(k: int = 2):\n    input x: [b, c, n]\n    return x[:, :k, None, 1:n:2] + x[..., -1:, None]\n"]


def _ast(text: str):
    spec = parse(text, "t.attn", DiagnosticSink())
    assert spec is not None, text
    return strip_spans(spec)


def test_the_new_syntax_formats_to_the_same_ast_and_is_stable():
    for source in SOURCES:
        formatted = format_spec(source, "t.attn")
        assert _ast(formatted) == _ast(source), formatted
        assert format_spec(formatted, "t.attn") == formatted
