"""`attndsl graph SPEC [--block NAME] [--format dot|mermaid|svg]`.

The dataflow of each block as a graph: inputs, params, ops and layer calls as nodes,
tensors as edges labelled with their symbolic shapes (the checker's, so they read as
the shape comments of the generated code). Nodes that exist only under an `if` are
dashed and say so. Without `--block`, every block of the file is drawn, each in its
own frame. `svg` runs Graphviz's `dot` on the dot text.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from ..cli import UsageError
from ..files import read_spec_text
from ..ir import BlockIR, Cond
from ..shapes.conjunctions import render_cond, render_expr, render_guard
from ..shapes.world_view import shape_text, world_views
from .common import check_spec, layers_named
from .cost import symbol_order


@dataclass
class Box:
    label: list[str]  # lines
    kind: str  # "input", "param", "op", "layer", "join", "output"
    guard: str | None  # the condition under which it exists, rendered


def dataflow(ir: BlockIR) -> nx.DiGraph:
    """The block's dataflow for display: one node per IR node (the loop variables of layer
    lists folded into their calls) plus a `return` node; edges carry shape labels."""
    order = symbol_order(ir)
    views = world_views(ir)
    graph = nx.DiGraph()
    nodes = ir.graph.nodes
    for node in ir.topological():
        attrs = nodes[node]
        if attrs["op"] == "loop_layer":
            continue
        guard = render_guard(attrs["guard"], order, sort=False) or None
        graph.add_node(node, box=Box(_label(ir, attrs, order), _kind(attrs["op"]), guard))
        for source in ir.operands(node):
            if nodes[source]["op"] == "loop_layer":
                continue
            shape = nodes[source].get("shape")
            parted = attrs["op"] == "item" or (isinstance(shape, tuple) and shape and isinstance(shape[0], tuple))
            within = list(attrs["guard"])  # the worlds where the tensor reaches this node
            branch = ""
            if attrs["op"] == "phi":  # which operand is which branch
                condition = attrs["attrs"]["condition"]
                branch = "then" if source == ir.operands(node)[0] else "else"
                within.append(condition if branch == "then" else Cond("not", (condition,)))
            label = edge_label(ir, node if parted else source, order, views, within)  # a chunk's part: its own shape
            graph.add_edge(source, node, label=(f"{branch}{':' if '; ' in label else ''} " if branch else "") + label)
    for index, output in enumerate(ir.outputs):
        name = "return" if len(ir.outputs) == 1 else f"return {index}"
        graph.add_node(name, box=Box([name], "output", None))
        graph.add_edge(output, name, label=edge_label(ir, output, order, views))
    return graph


def edge_label(ir: BlockIR, node: int, order, views=None, within=()) -> str:
    """The shape of the tensor a node makes: one shape, or one per case of the `if`s that
    change it (`[s0, s1, h, w] if batch_first; [s1, s0, h, w] if not batch_first`), in the
    worlds where the conditions `within` may hold."""
    shape = ir.graph.nodes[node].get("shape")
    if shape is None:
        return ""
    if isinstance(shape, tuple) and not shape:
        return "scalar"
    return shape_text(ir, node, order, views=views, within=within)


def _kind(op: str) -> str:
    return {"input": "input", "param": "param", "call_layer": "layer", "list_comp": "layer",
            "phi": "join"}.get(op, "op")


def _label(ir: BlockIR, attrs: dict, order) -> list[str]:
    op, extra = attrs["op"], attrs["attrs"]
    if op == "input":
        head = f"input {extra['input']}" + (" (optional)" if extra.get("optional") else "")
    elif op == "param":
        head = f"param {extra['param']}"
    elif op == "scalar":
        value = extra.get("value")
        head = render_expr(value, order) if hasattr(value, "terms") else str(getattr(value, "value", value))
    elif op == "item":
        head = f"part {extra['index']}"
    elif op == "phi":
        head = f"join: if {render_cond(extra['condition'], order)}"
    elif op == "call_layer":
        kinds = []  # one, or one per branch of an `if` that declares the layer on both sides
        for layer in layers_named(ir, extra["layer"], attrs["guard"]):
            spec = layer.element if extra.get("element") else layer.spec
            for name in extra.get("path", ()):
                spec = next(child for child_name, child in spec.children if child_name == name)
            kinds.append(spec.block if spec.kind == "block" else spec.kind)
        path = "".join(f".{p}" for p in extra.get("path", ()))
        kind = " or ".join(dict.fromkeys(kinds))
        head = f"{layer.name}[{layer.loop_var}]{path}: {kind}" if extra.get("element") else f"{layer.name}{path}: {kind}"
    elif op == "list_comp":
        head = f"list over {extra['layer']}"
    else:
        head = op + _op_arguments(op, extra, order)
    name = attrs.get("name")
    return [head] + ([f"= {name}"] if name and op not in ("input", "param") else [])


def _op_arguments(op: str, attrs: dict, order) -> str:
    if op == "rearrange":
        pattern = attrs["pattern"]
        side = lambda groups: " ".join(g[0] if len(g) == 1 else f"({' '.join(g)})" if g else "1" for g in groups)
        sizes = "".join(f", {k}={render_expr(v, order)}" for k, v in attrs.get("sizes", ()))
        return f' "{side(pattern.left)} -> {side(pattern.right)}"{sizes}'
    shown = []
    for key in ("dim", "dim0", "dim1", "chunks", "groups", "keepdim", "value"):
        if key in attrs and attrs[key] is not None and attrs[key] is not False:
            value = attrs[key]
            value = render_expr(value, order) if hasattr(value, "terms") else getattr(value, "value", value)
            shown.append(f"{key}={value}")
    return f" ({', '.join(shown)})" if shown else ""


# ---------------------------------------------------------------------------- dot


def to_dot(blocks: list[BlockIR]) -> str:
    lines = ["digraph attndsl {", "  rankdir=TB;",
             '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    shapes = {"input": "ellipse", "param": "cylinder", "op": "box", "layer": "box", "join": "diamond",
              "output": "ellipse"}
    for index, ir in enumerate(blocks):
        graph = dataflow(ir)
        lines += [f"  subgraph cluster_{index} {{", f"    label={_dot_text(ir.name)};", "    fontname=\"Helvetica\";"]
        for node, data in graph.nodes(data=True):
            box: Box = data["box"]
            label = box.label + ([f"if {box.guard}"] if box.guard else [])
            style = ', style="rounded,dashed"' if box.guard else ""
            bold = ', penwidth=2' if box.kind == "layer" else ""
            lines.append(f"    {_dot_id(ir, node)} [label={_dot_text(chr(10).join(label))}, "
                         f"shape={shapes[box.kind]}{style}{bold}];")
        for source, target, data in graph.edges(data=True):
            lines.append(f"    {_dot_id(ir, source)} -> {_dot_id(ir, target)} [label={_dot_text(data['label'])}];")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_id(ir: BlockIR, node) -> str:
    return f'"{ir.name}.{node}"'


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# ---------------------------------------------------------------------------- mermaid


def to_mermaid(blocks: list[BlockIR]) -> str:
    lines = ["flowchart TB", "  classDef guarded stroke-dasharray: 5 5;", "  classDef layer stroke-width: 2px;"]
    brackets = {"input": ('(["', '"])'), "param": ('[("', '")]'), "op": ('["', '"]'), "layer": ('["', '"]'),
                "join": ('{"', '"}'), "output": ('(["', '"])')}
    for ir in blocks:
        graph = dataflow(ir)
        lines.append(f'  subgraph block_{ir.name}["{_mermaid_text(ir.name)}"]')
        for node, data in graph.nodes(data=True):
            box: Box = data["box"]
            label = box.label + ([f"if {box.guard}"] if box.guard else [])
            opening, closing = brackets[box.kind]
            text = "<br/>".join(_mermaid_text(line) for line in label)
            lines.append(f"    {_mermaid_id(ir, node)}{opening}{text}{closing}")
            if box.guard:
                lines.append(f"    class {_mermaid_id(ir, node)} guarded")
            elif box.kind == "layer":
                lines.append(f"    class {_mermaid_id(ir, node)} layer")
        for source, target, data in graph.edges(data=True):
            lines.append(f'    {_mermaid_id(ir, source)} -->|"{_mermaid_text(data["label"])}"| {_mermaid_id(ir, target)}')
        lines.append("  end")
    return "\n".join(lines) + "\n"


def _mermaid_id(ir: BlockIR, node) -> str:
    return f"{ir.name}_{str(node).replace(' ', '_')}"


def _mermaid_text(text: str) -> str:
    # Mermaid's entity codes keep quotes, pipes and angle brackets out of its own syntax.
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("|", "#124;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


# ---------------------------------------------------------------------------- svg


def to_svg(dot: str) -> str:
    program = shutil.which("dot")
    if program is None:
        raise UsageError("--format svg needs Graphviz's `dot` program, which is not installed "
                         "(on Debian/Ubuntu: apt-get install graphviz); --format dot or mermaid need nothing")
    done = subprocess.run([program, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise UsageError(f"Graphviz's dot failed: {done.stderr.strip().splitlines()[-1] if done.stderr else 'no output'}")
    return done.stdout


def run(args) -> int:
    spec = check_spec(args.spec)
    if spec is None:
        return 1
    blocks = [spec.block(args.block)] if args.block else spec.blocks
    if args.format == "mermaid":
        text = to_mermaid(blocks)
    else:
        text = to_dot(blocks)
        if args.format == "svg":
            text = to_svg(text)
    sys.stdout.write(text)
    return 0


# ---------------------------------------------------------------------------- docs/graphs.md


def catalogue_markdown(spec_paths: list[Path], blocks_of=None) -> str:
    """docs/graphs.md: a Mermaid picture of every spec (kept current by tests/test_tool_graph.py).
    `blocks_of(path)` gives a spec's checked blocks (default: analyse it)."""
    from ..compiler import analyze

    blocks_of = blocks_of or (lambda path: analyze(read_spec_text(path), f"specs/{path.name}")[0])
    parts = ["# The catalogue as dataflow graphs", "",
             "<!-- generated by `python scripts/graph_docs.py`; tests/test_tool_graph.py keeps it current -->", "",
             "Each block of `specs/` as `attndsl graph SPEC --format mermaid` draws it: inputs and params,",
             "ops and layer calls, every tensor labelled with its symbolic shape (one per case where `if`s",
             "give it different shapes). Dashed nodes exist only under an `if` (on constructor arguments,",
             "or an optional input being given).", ""]
    for path in spec_paths:
        blocks = blocks_of(path)
        names = ", ".join(f"`{b.name}`" for b in blocks)
        parts += [f"## {path.name}", "", f"{names}, from [`specs/{path.name}`](../specs/{path.name}).", "",
                  "```mermaid", to_mermaid(blocks).rstrip("\n"), "```", ""]
    return "\n".join(parts)
