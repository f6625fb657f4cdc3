"""Expressions of the Lark tree → `attndsl.syntax` nodes: atoms, operators, calls and
subscripts, one method per grammar rule (AstBuilder adds the statements and blocks)."""

from __future__ import annotations

import re

from lark import Token

from . import syntax as ast
from .diagnostics import Span

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


def with_meta(method):
    """Marks a rule method that takes the node's position (`meta`) before its children."""
    method.takes_meta = True
    return method


def passes_lone_operand(method):
    """Marks a rule method that returns its one operand as it is when given no other (`or_op`
    of a lone `and_op`, `pow` without an exponent): five of every seven reductions of an
    atom, which attndsl/ast_reductions.py then makes without calling it."""
    method.passes_lone_operand = True
    return method


class SyntaxProblem(Exception):
    """A construct the grammar accepts but the language does not: a located diagnostic."""

    def __init__(self, code, message, span, help=None):
        super().__init__(message)
        self.code, self.message, self.span, self.help = code, message, span, help


class ExpressionBuilder:
    """Mixin of AstBuilder: expects `path`."""

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
        element, targets, iterable = children  # targets: [(name, span)], from AstBuilder.targets
        (var, var_span), *more = targets
        return ast.ListComp(self._span(meta), element, var, var_span, iterable, tuple(more))

    # ------------------------------------------------------------------ operators
    @passes_lone_operand
    @with_meta
    def binops(self, meta, children):
        node = children[0]
        for op, right in zip(children[1::2], children[2::2]):
            span = Span(self.path, node.span.line, node.span.column, right.span.end_line, right.span.end_column)
            node = ast.BinOp(span, str(op), node, right)
        return node

    @passes_lone_operand
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

    @passes_lone_operand
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
    def contains(self, meta, children):
        left, right = children
        return ast.Compare(self._span(meta), "in", left, right)

    @with_meta
    def not_contains(self, meta, children):
        left, right = children
        return ast.Compare(self._span(meta), "not in", left, right)

    @passes_lone_operand
    @with_meta
    def and_op(self, meta, children):
        if len(children) == 1:
            return children[0]
        return ast.BoolOp(self._span(meta), "and", children)

    @passes_lone_operand
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
