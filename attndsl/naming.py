"""Python names for the values of a forward pass.

A spec may reassign a name (`t = t - mean(t)`), alias a value (`s = t`), and assign a
name in both branches of an `if` (a phi node in the IR). Generated code keeps the
spec's names where that is safe, and this module decides where it is: a name is
reused only once its previous value is dead, so an alias can never observe a later
reassignment; the values merged by a phi share the phi's name when nothing reads them
after another of them was written, and otherwise the branch copies its value
(`z = y`) into the phi's name.
"""

from __future__ import annotations

import builtins
import keyword
import math
from bisect import bisect_right, insort
from dataclasses import dataclass, field

from .guards import cannot_hold, guard_includes, negate
from .ir import BlockIR, Cond

# Names generated code uses itself; a local may not shadow them.
TAKEN_BY_CODEGEN = {"self", "torch", "nn", "OrderedDict", "super", "float", "len", "max", "min", "all", "getattr",
                    "ValueError", "int", "isinstance", "range", "tuple", "zip", "enumerate", "list", "bool"}
_BUILTINS = set(dir(builtins))


@dataclass
class Naming:
    names: dict[int, str] = field(default_factory=dict)
    # (phi node, guard of the branch, operand) for each value copied into a phi's name
    copies: list[tuple[int, tuple, int]] = field(default_factory=list)


def assign_names(ir: BlockIR, order: list[int], materialized: set[int], reserved: set[str],
                 inside: dict[int, int] | None = None) -> Naming:
    """`inside`: the nodes of loop bodies, each to its `loop_end`: the loop names them
    (attndsl/codegen/loops.py), and what they read is read where the loop is written."""
    graph = ir.graph
    position = {node: index for index, node in enumerate(order)}
    end = len(order)
    inside = inside or {}

    effective_at: dict[int, int] = {}

    def effective(node: int) -> int:
        """Where a node's value is read: its own line, or the line it is inlined into."""
        if node not in effective_at:
            effective_at[node] = _effective(node)
        return effective_at[node]

    def _effective(node: int) -> int:
        if node in inside:
            return effective(inside[node])
        op = graph.nodes[node]["op"]
        if node in materialized or op in ("phi", "item", "input", "param") or node in ir.outputs:
            return position[node] if node not in ir.outputs or node in materialized else end
        users = list(graph.successors(node))
        return max((effective(u) for u in users), default=position[node])

    naming = Naming()
    # Every value a name has held, as (its last read, the value), in that order: a name is
    # free at a place once every value it held was last read before it, so `alive` looks
    # only at the holders read later (a spec that reassigns `y` a thousand times would
    # otherwise ask each of them at each reassignment).
    holders: dict[str, list[tuple[int, int]]] = {}
    reads_of: dict[int, list[tuple[int, tuple]]] = {}

    def guard_at(at: int) -> tuple:
        return graph.nodes[order[at]]["guard"] if at < end else ()

    def read_after(holder: int, at: int, guard: tuple) -> bool:
        """Whether the holder's value may be read after `at` on a run that passes `at` under
        `guard`: a reader in the other branch of an `if` never is (`keys = f(keys)` in one
        branch, `keys = g(keys)` in the other, both write `keys`). The members of a phi's
        group are holders of its name each, and the phi reads them all where it joins."""
        return any(read > at and not cannot_hold(tuple(guard) + read_guard) for read, read_guard in reads(holder))

    def reads(holder: int) -> list[tuple[int, tuple]]:
        """Where the holder's value is read, each place with the guard it is read under."""
        if holder not in reads_of:
            found = [(effective(u), tuple(guard_at(effective(u))) + branch_of(holder, u))
                     for u in graph.successors(holder)]
            reads_of[holder] = found + ([(end, ())] if holder in ir.outputs else [])
        return reads_of[holder]

    def branch_of(holder: int, user: int) -> tuple:
        """A phi reads its first operand where its condition holds, its second where it does
        not: the old `a` an `if` rewrites is not read on the branch that rewrites it."""
        if graph.nodes[user]["op"] != "phi" or user in inside:
            return ()
        operands = ir.operands(user)
        if operands.count(holder) != 1:
            return ()
        condition = graph.nodes[user]["attrs"]["condition"]
        return (condition,) if operands[0] == holder else (negate(condition),)

    def alive(name: str, at: int, guard: tuple = ()) -> bool:
        held = holders.get(name, ())
        later = bisect_right(held, (at, math.inf))  # the first holder last read after `at`
        return any(read_after(holder, at, guard) for _, holder in held[later:])

    def pick(base: str, places: list[tuple[int, tuple]]) -> str:
        """A name free at every place (position, guard) the value is written."""
        if keyword.iskeyword(base) or base in _BUILTINS or base in TAKEN_BY_CODEGEN:
            base += "_"
        name, counter = base, 1
        while name in reserved or any(alive(name, at, guard) for at, guard in places):
            counter += 1
            name = f"{base}_{counter}"
        return name

    # Which operands of each phi can share its name.
    shared: dict[int, int] = {}  # operand -> phi
    for phi in (n for n in order if graph.nodes[n]["op"] == "phi" and n not in inside):
        operands = ir.operands(phi)
        condition = graph.nodes[phi]["attrs"]["condition"]
        members = sorted(operands, key=lambda n: position[n])
        for branch, operand in enumerate(operands):
            op = graph.nodes[operand]["op"]
            later = [position[m] for m in members if position[m] > position[operand]] + [position[phi]]
            readers = [effective(u) for u in graph.successors(operand) if u != phi]
            # A later member overwrites this one in the shared name: only where the phi then
            # takes the other branch (`y = a`, then `y = f(y)` under `if flag:`); computed on
            # the way to both (`t1 = ...`, `t3 = t1 + 1`, then `y = t1 if flag else t3`), the
            # value this branch selects would be gone.
            taken_away = negate(condition) if branch == 0 else condition
            exclusive = all(guard_includes(graph.nodes[m]["guard"], taken_away)
                            for m in members if position[m] > position[operand])
            safe = (op not in ("param",) and operand not in shared and operand not in ir.outputs
                    and all(r <= min(later) for r in readers) and exclusive)
            if op == "input":
                safe = safe and ir.graph.nodes[operand]["attrs"]["input"] == graph.nodes[phi]["name"]
            if safe:
                shared[operand] = phi
            else:
                guard = graph.nodes[phi]["guard"] + ((condition,) if branch == 0 else (Cond("not", (condition,)),))
                naming.copies.append((phi, guard, operand))

    # A phi and the operands that share its name form one variable; chained phis (the
    # `att` of SDPA, reassigned under two `if`s) join into one group.
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        while parent.get(node, node) != node:
            node = parent[node]
        return node

    for operand, phi in shared.items():
        parent[root(operand)] = root(phi)
    members: dict[int, list[int]] = {}
    for node in list(shared) + list({phi for phi in shared.values()}):
        members.setdefault(root(node), []).append(node)

    group_name: dict[int, str] = {}
    for node in order:
        if node in inside:
            continue
        attrs = graph.nodes[node]
        op = attrs["op"]
        at = position[node]
        group = root(node) if node in parent or node in members else None
        if op in ("param", "buffer") or op == "phi" and attrs["attrs"].get("param"):
            # a param declared on each branch, read after the `if`: the attribute of either
            naming.names[node] = f"self.{attrs['attrs']['param' if op == 'phi' else op]}"
            continue
        if group is not None and group in group_name:
            name = group_name[group]
        elif op == "input":
            name = attrs["attrs"]["input"]
        elif group is not None:
            base = next(graph.nodes[m]["name"] for m in sorted(members[group], key=position.get)
                        if graph.nodes[m]["op"] == "phi")
            name = pick(base, [(position[m], graph.nodes[m]["guard"]) for m in members[group]])
        elif op in ("item", "phi") or node in materialized:
            unnamed = "out" if node in ir.outputs else _temp_name(_made_of(ir, node))  # `return gamma * out + x`
            source = _source_name(ir, node, op, naming.names)
            if source is not None and pick(source, [(at, attrs["guard"])]) != source:
                source = None  # the value it views is still read: `subscript`, not `bias_2`
            name = pick(attrs["name"] or _sliced_name(graph, node) or _reader_name(graph, node, op) or source or
                        unnamed, [(at, attrs["guard"])])
        else:
            continue
        if group is not None:
            group_name[group] = name
        naming.names[node] = name
        insort(holders.setdefault(name, []), (max((read for read, _ in reads(node)), default=-1), node))
    return naming


def _sliced_name(graph, node: int) -> str | None:
    """A tensor only a loop runs over is named after its slices: `branches` for `branch`."""
    slices = [graph.nodes[u] for u in graph.successors(node) if graph.nodes[u]["op"] == "loop_slice"]
    if not slices or any(graph.nodes[u]["op"] not in ("loop", "loop_slice") for u in graph.successors(node)):
        return None
    var = slices[0]["attrs"]["var"]
    return var + ("es" if var.endswith(("s", "x", "ch", "sh")) else "s")


def _reader_name(graph, node: int, op: str) -> str | None:
    """A piece only one named value is made from takes that name, as hand-written code
    rebinds it: `q, k, v = qkv.chunk(3, dim=-1)`, then `q = q.reshape(...)`."""
    readers = list(graph.successors(node))
    if op != "item" or len(readers) != 1:
        return None
    return graph.nodes[readers[0]]["name"]


_VIEWS = ("subscript", "rearrange", "transpose", "unsqueeze", "squeeze", "expand", "expand_as", "flatten",
          "unflatten", "contiguous")


def _source_name(ir, node: int, op: str, names: dict) -> str | None:
    """A view of one named value (`bias[None]`, read twice) takes that value's name where it
    is free, as hand-written code rebinds it: `bias = bias[None]`."""
    if op not in _VIEWS:
        return None
    source = names.get(ir.operands(node)[0])
    return source.removeprefix("self.") if source else None


def _made_of(ir, node: int) -> str:
    """The op a value is made of, through the views and conversions that only reshape or retype
    it: `float(arange(k))[None, :]` is positions (`index`), not a `subscript`."""
    graph = ir.graph
    while graph.nodes[node]["op"] in _VIEWS + ("float",) and not graph.nodes[node]["name"]:
        operands = ir.operands(node)
        if not operands or graph.nodes[operands[0]]["op"] in ("input", "param", "buffer", "scalar"):
            break
        if graph.nodes[operands[0]]["name"]:  # a view of a named value goes by that name (`fm_2`, not `rearrange`)
            return graph.nodes[operands[0]]["name"]
        node = operands[0]
    return graph.nodes[node]["op"]


def _temp_name(op: str) -> str:
    masks = {op: "mask" for op in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not")}
    return {"call_layer": "y", "matmul": "product", "softmax": "weights", "item": "part", "arange": "index",
            "ones_like": "ones", "zeros_like": "zeros", **masks}.get(op, op)
