"""Parameters, FLOPs and peak activation memory of a checked block, as guarded formulas.

Walks the IR that `attndsl.compiler.analyze` returns, with the checker's symbolic shapes
(node attr "shape"), and applies the rule table of `cost_rules.py` to each op and layer.
A block used as a layer contributes its own costs with its arguments and input dims
substituted. An if/else join (a dim like `H'*W'|nk`, which is one or the other) is split
into the two cases, so formulas only hold the block's own symbols.

Peak memory is the largest total size of the tensors alive at once during one forward
in eval mode: inputs (held by the caller) and every new result from its creation to its
last use (views keep their operand's storage alive), plus what a layer holds inside
while it runs (the intermediate results of a sequential, a sub-block's own peak).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .. import symbolic as sym
from ..ir import BlockIR, Cond, LayerSpec
from ..layers import LAYERS
from ..ops import ListShape
from ..symbolic import Expr
from .cost_rules import LAYER_COSTS, OP_COSTS, numel
from .formula import Term, collect, dominated, guarded, make_guard
from .state import state_entries
from .subblock import callee_mapping, substitute_terms

_NO_ALLOCATION = {"input", "param", "scalar", "loop_layer", "phi", "item"}


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


class _BlockWalk:
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
                spec, element = self._called(attrs)
                quiet = self._quiet(attrs if element else None)
                found = self._layer_flops(spec, [s for s in operands if s != ()], attrs["shape"], quiet)
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

    def _quiet(self, element_call=None) -> "_Quiet":
        """A shape-rule context that simplifies as the checker does, inside a layer list's
        element with what a `require` says of the loop variable (`k % 2 == 1`: k // 2 is
        (k - 1)/2), so that a padded conv's output size comes out as its input's."""
        rewrites = {}
        if element_call is not None:
            info = self._layer(element_call["attrs"]["layer"])
            for modulus, remainder in getattr(self.ir, "list_element_facts", {}).get(info.iterable, []):
                variable = Expr.symbol(info.loop_var)
                atom = sym.Atom("floordiv", (variable, Expr.const(modulus)))
                rewrites[atom] = (variable - remainder).exact_div(Expr.const(modulus))
        return _Quiet(lambda expr: sym.simplify(_rewrite(expr, rewrites), self.facts), self.facts)

    def _layer_flops(self, spec: LayerSpec, operands, result, quiet) -> list[Term]:
        if spec.kind == "sequential":
            terms, shape = [], operands[0]
            for index, (_, child) in enumerate(spec.children):
                out = result if index == len(spec.children) - 1 else self._apply(child, [shape], quiet)
                terms += self._layer_flops(child, [shape], out, quiet)
                shape = out
            return terms
        if spec.kind == "block":
            callee = self.costs[spec.block]
            return substitute_terms(callee.flops, callee_mapping(callee.ir, spec, operands))
        return self._terms(LAYER_COSTS[spec.kind].flops(spec.args, operands[0], result))

    def _apply(self, spec: LayerSpec, operands, quiet):
        """A layer's output shape (inside a sequential, where the checker keeps none)."""
        if spec.kind == "sequential":
            shape = operands[0]
            for _, child in spec.children:
                shape = self._apply(child, [shape], quiet)
            return shape
        if spec.kind == "block":
            callee = self.costs[spec.block].ir
            mapping = callee_mapping(callee, spec, operands)
            out = callee.graph.nodes[callee.outputs[0]]["shape"]
            return tuple(sym.substitute(d, mapping.exprs) for d in out)
        return LAYERS[spec.kind].shape(quiet, spec.args, tuple(operands[0]))

    # ------------------------------------------------------------------ memory
    def _memory(self) -> list[list[Term]]:
        order = self.ir.topological()
        step = {node: index for index, node in enumerate(order)}
        end = len(order)
        inside_loops = self._element_loops()
        storage: dict[int, set[int]] = {}  # node -> the nodes whose allocations it keeps alive
        contiguous: dict[int, bool] = {}
        allocated: dict[int, Expr] = {}
        for node in order:
            attrs = self.graph.nodes[node]
            op, operands = attrs["op"], self.ir.operands(node)
            allocates, is_contiguous = self._allocation(node, attrs, [contiguous.get(o, True) for o in operands])
            if node in inside_loops:
                allocates = False  # the list they end up in is counted instead
            contiguous[node] = is_contiguous
            if op == "input" or allocates:
                storage[node] = {node}
                allocated[node] = _size(attrs["shape"])
            else:
                storage[node] = set().union(*(storage.get(o, set()) for o in operands)) if op not in (
                    "param", "scalar", "loop_layer") else set()
        last_use = {node: (end if node in self.ir.outputs or self.graph.nodes[node]["op"] == "input"
                           else max((step[u] for u in self.graph.successors(node)), default=step[node]))
                    for node in order}
        for node, until in self._held_by_locals(order, step, end).items():
            last_use[node] = max(last_use[node], until)
        alive_until = {}
        for node in order:
            for owner in storage[node]:
                alive_until[owner] = max(alive_until.get(owner, 0), last_use[node])
        candidates: list[list[Term]] = []
        for node in order:
            t = step[node]
            attrs = self.graph.nodes[node]
            extras = self._transients(node, attrs) if node not in inside_loops else [[]]
            if node not in allocated and extras == [[]]:
                continue  # the live set only grows where something is allocated
            live = []
            for owner, size in allocated.items():
                start = 0 if self.graph.nodes[owner]["op"] == "input" else step[owner]
                if start <= t <= alive_until[owner]:
                    live += self._terms(size, self._exists(owner))
            for extra in extras:
                candidates.append(live + guarded(extra, attrs["guard"]))
        return candidates

    def _held_by_locals(self, order, step, end) -> dict[int, int]:
        """Values the generated forward keeps in a local variable (named in the spec, used
        twice, or a chunk's result) stay alive until the name is assigned again, or until
        forward returns: Python frees them then, not at their last use."""
        held = {}
        for node in order:
            attrs = self.graph.nodes[node]
            op = attrs["op"]
            if op in ("input", "param", "scalar", "loop_layer", "phi", "item"):
                continue
            users = list(self.graph.successors(node))
            if not (attrs["name"] is not None or op == "chunk" or len(users) > 1
                    or any(self.graph.nodes[u]["op"] == "phi" or self.graph.nodes[u]["guard"] != attrs["guard"]
                           for u in users)):
                continue
            later = [step[n] for n in order[step[node] + 1:] if attrs["name"] is not None
                     and self.graph.nodes[n]["name"] == attrs["name"] and self.graph.nodes[n]["op"] != "phi"]
            held[node] = min(later, default=end)
        return held

    def _exists(self, node: int) -> list[Cond]:
        """When a node's tensor exists: its guard, or for an optional input, being given."""
        attrs = self.graph.nodes[node]
        if attrs["op"] == "input" and attrs["attrs"].get("optional"):
            return [Cond("present", (attrs["attrs"]["input"],))]
        return list(attrs["guard"])

    def _allocation(self, node, attrs, contiguous) -> tuple[bool, bool]:
        op = attrs["op"]
        if op in _NO_ALLOCATION:
            return False, all(contiguous) if op != "item" else contiguous[0]
        if op == "list_comp":
            return True, True
        if op == "call_layer":
            spec, _ = self._called(attrs)
            while spec.kind == "sequential" and spec.children:
                spec = spec.children[-1][1]
            if spec.kind in LAYER_COSTS:
                return LAYER_COSTS[spec.kind].memory(attrs["attrs"], contiguous)
            return True, True
        return OP_COSTS[op].memory(attrs["attrs"], contiguous)

    def _transients(self, node: int, attrs) -> list[list[Term]]:
        """What a layer call holds while it runs, beyond its input and its result: options,
        the largest of which counts."""
        if attrs["op"] in OP_COSTS:
            operands = [self._shape(o) for o in self.ir.operands(node)]
            held = OP_COSTS[attrs["op"]].transient(operands, attrs["shape"], attrs["attrs"])
            return [[]] + [self._terms(size, [] if cond is None else [cond]) for cond, size in held]
        if attrs["op"] != "call_layer":
            return [[]]
        spec, element = self._called(attrs)
        operands = [self._shape(o) for o in self.ir.operands(node) if self._shape(o) != ()]
        return self._layer_transients(spec, operands, self._quiet(attrs if element else None))

    def _layer_transients(self, spec: LayerSpec, operands, quiet) -> list[list[Term]]:
        if spec.kind == "sequential" and len(spec.children) > 1:
            shapes = [operands[0]]
            for _, child in spec.children:
                shapes.append(self._apply(child, [shapes[-1]], quiet))
            options: list[list[Term]] = [[]]
            last = len(spec.children)
            for index in range(1, last + 1):  # child `index` maps shapes[index - 1] to shapes[index]
                held = ([numel(shapes[index - 1])] if index > 1 else []) + ([numel(shapes[index])] if index < last else [])
                options.append([Term(frozenset(), v) for v in held])
            return options
        if spec.kind == "block":
            callee = self.costs[spec.block]
            mapping = callee_mapping(callee.ir, spec, operands)
            inputs = substitute_terms(callee.inputs, mapping)
            out = numel(self._apply(spec, operands, quiet))
            options = [[]]
            for candidate in callee.memory:
                inner = substitute_terms(candidate, mapping)
                options.append(inner + [Term(t.guard, -t.value, t.loop) for t in inputs] + [Term(frozenset(), -out)])
            return options
        return [[]]


def _size(shape) -> Expr:
    if isinstance(shape, ListShape):
        return shape.length * numel(shape.element)
    return numel(shape)


def prune(candidates: list[list[Term]]) -> list[list[Term]]:
    """Drop candidates that another one provably bounds (and duplicates)."""
    unique: list[list[Term]] = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    kept = []
    for index, candidate in enumerate(unique):
        bounded = any(dominated(candidate, other) and (not dominated(other, candidate) or other_index < index)
                      for other_index, other in enumerate(unique) if other_index != index)
        if not bounded:
            kept.append(candidate)
    return kept


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


def _rewrite(expr: Expr, rewrites: dict) -> Expr:
    """Atoms replaced by what is known of them (`k // 2` -> `(k - 1)/2` for odd k)."""
    if not rewrites:
        return expr

    def base(factor):
        if isinstance(factor, str):
            return Expr.symbol(factor)
        inner = sym.Atom(factor.op, tuple(_rewrite(a, rewrites) for a in factor.args))
        return rewrites.get(inner) or Expr.atom(inner.op, *inner.args)

    return sym.replace_factors(expr, base)


class _Quiet:
    """The little a layer's shape rule asks of the checker, for shapes it already checked."""

    def __init__(self, normal, facts):
        self.normal, self.facts = normal, facts

    def expect_equal(self, *args, **kwargs):
        pass

    def expect_at_least(self, *args, **kwargs):
        pass

    def derive(self, expr, base):
        return self.normal(expr)

    def divide(self, numerator, denominator, what):
        return numerator.exact_div(denominator)

    def show(self, shape):
        return str(shape)

    def error(self, *args, **kwargs):
        raise ValueError("a checked layer failed its shape rule")
