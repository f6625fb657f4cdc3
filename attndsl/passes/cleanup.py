"""Dead-code and common-subexpression elimination.

Both keep the graph's invariants (operand order on edges, guards, spans) and are
deterministic: they visit nodes in topological order with ties broken by node id.
"""

from __future__ import annotations

import networkx as nx

from ..ir import BlockIR, LayerSpec
from ..ops import OPS

# Layers whose two calls on one tensor draw different masks in training.
_STOCHASTIC_LAYERS = {"dropout", "dropout2d"}
# Ops whose two calls on equal operands may differ (dropout in training) or that
# stand for a binding rather than a computation: two `for _ in range(g):` loops are two
# loops, whose anchors (`loop`) read the same operands.
_NEVER_MERGED = {"input", "param", "phi", "loop_layer", "list_comp", "buffer", "loop", "loop_carry", "loop_slice",
                 "loop_end"}


def eliminate_dead_code(ir: BlockIR) -> int:
    """Drop nodes no output depends on. Inputs stay: they are the forward signature; so do
    calls with an effect beyond their value (a BatchNorm's running statistics in training)."""
    live: set[int] = set()
    _mark_live(ir.graph, ir.outputs, live)
    # a param's first value (`param w: [d] = ...`): __init__ computes it, whoever reads the param
    _mark_live(ir.graph, [p.value for p in ir.params if p.value is not None and p.value in ir.graph], live)
    for node, attrs in ir.graph.nodes(data=True):
        if node not in live and _has_effects(ir, attrs):
            _mark_live(ir.graph, [node], live)
    dead = [n for n in ir.graph.nodes if n not in live and ir.graph.nodes[n]["op"] != "input"]
    ir.graph.remove_nodes_from(dead)
    return len(dead)


def _mark_live(graph: nx.MultiDiGraph, roots, live: set[int]) -> None:
    """Add the roots and everything they read to `live`: one walk for all roots, never
    entering a node twice (a pass runs this after every rewrite, over every output)."""
    pending = [root for root in roots if root not in live]
    live.update(pending)
    while pending:
        for operand in graph.predecessors(pending.pop()):
            if operand not in live:
                live.add(operand)
                pending.append(operand)


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items() if k != "axis_sizes"))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, frozenset):
        return tuple(sorted(value))
    return value


def _is_stochastic(ir: BlockIR, attrs: dict) -> bool:
    """A call that draws random values in training: an op declared `random` (stochastic depth),
    a dropout layer, or a sub-block (which may hold one)."""
    if attrs["op"] != "call_layer":
        definition = OPS.get(attrs["op"])
        return definition is not None and bool(definition.extra.get("random"))
    return any(_contains(spec, _STOCHASTIC_LAYERS) or _contains(spec, {"block"}) for spec in _declared(ir, attrs))


def _contains(spec: LayerSpec, kinds: set[str]) -> bool:
    return spec.kind in kinds or any(_contains(child, kinds) for _, child in spec.children)


def _has_effects(ir: BlockIR, attrs: dict) -> bool:
    """A call that changes the module's state (norms that track running statistics, in
    training) or holds what may (a sub-block): it runs even when its value is unused. A
    buffer is registered (an attribute of the module) whether forward reads it or not."""
    if attrs["op"] == "buffer":
        return True
    if attrs["op"] != "call_layer":
        return False
    return any(_stateful(spec) for spec in _declared(ir, attrs))


def _declared(ir: BlockIR, attrs: dict) -> list[LayerSpec]:
    """The layer a call calls, as each branch of an `if` may declare it."""
    return [info.element or info.spec for info in ir.declarations(attrs["attrs"]["layer"])]


def _truthy(value) -> bool:
    if value is None or value is False:
        return False
    return not (getattr(value, "op", None) == "const" and not value.args[0])


def _stateful(spec: LayerSpec) -> bool:
    from ..layers import LAYERS

    definition = LAYERS.get(spec.kind)
    tracks = definition is not None and ("BatchNorm" in definition.torch_class or (
        "InstanceNorm" in definition.torch_class and _truthy(spec.args.get("track_running_stats"))))
    return spec.kind == "block" or tracks or any(_stateful(child) for _, child in spec.children)


def eliminate_common_subexpressions(ir: BlockIR) -> int:
    """Merge nodes computing the same op on the same operands under the same guard."""
    seen: dict = {}
    merged = 0
    for node in ir.topological():
        attrs = ir.graph.nodes[node]
        if attrs["op"] in _NEVER_MERGED or _is_stochastic(ir, attrs) or attrs["attrs"].get("stochastic") or \
                _has_effects(ir, attrs):
            continue
        key = (attrs["op"], tuple(ir.operands(node)), _freeze(attrs["attrs"]), attrs["guard"])
        try:
            hash(key)
        except TypeError:
            continue
        keeper = seen.get(key)
        if keeper is None:
            seen[key] = node
            continue
        _merge_into(ir, node, keeper)
        merged += 1
    return merged


def _merge_into(ir: BlockIR, old: int, new: int) -> None:
    graph = ir.graph
    for _, user, data in list(graph.out_edges(old, data=True)):
        graph.add_edge(new, user, index=data["index"])
    keeper = graph.nodes[new]
    if keeper["name"] is None:
        keeper["name"] = graph.nodes[old]["name"]
    keeper["comments"] = keeper["comments"] or graph.nodes[old]["comments"]
    graph.remove_node(old)
    ir.outputs = [new if o == old else o for o in ir.outputs]
    for buffer in ir.buffers:  # two buffers may compute the same tensor (`arange(n)` in each)
        if buffer.value == old:
            buffer.value = new
    for param in ir.params:  # and two params the same first value (differential seed 23446553)
        if param.value == old:
            param.value = new
