"""AST → IR. Resolves names, evaluates constructor-argument arithmetic symbolically,
binds op and layer arguments against their registries, and builds one dataflow graph
per block. Knows nothing of torch or Jinja; shapes are computed later (attndsl.shapes).

The package splits lowering by concern: one mixin per statement or expression family.
"""

from __future__ import annotations

import keyword

from ..diagnostics import DiagnosticSink
from ..ir import BlockIR
from .. import syntax as ast
from .block import BlockLowering
from .inits import check_inits_into_blocks
from .values import RESERVED, LayerElement, LayerRef, ListArg, Literal, Tensor, TensorList, suggest

__all__ = ["lower_spec", "BlockLowering", "Literal", "Tensor", "TensorList", "ListArg", "LayerRef", "LayerElement",
           "RESERVED", "suggest"]

def lower_spec(spec: ast.Spec, path: str, sink: DiagnosticSink) -> list[BlockIR]:
    known = {}
    for block in spec.blocks:
        if block.name in RESERVED or keyword.iskeyword(block.name) or block.name.startswith("_"):
            sink.error("E0105", f"`{block.name}` cannot name a block", block.span,
                       help="block names become class names; pick a CamelCase name")
            continue
        if block.name in known:
            sink.error("E0103", f"block {block.name} is defined twice", block.span)
            continue
        known[block.name] = block
    results = []
    for block in spec.blocks:
        lowering = BlockLowering(block, block.span.path, sink, known)  # an imported block keeps its file
        ir = lowering.lower()
        ir.float_symbols = lowering.float_symbols
        ir.list_element_facts = lowering.list_element_facts
        results.append(ir)
    if not sink.has_errors:
        check_inits_into_blocks(results, sink)
    return _dependency_order(results, sink)


def _dependency_order(blocks: list[BlockIR], sink: DiagnosticSink) -> list[BlockIR]:
    import networkx as nx

    graph = nx.DiGraph()
    by_name = {b.name: b for b in blocks}
    for b in blocks:
        graph.add_node(b.name)
        for used in b.uses_blocks:
            if used in by_name:
                graph.add_edge(used, b.name)
    try:
        order = list(nx.lexicographical_topological_sort(graph, key=lambda n: [b.name for b in blocks].index(n)))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(graph)
        names = " -> ".join(edge[0] for edge in cycle) + f" -> {cycle[0][0]}"
        sink.error("E0104", f"blocks use each other in a cycle: {names}", by_name[cycle[0][0]].span)
        return blocks
    return [by_name[n] for n in order]
