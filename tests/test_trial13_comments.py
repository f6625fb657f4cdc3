"""Comments, as trial 13 found them misplaced: in the generated module (a `for` or `if`
header's comments were dropped, a `return`'s went above an earlier statement) and in
`attndsl fmt` (comments among a block's arguments or inside brackets were moved off
their code)."""

from __future__ import annotations

import pytest

from attndsl.diagnostics import DiagnosticSink
from attndsl.parser import parse
from attndsl.tools.fmt import format_spec

from .language_support import compile_ok
from .tool_support import strip_spans


def _forward(source: str) -> list[str]:
    """The stripped lines of the generated forward."""
    return [line.strip() for line in compile_ok(source).split("def forward")[1].split("\n")]


def _just_above(lines: list[str], comment: str, code: str) -> bool:
    """`# comment` is on the line right above the first line starting with `code`, or among
    the comment lines right above it."""
    at = next(index for index, line in enumerate(lines) if line.startswith(code))
    above = at - 1
    while above >= 0 and lines[above].startswith("#"):
        if lines[above] == f"# {comment}":
            return True
        above -= 1
    return False


HEADERS = """
block B(d: int = 8, depth: int = 2, use_gate: bool = false):
    input x: [b, d]
    layer blocks = [linear(d, d) for _ in range(depth)]
    layer gate = linear(d, d)
    y = x
    for blk in blocks:  # loop comment
        y = blk(y) + y
    if use_gate:  # outer gate
        # gate comment
        if depth > 1:  # nested if
            y = y * sigmoid(gate(y))
        else:
            y = y * 0.5
    z = y + x
    return z  # final
"""


def test_for_and_if_headers_keep_their_comments():
    lines = _forward(HEADERS)
    assert _just_above(lines, "loop comment", "for blk in self.blocks:")
    assert _just_above(lines, "outer gate", "if self.use_gate:")
    assert _just_above(lines, "gate comment", "if self.depth > 1:")
    assert _just_above(lines, "nested if", "if self.depth > 1:")


def test_a_return_comment_stays_above_the_return():
    lines = _forward(HEADERS)
    assert _just_above(lines, "final", "return z")
    assert lines.count("# final") == 1


def test_an_if_comment_in_init():
    code = compile_ok("""
block B(d: int = 8, use_gate: bool = false):
    input x: [b, d]
    if use_gate:  # the optional gate
        layer gate = linear(d, d)
        y = x * sigmoid(gate(x))
    else:
        y = x
    return y
""")
    stripped = [line.strip() for line in code.split("\n")]
    for header, body in (("if use_gate:", "self.gate = nn.Linear(d, d)"),
                         ("if self.use_gate:", "y = x * self.gate(x).sigmoid()")):
        at = next(index for index, line in enumerate(stripped) if line.startswith(body))
        assert stripped[at - 2:at] == ["# the optional gate", header]


# ---------------------------------------------------------------------------- attndsl fmt


def _formats_to(source: str, want: str) -> None:
    """fmt writes `want`, which means what `source` does (comments included) and is stable."""
    assert format_spec(source) == want
    assert format_spec(want) == want
    assert _ast(want) == _ast(source)


def _ast(text: str):
    spec = parse(text, "t.attn", DiagnosticSink())
    assert spec is not None
    return strip_spans(spec)


def test_fmt_keeps_argument_comments_with_their_arguments():
    """They went into the body, above the docstring, the header joined on one line."""
    _formats_to('''\
block B(d: int = 16,  # model width
        h: int = 4):  # heads
    """Doc."""
    input x: [b, n, d]
    return x
''', '''\
block B(
    d: int = 16,  # model width
    h: int = 4,
):  # heads
    """Doc."""
    input x: [b, n, d]
    return x
''')


KEPT_INSIDE = {
    "after-an-item": """\
block B(d: int):
    input x: [b, d]
    layer fc = sequential(
        linear(d, d),  # the first projection
        relu(),
    )
    layer g = linear(d, d)
    return g(fc(x))
""",
    "in-a-nested-call": """\
block B(channel: int = 64, kernels: list[int] = [1, 3]):
    input x: [b, channel, h, w]
    layer convs = [
        sequential(
            conv=conv2d(channel, channel, k, padding=k // 2),  # same-size conv
            bn=batch_norm2d(channel),
            relu=relu(),
        ) for k in kernels
    ]
    return sum(stack([conv(x) for conv in convs], dim=0), dim=0)
""",
    "own-line": """\
block B(d: int):
    input x: [b, d]
    layer fc = sequential(
        # the first projection
        linear(d, d),
        relu(),
        # nothing after it
    )
    return fc(x)
""",
}


@pytest.mark.parametrize("source", KEPT_INSIDE.values(), ids=KEPT_INSIDE.keys())
def test_fmt_keeps_comments_inside_brackets(source):
    """They were hoisted above the statement, a blank line apart."""
    _formats_to(source, source)


def test_fmt_keeps_a_comment_after_a_comprehension_element_in_its_brackets():
    _formats_to("""\
block B(d: int):
    input x: [b, d]
    layer convs = [
        linear(d, d)  # one projection per branch
        for _ in range(2)
    ]
    return convs[0](x)
""", """\
block B(d: int):
    input x: [b, d]
    layer convs = [
        linear(d, d) for _ in range(2)  # one projection per branch
    ]
    return convs[0](x)
""")


END_OF_STATEMENT = """\
block B(d: int):
    input x: [b, d]
    layer fc = sequential(
        linear(d, d),
        relu())  # the head
    layer g = linear(d, d)
    return g(fc(x))
"""


def test_a_comment_ending_a_statement_is_not_the_next_ones():
    """The parser gave it to the statement below (in the generated code, it was above
    `self.g`), and fmt moved it there."""
    layer_g = parse(END_OF_STATEMENT, "t.attn", DiagnosticSink()).blocks[0].body[2]
    assert layer_g.name == "g" and layer_g.comments == []
    assert "# the head" not in compile_ok(END_OF_STATEMENT)
    _formats_to(END_OF_STATEMENT, """\
block B(d: int):
    input x: [b, d]
    layer fc = sequential(
        linear(d, d),
        relu(),
    )  # the head
    layer g = linear(d, d)
    return g(fc(x))
""")
