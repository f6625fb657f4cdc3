"""Comments, as trial 13 found them misplaced: in the generated module (a `for` or `if`
header's comments were dropped, a `return`'s went above an earlier statement) and in
`attndsl fmt` (comments among a block's arguments or inside brackets were moved off
their code)."""

from __future__ import annotations

from .language_support import compile_ok


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
