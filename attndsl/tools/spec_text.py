"""A light scan of a spec's text for what the AST does not keep: comments, blank lines,
where a header's `:` is, and where docstrings are. Strings are skipped as the grammar
defines them (`"..."` on one line, `\"\"\"...\"\"\"` across lines), so a `#` inside one is no comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Comment:
    line: int
    column: int  # 1-based
    text: str  # after the `#`, stripped, as the parser keeps it
    own_line: bool  # nothing but whitespace before it on its line


@dataclass
class SpecText:
    comments: dict[int, Comment] = field(default_factory=dict)
    blank: set[int] = field(default_factory=set)  # lines with nothing on them
    colons: list[int] = field(default_factory=list)  # lines of `:` outside brackets and strings
    long_strings: list[tuple[int, int]] = field(default_factory=list)  # (first line, last line)

    def colon_at_or_after(self, line: int) -> int:
        return next((c for c in self.colons if c >= line), line)

    def blank_between(self, after: int, before: int) -> bool:
        return any(line in self.blank for line in range(after + 1, before))


def scan(source: str) -> SpecText:
    text = SpecText()
    lines = source.split("\n")
    depth = 0
    in_long: int | None = None  # the line a docstring started on
    for number, line in enumerate(lines, start=1):
        index, has_code = 0, in_long is not None
        while index < len(line):
            if in_long is not None:
                end = line.find('"""', index)
                if end < 0:
                    break
                text.long_strings.append((in_long, number))
                in_long, index = None, end + 3
                continue
            char = line[index]
            if line.startswith('"""', index):
                in_long, has_code = number, True
                index += 3
            elif char == '"':
                index = _string_end(line, index + 1)
                has_code = True
            elif char == "#":
                text.comments[number] = Comment(number, index + 1, line[index + 1:].strip(), not has_code)
                break
            else:
                if char in "([{":
                    depth += 1
                elif char in ")]}":
                    depth = max(0, depth - 1)
                elif char == ":" and depth == 0:
                    text.colons.append(number)
                has_code = has_code or not char.isspace()
                index += 1
        if not has_code and number not in text.comments:
            text.blank.add(number)
    return text


def _string_end(line: str, index: int) -> int:
    while index < len(line):
        if line[index] == "\\":
            index += 2
        elif line[index] == '"':
            return index + 1
        else:
            index += 1
    return index
