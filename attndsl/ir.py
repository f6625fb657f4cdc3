"""The intermediate representation: a networkx dataflow graph per block.

One node per op. Edges run from operand to user and carry `index`, the operand's
position, so `operands(node)` returns them in order. Nodes carry their source span,
the spec variable name they were assigned to (if any), the user's comments, and a
`guard`: the conjunction of constructor-argument conditions (`if` statements) under
which the node exists.

Module-level state (constructor arguments, `let` values, params, layers) is kept in
`BlockIR` next to the graph; only tensor dataflow lives in the graph itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from .diagnostics import Span
from .guards import (Cond, Guard, cannot_hold, complementary, guard_includes, negate,  # noqa: F401 (the IR's conditions)
                     reads_forward)
from .symbolic import Expr


@dataclass
class ArgInfo:
    name: str
    type: str  # "int", "float", "bool", "list[int]", "layer", "device", "dtype"
    default: Any  # python value or None when required; `REQUIRED` when absent
    span: Span
    required: bool
    optional: bool = False  # `x: int | None = None`: the value may be None (`type` is then "int")
    keyword_only: bool = False  # after `*`: given by name only (HaloAttention(*, dim, ...))
    # A `str` or `list[str]` argument: the strings the spec compares it with (for the checker's
    # search for argument values under which a condition holds).
    choices: list[str] = field(default_factory=list)
    # A `layer` argument whose default is written as a name (`gate_layer: layer = "sigmoid"`):
    # that name; the module then takes a kind's name as well as its class.
    default_name: str | None = None


class KindName(str):
    """A layer kind written as an example's value (`example(norm_layer=layer_norm)`): its
    name, as a layer-kind argument's default is kept; the type tells it from a string."""


@dataclass
class InputInfo:
    name: str
    shape: list[Expr]
    optional: bool
    span: Span
    node: int  # the graph node standing for it
    # "float" (any floating point), "bool", "int" (`long[b, n]`: int64 ids or positions); not a
    # tensor: "sizes" (a tuple of sizes), "size" (one size, an int: `input H: int`, whose `shape`
    # is [H]), "flag" (a bool: `input is_causal: bool = false`)
    dtype: str = "float"
    pack: str | None = None  # `[b, c, *spatial[dimension]]`: the pack's name; its sizes follow `shape`
    default: bool | None = None  # a flag's default (None: the caller gives it)

    @property
    def is_tensor(self) -> bool:
        return self.dtype not in ("sizes", "size", "flag")

    @property
    def element_type(self) -> str:
        """A tensor's element type as a spec writes it before the shape ("" for floating point)."""
        return {"bool": "bool", "int": "long"}.get(self.dtype, "")

    def sizes_of(self, value) -> list:
        """The sizes an example gives this input: a shape, a tuple of sizes, or one size (an int)."""
        return [value] if self.dtype == "size" else list(value)


def read_guard(ir: "BlockIR", node: int, user: int) -> tuple:
    """Where `user` reads `node`: its guard, and for a join, the guard of the branch whose
    value `node` is (`y = a if c else b` reads `b` only where `c` is false)."""
    attrs = ir.graph.nodes[user]
    if attrs["op"] != "phi":
        return attrs["guard"]
    branches = [index for index, operand in enumerate(ir.operands(user)) if operand == node]
    if len(branches) != 1:
        return attrs["guard"]
    condition = attrs["attrs"]["condition"]
    return attrs["guard"] + ((condition,) if branches[0] == 0 else (negate(condition),))


@dataclass
class ParamInfo:
    name: str
    shape: list[Expr]
    init: str  # "zeros", "ones", "randn"; "empty" before an initialiser; "value" for `= <expression>`
    guard: Guard
    span: Span
    comments: list[str] = field(default_factory=list)
    shape_sources: list[Any] = field(default_factory=list)  # the dims' AST, rendered as written
    # `param time_mix: [1, 1, d] = float(arange(d)) / d`: the node of its first value, computed
    # in __init__ from the arguments (its nodes marked phase="init", as a buffer's)
    value: int | None = None
    frozen: bool = False  # `frozen param`: in the state_dict, never trained (requires_grad=False)


@dataclass
class LayerSpec:
    """A layer constructor: a registry layer kind, a sequential, or a sub-block."""

    kind: str  # registry name, "sequential", "block", or "list" (an nn.ModuleList, a layer list's element)
    args: dict[str, Any]  # rendered lazily by codegen; Expr / Cond / python values
    positional: list[Any]
    children: list[tuple[str | None, "LayerSpec"]] = field(default_factory=list)
    block: str | None = None  # for kind == "block"
    span: Span | None = None
    sources: dict[str, Any] = field(default_factory=dict)  # argument name -> AST, rendered as written
    # `layer act = act_layer()` with an argument `act_layer: layer = relu`: the argument, and
    # the kinds it may be with their bound arguments (`kind` is then the default's).
    kind_arg: str | None = None
    alternatives: dict[str, dict] = field(default_factory=dict)
    # `conv{dimension}d(...)`: the argument giving the rank; `alternatives` then holds the kind
    # of each rank (`conv1d`, `conv2d`, `conv3d`) with its bound arguments, `kind` the default's.
    rank_arg: str | None = None
    shown_kind: str | None = None  # how messages name a layer of one rank: `conv{dimension}d`


def list_item(symbol: str) -> tuple[str, int] | None:
    """`out_chs[2]` -> ("out_chs", 2): a size that is an item of a list argument (the symbol
    attndsl/lower/indexing.py makes); None for any other symbol."""
    if not symbol.endswith("]") or "[" not in symbol:
        return None
    name, index = symbol[:-1].split("[", 1)
    return name, int(index)


def iterated(elements, lookup) -> list:
    """The values a loop variable takes over `elements` (a list argument's name, or the
    count of a range); `lookup(name)` is a list's value, `lookup(expr)` a count's."""
    if isinstance(elements, Expr):
        return list(range(int(lookup(elements))))
    return list(lookup(elements))


def elements_source(elements, render) -> str:
    """`kernels`, or `range(S)`: how a loop over the elements is written; `render` names
    the list argument or writes the count."""
    return f"range({render(elements)})" if isinstance(elements, Expr) else render(elements)


def display_name(name, var: str = "i") -> str:
    """A sequential child's name as written: `fc0`, or `fc{i}` for one named in a loop over `var`
    (a template `(prefix, offset, suffix)`: the name of pass i is prefix + str(i + offset) + suffix)."""
    if isinstance(name, tuple):
        prefix, offset, suffix = name
        return f"{prefix}{{{var}{offset:+d}}}{suffix}" if offset else f"{prefix}{{{var}}}{suffix}"
    return name


@dataclass
class LayerInfo:
    name: str
    spec: LayerSpec | None  # None for a list comprehension (see `element`)
    guard: Guard
    span: Span
    comments: list[str] = field(default_factory=list)
    # For `[element for var in iterable]` layer lists (nn.ModuleList):
    element: LayerSpec | None = None
    loop_var: str | None = None  # the element's variable: a list item, or the index of a range
    iterable: str | None = None  # the list argument looped over
    count: Expr | None = None  # `[... for i in range(count)]`: built `count` times (iterable None)
    # `layer f_query = f_key`: the same module under a second name (ANN's and OCRNet's
    # `self.f_query = self.f_key`), its parameters in the state_dict under both
    alias: str | None = None

    @property
    def elements(self) -> "str | Expr | None":
        """What the elements run over: a list argument's name, or the count of a range."""
        return self.iterable if self.iterable is not None else self.count

    def element_key(self) -> tuple | None:
        """(what it runs over, the loop variable) when its elements differ by that variable:
        what the checker knows of every element, and how a check over them all is written."""
        return (self.elements, self.loop_var) if self.loop_var else None


@dataclass
class BufferInfo:
    """`buffer name = expr`: `value` is the root of the nodes that compute it (made in __init__,
    marked `phase="init"`), `node` the leaf that reads it in forward (op "buffer")."""

    name: str
    node: int
    value: int
    guard: Guard
    span: Span
    comments: list[str] = field(default_factory=list)
    persistent: bool = False  # `persistent buffer ...`: in state_dict, loaded with the weights
    steps: tuple = ()  # the values of its earlier steps (`buffer t = ...`, then `buffer t = f(t)`)


@dataclass
class InitInfo:
    """Where a parameter starts: `init fc.weight = normal(std=0.001)` (attndsl/inits.py)."""

    target: str  # "param" (self.w), "layer" (self.fc.weight) or "kind" (every nn.Linear's weight)
    name: str  # the param, the layer, or the layer kind
    parameter: str | None  # "weight", "bias"; None for a param
    initializer: str
    args: dict[str, Any]
    sources: dict[str, Any]  # argument name -> AST, rendered as written
    guard: Guard
    span: Span
    path: tuple[str, ...] = ()  # children of a sequential
    element: bool = False  # a layer list: each element's parameter
    optional: bool = False  # the parameter may be None (a bias switched off by an argument)
    inline: bool = False  # `param w: [...] = normal(...)`: made right after the param
    # `init inner.conv.weight` where `inner` is a block: the path inside that block, followed
    # once every block is lowered (lower/inits.IntoBlock, check_inits_into_blocks).
    into_block: Any = None


@dataclass
class LetInfo:
    name: str
    value: Expr
    span: Span
    guard: Guard = ()
    source: Any = None  # the AST, rendered as written


@dataclass
class CheckInfo:
    """A fact the checker could not prove; becomes a run-time check."""

    condition: Any  # a Cond, or ("eq", Expr, Expr) / ("divides", Expr, Expr)
    message: str
    span: Span
    where: str  # "init" or "forward"
    guard: Guard = ()
    source: Any = None  # for `require`: the condition's AST, rendered as written
    # "require" (the spec's), "argument" (a bound on one argument, made first in __init__),
    # "statement" (what a let, require, layer or `if` of the spec needs to be computed,
    # made just before it) or "auto" (what an op or layer needs of sizes).
    kind: str = "auto"
    position: tuple | None = None  # for "statement" checks: the (line, column) of their statement
    # the node whose computation needs it (forward's checks): a check must run before it
    node: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Precondition:
    """What computing a constructor-time expression needs: a divisor that is not zero
    ("nonzero"), a square root of a number that is not negative ("nonnegative"), a logarithm
    of a positive one ("positive"), an initialiser's std that is not negative ("not_negative"),
    an exponential that is a float ("exp_range", of EXP_LIMIT - x), an item of a list argument
    that exists ("items")."""

    need: str
    expr: Expr
    guard: Guard
    span: Span
    position: tuple  # (line, column) of the statement that computes it
    # inside `all([... for k in X])`: (X, "k"), a list argument's name or a range's count; the
    # need is then every element's
    element: tuple | None = None
    what: str | None = None  # the need in the spec's words (`uniform(): a must be at most b`), if not its math


@dataclass
class BlockIR:
    name: str
    doc: str | None
    comments: list[str]
    args: list[ArgInfo]
    inputs: list[InputInfo] = field(default_factory=list)
    params: list[ParamInfo] = field(default_factory=list)
    layers: list[LayerInfo] = field(default_factory=list)
    buffers: list[BufferInfo] = field(default_factory=list)
    inits: list[InitInfo] = field(default_factory=list)
    lets: list[LetInfo] = field(default_factory=list)
    requires: list[CheckInfo] = field(default_factory=list)
    forward_requires: list[CheckInfo] = field(default_factory=list)  # of input sizes: checked in forward
    checks: list[CheckInfo] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    # The spec's comments on `return` and on each `if` (by its condition): written above the
    # generated `return` and `if`, which no node of the graph stands for.
    return_comments: list[str] = field(default_factory=list)
    if_comments: dict[Cond, list[str]] = field(default_factory=dict)
    # float arguments a condition compares in the checker's exact form (`p > 0`, `p == q`):
    # __init__ refuses NaN for them (lower/expressions.py: _expr_Compare says why)
    compared_floats: set[str] = field(default_factory=set)
    graph: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)
    span: Span | None = None
    # Where each dim symbol comes from: symbol -> (input name, axis)
    dim_origin: dict[str, tuple[str, int]] = field(default_factory=dict)
    optional_dims: set[str] = field(default_factory=set)  # dims first named by an optional input
    optional_dim_origin: dict[str, tuple[str, int]] = field(default_factory=dict)
    list_items: set[str] = field(default_factory=set)  # `out_chs[2]`: items of list arguments read as sizes
    example_spans: list[Span] = field(default_factory=list)
    derived: dict[str, Expr] = field(default_factory=dict)  # checker-named dims -> definition
    # `let a = int(sqrt(n))` of input sizes: computed in forward, known to the checker as a
    # named size (in `derived`, from which the lowering seeds it)
    forward_lets: list[str] = field(default_factory=list)
    forward_let_sources: dict[str, Any] = field(default_factory=dict)  # their AST, rendered as written
    # What holds after every call of this block without a check of its own: what its
    # sub-blocks check of their inputs, in this block's terms (shapes/layer_calls.py).
    assumed_facts: list = field(default_factory=list)
    uses_blocks: list[str] = field(default_factory=list)
    path: str = ""
    preconditions: list[Precondition] = field(default_factory=list)
    # `input x: [b, c, *spatial[dimension]]`: pack name -> the int argument giving its length,
    # and that argument's values (the ranks torch's conv/pool/norm layers exist for).
    packs: dict[str, str] = field(default_factory=dict)
    # `device: device = None`, `dtype: dtype = None`: the argument of each (torch's factory
    # arguments, passed to the layers and params the block builds).
    factory: dict[str, str] = field(default_factory=dict)
    rank_args: dict[str, tuple[int, ...]] = field(default_factory=dict)

    # ------------------------------------------------------------------ graph helpers
    def add_node(self, op: str, operands: list[int], *, span: Span, guard: Guard = (), **attrs) -> int:
        node = self.graph.number_of_nodes()
        while node in self.graph:
            node += 1
        self.graph.add_node(node, op=op, span=span, guard=guard, attrs=attrs, name=None, comments=[])
        for index, operand in enumerate(operands):
            self.graph.add_edge(operand, node, index=index)
        return node

    def operands(self, node: int) -> list[int]:
        # Read off networkx's own predecessor dicts (`_pred`, what its views wrap): this is the
        # most called question of the compiler, and going through a view (`pred[node].items()`)
        # costs several Python calls per edge, more than the edges themselves.
        edges = [(data["index"], source) for source, keyed in self.graph._pred[node].items()
                 for data in keyed.values()]
        edges.sort()
        return [source for _, source in edges]

    def users(self, node: int) -> list[int]:
        return sorted(self.graph.successors(node))

    def node(self, node: int) -> dict:
        return self.graph.nodes[node]

    # ------------------------------------------------------------------ layers
    def declarations(self, name: str) -> list[LayerInfo]:
        """Every declaration of a layer: one, or one per branch of an `if` declaring it."""
        return [info for info in self.layers if info.name == name]

    def layer(self, name: str) -> LayerInfo | None:
        """A layer's first declaration (its only one unless the branches of an `if` declare it)."""
        return next((info for info in self.layers if info.name == name), None)

    def called_spec(self, attrs: dict) -> LayerSpec | None:
        """What a `call_layer` node calls, from its attrs: the layer's constructor, the child at
        its `path` in a sequential, or the element of a layer list."""
        info = self.layer(attrs["attrs"]["layer"])
        if info is None:
            return None
        if attrs["attrs"].get("element"):
            return info.element
        spec = info.spec
        for name in attrs["attrs"].get("path", ()):
            spec = next((child for child_name, child in spec.children if child_name == name), None)
            if spec is None:
                return None
        return spec

    def topological(self) -> list[int]:
        # Ties broken by node id, which is creation (= source) order: deterministic; a node a
        # pass made sorts as the one it stands for. Nodes are made after their operands, so
        # every edge usually runs from a smaller id to a larger: then that order is the ids
        # sorted, found without networkx's heap (the checker and the passes ask for it
        # hundreds of times a spec). A pass's nodes take the general sort.
        successors = self.graph._succ  # networkx's own dicts, as in `operands`
        if all(user > node for node, users in successors.items() for user in users) and \
                not any("sort_as" in attrs for attrs in self.graph._node.values()):
            return sorted(successors)
        from .graph_order import smallest_first_order

        return smallest_first_order(self.graph)


@dataclass
class ModuleIR:
    path: str
    blocks: list[BlockIR]
