"""`for` loops of forward (attndsl/lower/loops.py), interpreted: the body's nodes are
walked once a pass, with the carried values of the pass before (their values before the
loop on the first), the layer of the list or the slices of the tensors of this pass; each
list gets the value appended on every pass."""

from __future__ import annotations

from ..lower.loops import loop_body, loop_layout
from .values import Refusal, expr_value


def plan_loops(ir, order) -> dict[int, tuple[int, list[int]]]:
    """For each `loop_end`: its `loop` node and its body in the order to walk it."""
    loops = {}
    for node in order:
        if ir.graph.nodes[node]["op"] == "loop_end":
            start, _ = loop_layout(ir.graph.nodes[node]["attrs"])["anchor"]
            body = loop_body(ir, node)
            loops[node] = (ir.operands(node)[start], [n for n in order if n in body])
    return loops


def run_loop(block, node, details, operands, values, env, present, inputs) -> tuple:
    ir, graph = block._ir, block._ir.graph
    anchor, body = block._loops[node]
    part = {role: operands[start:stop] for role, (start, stop) in loop_layout(details).items()}
    state = [block._operand(values, ir.operands(carry)[0]) for carry in part["carries"]]
    firsts = list(part["firsts"])
    lists = []
    for _, count in details["lists"]:
        lists.append([block._operand(values, first) for first in firsts[:count]])
        firsts = firsts[count:]
    pieces = [n for n in body if graph.nodes[n]["op"] == "loop_slice"]
    walked = [n for n in body if graph.nodes[n]["op"] not in ("loop_carry", "loop_slice")]
    nested = set()
    for inner, (inner_loop, _, inner_body) in block._comprehensions.items():
        if inner in body:
            nested |= inner_body | {inner_loop}
    for step in _passes(block, anchor, details, values, env):
        local = dict(values)
        for carry, value in zip(part["carries"], state):
            local[carry] = value
        element, slices = step
        if element is not None:
            local[anchor] = element
        for piece in pieces:
            local[piece] = slices[ir.operands(anchor).index(ir.operands(piece)[0])]
        block._walk(walked, nested, local, env, present, inputs)
        after = [block._operand(local, final) for final in part["finals"]]
        for carry, before, value in zip(part["carries"], state, after):
            # The language's loop contract: a pass gives back the shape it took, so that the
            # shape after any number of passes is the one before the loop.
            if getattr(before, "shape", None) != getattr(value, "shape", None):
                raise Refusal(f"{block._name}: a pass of the loop changes the shape of `{graph.nodes[carry]['name']}` "
                              f"from {tuple(before.shape)} to {tuple(value.shape)}")
        state = after
        for items, value in zip(lists, part["appended"]):
            items.append(block._operand(local, value))
    return tuple(state) + tuple(lists)


def _passes(block, anchor, details, values, env):
    """What each pass gets: (the layer list's element or None, one slice of every tensor)."""
    if details.get("count") is not None:  # `for _ in range(n):`: n passes, alike
        count = expr_value(details["count"], env)
        for _ in range(max(int(count), 0)):
            yield None, ()
        return
    elements = None
    if details.get("layer"):
        lists = (details["layer"],) + tuple(details.get("zipped", ()))
        for name in lists:
            if name not in block._modules:
                raise Refusal(f"{block._name}: layer {name} does not exist with these arguments")
        if len({len(block._modules[name]) for name in lists}) > 1:
            raise Refusal(f"{block._name}: the layer lists zipped together differ in length")
        elements = list(block._modules[details["layer"]])
        if len(lists) > 1:  # each element variable's call picks its own list's element by name
            elements = [dict(zip(lists, modules)) for modules in zip(*(block._modules[name] for name in lists))]
    tensors = [block._operand(values, o) for o in block._ir.operands(anchor)]
    if any(t.dim() == 0 for t in tensors):
        raise Refusal(f"{block._name}: a loop runs over the first axis of a tensor of rank 0")
    lengths = {t.shape[0] for t in tensors} | ({len(elements)} if elements is not None else set())
    if len(lengths) > 1:
        raise Refusal(f"{block._name}: the lists and tensors zipped together differ in length")
    count = len(elements) if elements is not None else tensors[0].shape[0]
    for index in range(count):
        yield (None if elements is None else elements[index]), tuple(t[index] for t in tensors)
