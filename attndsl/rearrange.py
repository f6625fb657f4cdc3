"""einops-style rearrange patterns, parsed at compile time into plain reshape/permute steps.

`"b (g c) h w -> (b g) c h w"` has a left side of four groups over five elementary axes
and a right side of four groups over the same axes in the same order, so it compiles to
one `reshape`; a pattern that reorders axes compiles to reshape → permute → reshape,
with each step left out when it is the identity. No einops at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z_][A-Za-z0-9_]*|1|\S)")


class PatternError(Exception):
    def __init__(self, message: str, offset: int = 0, help: str | None = None, length: int = 1):
        super().__init__(message)
        self.message, self.offset, self.help, self.length = message, offset, help, length


@dataclass(frozen=True)
class Pattern:
    left: tuple[tuple[str, ...], ...]  # groups of elementary axis names; () is a literal 1
    right: tuple[tuple[str, ...], ...]

    @property
    def axes(self) -> list[str]:
        return [a for group in self.left for a in group]

    @property
    def permutation(self) -> list[int]:
        """Position in the left elementary order of each right elementary axis."""
        order = self.axes
        return [order.index(a) for group in self.right for a in group]


def _parse_side(text: str, base: int, positions: list | None = None) -> list[tuple[str, ...]]:
    """The groups of one side; `positions` collects (axis, offset) for every axis token."""
    groups: list[tuple[str, ...]] = []
    current: list[str] | None = None
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or not match.group(1):
            break
        token, offset = match.group(1), base + match.start(1)
        position = match.end()
        if token == "(":
            if current is not None:
                raise PatternError("nested parentheses are not allowed in a rearrange pattern", offset)
            current = []
        elif token == ")":
            if current is None:
                raise PatternError("unbalanced ')' in rearrange pattern", offset)
            groups.append(tuple(current))
            current = None
        elif token == "1":
            if current is not None:
                raise PatternError("'1' inside parentheses has no effect; remove it", offset)
            groups.append(())
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token):
            if positions is not None:
                positions.append((token, offset))
            if current is not None:
                current.append(token)
            else:
                groups.append((token,))
        else:
            raise PatternError(f"unexpected {token!r} in rearrange pattern", offset,
                               help="patterns use axis names, parentheses for groups, and 1")
    if current is not None:
        raise PatternError("unclosed '(' in rearrange pattern", base + len(text))
    return groups


def parse_pattern(text: str) -> Pattern:
    if text.count("->") != 1:
        raise PatternError("a rearrange pattern needs exactly one '->'", 0,
                           help='for example "b (h d) n -> b h d n"')
    left_text, right_text = text.split("->")
    left_positions: list = []
    right_positions: list = []
    left = _parse_side(left_text, 0, left_positions)
    right = _parse_side(right_text, len(left_text) + 2, right_positions)
    left_axes = [a for g in left for a in g]
    right_axes = [a for g in right for a in g]
    for side, positions in (("left", left_positions), ("right", right_positions)):
        seen = set()
        for axis, offset in positions:
            if axis in seen:  # the caret goes under the second occurrence
                raise PatternError(f"axis {axis!r} appears twice on the {side} side", offset, length=len(axis))
            seen.add(axis)
    for axis, offset in left_positions + right_positions:
        if (axis in left_axes) != (axis in right_axes):
            side = "right" if axis in left_axes else "left"
            raise PatternError(
                f"axis {axis!r} appears on one side of the pattern only", offset,
                help=f"rearrange only reorders, splits and merges axes: add {axis!r} to the {side} side",
                length=len(axis),
            )
    return Pattern(tuple(left), tuple(right))
