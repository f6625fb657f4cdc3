"""Applying layers in the shape walk: registry layers, sequentials, layer lists, and
blocks of the same file used as layers (whose sizes arrive in the caller's names)."""

from __future__ import annotations

from .. import symbolic as sym
from ..diagnostics import Abort
from ..evaluate import fold, substitute_cond
from ..ir import BlockIR, Cond, LayerSpec, guard_includes
from ..ranks import RANKS, input_dims, kind_at_rank
from ..layers import LAYERS
from ..symbolic import Expr
from .conditions import condition_symbols
from .callee_terms import callee_mapping, forward_mapping, in_caller_terms, numbers_of
from .context import ShapeContext, show
from .worlds import literal


class LayerCalls:
    """Mixin of Walk: the shape of a layer call."""

    def _call_layer(self, context: ShapeContext, node: int, attrs: dict, shapes):
        declared = self.declarations(attrs)
        if len(declared) > 1:  # the display walk: each branch's layer, their shapes joined as an `if` joins
            shape = self._call_declared(context, node, attrs, shapes, declared[0])
            for info in declared[1:]:
                other = self._call_declared(context, node, attrs, shapes, info)
                branch = {**attrs, "attrs": {"condition": info.guard[-1]}}
                if attrs["attrs"].get("outputs"):  # a block that returns several values: each joined
                    shape = tuple(self._join(one, another, branch) for one, another in zip(shape, other))
                else:
                    shape = self._join(shape, other, branch)
            return shape
        return self._call_declared(context, node, attrs, shapes, declared[0])

    def _call_declared(self, context: ShapeContext, node: int, attrs: dict, shapes, info):
        if info.name in self.bad_layers:
            raise Abort()
        if attrs["attrs"].get("element"):
            spec = info.element
            context = ShapeContext(self, node, info.element_key())
            shapes = shapes[:-1]  # the loop node
            if attrs["attrs"].get("index") is not None:  # `for attn, ff in layers:`
                spec = spec.children[attrs["attrs"]["index"]][1]
        else:
            spec = info.spec
            if attrs["attrs"].get("looped"):
                shapes = shapes[:-1]  # the loop its call runs in
            for name in attrs["attrs"]["path"]:
                spec = next(child for child_name, child in spec.children if child_name == name)
        if spec.kind == "list":
            context.error("E0113", f"each element of `{info.name}` is a list of {len(spec.children)} layers",
                          help="unpack it: `for a, b in layers:`")
        if len(shapes) != 1 and spec.kind != "block":
            context.error("E0112", f"layer `{info.name}` takes one input, got {len(shapes)}")
        return self.apply_layer(context, spec, shapes, info.name)

    def declarations(self, attrs) -> list:
        """The layer a call calls, as declared where it runs: a layer declared on each branch
        of an `if` and used after it is the branch's in a world, and every branch's in the
        display walk (which does not know the branch)."""
        declared, fitting = declarations_of_call(self.ir, attrs)
        if fitting:
            return fitting[-1:]
        live = [l for l in declared if not self.skips(l.guard)]
        return (live if self.world is None else live[:1]) or declared[:1]

    def apply_layer(self, context: ShapeContext, spec: LayerSpec, shapes, label: str | None = None):
        """The shape `spec` gives `shapes`; `label` (the layer's name, a sequential child's path)
        names it in the run-time checks its rule makes."""
        if spec.rank_arg is not None:  # `conv{dimension}d`: the kind of this walk's rank
            spec = kind_at_rank(spec, self.ranks[spec.rank_arg])
        if spec.kind == "loop":  # children named in a loop (attndsl/lower/sequentials.py)
            return self._loop_children(context, spec, shapes[0])
        if spec.kind == "sequential":
            shape = shapes[0]
            for index, (child_name, child) in enumerate(spec.children):
                callee = self.checked.get(child.block) if child.kind == "block" else None
                if callee is not None and len(callee.outputs) > 1:
                    # nn.Sequential would hand the tuple to the next child, or return it whole.
                    context.error("E0113", f"block {callee.name} returns {len(callee.outputs)} tensors and cannot be "
                                  "a child of a sequential", help="declare it as a layer of its own and unpack its "
                                  "values: `a, b = layer(x)`")
                child_label = f"{label}.{child_name if child_name is not None else index}" if label else None
                shape = self.apply_layer(context, child, [shape], child_label)
                # each child's output shape, for `attndsl cost` (a conv's FLOPs need its output size)
                self.ir.graph.nodes[context.node].setdefault("child_shapes", {})[id(child)] = shape
                by_world = self.ir.graph.nodes[context.node].setdefault("world_child_shapes", {})
                by_world.setdefault(frozenset((self.world or {}).items()), {})[id(child)] = shape
            return shape
        if spec.kind == "block":
            return self._call_block(context, spec, shapes)
        definition = LAYERS[spec.kind]
        shape = shapes[0]
        if len(shape) < definition.min_rank or (definition.max_rank and len(shape) > definition.max_rank):
            expected = (f"rank {definition.min_rank}" if definition.min_rank == definition.max_rank
                        else f"rank {definition.min_rank} to {definition.max_rank}" if definition.max_rank
                        else f"rank >= {definition.min_rank}")
            context.error("E0202", f"{spec.kind} expects an input of {expected}, got {show(shape)}")
        if label:
            by_argument = label if spec.kind_arg and label.isidentifier() and context.element is None else None
            context = context.about(f"{spec.kind} `{label}`", by_argument)
        return definition.shape(context, spec.args, shape)

    def _loop_children(self, context: ShapeContext, spec: LayerSpec, shape):
        """Every pass builds the same layers: they must give back the shape they take, so
        that the shape after any number of passes (none included) is the one before. What
        the children need is checked for a loop that makes a pass: with none, the input
        passes through whatever its size."""
        start, stop = spec.args["start"], spec.args["stop"]
        outer = self.scope_guard
        passes = stop - start if isinstance(stop, Expr) and isinstance(start, Expr) else None
        makes_a_pass = passes is not None and passes.is_const and passes.value > 0  # `range(3)`: no `if 3 > 0:`
        self.scope_guard = outer + (() if makes_a_pass else (Cond("cmp", (">", stop, start)),))
        try:
            after = shape
            for _, child in spec.children:
                after = self.apply_layer(context, child, [after])
            what = f"the loop `for {spec.args['var']} in range({_math(start)}, {_math(stop)})`"
            if len(after) != len(shape):
                context.error("E0202", f"each pass of {what} turns {show(shape)} into {show(after)}",
                              help="the layers of a loop keep the rank and sizes they are given")
            for axis, (before_dim, after_dim) in enumerate(zip(shape, after)):
                context.expect_equal(after_dim, before_dim, f"dimension {axis} before and after a pass of {what}")
        finally:
            self.scope_guard = outer
        return shape

    def _call_block(self, context: ShapeContext, spec: LayerSpec, shapes):
        callee = self.checked.get(spec.block)
        if callee is None or not getattr(callee, "output_shapes", None):
            raise Abort()
        mapping = callee_mapping(callee, spec, self.world)
        lists = {f"{a.name}[" for a in self.ir.args if a.type == "list[int]"}
        for value in numbers_of(mapping).values():  # the caller's list items it passes on are sizes it reads
            self.ir.list_items.update(s for s in value.symbols() if s.endswith("]") and s[:s.index("[") + 1] in lists)
        attrs = self.ir.graph.nodes[context.node]["attrs"]
        mapping.update(forward_mapping(callee, attrs, len(shapes)))
        given = dict(attrs.get("forward_args", ()))
        for info in callee.inputs:
            if info.dtype == "size" and info.name not in given:  # a block in a sequential is given its input only
                context.error("E0112", f"block {callee.name} takes the size `{info.name}`, which this call does not "
                              f"give", help=f"call it by itself, with its sizes: `{spec.block}(...)(x, {info.name}=...)`")
            elif info.dtype == "flag" and info.name not in given and info.default is None:
                context.error("E0112", f"the call does not set the flag `{info.name}` of block {callee.name}, which "
                              "has no default", help=f"e.g. `{info.name}=true`")
        tensors = [i for i in callee.inputs if i.dtype not in ("flag", "size")]  # given by position
        passed = dict(attrs.get("passed_on", ()))
        required = [i for i in tensors if not i.optional]
        if len(shapes) < len(required) or len(shapes) > len(tensors):
            context.error("E0112", f"block {callee.name} takes {len(required)} input(s), got {len(shapes)}")
        for info, shape in zip(tensors, shapes):
            outer = self.scope_guard
            if info.name in passed:  # an optional input of this block: its sizes are checked where it is given
                self.scope_guard = outer + (Cond("present", (passed[info.name],)),)
            try:
                self._match_input(context, callee, info, shape, mapping)
            finally:
                self.scope_guard = outer
        joined = self._display_join(context, callee, mapping)
        out = self._callee_output(context, callee, mapping) if joined is None else None
        self._assume_callee_checks(context, callee, mapping)
        if joined is not None:
            return joined
        if len(callee.outputs) > 1:  # `return a, b`: a shape per value (the call's item nodes pick them)
            return tuple(self._callee_shape(context, callee, mapping, shape) for shape in out)
        return self._callee_shape(context, callee, mapping, out)

    def _display_join(self, context, callee, mapping):
        """The display walk's shape of a call whose output the callee's `if`s change, and which
        these arguments do not decide: each case in this block's terms, joined size by size
        (`b|c`, not the callee's own `s0|s1`). None where the cases cannot all be written here
        (the callee's display shape is taken then), or where there is one case."""
        choices = callee.output_shapes
        if self.world is not None or len(choices) < 2:
            return None
        known = self.nameable() | set(self.ir.derived) | self.opaque
        numbers = numbers_of(mapping)
        cases = []
        for literals, shape in choices:
            if any(fold(substitute_cond(cond, mapping)) == Cond.const(False) for cond in literals):
                continue  # a case these arguments rule out
            shapes = shape if len(callee.outputs) > 1 else (shape,)
            mapped = []
            for one in shapes:
                dims = []
                for dim in one:
                    try:
                        here = sym.substitute(sym.expand(dim, callee.derived), numbers)
                    except ZeroDivisionError:
                        return None
                    if here.symbols() - known:
                        return None
                    dims.append(here)
                mapped.append(tuple(dims))
            cases.append(mapped)
        if len(cases) < 2:
            return None
        joined = []
        for index in range(len(cases[0])):
            if len({len(case[index]) for case in cases}) != 1:
                return None  # another rank per case: the callee's display is all there is
            dims = []
            for axis in range(len(cases[0][index])):
                size = cases[0][index][axis]
                for case in cases[1:]:
                    other = case[index][axis]
                    if context.normal(other) != context.normal(size):
                        size = self.opaque_size(size, other)
                dims.append(size)
            joined.append(tuple(dims))
        return tuple(joined) if len(callee.outputs) > 1 else joined[0]

    def _assume_callee_checks(self, context: ShapeContext, callee, mapping: dict) -> None:
        """What the callee's forward checks of its inputs' sizes holds once the call returns
        (it raises otherwise): PVT's `inner(x, H, W)` proves `n == H*W` for the `x + ...`
        after it. A sub-block call always runs where written (dead-code elimination keeps it,
        the passes move no call), so nothing after it runs without the callee's check. Only
        the checks the callee makes in every world, on sizes this block names."""
        exprs = numbers_of(mapping)
        node = context.node
        guard = self.ir.graph.nodes[node]["guard"] + self.scope_guard
        guard = guard + tuple(c for c in self.literals_for(node) if c not in guard)
        held = [c.condition for c in callee.checks if c.where == "forward" and not c.guard and c.kind != "require"]
        for condition in held + callee.assumed_facts:  # and what it knows from its own sub-blocks
            condition = in_caller_terms(condition, callee, exprs)
            symbols = condition_symbols(condition)
            if not symbols & set(self.ir.dim_origin) or symbols - self.nameable() - set(self.ir.derived):
                continue
            self._learn(condition, guard)
            if not guard and condition not in self.ir.assumed_facts:  # a caller of this block knows it too
                self.ir.assumed_facts.append(condition)

    def _match_input(self, context: ShapeContext, callee, info, shape, mapping: dict) -> None:
        """The shape a call gives one of the callee's inputs against its declaration: a size
        the callee names there is bound to the caller's; the others must agree."""
        declared_shape = self._callee_input_shape(context, callee, info, mapping)
        if len(declared_shape) != len(shape):
            context.error("E0202", f"block {callee.name}'s input `{info.name}` has rank {len(declared_shape)}, "
                          f"got a tensor of shape {show(shape)}")
        for declared, actual in zip(declared_shape, shape):
            symbols = declared.symbols()
            single = next(iter(symbols)) if len(symbols) == 1 else None
            if single is not None and declared == Expr.symbol(single) and \
                    (single in callee.dim_origin or single in callee.optional_dims) and single not in mapping:
                mapping[single] = actual
                continue
            context.expect_equal(sym.substitute(declared, numbers_of(mapping)), actual,
                                 f"input `{info.name}` of block {callee.name}")

    def _callee_input_shape(self, context, callee, info, mapping) -> list[Expr]:
        """A callee's input as declared, its pack's sizes at the rank this call gives it
        (`Pointwise(c, 3)`, or the caller's own rank argument passed on)."""
        if not info.pack:
            return list(info.shape)
        arg = callee.packs[info.pack]
        given = mapping.get(arg)
        rank = None
        if isinstance(given, Expr):
            given = context.normal(sym.substitute(given, {a: Expr.const(r) for a, r in self.ranks.items()}))
            rank = int(given.value) if given.is_const and given.value in RANKS else None
        if rank is None:
            context.error("E0113", f"block {callee.name} takes inputs of the rank `{arg}` gives, and `{arg}` must be "
                          f"1, 2 or 3 here, known when the module is built",
                          help=f"give `{arg}` a number, or an argument of this block that gives its own pack's rank")
        return input_dims(callee, info, {arg: rank})

    def _callee_shape(self, context, callee, mapping, out):
        result = []
        for dim in out:
            expanded = sym.expand(dim, callee.derived)
            try:
                dim = sym.substitute(expanded, numbers_of(mapping))
            except ZeroDivisionError:  # `BasicConv(2, 1, 7, 0)`: a stride of 0 divides its output size
                given = ", ".join(f"{name} = {sym.render(value, str, style='math')}" for name, value in mapping.items()
                                  if isinstance(value, Expr) and value.is_const and name in expanded.symbols())
                context.error("E0205", f"the output size of block {callee.name} divides by zero with the arguments "
                              f"given here{f' ({given})' if given else ''}")
            strangers = sorted(dim.symbols() - self.nameable() - set(self.ir.derived) - self.opaque)
            hidden = [s for s in strangers if s.startswith(f"{callee.name}.")]
            if hidden:
                context.error("E0208", f"the output size of block {callee.name} depends on its `let` "
                              f"`{hidden[0][len(callee.name) + 1:]}`, which the arguments given here do not decide")
            elif strangers:
                context.error("E0208", f"the output size of block {callee.name} depends on "
                              f"`{strangers[0]}`, which this block does not pass to it")
            result.append(dim)
        return tuple(result)

    def _callee_output(self, context, callee, mapping):
        """The callee's output shape in the world its arguments select."""
        choices = callee.output_shapes  # [(literals, shape)]; one entry when no `if` changes it
        decided = [shape for literals, shape in choices
                   if all(fold(substitute_cond(cond, mapping)) == Cond.const(True) for cond in literals)]
        if len(choices) > 1 and len(decided) == 1:  # the arguments (or the inputs given) pick the branch
            return decided[0]
        if len(choices) == 1 or self.world is None:
            displays = [callee.graph.nodes[o].get("shape") for o in callee.outputs]
            if None in displays:
                return choices[0][1]
            if len(choices) > 1:
                self.opaque |= {s for shape in displays for d in shape for s in d.symbols()} & set(callee.opaque)
            return displays[0] if len(displays) == 1 else tuple(displays)
        possible = []
        for literals, shape in choices:
            ok = True
            for cond in literals:
                here = fold(substitute_cond(cond, mapping))
                if here.op == "const":
                    ok = ok and bool(here.args[0])
                else:
                    atom, polarity = literal(here)
                    ok = ok and atom in self.world and self.world[atom] == polarity
            if ok:
                possible.append(shape)
        if len(possible) != 1:
            context.error("E0208", f"cannot tell which branch of block {callee.name} runs with these arguments")
        return possible[0]


def declarations_of_call(ir: BlockIR, attrs) -> tuple[list, list]:
    """Every declaration of the layer a call calls, and those the call's own `if`s choose
    (the call is inside the branch that declares it): none when it is used after the `if`."""
    declared = ir.declarations(attrs["attrs"]["layer"])
    return declared, [info for info in declared if all(guard_includes(attrs["guard"], c) for c in info.guard)]


def _math(expr: Expr) -> str:
    return sym.render(expr, str, style="math")
