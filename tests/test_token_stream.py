"""attndsl/token_stream.py gives the parser the tokens Lark's contextual lexer and indenter
give it, positions included, and the comments reach attndsl/parser.py the same way; where
Lark would raise, it stops (the spec is then parsed, and reported, Lark's way)."""

from __future__ import annotations

from pathlib import Path

import pytest

from attndsl import parser
from attndsl.ast_reductions import _building
from attndsl.token_stream import NotLexed

ROOT = Path(__file__).resolve().parent.parent

# Keywords and names that start alike, brackets over lines, tabs, comments everywhere, blocks
# closed by the end of the text.
EDGES = [
    "block B(d: int):\n    input x: [b, d]\n    iff = x\n    notx = iff\n    return notx\n",
    "block B(d: int):\n    input x: [b,\n        d]  # inside brackets\n    # alone\n    return x\n",
    "block B(d: int):\n\tinput x: [b, d]\n\tif d > 1:\n\t\tx = x * 2\n\treturn x\n",
    "# first\n\nblock B():\n    input x: [n]\n    return x  # last\n",
    "block B(d: int):\n    input x: [b, d]\n    λc = x * 2\n    return λc + x\n",  # Unicode names
]


def _lark_tokens(text: str) -> tuple[list, dict]:
    parser._seen_comments.clear()
    interactive = parser._lark().parse_interactive(text)
    tokens = [_fields(token) for token in interactive.iter_parse()]
    return tokens, dict(parser._seen_comments)


def _stream_tokens(text: str) -> tuple[list, dict]:
    """The tokens the fused stream gives Lark's own parser (fed one by one)."""
    parser._seen_comments.clear()
    interactive = parser._lark().parse_interactive("")
    given = []

    def feed(token):
        given.append(_fields(token))
        interactive.feed_token(token)

    _building(parser._lark()).tokens.feed_all(text, interactive.parser_state.state_stack, feed)
    return given, dict(parser._seen_comments)


def _fields(token) -> tuple:
    return (token.type, str(token), token.start_pos, token.line, token.column, token.end_line, token.end_column,
            token.end_pos)


@pytest.mark.parametrize("text", [p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").glob("*.attn"))]
                         + EDGES)
def test_the_tokens_are_lark_s(text):
    assert _stream_tokens(text) == _lark_tokens(text)


BROKEN = ["block B():\n    input x: [n]\n    return x $\n",  # no terminal matches `$`
          # a dedent to a column no block starts at
          "block B(k: int):\n    input x: [n]\n    if k > 1:\n        x = x * 2\n      return x\n"]


@pytest.mark.parametrize("text", BROKEN)
def test_where_lark_raises_the_stream_stops(text):
    with pytest.raises(Exception):
        _lark_tokens(text)
    with pytest.raises(NotLexed):
        _stream_tokens(text)
