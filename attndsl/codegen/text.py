"""Text made safe for generated code: string literals, f-strings, comments, docstrings."""

from __future__ import annotations


def python_string(text: str) -> str:
    """A double-quoted Python literal for any text (user text is never pasted raw)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    if not escaped.isprintable():  # (almost every text is: then no character needs escaping)
        escaped = "".join(c if c.isprintable() or c in "\\" else f"\\x{ord(c):02x}" if ord(c) < 256 else
                          f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def fstring(parts: list[tuple[str, str]]) -> str:
    """An f-string from ("text", ...) and ("code", ...) parts, escaping the text."""
    formatted = any(kind == "code" for kind, _ in parts)
    out = []
    for kind, value in parts:
        if kind == "text":
            literal = python_string(value)[1:-1]
            out.append(literal.replace("{", "{{").replace("}", "}}") if formatted else literal)
        else:
            out.append("{" + value + "}")
    body = "".join(out)
    return f'f"{body}"' if formatted else f'"{body}"'


def comment_text(text: str) -> str:
    """A user comment made safe for a `#` line (no line breaks can escape it)."""
    if text.isprintable():  # the common case, without a look at each character
        return text.strip()
    return "".join(c if c.isprintable() else " " for c in text).strip()


# A statement's shape comment, marked until its indentation is known (`placed_shape_comments`).
SHAPE_COMMENT = "  #\x1f "


def placed_shape_comments(lines: list[str], indent: int, width: int) -> list[str]:
    """Each shape comment after its statement where both fit in `width` columns at `indent`,
    else on its own line above: a formatter that counts the comment in the line would fold
    the code (`self.attn(\n    x\n)  # [b, n, c]`) to make room for it."""
    placed = []
    for line in lines:
        code, marked, comment = line.partition(SHAPE_COMMENT)
        if not marked:
            placed.append(line)
        elif indent + len(code) + len(comment) + 4 <= width:
            placed.append(f"{code}  # {comment}")
        else:
            placed += [f"{code[:len(code) - len(code.lstrip())]}# {comment}", code]
    return placed


def docstring_text(text: str) -> str:
    cleaned = text
    if not text.replace("\n", "").isprintable():  # (rarely: a tab, a control character)
        cleaned = "".join(c if c.isprintable() or c == "\n" else " " for c in text)
    return cleaned.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


# ---------------------------------------------------------------------------- blocks


def float_text(value) -> str:
    """A whole number as a Python float: `-1e9` where it ends in six zeros or more (as a
    spec writes a large fill value), else as Python writes it (`2.0`, `1e+20` is `1e20`)."""
    whole = int(value)
    digits = str(abs(whole)).rstrip("0")
    zeros = len(str(abs(whole))) - len(digits)
    if whole and zeros >= 6:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        return f"{'-' if whole < 0 else ''}{mantissa}e{zeros + len(digits) - 1}"
    return repr(float(value))
