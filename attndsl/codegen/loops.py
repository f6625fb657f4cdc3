"""A loop of forward (attndsl/lower/loops.py) written as Python's `for`:

    x_2 = y                              # a carried value starts from its value before
    outs = [first]                       # a list starts with its first items
    for attn, ff in self.layers:
        x_2 = attn(x_2) + x_2            # the body, one line per value it names
        outs.append(x_2)
    ...                                  # after the loop: x_2 and outs as they are

The body's values are named here, apart from the rest of forward: a name of the body
never is a name the rest of forward reads while the loop runs, and a name of the body
is reused only once its value is dead (so `x = attn(x) + x` writes `x` in place when
nothing reads the old `x` after). A carried value ends each pass under its name.
"""

from __future__ import annotations

import keyword

from ..lower.loops import loop_body, loop_layout
from ..naming import TAKEN_BY_CODEGEN
from ..ops import ATOM, OPS
from .text import comment_text

_FREE = ("scalar", "loop_layer", "loop_carry", "loop_slice", "item", "loop")


class LoopEmitter:
    def loop_nodes(self) -> dict[int, int]:
        """Every node of a loop body, to the `loop_end` that closes it."""
        inside = {}
        for node in self.graph.nodes:
            if self.graph.nodes[node]["op"] == "loop_end":
                for member in loop_body(self.ir, node):
                    inside[member] = node
        return inside

    def loop_lines(self, end: int, materialized: set[int]) -> list[str]:
        graph, ir = self.graph, self.ir
        details = graph.nodes[end]["attrs"]
        operands = ir.operands(end)
        part = {role: operands[start:stop] for role, (start, stop) in loop_layout(details).items()}
        anchor = part["anchor"][0]
        body = loop_body(ir, end)
        order = [n for n in ir.topological() if n in body]
        items = {graph.nodes[u]["attrs"]["index"]: u for u in graph.successors(end) if graph.nodes[u]["op"] == "item"}
        # What the rest of forward names: the body may not write over it. Another loop's body
        # is not the rest of forward: its names are dead once it ends (what it leaves behind
        # is named by its items), so a later loop may write `h` again, not `h_2`.
        bodies = self.loop_nodes()
        outer = {name for node, name in self.names.items() if node not in body and node not in bodies} | \
            set(self.ir.dim_origin) | {i.name for i in ir.inputs}
        # What the body reads of the rest of forward (a carry's first value is read before the loop).
        read = {self.names.get(o) for n in order if graph.nodes[n]["op"] != "loop_carry" for o in ir.operands(n)
                if o not in body and o != anchor}
        taken = set(outer)

        def fresh(base: str) -> str:
            name = self._fresh_in_loop(base, taken)
            taken.add(name)
            return name

        # The loop's own variables, and the names its carried values and lists live under.
        variables = [var if var not in taken else fresh(var) for var in graph.nodes[anchor]["attrs"]["vars"]]
        taken.update(variables)
        self.loop_variables[anchor] = variables
        carried = []
        for index, carry in enumerate(part["carries"]):
            name = self.names.get(items.get(index))
            start = ir.operands(carry)[0]
            if name is None and list(graph.successors(start)) == [carry] and \
                    graph.nodes[start]["op"] not in ("input", "param", "buffer"):
                name = self.names.get(start)  # unused after the loop: it goes on under its first value's name
            if name is None or name in read or name in variables:
                name = fresh(details["carried"][index])
                if index in items:
                    self.names[items[index]] = name
            carried.append(name)
            self.names[carry] = name
        lists = []
        for index, _ in enumerate(details["lists"], start=len(carried)):
            name = self.names.get(items.get(index))
            if name is None or name in read or name in variables or name in carried:
                name = fresh(details["lists"][index - len(carried)][0])
                if index in items:
                    self.names[items[index]] = name
            lists.append(name)
        taken.update(carried + lists)
        outer -= set(carried + lists)  # written by the loop: nothing else reads them while it runs
        for piece in (n for n in body if graph.nodes[n]["op"] == "loop_slice"):
            self.names[piece] = variables[details_index(graph, piece, anchor)]

        lines = []
        for carry, name in zip(part["carries"], carried):
            start = self.expression(ir.operands(carry)[0], materialized)[0]
            if start != name:
                lines.append(f"{name} = {start}")
        firsts = list(part["firsts"])
        for (_, count), name in zip(details["lists"], lists):
            values = [self.expression(node, materialized)[0] for node in firsts[:count]]
            firsts = firsts[count:]
            lines.append(f"{name} = [{', '.join(values)}]")
        # the spec's comments on the `for`: above it, after the values the loop starts from
        lines += [f"# {comment_text(c)}" for c in graph.nodes[end]["comments"] if comment_text(c)]
        lines.append(f"for {', '.join(variables)} in {self._loop_iterable(anchor, details, materialized)}:")
        body_lines = self._loop_body(order, end, part, carried, lists, materialized, taken, outer)
        lines += ["    " + line for line in body_lines]
        return lines

    def _loop_iterable(self, anchor: int, details: dict, materialized: set[int]) -> str:
        if details.get("count") is not None:  # `for _ in range(self.iters):`
            return f"range({self.dim(details['count'])})"
        tensors = [self.expression(o, materialized)[0] for o in self.ir.operands(anchor)]
        if details.get("layer"):
            lists = (details["layer"],) + tuple(details.get("zipped", ()))
            self.used_attributes.difference_update(lists)
            tensors[:0] = [f"self.{name}" for name in lists]
        return tensors[0] if len(tensors) == 1 else f"zip({', '.join(tensors)})"

    def _loop_body(self, order, end, part, carried, lists, materialized, taken, outer) -> list[str]:
        graph = self.graph
        finals = list(part["finals"])
        appended = list(part["appended"])
        position = {node: index for index, node in enumerate(order)}
        last = len(order)
        details = graph.nodes[end]["attrs"]
        # the body's guard holds the loop's own `len(list) >= 1` / `n >= 1`: a pass runs only then
        base_guard = len(graph.nodes[end]["guard"]) + (1 if details.get("layer") or details.get("count") is not None
                                                       else 0)
        chosen = set()
        for node in order:
            attrs = graph.nodes[node]
            if attrs["op"] in _FREE:
                continue
            users = list(graph.successors(node))
            # a branch of `a if flag else b` is computed inside the choice, only when it is taken
            inline = len(users) == 1 and graph.nodes[users[0]]["op"] == "phi"
            # (the loop's end is outside its body's guard: what a pass appends is still written in place)
            if attrs["name"] is not None or attrs["op"] == "phi" or len(users) > 1 or node in finals or \
                    _multi(attrs) or not inline and any(graph.nodes[u]["guard"] != attrs["guard"]
                                                        for u in users if u != end):
                chosen.add(node)

        def effective(node: int) -> int:
            if node in chosen or node in appended:  # written where it is computed
                return position[node]
            if node == end or node not in position:
                return last
            return max((effective(u) for u in graph.successors(node)), default=position[node])

        def last_read(node: int) -> int:
            # `loop_end` reads what a pass ends with (not the carries: they are where a pass starts)
            reads = [effective(u) for u in graph.successors(node) if u in position]
            reads += [last] if node in finals or node in appended and node in chosen else []
            reads += [position[node]] if node in appended and node not in chosen else []
            return max(reads, default=-1)

        holders = {name: carry for name, carry in zip(carried, part["carries"])}
        statements = []
        for node in order:
            if node in appended and node not in chosen:  # appended where it is computed: `outs.append(...)`
                name = lists[appended.index(node)]
                text = f"{name}.append({self.expression(node, materialized)[0]})"
                comments = self.statement_comments(node, materialized - {node})
                statements.append((graph.nodes[node]["guard"][base_guard:], comments + [text + self.shape_comment(node)]))
                continue
            if node not in chosen:
                continue
            attrs = graph.nodes[node]
            at = position[node]
            preferred = []
            if node in finals:
                preferred.append(carried[finals.index(node)])
            if attrs["name"] in details["carried"]:  # `x = attn(x) + x` on the way: x's name, if free
                preferred.append(carried[details["carried"].index(attrs["name"])])
            preferred.append(attrs["name"] or _temp(attrs["op"]))
            name = None
            for base in preferred:
                holder = holders.get(base)
                if base not in outer and (holder is None or last_read(holder) <= at) and \
                        (base not in taken or base in holders):
                    name = base
                    break
            if name is None:
                name = self._fresh_in_loop(preferred[-1], taken)
            taken.add(name)
            holders[name] = node
            self.names[node] = name
            materialized.add(node)
            statements.append((attrs["guard"][base_guard:], self._loop_statement(node, attrs, name, materialized, taken)))
        tail = []
        for value, name in zip(appended, lists):
            if value in chosen:
                tail.append(f"{name}.append({self.names[value]})")
        copies = [(name, self.expression(final, materialized)[0]) for name, final in zip(carried, finals)
                  if self.names.get(final) != name]
        if len(copies) == 1:
            tail.append(f"{copies[0][0]} = {copies[0][1]}")
        elif copies:  # one assignment: every value is read before any is written
            tail.append(f"{', '.join(n for n, _ in copies)} = {', '.join(v for _, v in copies)}")
        return self._guarded(statements, self.forward_name, self.if_comments_left) + tail

    def _fresh_in_loop(self, base: str, taken: set) -> str:
        """`base`, or `base_2`, `base_3`, ...: the first name not taken (nor a keyword, nor
        one the generated code uses itself)."""
        if keyword.iskeyword(base) or base in TAKEN_BY_CODEGEN:
            base += "_"
        name, count = base, 1
        while name in taken:
            count += 1
            name = f"{base}_{count}"
        return name

    def _loop_statement(self, node: int, attrs: dict, name: str, materialized: set[int], taken: set) -> list[str]:
        comments = self.statement_comments(node, materialized - {node})
        if attrs["op"] == "phi":  # `a if flag else b`: only the branch taken is computed
            then, orelse = (self.expression(o, materialized) for o in self.ir.operands(node))
            condition = self.condition(attrs["attrs"]["condition"], self.forward_name)
            text = f"{self.wrap(then, 2)} if {condition} else {self.wrap(orelse, 1)}"
        else:
            materialized.discard(node)
            try:
                text = self.expression(node, materialized)[0]
            finally:
                materialized.add(node)
        if _multi(attrs):
            names = {self.graph.nodes[u]["attrs"]["index"]: u for u in self.graph.successors(node)}
            count = len(attrs["shape"])
            targets = []
            for index in range(count):
                item = names.get(index)
                if item is None:
                    targets.append("_")
                    continue
                self.names[item] = self._fresh_in_loop(self.graph.nodes[item]["name"] or "part", taken)
                taken.add(self.names[item])
                targets.append(self.names[item])
            self.names[node] = name
            line = f"{', '.join(targets)}{',' if count == 1 else ''} = {text}"
        else:
            line = f"{name} = {text}"
        return comments + [line + self.shape_comment(node)]


def details_index(graph, piece: int, anchor: int) -> int:
    """Which of the loop's variables a `loop_slice` is (a layer list zipped first is the 0th)."""
    return list(graph.nodes[anchor]["attrs"]["vars"]).index(graph.nodes[piece]["attrs"]["var"])


def _multi(attrs: dict) -> bool:
    definition = OPS.get(attrs["op"])
    return (definition is not None and definition.outputs is not None) or bool(attrs["attrs"].get("outputs"))


def _temp(op: str) -> str:
    return {"call_layer": "y", "matmul": "product", "softmax": "weights"}.get(op, op)


__all__ = ["LoopEmitter", "ATOM"]
