"""Small graph edits shared by the optimising passes.

A pass builds new nodes next to the old ones and redirects users; the old nodes become
dead and `eliminate_dead_code` removes them. Every new node gets a shape (passes run on
the checked IR, and codegen reads shapes, never re-derives them), a span and a guard.
"""

from __future__ import annotations

from ..ir import BlockIR
from ..lower.values import DtypeLimit
from ..symbolic import Expr


def op_of(ir: BlockIR, node: int) -> str:
    # networkx's own node dict (what `graph.nodes[node]` looks up): the passes ask every node's op
    # again after each rewrite.
    return ir.graph._node[node]["op"]


def attrs_of(ir: BlockIR, node: int) -> dict:
    return ir.graph.nodes[node]["attrs"]


def shape_of(ir: BlockIR, node: int):
    return ir.graph.nodes[node]["shape"]


def guard_of(ir: BlockIR, node: int) -> tuple:
    return ir.graph.nodes[node]["guard"]


def is_live(ir: BlockIR, node: int) -> bool:
    """Still in the graph and read by something (a rewritten node lingers until DCE)."""
    # `_succ[node]` (networkx's own successor dict) is empty exactly when the out-degree is 0.
    return node in ir.graph and (node in ir.outputs or bool(ir.graph._succ[node]))


def sole_user(ir: BlockIR, node: int) -> int | None:
    """The one node reading `node` (once), or None: several readers, or it is an output."""
    if node in ir.outputs or ir.graph.out_degree(node) != 1:
        return None
    return next(iter(ir.graph.successors(node)))


def is_private(ir: BlockIR, node: int, user: int) -> bool:
    """`node` is read by `user` only, under the same guard: a pass may rewrite it freely."""
    return sole_user(ir, node) == user and guard_of(ir, node) == guard_of(ir, user)


def new_node(ir: BlockIR, op: str, operands: list[int], *, like: int, shape, guard: tuple | None = None,
             name: str | None = None, **attrs) -> int:
    """A node with `like`'s span (and guard, unless given): the spec line it stands for. It
    is written where `like` is (`sort_as`, attndsl/graph_order.py), not after everything the
    spec computes before the pass made it."""
    template = ir.graph.nodes[like]
    node = ir.add_node(op, operands, span=template["span"], guard=template["guard"] if guard is None else guard,
                       **attrs)
    ir.graph.nodes[node]["shape"] = shape
    ir.graph.nodes[node]["name"] = name
    ir.graph.nodes[node]["sort_as"] = template.get("sort_as", like)
    return node


def rebuild(ir: BlockIR, node: int, op: str, operands: list[int], *, attrs: dict, shape_of: int | None = None) -> None:
    """`node` becomes another op on other operands, keeping its id (its place in the code),
    its readers, span and guard; for a rewrite whose values stay private to the rewrite.
    With `shape_of`, it takes that node's shape (and its shape in every world)."""
    graph = ir.graph
    for source, _, key in list(graph.in_edges(node, keys=True)):
        graph.remove_edge(source, node, key)
    for index, operand in enumerate(operands):
        graph.add_edge(operand, node, index=index)
    graph.nodes[node]["op"], graph.nodes[node]["attrs"] = op, dict(attrs)
    if shape_of is not None:
        graph.nodes[node]["shape"] = graph.nodes[shape_of]["shape"]
        for _, shapes in getattr(ir, "world_shapes", None) or []:
            if shape_of in shapes:
                shapes[node] = shapes[shape_of]


def scalar_node(ir: BlockIR, value: Expr, *, like: int) -> int:
    written = attrs_of(ir, like) if op_of(ir, like) == "scalar" else {}
    return new_node(ir, "scalar", [], like=like, shape=(), value=value,
                    float_symbols=written.get("float_symbols", frozenset()), floating=written.get("floating", True),
                    folded=False)


def redirect(ir: BlockIR, old: int, new: int, *, keep_name: bool = True) -> None:
    """Every reader of `old` reads `new` instead (at the same operand position)."""
    graph = ir.graph
    for _, user, key, data in list(graph.out_edges(old, keys=True, data=True)):
        graph.remove_edge(old, user, key)
        graph.add_edge(new, user, index=data["index"])
    ir.outputs = [new if o == old else o for o in ir.outputs]
    if keep_name:
        target, source = graph.nodes[new], graph.nodes[old]
        if target["name"] is None and source["name"] is not None and target["op"] not in ("input", "param"):
            target["name"] = source["name"]
        if not target["comments"]:
            target["comments"] = list(source["comments"])


def scalar_value(ir: BlockIR, node: int) -> Expr | None:
    """The number a `scalar` node stands for, when it is a finite expression."""
    if op_of(ir, node) != "scalar":
        return None
    value = attrs_of(ir, node)["value"]
    return value if isinstance(value, Expr) else None


def same_dims(ir: BlockIR, a, b) -> bool:
    """Two shapes (or dims) provably equal, with lets and checker-named dims expanded."""
    if len(a) != len(b):
        return False
    normal = getattr(ir, "normal", lambda e: e)
    return all(x == y or normal(x) == normal(y) for x, y in zip(a, b))


# Ops whose result is bounded whatever their input: a dtype-limit fill before them is gone after.
_BOUNDED = frozenset({"softmax", "sigmoid", "tanh"})


def reads_dtype_limit(ir: BlockIR, node: int) -> bool:
    """Whether a `masked_fill` with a dtype limit (`finfo(x).max`) feeds `node` with no
    softmax (or other bounded op) in between. Arithmetic on such values overflows, and which
    results overflow, and to what (inf, -inf or nan), depends on the order of the operations:
    a pass that reorders arithmetic leaves such a value as written, so that the optimised
    module computes what the spec says, overflow included."""
    graph = ir.graph
    seen, todo = {node}, [node]
    while todo:
        current = todo.pop()
        attrs = graph.nodes[current]
        if attrs["op"] == "masked_fill" and isinstance(attrs["attrs"].get("value"), DtypeLimit):
            return True
        if attrs["op"] in _BOUNDED and current != node:
            continue
        for operand in graph.predecessors(current):
            if operand not in seen:
                seen.add(operand)
                todo.append(operand)
    return False
