"""Mutated catalogue specs: the catalogue (:data:`SPECS`), the tokenizer, and the
token/line/number/name/string edits that :func:`mutate_spec` applies to a catalogue spec.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SPECS_DIR = REPO_ROOT / "specs"
SPECS: dict[str, str] = {p.name: p.read_text(encoding="utf-8") for p in sorted(SPECS_DIR.glob("*.attn"))}


_TOKEN = re.compile(
    r'"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*|\r?\n|[ \t]+|[A-Za-z_][A-Za-z0-9_]*'
    r"|\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?"
    r"|\*\*|//|->|==|!=|<=|>=|\.\.\.|[\s\S]"
)

NUMBERS = ["0", "1", "-1", "2", "3", "7", "64", "-64", "1000000", "99999999999999999999999999", "1e308", "1e400",
           "1.5", "0.5", "0.0", "2.0", "1e-5", "-0", "00", "007", "1e0", ".5", "5."]
SPECIAL_NAMES = [
    # Python keywords and soft keywords
    "lambda", "class", "def", "import", "return", "yield", "async", "await", "global", "nonlocal", "del", "pass",
    "with", "try", "except", "finally", "raise", "while", "is", "from", "as", "assert", "break", "continue",
    "match", "case", "type", "_",
    # builtins and names the generated code relies on
    "print", "exec", "eval", "open", "list", "int", "float", "bool", "len", "range", "object", "id", "dir", "str",
    "tuple", "dict", "set", "super", "isinstance", "getattr", "ValueError",
    "self", "torch", "nn", "F", "OrderedDict", "forward", "Module", "Tensor", "Parameter", "Sequential",
    "None", "True", "False", "inf", "nan",
    # dunders
    "__init__", "__class__", "__import__", "__name__", "__dict__", "__builtins__", "__", "_0", "a__b",
    # the language's own words and functions
    "block", "input", "param", "layer", "let", "require", "example", "if", "elif", "else", "for", "in", "and", "or",
    "not", "true", "false", "rearrange", "softmax", "sum", "mean", "max", "min", "std", "sqrt", "all", "chunk",
    "cat", "stack", "shuffle", "transpose", "linear", "conv2d", "sequential", "relu", "sigmoid", "zeros", "ones",
    "randn", "dropout", "avg_pool", "masked_fill", "layer_norm", "group_norm",
    # generated temporaries and dims
    "x", "y", "part", "weights", "product", "b", "c", "h", "w", "n", "d", "g", "h'",
]
CHARS = ["(", ")", "[", "]", ",", ":", "=", "-", "+", "*", "/", "%", "@", ".", '"', "'", "#", "\\", "\t", " ", "\n",
         "\r", "\x00", "\x0c", "{", "}", "$", "`", "é", "λ", "\u00a0", "\u2028", "1", "a", "_", "<", ">", "!", "~",
         ";", "?", "&", "|", '"""']
TOKENS = ["(", ")", "[", "]", ",", ":", "=", "->", "**", "//", "@", "...", "==", "<", "-", "not", "and", "or",
          "if", "else", "for", "in", "None", "true", "false", '"b c -> c b"', '"(a b) -> a b"', '""', "[]", "()",
          "-inf", "inf", "1", "0"]
PATTERN_PIECES = ["(", ")", " ", "->", "1", "a", "b", "c", "g", "h", "w", "(h w)", "(g c)", "x", "self", "__x", "-",
                  ">", "!", "2", "é", "((", "))"]
MUTATIONS = ["delete_token", "duplicate_token", "swap_tokens", "number", "rename", "rename_all", "insert_char",
             "replace_token", "truncate", "delete_line", "duplicate_line", "swap_lines", "reindent", "string"]


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _significant(tokens: list[str]) -> list[int]:
    return [i for i, t in enumerate(tokens) if not t.isspace()]


def mutate_once(ch, source: str) -> str:
    kind = ch.choice(MUTATIONS)
    tokens = tokenize(source)
    significant = _significant(tokens)
    lines = source.split("\n")
    if kind in ("delete_token", "duplicate_token", "replace_token") and significant:
        i = significant[ch.int(0, len(significant) - 1)]
        if kind == "delete_token":
            tokens[i] = ""
        elif kind == "duplicate_token":
            tokens[i] = tokens[i] + ch.choice(["", " "]) + tokens[i]
        else:
            tokens[i] = ch.choice(TOKENS + SPECIAL_NAMES[:8])
        return "".join(tokens)
    if kind == "swap_tokens" and len(significant) > 1:
        i = significant[ch.int(0, len(significant) - 1)]
        j = significant[ch.int(0, len(significant) - 1)]
        tokens[i], tokens[j] = tokens[j], tokens[i]
        return "".join(tokens)
    if kind == "number":
        numbers = [i for i, t in enumerate(tokens) if t[:1].isdigit() or (t[:1] == "." and t[1:2].isdigit())]
        if numbers:
            tokens[ch.choice(numbers)] = ch.choice(NUMBERS)
            return "".join(tokens)
    if kind in ("rename", "rename_all"):
        names = [i for i, t in enumerate(tokens) if t[:1].isalpha() or t[:1] == "_"]
        if names:
            i = ch.choice(names)
            pool = sorted({tokens[j] for j in names})
            new = ch.choice(pool) if ch.chance(0.5) else ch.choice(SPECIAL_NAMES)
            if kind == "rename":
                tokens[i] = new
            else:
                old = tokens[i]
                tokens = [new if t == old else t for t in tokens]
            return "".join(tokens)
    if kind == "insert_char":
        at = ch.int(0, len(source))
        return source[:at] + ch.choice(CHARS) + source[at:]
    if kind == "truncate":
        return source[: ch.int(0, len(source))]
    if kind in ("delete_line", "duplicate_line", "swap_lines", "reindent") and lines:
        i = ch.int(0, len(lines) - 1)
        if kind == "delete_line":
            del lines[i]
        elif kind == "duplicate_line":
            lines.insert(i, lines[i])
        elif kind == "swap_lines":
            j = ch.int(0, len(lines) - 1)
            lines[i], lines[j] = lines[j], lines[i]
        else:
            indent = ch.choice(["", " ", "  ", "    ", "        ", "\t", "    \t", "  \t  "])
            lines[i] = indent + lines[i].lstrip(" \t")
        return "\n".join(lines)
    if kind == "string":
        strings = [i for i, t in enumerate(tokens) if t.startswith('"') and len(t) >= 2]
        if strings:
            i = ch.choice(strings)
            body = tokens[i][1:-1]
            at = ch.int(0, len(body))
            action = ch.choice(["insert", "delete", "swap_sides"])
            if action == "insert":
                body = body[:at] + ch.choice(PATTERN_PIECES) + body[at:]
            elif action == "delete":
                body = body[:at] + body[at + ch.int(1, 3):]
            elif "->" in body:
                left, _, right = body.partition("->")
                body = right.strip() + " -> " + left.strip()
            tokens[i] = '"' + body + '"'
            return "".join(tokens)
    return source


def mutate_spec(ch) -> tuple[str, str]:
    """(path, mutated source) of a catalogue spec with 1-4 mutations."""
    name = ch.choice(sorted(SPECS))
    source = SPECS[name]
    for _ in range(1 + (ch.int(0, 3) if ch.chance(0.5) else 0)):  # one edit half the time: more of them compile
        source = mutate_once(ch, source)
    return f"specs/{name}", source
