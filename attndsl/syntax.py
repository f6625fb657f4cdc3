"""The abstract syntax tree of a .attn spec. Every node carries its source span."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .diagnostics import Span


@dataclass
class Node:
    span: Span


# ----------------------------------------------------------------------------- expressions


@dataclass
class Name(Node):
    id: str


@dataclass
class Number(Node):
    text: str  # kept as written; attndsl.values turns it into an int or a Fraction

    @property
    def is_int(self) -> bool:
        return self.text.isdigit()


@dataclass
class String(Node):
    value: str
    raw: str | None = None  # as written between the quotes (escapes not decoded), for carets


@dataclass
class Bool(Node):
    value: bool


@dataclass
class NoneLit(Node):
    pass


@dataclass
class BinOp(Node):
    op: str  # one of + - * / // % @ **
    left: Node
    right: Node


@dataclass
class UnaryOp(Node):
    op: str  # "-", "+" or "not"
    operand: Node


@dataclass
class Compare(Node):
    op: str  # == != < <= > >=, "is" / "is not" (with None on the right), "in" / "not in" (strings)
    left: Node
    right: Node


@dataclass
class IfExp(Node):
    """`a if condition else b`: a value chosen when the module is built."""

    condition: Node
    body: Node
    orelse: Node


@dataclass
class BoolOp(Node):
    op: str  # "and" / "or"
    values: list[Node]


@dataclass
class Keyword(Node):
    name: str
    value: Node


@dataclass
class Call(Node):
    func: Node
    args: list[Node]
    kwargs: list[Keyword]


@dataclass
class Attribute(Node):
    value: Node
    attr: str


@dataclass
class Slice(Node):
    start: Node | None
    stop: Node | None
    step: Node | None = None


@dataclass
class Ellipsis_(Node):
    pass


@dataclass
class Subscript(Node):
    value: Node
    items: list[Node]


@dataclass
class ListExpr(Node):
    items: list[Node]


@dataclass
class TupleExpr(Node):
    """`(1, 7)`: a fixed group of values (a size per dimension, as torch takes them)."""

    items: list[Node]


@dataclass
class Pack(Node):
    """`*spatial[dimension]` in an input's shape: `length` sizes, named `spatial` together."""

    name: str
    length: Node


@dataclass
class KindTemplate(Node):
    """`conv{dimension}d`: the layer kind whose name has the argument's value in the braces."""

    prefix: str
    value: Node
    suffix: str


@dataclass
class ListComp(Node):
    element: Node
    var: str
    var_span: Span
    iterable: Node
    more: tuple = ()  # `for conv, g in zip(convs, groups)`: the names after the first, (name, span) each

    @property
    def targets(self) -> list[tuple[str, Span]]:
        return [(self.var, self.var_span), *self.more]


# ----------------------------------------------------------------------------- statements


@dataclass
class Stmt(Node):
    comments: list[str] = field(default_factory=list, kw_only=True)


@dataclass
class Input(Stmt):
    name: str
    shape: list[Node] | None  # None: a flag (`input is_causal: bool = false`), no tensor
    optional: bool
    dtype: str | None = None  # "bool" for a mask; None for floating point
    default: Node | None = None  # a flag's default value, as written


@dataclass
class Param(Stmt):
    name: str
    shape: list[Node]
    init: Node
    frozen: bool = False  # `frozen param ...`: requires_grad=False


@dataclass
class Layer(Stmt):
    name: str
    value: Node


@dataclass
class NamedChild(Node):
    """`fc{i} = linear(c, c)` in a sequential written child by child: the name's parts are
    text and, in braces, expressions of the loop variables."""

    name: list  # str | Node
    value: Node


@dataclass
class ChildLoop(Node):
    """`for i in range(1, n):` around children of a sequential."""

    var: str
    var_span: Span
    iterable: Node
    body: list  # NamedChild | ChildLoop


@dataclass
class LayerBlock(Stmt):
    """`layer ca = sequential:` followed by its children, one per line."""

    name: str
    kind: str
    kind_span: Span
    children: list  # NamedChild | ChildLoop


@dataclass
class Buffer(Stmt):
    """`buffer mask = tril(ones([n, n])) == 0`: a constant tensor built once, in __init__;
    `persistent buffer ...` keeps it in state_dict."""

    name: str
    value: Node
    persistent: bool = False


@dataclass
class Init(Stmt):
    """`init fc.weight = normal(std=0.001)`: where a parameter starts (attndsl/inits.py)."""

    target: list[tuple[str, Span]]
    value: Node


@dataclass
class Let(Stmt):
    name: str
    value: Node


@dataclass
class Require(Stmt):
    condition: Node
    message: str | None


@dataclass
class Example(Stmt):
    kwargs: list[Keyword]


@dataclass
class Assign(Stmt):
    targets: list[tuple[str, Span]]
    value: Node


@dataclass
class Return(Stmt):
    values: list[Node]


@dataclass
class ExprStmt(Stmt):
    """An expression used for its effect: `outs.append(y)` in a loop."""

    value: Node


@dataclass
class For(Stmt):
    """`for block in blocks:` / `for qs, ks in zip(q, k):`: a loop in forward."""

    targets: list[tuple[str, Span]]
    iterable: Node
    body: list[Stmt]


@dataclass
class If(Stmt):
    condition: Node
    body: list[Stmt]
    orelse: list[Stmt]


@dataclass
class Arg(Node):
    name: str
    type: str  # "int", "float", "bool" or "list[int]"
    default: Node | None
    keyword_only: bool = False  # after a `*` in the block's signature, as in Python


@dataclass
class Block(Node):
    name: str
    args: list[Arg]
    doc: str | None
    body: list[Stmt]
    comments: list[str] = field(default_factory=list)


@dataclass
class Import(Node):
    """`from sdpa import ScaledDotProductAttention, ...`: `module` is the other spec's stem;
    each name keeps its own span (for "no such block" at the name)."""

    module: str
    module_span: Span
    names: list[tuple[str, Span]]


@dataclass
class Spec(Node):
    blocks: list[Block]
    source: str
    imports: list[Import] = field(default_factory=list)


def statements(body: list[Stmt], *, into_loops: bool = True) -> list[Stmt]:
    """Every statement of a suite in source order, those inside `if`s too, and inside `for`
    loops unless `into_loops` is False."""
    found: list[Stmt] = []
    for stmt in body:
        found.append(stmt)
        if isinstance(stmt, If):
            found += statements(stmt.body, into_loops=into_loops) + statements(stmt.orelse, into_loops=into_loops)
        elif isinstance(stmt, For) and into_loops:
            found += statements(stmt.body)
    return found


def names_in(node) -> set[str]:
    """Every name a node mentions, at any depth (lists and tuples of nodes included)."""
    return {name.id for name in name_nodes(node)}


def name_nodes(node) -> list[Name]:
    """Every `Name` node under `node` (a node, or a list of them), in source order."""
    found: list[Name] = []
    stack = list(reversed(node)) if isinstance(node, (list, tuple)) else [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Name):
            found.append(item)  # (a name has nothing under it)
            continue
        inner = children(item)
        if inner:
            inner.reverse()
            stack += inner
    return found


def walk(node):
    """`node` and every node under it, outer before inner."""
    yield node
    for child in children(node):
        yield from walk(child)


def children(node) -> list[Node]:
    """The nodes directly under `node`, field by field (lists of nodes included)."""
    found: list[Node] = []
    if not isinstance(node, Node):
        return found
    for value in vars(node).values():
        if isinstance(value, Node):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Node):
                    found.append(item)
                elif isinstance(item, (list, tuple)):  # a list of lists (a block's rows)
                    found += [inner for inner in item if isinstance(inner, Node)]
    return found


def replaced(node, target: Node, replacement: Node):
    """`node` with `target` (found by identity) replaced by `replacement`, copying the nodes on
    the way to it and sharing the rest."""
    if node is target:
        return replacement
    if not isinstance(node, Node):
        return node
    changes = {}
    for name, value in vars(node).items():
        if isinstance(value, (list, tuple)):
            items = [replaced(item, target, replacement) for item in value]
            if any(new is not old for new, old in zip(items, value)):
                changes[name] = type(value)(items)
        elif isinstance(value, Node):
            new = replaced(value, target, replacement)
            if new is not value:
                changes[name] = new
    return replace(node, **changes) if changes else node
