"""The Lark tree → `attndsl.syntax` nodes, one method per grammar rule, every node keeping
its span. A construct the grammar accepts but the language does not (a positional argument
after a keyword, a child reached by a fractional position) is a `SyntaxProblem` here.
"""

from __future__ import annotations

import re

from lark import Token, Tree

from . import syntax as ast
from .diagnostics import Span


def with_meta(method):
    """Marks a rule method that takes the node's position (`meta`) before its children."""
    method.takes_meta = True
    return method


class AstBuilder:
    """Builds `attndsl.syntax` nodes from the Lark tree, bottom-up, keeping positions.

    The walk is lark's `Transformer` without its per-node wrapping (`v_args` builds a
    wrapper at every call, and every error comes back wrapped in a `VisitError`): a third of
    parsing time went there. A rule with no method stays a `Tree`, for its parent to read.
    """

    def __init__(self, path: str):
        self.path = path
        self._callbacks: dict[str, tuple] = {}

    def transform(self, tree: Tree):
        children = [self.transform(c) if type(c) is Tree else c for c in tree.children]
        callback = self._callbacks.get(tree.data)
        if callback is None:
            method = getattr(self, tree.data, None)
            callback = self._callbacks[tree.data] = (method, getattr(method, "takes_meta", False))
        method, takes_meta = callback
        if method is None:
            return Tree(tree.data, children, tree.meta)
        return method(tree.meta, children) if takes_meta else method(children)

    def _span(self, meta) -> Span:
        return Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, token: Token) -> Span:
        return Span(self.path, token.line, token.column, token.end_line, token.end_column)

    # ------------------------------------------------------------------ atoms
    @with_meta
    def name(self, meta, children):
        return ast.Name(self._span(meta), str(children[0]))

    @with_meta
    def number(self, meta, children):
        return ast.Number(self._span(meta), str(children[0]))

    @with_meta
    def string(self, meta, children):
        raw = str(children[0])[1:-1]
        return ast.String(self._span(meta), unescape(raw), raw)

    @with_meta
    def true(self, meta, _):
        return ast.Bool(self._span(meta), True)

    @with_meta
    def false(self, meta, _):
        return ast.Bool(self._span(meta), False)

    @with_meta
    def none(self, meta, _):
        return ast.NoneLit(self._span(meta))

    @with_meta
    def list(self, meta, children):
        return ast.ListExpr(self._span(meta), [c for c in children if c is not None])

    @with_meta
    def tuple(self, meta, children):
        return ast.TupleExpr(self._span(meta), [c for c in children if c is not None])

    @with_meta
    def kind_template(self, meta, children):
        prefix, value, suffix = children
        return ast.KindTemplate(self._span(meta), str(prefix), value, "" if suffix is None else str(suffix))

    @with_meta
    def pack(self, meta, children):
        name, length = children
        return ast.Pack(self._span(meta), str(name), length)

    @with_meta
    def list_comp(self, meta, children):
        element, var, iterable = children
        return ast.ListComp(self._span(meta), element, str(var), self._tok(var), iterable)

    # ------------------------------------------------------------------ operators
    @with_meta
    def binops(self, meta, children):
        node = children[0]
        for op, right in zip(children[1::2], children[2::2]):
            span = Span(self.path, node.span.line, node.span.column, right.span.end_line, right.span.end_column)
            node = ast.BinOp(span, str(op), node, right)
        return node

    @with_meta
    def pow(self, meta, children):
        base, exponent = children
        if exponent is None:
            return base
        return ast.BinOp(self._span(meta), "**", base, exponent)

    @with_meta
    def neg(self, meta, children):
        return ast.UnaryOp(self._span(meta), "-", children[0])

    @with_meta
    def pos(self, meta, children):
        return children[0]

    @with_meta
    def not_op(self, meta, children):
        return ast.UnaryOp(self._span(meta), "not", children[0])

    @with_meta
    def compare(self, meta, children):
        if len(children) == 1:
            return children[0]
        if len(children) > 3:
            # Chained comparisons read well in Python but hide mistakes in shape rules.
            raise SyntaxProblem("E0004", "chained comparisons are not supported", self._span(meta),
                                 "write `a < b and b < c`")
        left, op, right = children
        return ast.Compare(self._span(meta), str(op), left, right)

    @with_meta
    def if_exp(self, meta, children):
        body, condition, orelse = children
        return ast.IfExp(self._span(meta), condition, body, orelse)

    @with_meta
    def is_none(self, meta, children):
        left, none = children
        return ast.Compare(self._span(meta), "is", left, ast.NoneLit(self._tok(none)))

    @with_meta
    def is_not_none(self, meta, children):
        left, none = children
        return ast.Compare(self._span(meta), "is not", left, ast.NoneLit(self._tok(none)))

    @with_meta
    def and_op(self, meta, children):
        if len(children) == 1:
            return children[0]
        return ast.BoolOp(self._span(meta), "and", children)

    @with_meta
    def or_op(self, meta, children):
        if len(children) == 1:
            return children[0]
        return ast.BoolOp(self._span(meta), "or", children)

    # ------------------------------------------------------------------ postfix
    @with_meta
    def call(self, meta, children):
        func, arguments = children
        args, kwargs = [], []
        for item in arguments or []:
            if isinstance(item, ast.Keyword):
                kwargs.append(item)
            elif kwargs:
                raise SyntaxProblem("E0005", "positional argument after a keyword argument", item.span)
            else:
                args.append(item)
        return ast.Call(self._span(meta), func, args, kwargs)

    def arguments(self, children):
        return [c for c in children if c is not None]

    @with_meta
    def kwarg(self, meta, children):
        name, value = children
        return ast.Keyword(self._span(meta), str(name), value)

    @with_meta
    def subscript(self, meta, children):
        value, items = children
        return ast.Subscript(self._span(meta), value, items)

    def subscripts(self, children):
        return [c for c in children if c is not None]

    @with_meta
    def slice(self, meta, children):
        start, stop, step = children
        return ast.Slice(self._span(meta), start, stop, step)

    @with_meta
    def ellipsis(self, meta, children):
        return ast.Ellipsis_(self._span(meta))

    @with_meta
    def attribute(self, meta, children):
        value, attr = children
        return ast.Attribute(self._span(meta), value, str(attr))

    # ------------------------------------------------------------------ statements
    def shape(self, children):
        return [c for c in children if c is not None]

    @with_meta
    def input_stmt(self, meta, children):
        name, dtype, shape, default = children
        return ast.Input(self._span(meta), str(name), shape, default is not None,
                         str(dtype) if dtype is not None else None)

    def input_default(self, children):
        return True

    @with_meta
    def param_stmt(self, meta, children):
        name, shape, init = children
        return ast.Param(self._span(meta), str(name), shape, init)

    @with_meta
    def layer_stmt(self, meta, children):
        name, value = children
        return ast.Layer(self._span(meta), str(name), value)

    @with_meta
    def layer_block(self, meta, children):
        name, kind, *items = children
        return ast.LayerBlock(self._span(meta), str(name), str(kind), self._tok(kind), items)

    @with_meta
    def named_child(self, meta, children):
        name, value = children
        return ast.NamedChild(self._span(meta), name, value)

    def child_name(self, children):
        return [str(c) if isinstance(c, Token) else c for c in children if c is not None]

    @with_meta
    def child_loop(self, meta, children):
        var, iterable, *body = children
        return ast.ChildLoop(self._span(meta), str(var), self._tok(var), iterable, body)

    @with_meta
    def buffer_stmt(self, meta, children):
        name, value = children
        return ast.Buffer(self._span(meta), str(name), value)

    @with_meta
    def init_stmt(self, meta, children):
        target, value = children
        return ast.Init(self._span(meta), target, value)

    def init_target(self, children):
        # `W[1].weight`: a positional child of a sequential is its index (an int)
        target = []
        for token in children:
            if token.type == "NUMBER" and not str(token).isdigit():
                raise SyntaxProblem("E0120", "a child of a sequential is reached by its position, a whole number",
                                     self._tok(token))
            target.append((int(token) if token.type == "NUMBER" else str(token), self._tok(token)))
        return target

    @with_meta
    def let_stmt(self, meta, children):
        name, value = children
        return ast.Let(self._span(meta), str(name), value)

    @with_meta
    def require_stmt(self, meta, children):
        condition, message = children
        return ast.Require(self._span(meta), condition, None if message is None else unescape(str(message)[1:-1]))

    @with_meta
    def example_stmt(self, meta, children):
        return ast.Example(self._span(meta), [c for c in children if c is not None])

    @with_meta
    def assign_stmt(self, meta, children):
        targets, value = children
        return ast.Assign(self._span(meta), targets, value)

    def targets(self, children):
        return [(str(t), self._tok(t)) for t in children]

    @with_meta
    def return_stmt(self, meta, children):
        if len(children) == 1 and isinstance(children[0], ast.TupleExpr):
            children = children[0].items  # `return (out, attention)` is `return out, attention`
        return ast.Return(self._span(meta), list(children))

    @with_meta
    def expr_stmt(self, meta, children):
        return ast.ExprStmt(self._span(meta), children[0])

    @with_meta
    def for_stmt(self, meta, children):
        targets, iterable, body = children
        return ast.For(self._span(meta), targets, iterable, body)

    @with_meta
    def if_stmt(self, meta, children):
        condition, body, elifs, orelse = children
        orelse = orelse or []
        for elif_condition, elif_body, elif_meta in reversed(elifs):
            orelse = [ast.If(elif_meta, elif_condition, elif_body, orelse)]
        return ast.If(self._span(meta), condition, body, orelse)

    def elifs(self, children):
        return children

    @with_meta
    def elif_clause(self, meta, children):
        return (children[0], children[1], self._span(meta))

    def else_clause(self, children):
        return children[0]

    def suite(self, children):
        return children

    # ------------------------------------------------------------------ blocks
    @with_meta
    def simple_type(self, meta, children):
        return (str(children[0]), self._span(meta))

    @with_meta
    def optional_type(self, meta, children):
        return (f"{children[0]} | None", self._span(meta))

    @with_meta
    def list_type(self, meta, children):
        outer, inner = children
        return (f"{outer}[{inner}]", self._span(meta))

    @with_meta
    def optional_list_type(self, meta, children):
        outer, inner, _ = children
        return (f"{outer}[{inner}] | None", self._span(meta))

    @with_meta
    def arg(self, meta, children):
        name, (type_name, _), default = children
        return ast.Arg(self._span(meta), str(name), type_name, default)

    def docstring(self, children):
        return str(children[0])[3:-3]

    def keyword_only_marker(self, children):
        return _KEYWORD_ONLY

    @with_meta
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

    @with_meta
    def import_stmt(self, meta, children):
        module, *names = children
        return ast.Import(self._span(meta), str(module), self._tok(module),
                          [(str(name), self._tok(name)) for name in names])

    def start(self, children):
        return [c for c in children if isinstance(c, (ast.Block, ast.Import))]


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


class SyntaxProblem(Exception):
    def __init__(self, code, message, span, help=None):
        super().__init__(message)
        self.code, self.message, self.span, self.help = code, message, span, help
