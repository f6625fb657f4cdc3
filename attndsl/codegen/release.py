"""`del` for a list a `for` loop of forward built, once nothing reads it any more.

A loop's list (`outs.append(conv(group))`, then `spc = torch.stack(outs, dim=1)`) is a
local of forward, so Python keeps it, and every tensor in it, alive until forward
returns, although `stack` or `cat` has already copied them. The published code builds
such lists in a comprehension, a temporary that dies as soon as it is read: without the
`del`, PSA's generated forward held its four branch outputs (one more copy of the map)
through the rest of the call, 1.5x the reference's peak memory.

Only lists of a loop at the top level of forward are released, after the last top-level
statement that reads them (a statement under an `if` may not run; a list the `return`
line reads needs no `del`). Which statement reads a list comes from the dataflow graph:
a reader written inline is read where the statement that writes it out is.
"""

from __future__ import annotations

from ..ops import ListShape


def top_level_lists(graph, names: dict[int, str]) -> dict[int, str]:
    """The lists that unguarded `for` loops leave behind: their `item` node -> their name."""
    found = {}
    for node in graph.nodes:
        attrs = graph.nodes[node]
        if attrs["op"] != "item" or not isinstance(attrs["shape"], ListShape) or node not in names:
            continue
        loops = [p for p in graph.predecessors(node) if graph.nodes[p]["op"] == "loop_end"]
        if loops and not graph.nodes[loops[0]]["guard"] and not attrs["guard"]:
            found[node] = names[node]
    return found


def release_lists(statements: list[tuple[tuple, list[str]]], owners: list, lists: dict[int, str],
                  graph) -> list[tuple[tuple, list[str]]]:
    """`statements` with `del name` after the last one that reads each list of `lists`.
    `owners[i]` is the node statement i writes out (None for a check); a value written by
    no statement is read in the `return` line, and then no `del` is made."""
    written = {node: index for index, node in enumerate(owners) if node is not None}
    returned = len(statements)

    def read_at(node: int) -> int:
        """The statement that writes `node` out: its own, or the last of those of the values
        it is inlined into (the graph is acyclic; each node is asked once)."""
        if node not in written:
            written[node] = max((read_at(u) for u in graph.successors(node)), default=returned)
        return written[node]

    after: dict[int, list[str]] = {}
    for node, name in lists.items():
        last = max((read_at(reader) for reader in graph.successors(node)), default=returned)
        if last < returned and not statements[last][0]:
            after.setdefault(last, []).append(name)
    released = []
    for index, statement in enumerate(statements):
        released.append(statement)
        if index in after:
            released.append(((), [f"del {', '.join(sorted(after[index]))}  # last read: free its tensors now"]))
    return released
