"""The Lark tree → `attndsl.syntax` nodes, one method per grammar rule, every node keeping
its span. A construct the grammar accepts but the language does not (a positional argument
after a keyword, a child reached by a fractional position) is a `SyntaxProblem` here.
"""

from __future__ import annotations

from lark import Token, Tree

from . import syntax as ast
from .ast_expressions import ExpressionBuilder, SyntaxProblem, unescape, with_meta


class AstBuilder(ExpressionBuilder):
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
    def flag_input_stmt(self, meta, children):
        name, kind, default = children
        return ast.Input(self._span(meta), str(name), None, False, str(kind), default)

    def flag_default(self, children):
        return children[0]

    @with_meta
    def param_stmt(self, meta, children):
        frozen, name, shape, init = children
        return ast.Param(self._span(meta), str(name), shape, init, frozen=frozen is not None)

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
        persistent, name, value = children
        return ast.Buffer(self._span(meta), str(name), value, persistent=persistent is not None)

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
        if len(children) == 1 and isinstance(children[0], ast.TupleExpr) and len(children[0].items) > 1:
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
