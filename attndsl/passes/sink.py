"""Computations move into the branch that uses them.

A value computed before an `if` and read only inside one of its branches (the spec wrote
`attn = q @ transpose(k)` before `if flag:`, or a fusion left the plain form in one branch
only) is computed there instead: on the other branch it would be work thrown away, and a
named temporary above the `if` reads worse than the expression inside it.

Only pure tensor ops move: a layer call may update running statistics or draw dropout
masks, whose order is part of what the module computes; buffers, inputs, params, joins,
the items of a tuple (unpacked where the tuple is made) and the nodes of a loop keep
their place.
"""

from __future__ import annotations

import networkx as nx

from ..guards import implied_by
from ..ir import BlockIR, read_guard
from ..lower.loops import loop_body

# `item` nodes are written where the tuple they pick from is unpacked (`a, b = x.chunk(2)`).
_FIXED = {"input", "param", "phi", "item", "loop_layer", "loop_end", "list_comp", "buffer", "call_layer"}


def sink_into_branches(ir: BlockIR) -> int:
    """Narrow the guard of each pure node to the branch all its readers are in; how many moved."""
    graph = ir.graph
    moved, fixed = 0, _in_loops(ir)
    for node in reversed(list(ir.topological())):
        attrs = graph.nodes[node]
        if attrs["op"] in _FIXED or node in fixed or node in ir.outputs or attrs.get("phase") == "init" or \
                attrs["attrs"].get("stochastic"):
            continue
        users = list(graph.successors(node))
        if any(user in fixed or graph.nodes[user]["op"] in ("loop_end", "list_comp") for user in users):
            continue  # a loop reads it once per pass, or as its first carried value: where the loop is
        uses = [read_guard(ir, node, user) for user in users]
        guard = attrs["guard"]
        while uses:
            extra = [tuple(c for c in use if c not in guard and not implied_by(c, guard)) for use in uses]
            if not all(extra) or len({e[0] for e in extra}) != 1:
                break
            guard = guard + (extra[0][0],)
        if guard != attrs["guard"]:
            attrs["guard"] = guard
            moved += 1
    return moved


def _in_loops(ir: BlockIR) -> set[int]:
    """The nodes of `for` loops and comprehensions in forward: each pass runs them anew."""
    graph, inside = ir.graph, set()
    for node, attrs in graph.nodes(data=True):
        if attrs["op"] == "loop_end":
            inside |= loop_body(ir, node)
        elif attrs["op"] == "list_comp":
            loop = ir.operands(node)[-1]
            inside |= (nx.descendants(graph, loop) & nx.ancestors(graph, node)) | {loop}
    return inside
