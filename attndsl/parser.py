"""Text → AST. Knows nothing of shapes or torch.

Lark parses with LALR and `propagate_positions`; a separate Transformer builds the AST
so that every node keeps its span. Parse errors become located diagnostics.
"""

from __future__ import annotations

import re
from functools import cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError, Indenter

from . import syntax as ast
from .diagnostics import DiagnosticSink, Span
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


@cache
def _lark() -> Lark:
    grammar = (resource_dir("grammars") / "attn.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        postlex=_AttnIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _on_comment, "_NL": _on_newline},
        cache=True,
    )


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



class _ToAst(Transformer):
    """Builds `attndsl.syntax` nodes from the Lark tree, keeping positions."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _span(self, meta) -> Span:
        return Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, token: Token) -> Span:
        return Span(self.path, token.line, token.column, token.end_line, token.end_column)

    # ------------------------------------------------------------------ atoms
    @v_args(meta=True)
    def name(self, meta, children):
        return ast.Name(self._span(meta), str(children[0]))

    @v_args(meta=True)
    def number(self, meta, children):
        return ast.Number(self._span(meta), str(children[0]))

    @v_args(meta=True)
    def string(self, meta, children):
        raw = str(children[0])[1:-1]
        return ast.String(self._span(meta), unescape(raw), raw)

    @v_args(meta=True)
    def true(self, meta, _):
        return ast.Bool(self._span(meta), True)

    @v_args(meta=True)
    def false(self, meta, _):
        return ast.Bool(self._span(meta), False)

    @v_args(meta=True)
    def none(self, meta, _):
        return ast.NoneLit(self._span(meta))

    @v_args(meta=True)
    def list(self, meta, children):
        return ast.ListExpr(self._span(meta), [c for c in children if c is not None])

    @v_args(meta=True)
    def tuple(self, meta, children):
        return ast.TupleExpr(self._span(meta), [c for c in children if c is not None])

    @v_args(meta=True)
    def kind_template(self, meta, children):
        prefix, value, suffix = children
        return ast.KindTemplate(self._span(meta), str(prefix), value, "" if suffix is None else str(suffix))

    @v_args(meta=True)
    def pack(self, meta, children):
        name, length = children
        return ast.Pack(self._span(meta), str(name), length)

    @v_args(meta=True)
    def list_comp(self, meta, children):
        element, var, iterable = children
        return ast.ListComp(self._span(meta), element, str(var), self._tok(var), iterable)

    # ------------------------------------------------------------------ operators
    @v_args(meta=True)
    def binops(self, meta, children):
        node = children[0]
        for op, right in zip(children[1::2], children[2::2]):
            span = Span(self.path, node.span.line, node.span.column, right.span.end_line, right.span.end_column)
            node = ast.BinOp(span, str(op), node, right)
        return node

    @v_args(meta=True)
    def pow(self, meta, children):
        base, exponent = children
        if exponent is None:
            return base
        return ast.BinOp(self._span(meta), "**", base, exponent)

    @v_args(meta=True)
    def neg(self, meta, children):
        return ast.UnaryOp(self._span(meta), "-", children[0])

    @v_args(meta=True)
    def pos(self, meta, children):
        return children[0]

    @v_args(meta=True)
    def not_op(self, meta, children):
        return ast.UnaryOp(self._span(meta), "not", children[0])

    @v_args(meta=True)
    def compare(self, meta, children):
        if len(children) == 1:
            return children[0]
        if len(children) > 3:
            # Chained comparisons read well in Python but hide mistakes in shape rules.
            raise _SyntaxProblem("E0004", "chained comparisons are not supported", self._span(meta),
                                 "write `a < b and b < c`")
        left, op, right = children
        return ast.Compare(self._span(meta), str(op), left, right)

    @v_args(meta=True)
    def if_exp(self, meta, children):
        body, condition, orelse = children
        return ast.IfExp(self._span(meta), condition, body, orelse)

    @v_args(meta=True)
    def is_none(self, meta, children):
        left, none = children
        return ast.Compare(self._span(meta), "is", left, ast.NoneLit(self._tok(none)))

    @v_args(meta=True)
    def is_not_none(self, meta, children):
        left, none = children
        return ast.Compare(self._span(meta), "is not", left, ast.NoneLit(self._tok(none)))

    @v_args(meta=True)
    def and_op(self, meta, children):
        if len(children) == 1:
            return children[0]
        return ast.BoolOp(self._span(meta), "and", children)

    @v_args(meta=True)
    def or_op(self, meta, children):
        if len(children) == 1:
            return children[0]
        return ast.BoolOp(self._span(meta), "or", children)

    # ------------------------------------------------------------------ postfix
    @v_args(meta=True)
    def call(self, meta, children):
        func, arguments = children
        args, kwargs = [], []
        for item in arguments or []:
            if isinstance(item, ast.Keyword):
                kwargs.append(item)
            elif kwargs:
                raise _SyntaxProblem("E0005", "positional argument after a keyword argument", item.span)
            else:
                args.append(item)
        return ast.Call(self._span(meta), func, args, kwargs)

    def arguments(self, children):
        return [c for c in children if c is not None]

    @v_args(meta=True)
    def kwarg(self, meta, children):
        name, value = children
        return ast.Keyword(self._span(meta), str(name), value)

    @v_args(meta=True)
    def subscript(self, meta, children):
        value, items = children
        return ast.Subscript(self._span(meta), value, items)

    def subscripts(self, children):
        return [c for c in children if c is not None]

    @v_args(meta=True)
    def slice(self, meta, children):
        start, stop, step = children
        return ast.Slice(self._span(meta), start, stop, step)

    @v_args(meta=True)
    def ellipsis(self, meta, children):
        return ast.Ellipsis_(self._span(meta))

    @v_args(meta=True)
    def attribute(self, meta, children):
        value, attr = children
        return ast.Attribute(self._span(meta), value, str(attr))

    # ------------------------------------------------------------------ statements
    def shape(self, children):
        return [c for c in children if c is not None]

    @v_args(meta=True)
    def input_stmt(self, meta, children):
        name, dtype, shape, default = children
        return ast.Input(self._span(meta), str(name), shape, default is not None,
                         str(dtype) if dtype is not None else None)

    def input_default(self, children):
        return True

    @v_args(meta=True)
    def param_stmt(self, meta, children):
        name, shape, init = children
        return ast.Param(self._span(meta), str(name), shape, init)

    @v_args(meta=True)
    def layer_stmt(self, meta, children):
        name, value = children
        return ast.Layer(self._span(meta), str(name), value)

    @v_args(meta=True)
    def layer_block(self, meta, children):
        name, kind, *items = children
        return ast.LayerBlock(self._span(meta), str(name), str(kind), self._tok(kind), items)

    @v_args(meta=True)
    def named_child(self, meta, children):
        name, value = children
        return ast.NamedChild(self._span(meta), name, value)

    def child_name(self, children):
        return [str(c) if isinstance(c, Token) else c for c in children if c is not None]

    @v_args(meta=True)
    def child_loop(self, meta, children):
        var, iterable, *body = children
        return ast.ChildLoop(self._span(meta), str(var), self._tok(var), iterable, body)

    @v_args(meta=True)
    def buffer_stmt(self, meta, children):
        name, value = children
        return ast.Buffer(self._span(meta), str(name), value)

    @v_args(meta=True)
    def init_stmt(self, meta, children):
        target, value = children
        return ast.Init(self._span(meta), target, value)

    def init_target(self, children):
        # `W[1].weight`: a positional child of a sequential is its index (an int)
        target = []
        for token in children:
            if token.type == "NUMBER" and not str(token).isdigit():
                raise _SyntaxProblem("E0120", "a child of a sequential is reached by its position, a whole number",
                                     self._tok(token))
            target.append((int(token) if token.type == "NUMBER" else str(token), self._tok(token)))
        return target

    @v_args(meta=True)
    def let_stmt(self, meta, children):
        name, value = children
        return ast.Let(self._span(meta), str(name), value)

    @v_args(meta=True)
    def require_stmt(self, meta, children):
        condition, message = children
        return ast.Require(self._span(meta), condition, None if message is None else unescape(str(message)[1:-1]))

    @v_args(meta=True)
    def example_stmt(self, meta, children):
        return ast.Example(self._span(meta), [c for c in children if c is not None])

    @v_args(meta=True)
    def assign_stmt(self, meta, children):
        targets, value = children
        return ast.Assign(self._span(meta), targets, value)

    def targets(self, children):
        return [(str(t), self._tok(t)) for t in children]

    @v_args(meta=True)
    def return_stmt(self, meta, children):
        if len(children) == 1 and isinstance(children[0], ast.TupleExpr):
            children = children[0].items  # `return (out, attention)` is `return out, attention`
        return ast.Return(self._span(meta), list(children))

    @v_args(meta=True)
    def expr_stmt(self, meta, children):
        return ast.ExprStmt(self._span(meta), children[0])

    @v_args(meta=True)
    def for_stmt(self, meta, children):
        targets, iterable, body = children
        return ast.For(self._span(meta), targets, iterable, body)

    @v_args(meta=True)
    def if_stmt(self, meta, children):
        condition, body, elifs, orelse = children
        orelse = orelse or []
        for elif_condition, elif_body, elif_meta in reversed(elifs):
            orelse = [ast.If(elif_meta, elif_condition, elif_body, orelse)]
        return ast.If(self._span(meta), condition, body, orelse)

    def elifs(self, children):
        return children

    @v_args(meta=True)
    def elif_clause(self, meta, children):
        return (children[0], children[1], self._span(meta))

    def else_clause(self, children):
        return children[0]

    def suite(self, children):
        return children

    # ------------------------------------------------------------------ blocks
    @v_args(meta=True)
    def simple_type(self, meta, children):
        return (str(children[0]), self._span(meta))

    @v_args(meta=True)
    def optional_type(self, meta, children):
        return (f"{children[0]} | None", self._span(meta))

    @v_args(meta=True)
    def list_type(self, meta, children):
        outer, inner = children
        return (f"{outer}[{inner}]", self._span(meta))

    @v_args(meta=True)
    def arg(self, meta, children):
        name, (type_name, _), default = children
        return ast.Arg(self._span(meta), str(name), type_name, default)

    def docstring(self, children):
        return str(children[0])[3:-3]

    def keyword_only_marker(self, children):
        return _KEYWORD_ONLY

    @v_args(meta=True)
    def block(self, meta, children):
        name, *rest = children
        args, keyword_only = [], False
        for item in rest:  # the arguments after `*` are keyword-only
            if item is _KEYWORD_ONLY:
                keyword_only = True
            elif isinstance(item, ast.Arg):
                item.keyword_only = keyword_only
                args.append(item)
        doc = next((c for c in rest if isinstance(c, str)), None)
        body = [c for c in rest if isinstance(c, ast.Stmt)]
        return ast.Block(self._span(meta), str(name), args, doc, body)

    def start(self, children):
        return [c for c in children if isinstance(c, ast.Block)]


_KEYWORD_ONLY = object()  # the `*` of a block's signature
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


def raw_offset(raw: str, offset: int) -> int:
    """Where the `offset`-th character of `unescape(raw)` is written in `raw` (`\\t` is two)."""
    position = 0
    for _ in range(offset):
        if position >= len(raw):
            break
        position += 2 if raw[position] == "\\" and position + 1 < len(raw) else 1
    return position


def unescape(raw: str) -> str:
    """A spec string's value: \\n, \\t, \\\\ and \\" are escapes; any other backslash is kept."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), raw)


class _SyntaxProblem(Exception):
    def __init__(self, code, message, span, help=None):
        super().__init__(message)
        self.code, self.message, self.span, self.help = code, message, span, help


def _attach_comments(blocks: list[ast.Block], comments: dict[int, str]) -> None:
    """Give each statement the comments on its line and on the lines just above it."""
    taken: set[int] = set()

    def visit(stmts: list[ast.Stmt]) -> None:
        for stmt in stmts:
            line = stmt.span.line
            above = []
            probe = line - 1
            while probe in comments and probe not in taken:
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
        while probe in comments:
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
    try:
        tree = _lark().parse(source)
        comments = dict(_seen_comments)
        blocks = _ToAst(path).transform(tree)
    except UnexpectedInput as error:
        _report_parse_error(error, source, path, sink)
        return None
    except _SyntaxProblem as problem:
        sink.error(problem.code, problem.message, problem.span, help=problem.help)
        return None
    except _BadDedent as problem:
        sink.error("E0002", "this line's indentation matches no enclosing block",
                   Span(path, problem.line, 1, problem.line, problem.width + 1),
                   help="indent it as far as the lines of its block, or as far as an enclosing one")
        return None
    except Exception as error:  # Lark wraps transformer errors
        inner = getattr(error, "orig_exc", None)
        if isinstance(inner, _SyntaxProblem):
            sink.error(inner.code, inner.message, inner.span, help=inner.help)
            return None
        raise
    _attach_comments(blocks, comments)
    if not blocks:
        sink.error("E0003", "the spec defines no block", Span(path, 1, 1, 1, 2),
                   help="a spec starts with `block Name(arg: int, ...):`")
        return None
    return ast.Spec(Span(path, 1, 1, 1, 1), blocks, source)


def _report_parse_error(error: UnexpectedInput, source: str, path: str, sink: DiagnosticSink) -> None:
    line, column = getattr(error, "line", 1) or 1, getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedCharacters):
        char = source[error.pos_in_stream] if error.pos_in_stream < len(source) else ""
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
    hint = None
    if expected:
        shown = expected[:6]
        hint = "expected " + ", ".join(shown) + (" or another token" if len(expected) > 6 else "")
    sink.error("E0002", message, span, help=hint)
