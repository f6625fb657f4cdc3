"""One block checked: the display walk, then one walk per world when `if`s change shapes;
the worlds' errors and checks merged back, redundant checks dropped, examples validated."""

from __future__ import annotations

from ..diagnostics import DiagnosticSink
from ..evaluate import fold, substitute_cond
from ..ir import BlockIR, CheckInfo, Cond, negate, reads_forward
from ..ranks import PackSizes
from .. import symbolic as sym
from ..symbolic import Expr
from .check_pruning import merge_complementary, strongest_arguments, without_redundant
from .conditions import runs_in
from .disjoint import cannot_meet, whole_symbols
from .examples import check_defaults, check_examples
from .knowledge import Knowledge
from .callee_terms import forward_mapping, undecided_let_atoms
from .layer_calls import declarations_of_call
from .walk import Walk, callee_mapping
from .worlds import (MAX_ATOMS, as_condition, consistent, describe, find_witness, literal, merge_guards, positions,
                     rank_atoms, worlds)


class BlockChecker:
    def __init__(self, ir: BlockIR, sink: DiagnosticSink, checked: dict[str, BlockIR]):
        self.ir, self.sink, self.checked = ir, sink, checked
        self.position = positions(ir)

    def run(self) -> None:
        ir = self.ir
        base = Knowledge(ir)
        joined = Walk(ir, self.checked, base.copy(), position=self.position)
        joined.run()
        for node, shape in joined.shapes.items():
            ir.graph.nodes[node]["shape"] = shape
            ir.graph.nodes[node]["dtype"] = joined.dtypes.get(node)
        ir.opaque = joined.opaque
        ir.joins = dict(joined.join_keys)  # `c|2*c` -> (c, 2*c): how comments show each branch's size
        atoms = self._atoms(joined)
        if not atoms:
            self._commit_single(joined)
        elif len(atoms) > MAX_ATOMS:
            self.sink.error("E0210", f"block {ir.name} has {len(atoms)} independent `if` conditions that change "
                            f"shapes; at most {MAX_ATOMS} can be checked", ir.span,
                            help="give a value the same shape on both branches of some of them")
            return
        else:
            for diagnostic in joined.sink.items:
                if diagnostic.code == "E0206" or "on one branch" in diagnostic.message:
                    self.sink.items.append(diagnostic)
            self._commit_worlds(atoms, base)
        ir.checks = without_redundant(ir, ir.checks)
        ir.normal = _normal_form(ir)
        if not self.sink.has_errors:
            check_examples(ir, self.sink)
            check_defaults(ir, self.sink)

    # ------------------------------------------------------------------ atoms
    def _atoms(self, joined: Walk) -> list:
        """The conditions whose branches give a value different shapes (or decide which
        branch of a sub-block runs): the checker walks once per combination of them."""
        ir = self.ir
        found = rank_atoms(ir) + sorted(joined.joined_atoms, key=repr)
        for node in ir.topological():
            attrs = ir.graph.nodes[node]
            if attrs["op"] == "phi":
                a, b = (joined.shapes.get(o) for o in ir.operands(node))
                if a is not None and b is not None and a != b:
                    atom = literal(attrs["attrs"]["condition"])[0]
                    if atom not in found:
                        found.append(atom)
            elif attrs["op"] == "call_layer":
                for atom in self._callee_atoms(node, attrs) + self._declaration_atoms(attrs):
                    if atom not in found:
                        found.append(atom)
        return found

    def _declaration_atoms(self, attrs) -> list:
        """A layer declared on each branch of an `if` and used after it: the conditions that
        choose its declaration (each world walks with its own)."""
        declared, fitting = declarations_of_call(self.ir, attrs)
        if len(declared) < 2 or fitting:
            return []  # one declaration, or the call is inside the branch that declares it
        atoms = []
        for info in declared:
            for cond in info.guard:
                atom = literal(cond)[0]
                if cond not in attrs["guard"] and atom not in atoms:
                    atoms.append(atom)
        return atoms

    def _callee_atoms(self, node: int, attrs) -> list:
        spec = self.ir.called_spec(attrs)
        callee = self.checked.get(spec.block) if spec is not None and spec.kind == "block" else None
        if callee is None or not getattr(callee, "output_shapes", ()):
            return []
        looped = attrs["attrs"].get("element") or attrs["attrs"].get("looped")  # the last operand is the loop
        tensors = len(self.ir.operands(node)) - (1 if looped else 0)
        mapping = callee_mapping(callee, spec) | forward_mapping(callee, attrs["attrs"], tensors)
        atoms = undecided_let_atoms(callee, mapping)
        for literals, _ in callee.output_shapes:
            for cond in literals:
                here = fold(substitute_cond(cond, mapping))
                if here.op != "const":
                    atoms.append(literal(here)[0])
        return atoms

    def _relevant(self, atoms) -> dict[int, set]:
        """For each node, the atoms its shape may depend on (through phis and sub-blocks)."""
        ir = self.ir
        relevant: dict[int, set] = {}
        for node in ir.topological():
            attrs = ir.graph.nodes[node]
            found = set()
            for operand in ir.operands(node):
                found |= relevant.get(operand, set())
            if attrs["op"] == "phi":
                atom = literal(attrs["attrs"]["condition"])[0]
                if atom in atoms:
                    found.add(atom)
            elif attrs["op"] == "call_layer":
                found |= set(self._callee_atoms(node, attrs) + self._declaration_atoms(attrs)) & set(atoms)
            if self._by_rank(attrs):
                found |= set(rank_atoms(ir))
            relevant[node] = found
        return relevant

    def _by_rank(self, attrs) -> bool:
        """Whether a node's shape depends on the rank itself: an input with a pack, a value
        split into the pack's sizes, a rank-generic layer (`conv{dimension}d`)."""
        if not self.ir.rank_args:
            return False
        if attrs["op"] == "input":
            return any(i.pack for i in self.ir.inputs if i.name == attrs["attrs"]["input"])
        if attrs["op"] == "call_layer":
            info = self.ir.layer(attrs["attrs"]["layer"])
            return _rank_generic(info.spec) or _rank_generic(info.element)
        return any(isinstance(v, PackSizes) for v in attrs["attrs"].values())

    # ------------------------------------------------------------------ commit
    def _commit_single(self, walk: Walk) -> None:
        self.sink.items.extend(walk.sink.items)
        self.ir.checks = strongest_arguments(merge_complementary(
            [r.check for r in sorted(walk.records, key=lambda r: r.order)]))
        shapes = tuple(walk.shapes.get(o) for o in self.ir.outputs)
        self.ir.output_shapes = [((), shapes[0] if len(shapes) == 1 else shapes)] if None not in shapes else []
        self.ir.world_atoms = []
        self.ir.world_shapes = [({}, {n: s for n, s in walk.shapes.items() if s is not None})]
        for node, bounds in walk.index_bounds.items():
            self.ir.graph.nodes[node]["index_bounds"] = [(size, axis, ()) for size, axis in bounds.values()]

    def _commit_worlds(self, atoms, base: Knowledge) -> None:
        ir = self.ir
        while True:
            # A world can reveal another shape-changing condition (a size that broadcasts only
            # when an optional input is given): add it and walk again.
            relevant = self._relevant(atoms)
            walks = []
            for world in worlds(atoms):
                if not consistent(ir, world):
                    continue
                knowledge = base.copy()
                walk = Walk(ir, self.checked, knowledge, world=world, atoms=atoms, relevant=relevant,
                            position=self.position)
                if walks:
                    self._reuse_first(walks[0][1], walk)
                walk.run()
                walks.append((world, walk))
            more = [a for _, w in walks for a in sorted(w.joined_atoms, key=repr) if a not in atoms]
            if not more or len(atoms) >= MAX_ATOMS:
                break
            atoms = atoms + list(dict.fromkeys(more))
        self._merge_diagnostics(atoms, walks)
        self._merge_checks(atoms, walks)
        outputs = []
        output_atoms = set().union(*(relevant.get(o, set()) for o in ir.outputs))
        for world, walk in walks:
            shapes = tuple(walk.shapes.get(o) for o in ir.outputs)
            if None in shapes:
                continue
            literals = tuple(c for c in _world_literals(world) if literal(c)[0] in output_atoms)
            entry = (literals, shapes[0] if len(shapes) == 1 else shapes)
            if entry not in outputs:
                outputs.append(entry)
        ir.output_shapes = outputs
        ir.world_atoms = atoms
        self._axis_sizes_of_worlds()
        self._commit_index_bounds(atoms, walks, relevant)
        # Each world's shapes, for tools that need the real sizes of a branch (cost, graph).
        ir.world_shapes = [(world, {n: s for n, s in walk.shapes.items() if s is not None}) for world, walk in walks]
        # A value of the same shape in every world that has it shows that shape, not the joined
        # one: `x * y`, with y [b, c, h|1, w|1] from two branches, is [b, c, h, w] either way;
        # and MBConv's `x`, [b, oup, h, w] or the input when expand_ratio == 1, is [b, oup, h, w]
        # in both worlds (oup is input_filters there).
        for node, attrs in ir.graph.nodes.items():
            found = [(walk, walk.shapes[node]) for _, walk in walks if walk.shapes.get(node) is not None]
            for candidate in dict.fromkeys(shape for _, shape in found):
                if all(_same_shape(walk, attrs["guard"], candidate, shape) for walk, shape in found):
                    attrs["shape"] = candidate
                    break
            else:
                # (a block generic over rank shows the joined walk's, which codegen writes at every rank)
                if not (ir.rank_args and attrs.get("shape") is not None):
                    shapes = [shape for _, shape in found]
                    attrs["shape"] = _joined_display(shapes, attrs.get("shape"))
                    # comments only (codegen writes sizes from "shape"): each world's size where
                    # the joined walk's is no join's name (`h` where a branch makes it `n'`)
                    attrs["display_shape"] = _joined_display(shapes, attrs["shape"], names_only=True)

    def _axis_sizes_of_worlds(self) -> None:
        """A rearrange the joined walk never reached (it stopped at an error no world has: a
        branch no world takes) gets its axis sizes from the worlds: each that every world
        agrees on, and a size known only when it runs (left to -1) where they differ."""
        for attrs in self.ir.graph.nodes.values():
            found = attrs["attrs"].pop("world_axis_sizes", None)
            if found is None or "axis_sizes" in attrs["attrs"]:
                continue
            sizes = {}
            for axis in found[0]:
                distinct = list(dict.fromkeys(world[axis] for world in found))
                if len(distinct) == 1:
                    sizes[axis] = distinct[0]
                else:
                    name = "|".join(sym.render(size, str, style="shape") for size in distinct)
                    self.ir.opaque.add(name)
                    sizes[axis] = Expr.symbol(name)
            attrs["attrs"]["axis_sizes"] = sizes

    def _commit_index_bounds(self, atoms, walks, relevant: dict) -> None:
        """A gather's index bound in each world, under that world's conditions (the table's
        axis is 4 where `a % 2 == 0` made it a linear's output, `a` elsewhere): one check per
        size, guarded as merge_guards joins the worlds that found it."""
        found: dict[int, dict] = {}
        for world, walk in walks:
            for node, bounds in walk.index_bounds.items():
                literals = tuple(c for c in _world_literals(world) if literal(c)[0] in relevant.get(node, set()))
                for key, (size, axis) in bounds.items():
                    entry = found.setdefault(node, {}).setdefault(key, (size, axis, []))
                    entry[2].append(literals)
        for node, bounds in found.items():
            self.ir.graph.nodes[node]["index_bounds"] = [
                (size, axis, guard) for size, axis, worlds_found in bounds.values()
                for guard in merge_guards([((), literals) for literals in worlds_found], atoms, self.ir.rank_args)]

    def _reuse_first(self, first: Walk, walk: Walk) -> None:
        """The facts the first world's checks established without a condition of its own hold
        in every world, after the check that established them: the later worlds borrow each
        from the node where it became known (Walk.borrow_from). Its nodes are walked again: the
        first world walked them knowing its own conditions (`a > 3` proves `a // 2 >= 1`), and
        a check it found proven there may be needed in another world."""
        walk.borrow_from(first)

    def _merge_diagnostics(self, atoms, walks) -> None:
        """An error seen in every world is an error; one seen only in some is an error where
        those worlds can happen, and a check refusing them otherwise."""
        seen: dict = {}
        for world, walk in walks:
            for diagnostic in walk.sink.items:
                key = (diagnostic.code, diagnostic.message, diagnostic.span)
                seen.setdefault(key, (diagnostic, []))[1].append(_world_literals(world))
        requires = [r.condition for r in self.ir.requires if not r.guard]
        for (_, _, span), (diagnostic, where) in seen.items():
            if not diagnostic.is_error:
                self.sink.items.append(diagnostic)
                continue
            conjunctions = [self._without_implied(c) for c in
                            merge_guards([((), literals) for literals in where], atoms, self.ir.rank_args)]
            if conjunctions == [()]:
                self.sink.items.append(diagnostic)
                continue
            reported = False
            for conjunction in conjunctions:
                if find_witness(self.ir, conjunction, requires) is not None:
                    if not reported:
                        diagnostic.message += f" (when {describe(conjunction, self._render_cond)})"
                        self.sink.items.append(diagnostic)
                        reported = True
                else:
                    self._refuse(conjunction, diagnostic)

    def _refuse(self, conjunction, diagnostic) -> None:
        """No sample arguments reach this world: refuse it when the module is built, in case."""
        where = "forward" if any(reads_forward(c) for c in conjunction) else "init"
        self.ir.checks.insert(0, CheckInfo(Cond.const(False), diagnostic.message, diagnostic.span, where,
                                           tuple(conjunction), kind="auto"))

    def _merge_checks(self, atoms, walks) -> None:
        groups: dict = {}
        for _, walk in walks:
            for record in walk.records:
                key = (record.check.condition, record.check.message, record.base_guard)
                entry = groups.setdefault(key, {"record": record, "order": record.order, "literals": []})
                entry["order"] = min(entry["order"], record.order)
                entry["literals"].append(record.literals)
        merged = []
        for key, entry in groups.items():
            record = entry["record"]
            for guard in merge_guards([(record.base_guard, literals) for literals in entry["literals"]], atoms,
                                      self.ir.rank_args):
                guard = self._without_implied(guard)
                check = record.check
                where = runs_in(self.ir, check.condition, guard)  # a merged guard may no longer test an input
                merged.append((entry["order"], type(check)(check.condition, check.message, check.span, where,
                                                           guard, check.source, check.kind, check.position,
                                                           check.node)))
        merged.sort(key=lambda item: item[0])
        self.ir.checks = strongest_arguments(merge_complementary(
            [c for c in self.ir.checks] + [check for _, check in merged]))

    def _without_implied(self, guard: tuple) -> tuple:
        """The guard less the world literals the rest implies: a check under `if ws > 0:` made
        in the worlds where `ws == 0` is false (the others skip it) tests `ws > 0` alone, and an
        error of the world where `r == 3` is true says so, not also that `r == 1` is false."""
        whole = whole_symbols(self.ir)
        for condition in reversed(guard):
            rest = tuple(c for c in guard if c != condition)
            if cannot_meet(rest + (negate(condition),), whole):
                guard = rest
        return guard

    def _render_cond(self, cond) -> str:
        if cond.op in ("arg", "flag"):  # a bool argument, a flag of forward: by name
            return cond.args[0]
        if cond.op == "text":
            return f'{cond.args[0]} == "{cond.args[1]}"'
        if cond.op == "has":
            return f'"{cond.args[1]}" in {cond.args[0]}'
        if cond.op == "cmp":
            operator, left, right = cond.args
            return f"{sym.render(left, str, style='math')} {operator} {sym.render(right, str, style='math')}"
        if cond.op in ("and", "or"):
            return f" {cond.op} ".join(self._render_cond(c) for c in cond.args)
        if cond.op == "not":
            return f"not {self._render_cond(cond.args[0])}"
        return str(cond.args)


def _normal_form(ir: BlockIR):
    """The sizes' normal form under what always holds where the module computes (the
    requires, `__init__`'s and forward's, checked before anything is computed): the passes
    compare shapes in it (`h * (hq // h)` is `hq` once `hq % h == 0`)."""
    knowledge = Knowledge(ir)
    for require in ir.requires + ir.forward_requires:
        if not require.guard:
            knowledge.learn(require.condition, ())
    return knowledge.view(frozenset()).normal


def _rank_generic(spec) -> bool:
    return spec is not None and (spec.rank_arg is not None or any(_rank_generic(c) for _, c in spec.children))


def _world_literals(world: dict) -> tuple:
    return tuple(as_condition(atom, value) for atom, value in world.items())


def _same_shape(walk: Walk, guard, a, b) -> bool:
    """Whether two shapes are the same in a world, under what it knows where the node runs."""
    if a == b:
        return True
    if not (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)):
        return False
    if not all(isinstance(d, Expr) for d in a + b):
        return False
    view = walk.view_for_guard(guard)
    return all(view.normal(x) == view.normal(y) for x, y in zip(a, b))


def _joined_display(shapes: list, walked=None, names_only: bool = False):
    """The shapes a value has in the worlds, as one for display: the sizes they agree on (the
    joined walk may compose joins of joins, `(m + q|q) - m|m + q|q` for what is `q` in every
    world), and where they differ the joined walk's size (`walked`: `H'*W'|nk`, named where
    the branches met), else `k|n2` of the worlds' sizes; with `names_only`, the walk's size
    only where it reads as one of several (`_join_name`). `walked` where the worlds' ranks
    differ, or their shapes are not tensors'."""
    tensors = [s for s in shapes if isinstance(s, tuple) and all(isinstance(d, Expr) for d in s)]
    if not tensors or len(tensors) != len(shapes) or len({len(s) for s in tensors}) != 1:
        return walked
    walked = walked if isinstance(walked, tuple) and len(walked) == len(tensors[0]) else None
    joined = []
    for axis, dims in enumerate(zip(*tensors)):
        distinct = list(dict.fromkeys(dims))
        if len(distinct) == 1:
            joined.append(distinct[0])
        elif walked is not None and not (names_only and not _join_name(walked[axis])):
            joined.append(walked[axis])
        else:
            joined.append(Expr.symbol("|".join(sym.render(d, str, style="shape") for d in distinct)))
    return tuple(joined)


def _join_name(size) -> bool:
    """A size that reads as one of several: a join's name (`c|2*c`), or a size made of one
    (`(n + 2|n)/k`). A plain size where the worlds differ (`h`, where a branch makes it
    `n'`) would claim one size for all."""
    return isinstance(size, Expr) and "|" in str(size)
