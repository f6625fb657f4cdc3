"""`del` for a list a `for` loop of forward built, once nothing reads it any more.

A loop's list (`outs.append(conv(group))`, then `spc = torch.stack(outs, dim=1)`) is a
local of forward, so Python keeps it, and every tensor in it, alive until forward
returns, although `stack` or `cat` has already copied them. The published code builds
such lists in a comprehension, a temporary that dies as soon as it is read: without the
`del`, PSA's generated forward held its four branch outputs (one more copy of the map)
through the rest of the call, 1.5x the reference's peak memory.

Only lists of a loop at the top level of forward are released, after the last top-level
statement that names them (a statement under an `if` may not run; a list read by the
`return` line needs no `del`).
"""

from __future__ import annotations

import re

from ..ops import ListShape


def top_level_lists(graph, names: dict[int, str]) -> list[str]:
    """The names of the lists that unguarded `for` loops leave behind."""
    found = []
    for node in graph.nodes:
        attrs = graph.nodes[node]
        if attrs["op"] != "item" or not isinstance(attrs["shape"], ListShape) or node not in names:
            continue
        loops = [p for p in graph.predecessors(node) if graph.nodes[p]["op"] == "loop_end"]
        if loops and not graph.nodes[loops[0]]["guard"] and not attrs["guard"]:
            found.append(names[node])
    return found


def release_lists(statements: list[tuple[tuple, list[str]]], lists: list[str],
                  tail: str) -> list[tuple[tuple, list[str]]]:
    """`statements` with `del name` after the last one that reads each list of `lists`
    (none when `tail`, the return line, reads it, or when the last reader is guarded)."""
    after: dict[int, list[str]] = {}
    for name in lists:
        word = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
        if word.search(tail):
            continue
        readers = [i for i, (_, body) in enumerate(statements) if any(word.search(line) for line in body)]
        if readers and not statements[readers[-1]][0]:
            after.setdefault(readers[-1], []).append(name)
    released = []
    for index, statement in enumerate(statements):
        released.append(statement)
        if index in after:
            released.append(((), [f"del {', '.join(after[index])}  # last read: free its tensors now"]))
    return released
