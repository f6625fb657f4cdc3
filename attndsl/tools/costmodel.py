"""Parameters and FLOPs of a checked block, as guarded formulas (memory: `memory.py`).

Walks the IR as code generation gets it (after `attndsl.passes`), with the checker's
symbolic shapes (node attr "shape"), and applies the rule table of `cost_rules.py` to
each op and layer. A block used as a layer contributes its own costs with its arguments
and input dims substituted. An if/else join (a dim like `H'*W'|nk`, which is one or the
other) is split into the two cases, so formulas hold only the block's own symbols.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .. import symbolic as sym
from ..ir import BlockIR, Cond, LayerSpec
from ..ops import ListShape
from ..symbolic import Expr
from .cost_rules import LAYER_COSTS, OP_COSTS, numel
from .formula import Term, collect, guarded, make_guard
from .memory import MemoryWalk, prune
from .state import state_entries
from .subblock import callee_mapping, substitute_terms

@dataclass
class BlockCost:
    ir: BlockIR
    params: list[Term] = field(default_factory=list)
    flops: list[Term] = field(default_factory=list)
    memory: list[list[Term]] = field(default_factory=list)  # candidates: the peak is the largest
    inputs: list[Term] = field(default_factory=list)  # the inputs' total size


def block_costs(blocks: list[BlockIR]) -> dict[str, BlockCost]:
    costs: dict[str, BlockCost] = {}
    for ir in blocks:  # a block only uses the blocks before it
        costs[ir.name] = _BlockWalk(ir, costs).run()
    return costs


class _BlockWalk(MemoryWalk):
    def __init__(self, ir: BlockIR, costs: dict[str, BlockCost]):
        self.ir, self.costs = ir, costs
        self.graph = ir.graph
        self.joins = _joins(ir)
        self.facts = _size_facts(ir)

    def run(self) -> BlockCost:
        cost = BlockCost(self.ir)
        cost.params = self._tidy(self._params())
        cost.flops = self._tidy(self._flops())
        cost.inputs = self._tidy([Term(make_guard([Cond("present", (i.name,))] if i.optional else []),
                                       numel(i.shape)) for i in self.ir.inputs])
        cost.memory = prune([self._tidy(candidate) for candidate in self._memory()])
        return cost

    def _tidy(self, terms: list[Term]) -> list[Term]:
        """Joins split, like terms added up, and `c // g` written `c/g` where a tensor has
        that size (so the division is exact, and `c/g` and `c // g` terms combine)."""
        terms = split_joins(terms, self.joins)
        terms = [Term(t.guard, sym.simplify(t.value, self.facts), t.loop) for t in terms]
        return collect(terms)

    # ------------------------------------------------------------------ helpers
    def _terms(self, value: Expr, conds=(), loop=None) -> list[Term]:
        guard = make_guard(conds)
        return [] if guard is None else [Term(guard, value, loop)]

    def _shape(self, node: int):
        return self.graph.nodes[node].get("shape")

    # ------------------------------------------------------------------ parameters
    def _params(self) -> list[Term]:
        blocks = {name: cost.ir for name, cost in self.costs.items()}
        blocks[self.ir.name] = self.ir
        return [Term(entry.guard, numel(entry.shape), entry.loop)
                for entry in state_entries(self.ir, blocks) if entry.parameter]

    # ------------------------------------------------------------------ FLOPs
    def _element_loops(self) -> dict[int, tuple[str, str]]:
        """Nodes evaluated once per element of a layer list (inside `[f(x) for f in fs]`)."""
        loops = {}
        for node, attrs in self.graph.nodes(data=True):
            if attrs["op"] != "list_comp":
                continue
            info = self._layer(attrs["attrs"]["layer"])
            for source in self.ir.operands(node):
                if self.graph.nodes[source]["op"] == "loop_layer":
                    inside = nx.descendants(self.graph, source) & nx.ancestors(self.graph, node)
                    for inner in inside:
                        loops[inner] = (info.loop_var, info.iterable)
        return loops

    def _flops(self) -> list[Term]:
        loops = self._element_loops()
        terms: list[Term] = []
        for node in self.ir.topological():
            attrs = self.graph.nodes[node]
            operands = [self._shape(o) for o in self.ir.operands(node)]
            loop = loops.get(node)
            if attrs["op"] == "call_layer":
                spec, _ = self._called(attrs)
                inner = attrs.get("child_shapes", {})
                found = self._layer_flops(spec, [s for s in operands if s != ()], attrs["shape"], inner)
            elif attrs["op"] in OP_COSTS:
                found = self._terms(OP_COSTS[attrs["op"]].flops(operands, attrs["shape"], attrs["attrs"]))
            else:
                continue
            terms += [Term(t.guard, t.value, loop or t.loop) for t in guarded(found, attrs["guard"])]
        return terms

    def _layer(self, name: str):
        return next(info for info in self.ir.layers if info.name == name)

    def _called(self, attrs) -> tuple[LayerSpec, bool]:
        info = self._layer(attrs["attrs"]["layer"])
        if attrs["attrs"].get("element"):
            return info.element, True
        spec = info.spec
        for name in attrs["attrs"]["path"]:
            spec = next(child for child_name, child in spec.children if child_name == name)
        return spec, False

    def _layer_flops(self, spec: LayerSpec, operands, result, inner: dict) -> list[Term]:
        if spec.kind == "loop":  # children named in a loop: every pass costs the same (and keeps the shape)
            passes = sym.maximum(spec.args["stop"] - spec.args["start"], Expr.const(0))
            body = self._layer_flops(LayerSpec("sequential", {}, [], spec.children), operands, operands[0], inner)
            return [Term(term.guard, term.value * passes, term.loop) for term in body]
        if spec.kind == "sequential":
            terms, shape = [], operands[0]
            for index, (_, child) in enumerate(spec.children):
                out = result if index == len(spec.children) - 1 else self.output_shape(child, [shape], inner)
                terms += self._layer_flops(child, [shape], out, inner)
                shape = out
            return terms
        if spec.kind == "block":
            callee = self.costs[spec.block]
            return substitute_terms(callee.flops, callee_mapping(callee.ir, spec, operands))
        return self._terms(LAYER_COSTS[spec.kind].flops(spec.args, operands[0], result))

    def output_shape(self, spec: LayerSpec, operands, inner: dict):
        """A layer's output shape inside a sequential: the checker records each child's
        (node attr "child_shapes", by child); a block's is its output's, substituted."""
        if id(spec) in inner:
            return inner[id(spec)]
        if spec.kind == "loop":
            return tuple(operands[0])  # its passes keep the shape (attndsl/shapes/walk.py)
        if spec.kind == "sequential":
            shape = operands[0]
            for _, child in spec.children:
                shape = self.output_shape(child, [shape], inner)
            return shape
        if spec.kind == "block":
            callee = self.costs[spec.block].ir
            mapping = callee_mapping(callee, spec, operands)
            return tuple(sym.substitute(d, mapping.exprs) for d in callee.graph.nodes[callee.outputs[0]]["shape"])
        return tuple(operands[0])  # not recorded (a checker without the hook): taken as shape-preserving


# ---------------------------------------------------------------------------- if/else joins


def _joins(ir: BlockIR) -> dict[str, tuple[Cond, Expr, Expr]]:
    """The dims the checker made for an if/else join: name -> (condition, then, else)."""
    joins = {}
    for node, attrs in ir.graph.nodes(data=True):
        if attrs["op"] != "phi" or not isinstance(attrs.get("shape"), tuple):
            continue
        then, otherwise = (ir.graph.nodes[o]["shape"] for o in ir.operands(node))
        for dim, a, b in zip(attrs["shape"], then, otherwise):
            if dim.is_monomial and len(dim.symbols()) == 1 and dim != a and dim != b:
                (name,) = dim.symbols()
                if "|" in name:
                    joins[name] = (attrs["attrs"]["condition"], a, b)
    return joins


def split_joins(terms: list[Term], joins) -> list[Term]:
    out, pending = [], list(terms)
    while pending:
        term = pending.pop()
        names = sorted(term.value.symbols() & set(joins))
        if not names:
            out.append(term)
            continue
        condition, then, otherwise = joins[names[0]]
        for cond, dim in ((condition, then), (Cond("not", (condition,)), otherwise)):
            guard = make_guard(list(term.guard) + [cond])
            if guard is not None:
                pending.append(Term(guard, sym.substitute(term.value, {names[0]: dim}), term.loop))
    return out


def _size_facts(ir: BlockIR) -> sym.Facts:
    """Every dim of every tensor is a whole number: `c/g` as a size means g divides c."""
    facts = sym.Facts()
    for _, attrs in ir.graph.nodes(data=True):
        shape = attrs.get("shape")
        shapes = [shape.element] if isinstance(shape, ListShape) else (
            list(shape) if shape and isinstance(shape[0], tuple) else [shape or ()])
        for dims in shapes:
            for dim in dims:
                facts.add_integer(dim)
    for info in ir.inputs:
        for dim in info.shape:
            facts.add_integer(dim)
    return facts
