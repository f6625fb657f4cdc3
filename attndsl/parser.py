"""Text → AST. Knows nothing of shapes or torch.

Lark parses with LALR and `propagate_positions`; attndsl/ast_builder.py's transformer
builds the AST so that every node keeps its span. Parse errors become located diagnostics.
A spec is first parsed the fast way, the AST built as the parser goes
(attndsl/ast_reductions.py); a spec with an error is parsed again this way, which reports it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError, Indenter

from . import syntax as ast
from .ast_builder import AstBuilder
from .ast_reductions import NotParsed, TooDeep, build_while_parsing
from .ast_expressions import SyntaxProblem
from .diagnostics import DiagnosticSink, Span, source_line
from .resources import resource_dir


class _AttnIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB", "LBRACE"]
    CLOSE_PAREN_types = ["RPAR", "RSQB", "RBRACE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 4

    def handle_NL(self, token: Token):
        try:
            yield from super().handle_NL(token)
        except DedentError:
            # A dedent to a column no enclosing block starts at: report the line, not a crash.
            line = token.end_line or token.line
            raise _BadDedent(line, len(token.value.rsplit("\n", 1)[-1])) from None


class _BadDedent(Exception):
    def __init__(self, line: int, width: int):
        super().__init__(line)
        self.line, self.width = line, width


# Comments seen by the lexer during the current parse (the parser drops them), so that
# they can reach the generated code. Filled by the lexer callbacks below.
_seen_comments: dict[int, str] = {}


def _on_comment(token: Token) -> Token:
    _seen_comments[token.line] = token.value[1:].strip()
    return token


def _on_newline(token: Token) -> Token:
    # Comment lines between statements travel inside the newline token.
    for offset, text in enumerate(token.value.split("\n")):
        stripped = text.strip()
        if stripped.startswith("#"):
            _seen_comments[token.line + offset] = stripped[1:].strip()
    return token


def _on_name(token: Token) -> Token:
    """A name beyond ASCII must be one Python takes as it is (`λc`): an identifier, and its
    NFKC form, which is what Python reads (`x²` would be `x2`, another name of the spec)."""
    if not token.isascii() and (not token.isidentifier() or unicodedata.normalize("NFKC", token) != token):
        span = Span(_current_path[0], token.line, token.column, token.line, token.column + len(token))
        python = unicodedata.normalize("NFKC", token)
        if python != token and python.isidentifier():
            raise SyntaxProblem("E0001", f"`{token}` cannot be a name: Python reads it as `{python}`", span,
                                help=f"write `{python}` (Python would take the two spellings for one name)")
        raise SyntaxProblem("E0001", f"`{token}` cannot be a name: it is not a Python identifier", span,
                            help="a name is letters, digits and `_`, not starting with a digit, "
                            "as Python's identifiers (`λc` is one)")
    return token


_current_path = ["<spec>"]  # the path of the spec being parsed, for `_on_name`'s span


@cache
def _lark() -> Lark:
    grammar = (resource_dir("grammars") / "attn.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        postlex=_AttnIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _on_comment, "_NL": _on_newline, "NAME": _on_name},
        cache=True,
    )


def preload() -> None:
    """Build the parser (or load its tables from the cache) now, before worker processes are
    forked (attndsl/batch.py), so that each has it."""
    _lark()


# Friendly names for the terminals a parse error can mention.
_TERMINAL_NAMES = {
    "_NL": "a line break",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "LONG_STRING": "a docstring",
    "COLON": "':'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "EQUAL": "'='",
    "$END": "the end of the file",
}


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[terminal]
    pattern = _lark().get_terminal(terminal).pattern
    return repr(pattern.value) if pattern.type == "str" else terminal.lower()



def _attach_comments(blocks: list[ast.Block], comments: dict[int, str], source: str) -> None:
    """Give each statement the comments on its line and on the comment lines just above it.
    A comment after code is no comment line: the one that ends a statement written over
    several lines (`)  # ...`) is inside that statement, not above the next one."""
    lines = source.split("\n")
    comments_alone = {n for n in comments if n - 1 < len(lines) and lines[n - 1].lstrip().startswith("#")}
    taken: set[int] = set()

    def visit(stmts: list[ast.Stmt]) -> None:
        for stmt in stmts:
            line = stmt.span.line
            above = []
            probe = line - 1
            while probe in comments_alone and probe not in taken:
                above.append(probe)
                probe -= 1
            for number in sorted(above) + ([line] if line in comments else []):
                taken.add(number)
                stmt.comments.append(comments[number])
            if isinstance(stmt, ast.If):
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.For):
                visit(stmt.body)

    for block in blocks:
        probe = block.span.line - 1
        lead = []
        while probe in comments_alone:
            lead.append(probe)
            probe -= 1
        block.comments = [comments[n] for n in sorted(lead)]
        taken.update(lead)
        visit(block.body)


def parse(source: str, path: str, sink: DiagnosticSink) -> ast.Spec | None:
    """Parse a spec; on a syntax error record a diagnostic and return None."""
    if not source.endswith("\n"):
        source += "\n"
    _seen_comments.clear()
    _current_path[0] = path
    try:
        items = _build_while_parsing(source, path)
    except (UnexpectedInput, SyntaxProblem, _BadDedent, TooDeep, NotParsed):
        items = None  # the spec has an error: reported below, as the tree path always did
    if items is not None:
        return _spec(items, dict(_seen_comments), source, path, sink)
    _seen_comments.clear()
    try:
        tree = _lark().parse(source)
        comments = dict(_seen_comments)
        items = AstBuilder(path).transform(tree)
    except UnexpectedInput as error:
        _report_parse_error(error, source, path, sink)
        return None
    except SyntaxProblem as problem:
        sink.error(problem.code, problem.message, problem.span, help=problem.help)
        return None
    except _BadDedent as problem:
        sink.error("E0002", "this line's indentation matches no enclosing block",
                   Span(path, problem.line, 1, problem.line, problem.width + 1),
                   help="indent it as far as the lines of its block, or as far as an enclosing one")
        return None
    return _spec(items, comments, source, path, sink)


def _build_while_parsing(source: str, path: str) -> list | None:
    """The spec's items, built while Lark's LALR table is followed (attndsl/ast_reductions.py),
    or None where that cannot be done; raises on an error, which `parse` then reports."""
    return build_while_parsing(_lark(), source, path)


def _spec(items: list, comments: dict[int, str], source: str, path: str, sink: DiagnosticSink) -> ast.Spec | None:
    blocks = [item for item in items if isinstance(item, ast.Block)]
    imports = [item for item in items if isinstance(item, ast.Import)]
    _attach_comments(blocks, comments, source)
    if not blocks:
        sink.error("E0003", "the spec defines no block", Span(path, 1, 1, 1, 2),
                   help="a spec starts with `block Name(arg: int, ...):`")
        return None
    return ast.Spec(Span(path, 1, 1, 1, 1), blocks, source, imports)


def _unclosed_string(pos: int, source: str, path: str, line: int, column: int, sink: DiagnosticSink) -> bool:
    """A quote the lexer stopped at that opens a string never closed (`\"\"\"` with no closing
    one, `"` with none on its line): said so, at the string's first quote."""
    start = pos
    while start > 0 and source[start - 1] == source[pos] and pos - start < 2:
        start -= 1  # `\"\"\"`: the lexer took the first two for an empty string
    first = column - (pos - start)
    quote = source[pos]
    if source.startswith(quote * 3, start):
        if source.find(quote * 3, start + 3) != -1:
            return False
        sink.error("E0001", f"this docstring is never closed: no {quote * 3} after it",
                   Span(path, line, first, line, first + 3), help=f"end it with {quote * 3}")
        return True
    end = source.find("\n", pos)
    if quote in source[pos + 1:end if end != -1 else len(source)]:
        return False
    sink.error("E0001", "this string is not closed on its line", Span(path, line, first, line, first + 1),
               help=f"end it with {quote}")
    return True


def _report_parse_error(error: UnexpectedInput, source: str, path: str, sink: DiagnosticSink) -> None:
    line, column = getattr(error, "line", 1) or 1, getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedCharacters):
        char = source[error.pos_in_stream] if error.pos_in_stream < len(source) else ""
        if char in "\"'" and _unclosed_string(error.pos_in_stream, source, path, line, column, sink):
            return
        span = Span(path, line, column, line, column + 1)
        sink.error("E0001", f"unexpected character {char!r}", span)
        return
    if isinstance(error, UnexpectedEOF):
        last = source.rstrip("\n").count("\n") + 1
        sink.error("E0002", "the file ends in the middle of a statement", Span(path, last, 1, last, 2))
        return
    assert isinstance(error, UnexpectedToken)
    token = error.token
    expected = sorted(_describe(t) for t in error.expected if not t.startswith("__"))
    if token.type == "$END":
        last = source.rstrip("\n").count("\n") + 1
        sink.error("E0002", "the file ends in the middle of a statement", Span(path, last, 1, last, 2))
        return
    if token.type == "_INDENT":
        message = "unexpected indentation"
    elif token.type == "_DEDENT":
        message = "this block ends too early"
    elif token.type == "_NL":
        message = "the line ends too early"
    else:
        message = f"unexpected {token.value!r}"
    width = max(1, len(token.value)) if token.type not in ("_NL", "_INDENT", "_DEDENT") else 1
    span = Span(path, token.line, token.column, token.line, token.column + width)
    tailored = None
    if token.type == "COMMA":
        tailored = _comma_mistake(source_line(source, token.line) or "", token.column)
    elif {"EQUAL", "LBRACE"} <= set(error.expected):  # where a sequential's body names a child
        tailored = _statement_among_children(source.split("\n")[:token.line], token.column)
        if tailored is not None:  # shown on the keyword the body cannot have
            line = source_line(source, token.line) or ""
            start = len(line) - len(line.lstrip()) + 1
            span = Span(path, token.line, start, token.line, start + len(line.split()[0].rstrip(":")))
    if tailored is not None:
        sink.error("E0002", tailored[0], span, help=tailored[1])
        return
    hint = None
    if expected:
        shown = expected[:6]
        hint = "expected " + ", ".join(shown) + (" or another token" if len(expected) > 6 else "")
    sink.error("E0002", message, span, help=hint)


# Common mistakes with a message of their own (the parser would only say "unexpected ','").
_IDENT = r"[^\W\d]\w*"  # a name, as the grammar's NAME and Python's identifiers
_ASSIGNED = re.compile(rf"\s*(?P<let>let\s+)?(?P<targets>{_IDENT}(?:\s*,\s*{_IDENT})*)\s*=(?!=)(?P<value>.*)")
_LET_TARGETS = re.compile(rf"\s*let\s+(?P<targets>{_IDENT}(?:\s*,\s*{_IDENT})*)\s*=(?!=)(?P<value>.*)")


def _comma_mistake(line: str, column: int) -> tuple[str, str] | None:
    """(message, help) for a comma a spec cannot have at `column` (1-based) of `line`, where
    it is one of the mistakes Python allows: a tuple assigned (`q, k = a(x), c(x)`, `y = a,
    b`, `let s = a, b`) or a `let` of several names (`let a, b = 1, 2`); None otherwise."""
    text = _without_comment(line)
    before = text[:column - 1]
    assigned = _ASSIGNED.fullmatch(before)
    values = None if assigned is None else _top_level_parts(assigned["value"] + text[column - 1:])
    if values is not None:  # the comma is in the value: `targets = first, ...`
        targets = [t.strip() for t in assigned["targets"].split(",")]
        return "a spec assigns one value per statement; this one is a tuple of values", _one_per_line(
            targets, values, assigned["let"] or "")
    let = _LET_TARGETS.fullmatch(text.rstrip())
    if let is not None and column - 1 < let.start("value"):  # the comma is in a let's names
        targets = [t.strip() for t in let["targets"].split(",")]
        return "a `let` names one value", _one_per_line(targets, _top_level_parts(let["value"]) or [], "let ")
    return None


_SEQUENTIAL = re.compile(rf"\s*layer\s+(?P<name>{_IDENT})\s*=\s*sequential\s*:")


def _statement_among_children(lines: list[str], column: int) -> tuple[str, str] | None:
    """(message, help) for a statement in a sequential's body, which names children (`bn = ...`)
    and loops over them only: the keyword that opens the last of `lines` was read as a child's name."""
    line = _without_comment(lines[-1])
    word = line[:column - 1].strip()  # (the keyword, alone before the token)
    if word not in ("if", "elif", "else", "let", "layer", "param", "require", "return"):
        return None
    opened = next((match for match in map(_SEQUENTIAL.match, reversed(lines)) if match), None)
    name = opened["name"] if opened else "s"
    if word in ("if", "elif", "else"):
        condition = line[column - 1:].rstrip().removesuffix(":").strip() if word != "else" else "condition"
        return ("conditions are not allowed in a sequential body: it names children, one a line, and loops "
                "over them", f"write one sequential for each case: `if {condition}:` with `layer {name} = "
                "sequential:` and the children it has, then `else:` with another `layer "
                f"{name} = sequential:` without them")
    return (f"a sequential body names children, one a line, and loops over them: no `{word}` there",
            f"write the `{word}` before `layer {name} = sequential:`" if word != "return" else
            f"end the sequential's body first: `return` goes after `layer {name} = sequential:` and its children, "
            "indented as the `layer`")


def _one_per_line(targets: list[str], values: list[str], let: str) -> str:
    several = ("; several names take the values of one call that returns several: "
               "`q, k, v = unbind(qkv, dim=0)`, or a block's tuple output `y, attention = inner(x)`")
    if len(targets) == len(values) > 1 and all(values):
        written = "`, then `".join(f"{let}{t} = {v}" for t, v in zip(targets, values))
        return f"write one assignment a line: `{written}`" + ("" if let else several)
    if len(targets) == 1 and let:
        return "give each value its own `let`, one a line"
    if len(targets) == 1:
        return ("give each value its own name, one assignment a line "
                "(a block returns several tensors with `return a, b`)")
    return "write one assignment a line" + ("" if let else several)


def _without_comment(line: str) -> str:
    """The line without a trailing `# comment` (a `#` inside a string stays)."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:index]
    return line


def _top_level_parts(text: str) -> list[str] | None:
    """`a(x, y), t[0]` -> ["a(x, y)", "t[0]"]: split at the commas outside brackets and strings;
    None where a bracket closes that the text did not open (the line continues a call: `dim=8), x`)."""
    parts, depth, quoted, current = [], 0, False, ""
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([{":
            depth += 1
        elif not quoted and char in ")]}":
            depth -= 1
            if depth < 0:
                return None
        if char == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return parts + [current.strip()]
