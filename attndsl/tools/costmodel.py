"""Parameters and FLOPs of a checked block, as guarded formulas (memory: `memory.py`).

Walks the IR as code generation gets it (after `attndsl.passes`) and applies the rule
table of `cost_rules.py` to each op and layer. A block used as a layer contributes its
own costs with its arguments and input dims substituted.

Shapes are the checker's real ones, world by world (`attndsl/shapes/world_view.py`): where an `if`
gives a value different shapes on its branches, each combination of such conditions is
costed on its own, its terms counted under its conditions (`[batch_first]*...`), and
the terms every world agrees on merged back into one (`[c]*x + [not c]*x` is `x`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .. import symbolic as sym
from ..ir import BlockIR, Cond, LayerSpec
from ..shapes.conjunctions import make_guard
from ..shapes.world_view import WorldView, dims, world_views
from ..shapes.worlds import decide
from ..symbolic import Expr
from .common import layers_named
from .cost_rules import LAYER_COSTS, OP_COSTS, kind_options, numel
from .formula import Term, collect, guarded
from .memory import MemoryWalk, prune
from .state import state_entries
from .subblock import callee_mapping, substitute_guard, substitute_terms


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
        self.view: WorldView | None = None  # the world being walked

    def run(self) -> BlockCost:
        cost = BlockCost(self.ir)
        cost.params = collect(self._params())
        cost.inputs = collect([Term(make_guard([Cond("present", (i.name,))] if i.optional else []), numel(i.shape))
                               for i in self.ir.inputs if i.is_tensor])  # sizes and flags hold no tensor
        flops: list[Term] = []
        memory: dict[tuple, list[Term]] = {}  # (node, option) -> its live set, world by world
        for view in world_views(self.ir):
            self.view = view
            facts = _size_facts(self.ir, view)
            flops += _in_world(view, self._tidy(self._flops(), facts))
            for key, candidate in self._memory():
                memory.setdefault(key, []).extend(_in_world(view, self._tidy(candidate, facts)))
        cost.flops = collect(flops)
        cost.memory = prune([collect(candidate) for candidate in memory.values()])
        return cost

    def _tidy(self, terms: list[Term], facts: sym.Facts) -> list[Term]:
        """Like terms added up, and `c // g` written `c/g` where a tensor has that size (so the
        division is exact, and `c/g` and `c // g` terms combine)."""
        return collect([Term(t.guard, sym.simplify(t.value, facts), t.loop) for t in terms])

    # ------------------------------------------------------------------ helpers
    def _terms(self, value: Expr, conds=(), loop=None) -> list[Term]:
        guard = make_guard(conds)
        return [] if guard is None else [Term(guard, value, loop)]

    def _shape(self, node: int):
        """The node's shape in the world being walked."""
        return self.view.shape(node)

    def _order(self) -> list[int]:
        """The nodes forward runs in the world being walked, in its order (a buffer's value is
        computed once, in __init__)."""
        return [node for node in self.ir.topological()
                if self.view.exists(node) and self.graph.nodes[node].get("phase") != "init"]

    # ------------------------------------------------------------------ parameters
    def _params(self) -> list[Term]:
        blocks = {name: cost.ir for name, cost in self.costs.items()}
        blocks[self.ir.name] = self.ir
        # a layer that is another's module under a second name (`layer f_query = f_key`) holds
        # no parameters of its own: its state_dict keys are the other's tensors
        aliases = tuple(f"{info.name}." for info in self.ir.layers if info.alias is not None)
        return [Term(entry.guard, entry.count(), entry.loop)
                for entry in state_entries(self.ir, blocks) if entry.parameter and not entry.key.startswith(aliases)]

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
                        loops[inner] = (info.loop_var or "_", info.elements)
        return loops

    _renamed: dict  # a body node -> {its zipped list's loop variable: the one the pass count sums over}

    def _passes(self) -> dict[int, Expr | tuple]:
        """Nodes of the body of a `for` loop (attndsl/lower/loops.py): run once a pass. Over a
        layer list whose elements differ (`conv2d(c, c, 2 * i + 3)`), a pass costs what its
        element does: summed over the elements, (variable, elements) like a comprehension's."""
        from ..lower.loops import list_length, loop_body, loop_layout

        passes, self._renamed = {}, {}
        for node, attrs in self.graph.nodes(data=True):
            if attrs["op"] == "loop_end" and self.view.exists(node):
                anchor = self.ir.operands(node)[loop_layout(attrs["attrs"])["anchor"][0]]
                layer = self.graph.nodes[anchor]["attrs"].get("layer")
                info = self._layer(layer) if layer else None
                # layer lists zipped together (as long as each other): one variable counts them all
                lists = [info] + [self._layer(name) for name in self.graph.nodes[anchor]["attrs"].get("zipped", ())]
                indexed = [listed for listed in lists if listed is not None and listed.loop_var]
                renamed = {listed.loop_var: Expr.symbol(indexed[0].loop_var) for listed in indexed[1:]
                           if listed.loop_var != indexed[0].loop_var}
                if indexed:
                    each = (indexed[0].loop_var, indexed[0].elements)
                elif self.graph.nodes[anchor]["attrs"].get("count") is not None:  # `for _ in range(n):`
                    each = sym.maximum(self.graph.nodes[anchor]["attrs"]["count"], Expr.const(0))
                else:
                    count = list_length(info) if info else self._shape(self.ir.operands(anchor)[0])[0]
                    each = sym.maximum(count, Expr.const(0))
                for inner in loop_body(self.ir, node):
                    passes[inner] = each
                    if renamed:
                        self._renamed[inner] = renamed
        return passes

    def _flops(self) -> list[Term]:
        loops = self._element_loops()
        passes = self._passes()
        terms: list[Term] = []
        for node in self._order():
            attrs = self.graph.nodes[node]
            operands = [self._shape(o) for o in self.ir.operands(node)]
            loop = loops.get(node)
            if attrs["op"] == "call_layer":
                inner = self.view.child_shapes(node)
                self.call = attrs["attrs"]
                found = [term for spec, conds in self._called(attrs) for term in guarded(
                    self._layer_flops(spec, [s for s in operands if s != ()], self._shape(node), inner), conds)]
            elif attrs["op"] in OP_COSTS:
                found = self._terms(OP_COSTS[attrs["op"]].flops(operands, self._shape(node), attrs["attrs"]))
            else:
                continue
            if node in self._renamed:
                found = [Term(t.guard, sym.substitute(t.value, self._renamed[node]), t.loop) for t in found]
            times = passes.get(node, Expr.const(1))
            if isinstance(times, tuple):  # once per element of a layer list, told apart by its variable
                loop, times = times, Expr.const(1)
            terms += [Term(t.guard, t.value * times, loop or t.loop) for t in guarded(found, attrs["guard"])]
        return terms

    def _layer(self, name: str):
        return self.ir.layer(name)

    def _called(self, attrs) -> list[tuple[LayerSpec, list]]:
        """The layer a call runs, with the conditions under which it is that one: one
        option, or one per branch of an `if` that declares the layer on both sides."""
        options = []
        for info in layers_named(self.ir, attrs["attrs"]["layer"], attrs["guard"]):
            spec = info.element if attrs["attrs"].get("element") else info.spec
            if attrs["attrs"].get("index") is not None:  # `for attn, ff in layers:`
                spec = spec.children[attrs["attrs"]["index"]][1]
            for name in attrs["attrs"].get("path", ()):
                spec = next(child for child_name, child in spec.children if child_name == name)
            options.append((spec, list(info.guard)))
        return options

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
            return substitute_terms(callee.flops, callee_mapping(callee.ir, spec, operands, self.call))
        return [term for option, conds in kind_options(spec) for term in
                self._terms(LAYER_COSTS[option.kind].flops(option.args, operands[0], result), conds)]

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
            mapping = callee_mapping(callee, spec, operands, self.call)
            return tuple(sym.substitute(d, mapping.exprs) for d in self._callee_output(callee, mapping))
        return tuple(operands[0])  # not recorded (a checker without the hook): taken as shape-preserving

    def _callee_output(self, callee: BlockIR, mapping) -> tuple:
        """The callee's output shape (its first output's) in the branch the caller's world selects."""
        for literals, shape in getattr(callee, "output_shapes", ()):
            guard = substitute_guard(literals, mapping)
            if guard is not None and all(decide(c, self.view.world) != Cond.const(False) for c in guard):
                return shape[0] if shape and isinstance(shape[0], tuple) else shape
        return callee.graph.nodes[callee.outputs[0]]["shape"]


def _size_facts(ir: BlockIR, view: WorldView) -> sym.Facts:
    """Every dim of every tensor of the world is a whole number: `c/g` as a size means g divides c."""
    facts = sym.Facts()
    for node in ir.graph.nodes:
        for dim in dims(view.shape(node)):
            facts.add_integer(dim)
    for info in ir.inputs:
        for dim in info.shape:
            facts.add_integer(dim)
    return facts


def _in_world(view: WorldView, terms) -> list[Term]:
    """Terms counted in this world only: their guards decided where the world decides them,
    and the world's conditions added."""
    out = []
    for term in terms:
        guard = make_guard([decide(c, view.world) for c in term.guard] + list(view.literals))
        if guard is not None:
            out.append(Term(guard, term.value, term.loop))
    return out
