"""In-place layers (`relu(inplace=true)`): where writing over the input could be seen.

The language is a dataflow: a value is the same wherever it is read. A layer built with
`inplace=true` (kept so the module's repr and behaviour match the published one) writes
its result over its input, which is harmless only when nothing else can see that input:

- nobody else reads it: it has one use (not a block input, param or output);
- autograd did not keep it for the backward pass: it was made by a layer or an op that
  does not save its own result (linear, conv, norms, pools, `+ - * / @`, cat, and the
  activations whose gradient reads their input: gelu, silu, elu, ...); relu, sigmoid,
  tanh, softmax and exp do save theirs, and a view shares memory;
- dropout (and dropout2d) and identity are looked through: they return the very tensor
  they were given (identity always, dropout in eval, with p=0 or in place), and dropout's
  backward needs only its mask. So what they were given must be safe to write over.

`check_inplace` reports a spec that breaks this (E0211). After the optimising passes
(which may merge two equal values or fold `x * 1` into `x`), `needs_copy` tells codegen
to hand the layer a copy instead.
"""

from __future__ import annotations

from .diagnostics import DiagnosticSink
from .ir import BlockIR, Cond, LayerSpec, complementary, display_name, negate, read_guard
from .shapes.dtypes import with_article

# Activations whose gradient reads their input, not their output (relu, sigmoid, tanh and
# softmax read their output). Checked against torch: an in-place relu after each, then
# backward (tests/test_trial3_findings.py).
_GRADIENT_FROM_INPUT = {"relu6", "gelu", "silu", "hardswish", "hardsigmoid", "elu", "leaky_relu", "softplus"}
# Layers whose output autograd does not keep, and which never return their input, when they
# do not work in place themselves (an in-place elu or leaky_relu saves its result).
FRESH_LAYERS = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                "batch_norm1d", "batch_norm2d", "batch_norm3d",
                "instance_norm2d", "layer_norm", "group_norm", "max_pool1d", "max_pool2d", "max_pool3d",
                "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
                "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
                "prelu"} | _GRADIENT_FROM_INPUT
# Layers that may return the tensor they are given, and keep nothing of their output.
PASS_THROUGH_LAYERS = {"dropout", "dropout2d", "identity"}
# Ops whose result is a new tensor that autograd does not keep.
FRESH_OPS = {"add", "sub", "mul", "div", "neg", "matmul", "cat", "stack", "masked_fill", "sum", "mean"} | \
    _GRADIENT_FROM_INPUT


def runs(spec: LayerSpec, route: tuple = (), name=None) -> list[list[tuple[LayerSpec, tuple, object]]]:
    """Each order in which the layers inside `spec` may run on one call, as (layer, route,
    name) triples; a route reaches the layer from `spec` (`("index", 0)`, `("name", "bn")`, or
    `("added", child)`: the child a sequential with loops has just been given). A loop runs
    no times, or twice: then the first child of a pass follows the last of the pass before."""
    if spec.kind != "sequential":
        return [[(spec, route, name)]]
    added = any(child.kind == "loop" for _, child in spec.children)  # built child by child
    return _runs_of(spec.children, route, added)


def _runs_of(children, route: tuple, added: bool) -> list[list[tuple[LayerSpec, tuple, object]]]:
    orders: list[list] = [[]]
    for index, (name, child) in enumerate(children):
        if child.kind == "loop":
            body = _runs_of(child.children, route, added)
            choices = [[]] + [first + second for first in body for second in body]
        else:
            step = ("added", child) if added else ("name", name) if isinstance(name, str) else ("index", index)
            choices = runs(child, route + (step,), name)
        orders = [order + choice for order in orders for choice in choices]
    return orders


def overwrites_input(spec: LayerSpec | None) -> bool:
    """Whether calling the layer may write over the tensor it is given: a layer built in place,
    first in some order its layers run, or after ones that may pass their input on."""
    return spec is not None and any(_in_place(layer) for order in runs(spec) for layer in _given_the_input(order))


def _given_the_input(order: list) -> list[LayerSpec]:
    """The layers of one order that are handed the call's own input: up to the first that makes a new tensor."""
    given = []
    for layer, _, _ in order:
        given.append(layer)
        if not passes_through(layer):
            break
    return given


def _in_place(spec: LayerSpec) -> bool:
    inplace = spec.args.get("inplace")
    # An `inplace=flag` argument may be true: it counts as in place.
    return isinstance(inplace, Cond) and inplace != Cond.const(False)


def may_work_in_place(spec: LayerSpec) -> bool:
    """A layer built from a kind argument (`act_layer()`) that may be given as
    `partial(nn.ReLU, inplace=True)`: only the module built can tell, at run time."""
    return spec.kind_arg is not None and any("inplace" in args for args in spec.alternatives.values())


def passes_through(spec: LayerSpec | None) -> bool:
    """Whether the layer may return the very tensor it was given (dropout in eval); a
    sequential may when its layers all may, in some order they run (a loop run no times)."""
    if spec is None:
        return False
    if spec.kind == "sequential":
        return any(all(passes_through(layer) for layer, _, _ in order) for order in runs(spec))
    return any(kind in PASS_THROUGH_LAYERS for kind in _kinds(spec))


def _kinds(spec: LayerSpec) -> list[str]:
    """The kinds a layer may be: one, or those its kind argument allows."""
    return list(spec.alternatives) if spec.kind_arg is not None else [spec.kind]


def unsafe_children(spec: LayerSpec | None) -> list[tuple[str, LayerSpec]]:
    """In-place children of a sequential whose predecessor's output autograd may keep. One
    with only pass-through children before it writes over the sequential's own input: that
    is the call's business (`overwrites_input`)."""
    if spec is None or spec.kind != "sequential":
        return []
    found: dict[int, tuple[str, LayerSpec]] = {}
    for order in runs(spec):
        for index, (layer, _, name) in enumerate(order):
            previous = _made_before(order, index)
            if _in_place(layer) and previous is not None and not _fresh_layer(previous):
                found.setdefault(id(layer), (display_name(name) if name is not None else layer.kind, previous))
    return list(found.values())


def _made_before(order: list, index: int) -> LayerSpec | None:
    """The last layer before `index` in one order that makes a new tensor: what the layer at `index` is given."""
    made = [layer for layer, _, _ in order[:index] if not passes_through(layer)]
    return made[-1] if made else None


def _fresh_layer(spec: LayerSpec) -> bool:
    if spec.kind == "sequential":  # its last layer that makes a tensor, in every order they may run
        for order in runs(spec):
            made = _made_before(order, len(order))
            if made is None or not _fresh_layer(made):
                return False
        return True
    return all(kind in FRESH_LAYERS for kind in _kinds(spec)) and not _in_place(spec) and \
        not may_work_in_place(spec)


def kind_in_place_hazards(ir: BlockIR, info) -> list[tuple[LayerSpec, tuple, str]]:
    """The layers of `info` built from a kind argument whose working in place could be seen,
    each with its route (`runs`) and why: it would write over the input of a call whose
    input is read again, or over an output autograd keeps. Codegen checks each at run time."""
    top = info.element or info.spec
    found: dict[int, tuple[LayerSpec, tuple, str]] = {}
    for order in runs(top):
        for index, (layer, route, _) in enumerate(order):
            previous = _made_before(order, index)
            if may_work_in_place(layer) and previous is not None and not _fresh_layer(previous):
                found.setdefault(id(layer), (layer, route, f"in layer `{info.name}` it would write over the output "
                                             f"of {with_article(previous.kind)} layer, which autograd keeps"))
    for node, attrs in ir.graph.nodes(data=True):
        if attrs["op"] != "call_layer" or attrs["attrs"].get("layer") != info.name:
            continue
        called = ir.called_spec(attrs)
        given = {id(layer) for order in runs(called) for layer in _given_the_input(order) if may_work_in_place(layer)}
        reason = problem(ir, node) if given else None
        if reason is None:
            continue
        for order in runs(top):
            for layer, route, _ in order:
                if id(layer) in given:
                    found.setdefault(id(layer), (layer, route, f"layer `{info.name}` is called where {reason}"))
    return list(found.values())


def problem(ir: BlockIR, node: int) -> str | None:
    """Why the in-place layer called at `node` could be seen writing over its input (None: it cannot)."""
    return _overwritten(ir, ir.operands(node)[0], node, tuple(ir.graph.nodes[node]["guard"]))


def _overwritten(ir: BlockIR, operand: int, reader: int, branch: tuple) -> str | None:
    """Why writing over `operand`, read by `reader` where the conditions `branch` hold, could
    be seen. A value joined from the branches of an `if` is each branch's value where that
    branch is taken: a reader only the other branch has does not see the write."""
    graph = ir.graph
    source = graph.nodes[operand]
    op = source["op"]
    what = f"`{source['name']}`" if source.get("name") else "its input"
    if op == "input":
        return f"{what} is an input of the block: the caller's tensor would change"
    if op == "param":
        return f"{what} is a param"
    readers = [user for _, user in graph.out_edges(operand)]
    readers.remove(reader)
    seen = [user for user in readers if not any(complementary(taken, condition) for taken in branch
                                                 for condition in read_guard(ir, operand, user))]
    if seen or operand in ir.outputs:
        return f"{what} is also read elsewhere, and would see the layer's result"
    if op == "phi":
        condition = source["attrs"]["condition"]
        for index, value in enumerate(ir.operands(operand)):
            taken = condition if index == 0 else negate(condition)
            reason = _overwritten(ir, value, operand, branch + (taken,))
            if reason is not None:
                return reason
        return None
    if op == "call_layer":
        spec = ir.called_spec(source)
        if passes_through(spec):  # the write lands on what the layer was given
            return _overwritten(ir, ir.operands(operand)[0], operand, branch)
        if spec is not None and _fresh_layer(spec):
            return None
        kind = spec.kind if spec is not None else "layer"
        return f"{what} comes from {with_article(kind)} layer, whose output autograd keeps (or which returns its input)"
    if op in FRESH_OPS:
        return None
    return f"{what} comes from {op}(), whose result autograd keeps or which shares memory with its input"


def check_inplace(ir: BlockIR, sink: DiagnosticSink) -> None:
    """E0211 for each in-place layer whose writing could be seen (spec as written, before any pass)."""
    for info in ir.layers:
        for name, previous in unsafe_children(info.element or info.spec):
            sink.error("E0211", f"layer `{info.name}`: the in-place child `{name}` writes over the output of a "
                       f"{previous.kind} layer, which autograd keeps for the backward pass", info.span,
                       help="drop `inplace=true`, or put the in-place layer after a conv, linear, norm or pool")
    for node in ir.topological():
        attrs = ir.graph.nodes[node]
        if attrs["op"] != "call_layer" or not overwrites_input(ir.called_spec(attrs)):
            continue
        reason = problem(ir, node)
        if reason is not None:
            sink.error("E0211", f"layer `{attrs['attrs']['layer']}` works in place, and {reason}", attrs["span"],
                       help="drop `inplace=true` from the layer (the result is the same, without the overwrite)")


def needs_copy(ir: BlockIR, node: int) -> bool:
    """After the passes: whether codegen must hand the in-place layer at `node` a copy."""
    attrs = ir.graph.nodes[node]
    return overwrites_input(ir.called_spec(attrs)) and problem(ir, node) is not None
