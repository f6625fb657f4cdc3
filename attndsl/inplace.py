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
from .ir import BlockIR, Cond, LayerSpec, complementary, negate, read_guard
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


def overwrites_input(spec: LayerSpec | None) -> bool:
    """Whether calling the layer may write over the tensor it is given."""
    if spec is None:
        return False
    if spec.kind == "sequential":
        # The first child that works in place, when every child before it may pass its input on.
        for _, child in spec.children:
            if overwrites_input(child):
                return True
            if not passes_through(child):
                return False
        return False
    inplace = spec.args.get("inplace")
    # An `inplace=flag` argument may be true: it counts as in place.
    return isinstance(inplace, Cond) and inplace != Cond.const(False)


def passes_through(spec: LayerSpec | None) -> bool:
    """Whether the layer may return the very tensor it was given (dropout in eval)."""
    if spec is None:
        return False
    if spec.kind == "sequential":
        return all(passes_through(child) for _, child in spec.children)
    return spec.kind in PASS_THROUGH_LAYERS


def unsafe_children(spec: LayerSpec | None) -> list[tuple[str, LayerSpec]]:
    """In-place children of a sequential whose predecessor's output autograd may keep. One
    with only pass-through children before it writes over the sequential's own input: that
    is the call's business (`overwrites_input`)."""
    if spec is None or spec.kind != "sequential":
        return []
    found = []
    children = spec.children
    for index, (name, child) in enumerate(children):
        earlier = [c for _, c in children[:index] if not passes_through(c)]
        if index and overwrites_input(child) and earlier and not _fresh_layer(earlier[-1]):
            found.append((name or child.kind, earlier[-1]))
        found += unsafe_children(child)
    return found


def _fresh_layer(spec: LayerSpec) -> bool:
    if spec.kind == "sequential":
        made = [c for _, c in spec.children if not passes_through(c)]
        return bool(made) and _fresh_layer(made[-1])
    return spec.kind in FRESH_LAYERS and not overwrites_input(spec)


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
