"""Peak activation memory of a block: the largest total size of the tensors alive at once.

One forward in eval mode, as the generated module runs it: the inputs (held by the
caller) all along; each new result from the op that makes it until its last use, or
later when the generated `forward` keeps it in a local variable (until that name is
assigned again, or forward returns); a view (`transpose`, a reshape of a contiguous
tensor, `chunk`) keeps its operand's storage alive instead of making its own; plus what
a call holds while it runs (a sequential's intermediate results, a sub-block's own peak,
a fused attention's fallback copies). A mixin of the cost walk (`costmodel._BlockWalk`),
walked once per world (`attndsl/shapes/world_view.py`): only the nodes that run there, at their sizes there.
"""

from __future__ import annotations

from ..ir import Cond, LayerSpec
from ..ops import ListShape
from ..symbolic import Expr
from .cost_rules import LAYER_COSTS, OP_COSTS, kind_options, numel
from .formula import Term, dominated, guarded
from .subblock import callee_mapping, substitute_terms

# A `for` loop's nodes (attndsl/lower/loops.py) name values its body makes: they allocate nothing.
_NO_ALLOCATION = {"input", "param", "scalar", "loop_layer", "phi", "item", "loop", "loop_carry", "loop_slice",
                  "loop_end"}


class MemoryWalk:
    call: dict = {}  # the attrs of the layer call being costed: what it gives its block's forward
    """Needs of its host: ir, graph, costs, view, _order, _terms, _shape, _called, _element_loops,
    output_shape."""

    def _memory(self) -> list[tuple[tuple, list[Term]]]:
        """The candidates for the peak: [((node, option), live set)], one where each node runs
        (an option per transient it may hold)."""
        order = self._order()
        step = {node: index for index, node in enumerate(order)}
        end = len(order)
        inside_loops = self._element_loops()
        # node -> {owner: the conditions under which the node keeps owner's allocation alive}
        storage: dict[int, dict[int, frozenset]] = {}
        layouts: dict[int, list] = {}  # node -> [(conditions, layout)]: True (contiguous), False, or Permuted
        allocated: dict[int, Expr] = {}
        for node in order:
            attrs = self.graph.nodes[node]
            op, operands = attrs["op"], self.ir.operands(node)
            cases = self._layout_cases(node, attrs, operands, layouts)  # [(conditions, allocates, layout)]
            layouts[node] = _merged([(conds, layout) for conds, _, layout in cases])
            making = [conds for conds, allocates, _ in cases if allocates and node not in inside_loops]
            if op == "input" and attrs["attrs"].get("dtype") in ("sizes", "size", "flag"):
                storage[node] = {}  # a number or a bool: no tensor memory
            elif op == "input" or (making and (len(making) == len(cases) or not all(making))):
                storage[node] = {node: frozenset()}
                allocated[node] = _size(self._shape(node))
            elif making:  # a new tensor in some cases only (a copy of what is not stored in order)
                when = _conjunction(making[0]) if len(making) == 1 else Cond("or", tuple(map(_conjunction, making)))
                storage[node] = {node: frozenset({when})}
                allocated[node] = _size(self._shape(node))
                shared = _shared(attrs, operands, storage)
                storage[node].update({owner: conds | {_negation(when)} for owner, conds in shared.items()
                                      if owner != node})
            else:
                storage[node] = {} if op in ("param", "scalar", "loop_layer") else _shared(attrs, operands, storage)
        # node -> [(until, under which conditions)]: its last use, and how long a local variable holds it
        needed = {node: [(end if node in self.ir.outputs or self.graph.nodes[node]["op"] == "input"
                          else max((step[u] for u in self.graph.successors(node) if u in step), default=step[node]),
                          frozenset())] for node in order}
        for node, reasons in self._held_by_locals(order, step, end).items():
            needed[node] += reasons
        kept_until: dict[int, list[tuple[int, frozenset]]] = {}  # owner -> [(until, under which conditions)]
        for node in order:
            for owner, conds in storage[node].items():
                kept_until.setdefault(owner, []).extend((until, conds | when) for until, when in needed[node])
        candidates: list[tuple[tuple, list[Term]]] = []
        for node in order:
            t = step[node]
            attrs = self.graph.nodes[node]
            extras = self._transients(node, attrs) if node not in inside_loops else [[]]
            if node not in allocated and extras == [[]]:
                continue  # the live set only grows where something is allocated
            live = []
            for owner, size in allocated.items():
                start = 0 if self.graph.nodes[owner]["op"] == "input" else step[owner]
                reasons = [conds for until, conds in kept_until[owner] if until >= t]
                if start <= t and reasons:
                    # alive where any reason holds; at most where the conditions they share hold
                    live += self._terms(size, self._exists(owner) + sorted(frozenset.intersection(*reasons), key=repr))
            for option, extra in enumerate(extras):
                candidates.append(((node, option), live + guarded(extra, attrs["guard"])))
        return candidates

    def _held_by_locals(self, order, step, end) -> dict[int, list[tuple[int, frozenset]]]:
        """Values the generated forward keeps in a local variable (named in the spec, used
        twice, or a chunk's result) stay alive until the name is assigned again, or until
        forward returns: Python frees them then, not at their last use. An assignment under
        an `if` the value does not depend on frees it only where that `if` runs:
        node -> [(until, under which conditions)]."""
        held = {}
        for node in order:
            attrs = self.graph.nodes[node]
            op = attrs["op"]
            if op in _NO_ALLOCATION:
                continue
            users = [u for u in self.graph.successors(node) if u in step]
            if not (attrs["name"] is not None or op == "chunk" or len(users) > 1
                    or any(self.graph.nodes[u]["op"] == "phi" or self.graph.nodes[u]["guard"] != attrs["guard"]
                           for u in users)):
                continue
            reasons, still_held = [], frozenset()  # still held where no assignment so far ran
            for later in order[step[node] + 1:]:
                other = self.graph.nodes[later]
                if attrs["name"] is None or other["name"] != attrs["name"] or other["op"] == "phi":
                    continue
                reasons.append((step[later], still_held))
                extra = sorted(set(other["guard"]) - set(attrs["guard"]), key=repr)
                if not extra:  # runs whenever this value exists: the name is rebound for sure
                    break
                still_held |= {_negation(extra[0] if len(extra) == 1 else Cond("and", tuple(extra)))}
            else:
                reasons.append((end, still_held))
            held[node] = reasons
        for node in order:  # a loop's list: freed by its `del` (codegen/release.py), or at return
            if self._loop_list(node):
                readers = [u for u in self.graph.successors(node) if u in step]
                unguarded = not self.graph.nodes[node]["guard"]
                held[node] = [(self._statement_end(max(readers, key=step.get), step)
                               if readers and unguarded else end, frozenset())]
        return held

    def _loop_list(self, node: int) -> bool:
        """Whether a node is a list a `for` loop appended to (the `item` after its `loop_end`)."""
        attrs = self.graph.nodes[node]
        return attrs["op"] == "item" and isinstance(self._shape(node), ListShape) and \
            self.graph.nodes[self.ir.operands(node)[0]]["op"] == "loop_end"

    def _statement_end(self, node: int, step: dict) -> int:
        """Where the statement that reads `node` ends: at the first named value (or output) it
        flows into. A `del` of a list comes after that statement, not after its last op."""
        while self.graph.nodes[node]["name"] is None and node not in self.ir.outputs:
            users = [u for u in self.graph.successors(node) if u in step]
            if not users:
                break
            node = max(users, key=step.get)
        return step[node]

    def _exists(self, node: int) -> list[Cond]:
        """When a node's tensor exists: its guard, or for an optional input, being given."""
        attrs = self.graph.nodes[node]
        if attrs["op"] == "input" and attrs["attrs"].get("optional"):
            return [Cond("present", (attrs["attrs"]["input"],))]
        return list(attrs["guard"])

    def _layout_cases(self, node, attrs, operands, layouts) -> list[tuple[frozenset, bool, object]]:
        """Whether the node makes a new tensor and how its result is laid out, case by case of
        its first operand's layout (a join's cases are its branches')."""
        if attrs["op"] == "phi":
            condition = attrs["attrs"]["condition"]
            return [(conds | {branch}, False, layout) for operand, branch in zip(operands, (condition, _negation(condition)))
                    for conds, layout in layouts.get(operand, [(frozenset(), True)])]
        first = layouts.get(operands[0], [(frozenset(), True)]) if operands else [(frozenset(), True)]
        rest = [all(layout for _, layout in layouts.get(o, [(frozenset(), True)])) for o in operands[1:]]
        rule = OP_COSTS.get(attrs["op"])
        cases = []
        for conds, layout in first:
            allocates, result = self._allocation(node, attrs, [layout] + rest)
            if rule is not None and rule.layout is not None:  # laid out like an operand (a fused attention)
                shapes = [self._shape(o) for o in operands]
                cases += [(conds | extra, allocates, laid_out) for extra, laid_out in rule.layout(shapes, layout)]
            else:
                cases.append((conds, allocates, result))
        return cases

    def _allocation(self, node, attrs, contiguous) -> tuple[bool, bool]:
        op = attrs["op"]
        if self._loop_list(node):
            return True, True  # a list a `for` loop appended to: every pass's item is alive now
        if op in _NO_ALLOCATION:
            return False, all(contiguous) if op != "item" else contiguous[0]
        if op == "list_comp":
            return True, True
        if op == "call_layer":  # a layer declared on both sides of an `if`: a new tensor if either makes one
            found = [_layer_allocation(spec, attrs, contiguous) for spec, _ in self._called(attrs)]
            return any(a for a, _ in found), all(c for _, c in found)
        return OP_COSTS[op].memory(attrs["attrs"], contiguous)

    def _transients(self, node: int, attrs) -> list[list[Term]]:
        """What a layer call holds while it runs, beyond its input and its result: options,
        the largest of which counts."""
        if attrs["op"] in OP_COSTS:
            operands = [self._shape(o) for o in self.ir.operands(node)]
            held = OP_COSTS[attrs["op"]].transient(operands, self._shape(node), attrs["attrs"])
            return [[]] + [self._terms(size, [] if cond is None else [cond]) for cond, size in held]
        if attrs["op"] != "call_layer":
            return [[]]
        operands = [self._shape(o) for o in self.ir.operands(node) if self._shape(o) != ()]
        options = [[]]
        self.call = attrs["attrs"]
        for spec, conds in self._called(attrs):
            options += [guarded(option, conds) for option in
                        self._layer_transients(spec, operands, self.view.child_shapes(node)) if option]
        return options

    def _layer_transients(self, spec: LayerSpec, operands, inner: dict) -> list[list[Term]]:
        if spec.kind == "sequential" and len(spec.children) > 1:
            shapes = [operands[0]]
            for _, child in spec.children:
                shapes.append(self.output_shape(child, [shapes[-1]], inner))
            options: list[list[Term]] = [[]]
            last = len(spec.children)
            # Child `index` maps shapes[index - 1] to shapes[index]; the call's result (counted
            # by the caller) is the last child's, so before it runs, less that.
            for index in range(1, last + 1):
                held = [numel(shapes[index - 1])] if index > 1 else []
                if index < last:
                    held += [numel(shapes[index]), -numel(shapes[last])]
                options.append([Term(frozenset(), v) for v in held])
            return options
        if spec.kind == "block":
            callee = self.costs[spec.block]
            mapping = callee_mapping(callee.ir, spec, operands, self.call)
            inputs = substitute_terms(callee.inputs, mapping)
            out = numel(self.output_shape(spec, operands, inner))
            options = [[]]
            for candidate in callee.memory:
                inner = substitute_terms(candidate, mapping)
                options.append(inner + [Term(t.guard, -t.value, t.loop) for t in inputs] + [Term(frozenset(), -out)])
            return options
        return [[]]


def _layer_allocation(spec: LayerSpec, attrs, contiguous) -> tuple[bool, bool]:
    while spec.kind == "sequential" and spec.children:
        spec = spec.children[-1][1]
    if spec.kind not in LAYER_COSTS:
        return True, True
    found = [LAYER_COSTS[option.kind].memory(attrs["attrs"], contiguous) for option, _ in kind_options(spec)]
    return any(a for a, _ in found), all(c for _, c in found)  # a kind given as an argument: any of them


def _shared(attrs, operands, storage) -> dict[int, frozenset]:
    """Whose allocations a node that allocates nothing keeps alive: a view its operand's; a
    join (phi) its `then` operand's where its condition holds, its `else` operand's where
    it does not."""
    branches = [frozenset()] * len(operands)
    if attrs["op"] == "phi":
        condition = attrs["attrs"]["condition"]
        branches = [frozenset({condition}), frozenset({_negation(condition)})]
    kept: dict[int, frozenset] = {}
    for operand, branch in zip(operands, branches):
        for owner, conds in storage.get(operand, {}).items():
            conds = conds | branch
            kept[owner] = kept[owner] & conds if owner in kept else conds  # through either: what both need
    return kept


def _merged(cases: list) -> list:
    """Layout cases without the ones another case of the same layout implies (`[c]` and
    `[c, d]`: `[c]`)."""
    kept: list = []
    for conds, layout in cases:
        if any(other <= conds and same == layout for other, same in kept):
            continue
        kept = [(other, same) for other, same in kept if not (conds <= other and same == layout)] + [(conds, layout)]
    return kept


def _conjunction(conds: frozenset) -> Cond:
    ordered = sorted(conds, key=repr)
    return ordered[0] if len(ordered) == 1 else Cond("and", tuple(ordered))


def _negation(cond: Cond) -> Cond:
    return cond.args[0] if cond.op == "not" else Cond("not", (cond,))


def _size(shape) -> Expr:
    if isinstance(shape, ListShape):
        return shape.length * numel(shape.element)
    if shape and all(isinstance(part, tuple) for part in shape):  # several tensors (a sub-block's `return a, b`)
        return sum((numel(part) for part in shape), Expr.const(0))
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
