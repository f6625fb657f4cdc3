"""The order the IR's nodes are visited in, found over networkx's own adjacency dicts.

`lexicographical_topological_sort` (networkx) gives the one topological order that takes
the smallest ready node first; the passes ask for it after every rewrite that feeds an old
node from a new one, and the views networkx goes through (`in_degree`, `edges`) were most
of its time. This is the same order, computed from the dicts those views wrap, with one
key: a node a pass made sorts as the node it stands for (its `sort_as`), so a fused
attention call is written where the spec's attention is, not after everything made
before the pass ran.
"""

from __future__ import annotations

import heapq


def smallest_first_order(graph) -> list:
    """The nodes of a DAG, each after its operands, the smallest ready one first: by its
    `sort_as` where a pass gave it one (the node it stands for), else by its id."""
    attributes = graph._node

    def key(node) -> tuple:
        return (attributes[node].get("sort_as", node), node)

    waiting = {node: sum(len(keyed) for keyed in sources.values()) for node, sources in graph._pred.items()}
    ready = [key(node) for node, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for user, keyed in graph._succ[node].items():
            waiting[user] -= len(keyed)
            if waiting[user] == 0:
                heapq.heappush(ready, key(user))
    if len(order) != len(waiting):  # a cycle: networkx's own sort says so (NetworkXUnfeasible)
        import networkx as nx

        return list(nx.lexicographical_topological_sort(graph))
    return order
