"""einsum equations with named axes: `"b h i d, b h j d -> b h i j"`, parsed at compile time.

Each operand is a list of axis names (einops' style: words, not letters), separated by
commas; after `->`, the axes of the result. An axis named in two operands is the same
size; one missing from the result is summed over. The generated code calls
`torch.einsum` with one letter per axis (`"bhid,bhjd->bhij"`), a name's own first letter
where it is free. Not taken: `...`, parentheses, an axis twice in one operand (a
diagonal), an axis of the result that no operand has.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from .rearrange import PatternError

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|,|->|\S)")


@dataclass(frozen=True)
class Equation:
    inputs: tuple[tuple[str, ...], ...]
    output: tuple[str, ...]

    @property
    def axes(self) -> list[str]:
        """Every axis, in the order of first appearance."""
        return list(dict.fromkeys(a for term in self.inputs + (self.output,) for a in term))

    def subscripts(self) -> str:
        """torch's form: one letter per axis, operands joined by commas."""
        letters = _letters(self.axes)

        def term(axes: tuple[str, ...]) -> str:
            return "".join(letters[axis] for axis in axes)

        return ",".join(term(axes) for axes in self.inputs) + "->" + term(self.output)


def _letters(axes: list[str]) -> dict[str, str]:
    """A letter per axis: its own first letter where that is free, else the next free one."""
    free = list(string.ascii_lowercase + string.ascii_uppercase)
    chosen: dict[str, str] = {}
    for axis in axes:
        letter = axis[0] if axis[0] in free else free[0]
        free.remove(letter)
        chosen[axis] = letter
    return chosen


def parse_equation(text: str) -> Equation:
    terms: list[list[tuple[str, int]]] = [[]]
    commas: list[int] = []
    output: list[tuple[str, int]] | None = None
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or not match.group(1):
            break
        token, offset = match.group(1), match.start(1)
        position = match.end()
        if token == "->":
            if output is not None:
                raise PatternError("an einsum equation has one '->'", offset, length=2)
            output = []
        elif token == ",":
            if output is not None:
                raise PatternError("the result of an einsum is one tensor: no ',' after '->'", offset)
            terms.append([])
            commas.append(offset)
        elif token[0].isalpha() or token[0] == "_":
            (output if output is not None else terms[-1]).append((token, offset))
        else:
            raise PatternError(f"unexpected {token!r} in an einsum equation: axes are names, operands are separated "
                               "by ','", offset, help='for example "b h i d, b h j d -> b h i j"')
    if output is None:
        raise PatternError("an einsum equation needs '->' and the axes of its result", len(text),
                           help='for example "b h i d, b h j d -> b h i j"')
    if len(terms) > 2:
        raise PatternError("einsum takes one or two operands", commas[1])
    _check_terms(terms, output)
    return Equation(tuple(tuple(a for a, _ in term) for term in terms), tuple(a for a, _ in output))


def _check_terms(terms: list, output: list) -> None:
    named = {axis for term in terms for axis, _ in term}
    for side in terms + [output]:
        seen: set[str] = set()
        for axis, offset in side:
            if axis in seen:
                what = "the result" if side is output else "an operand"
                raise PatternError(f"axis {axis!r} appears twice in {what}", offset, length=len(axis),
                                   help="a diagonal is not taken; name the two axes apart")
            seen.add(axis)
    for axis, offset in output:
        if axis not in named:
            raise PatternError(f"axis {axis!r} of the result is in no operand", offset, length=len(axis),
                               help="einsum sums axes away or keeps them; it makes none")
    if len(named) > 52:  # one letter each in torch's form
        raise PatternError("an einsum equation has at most 52 axes", 0)
