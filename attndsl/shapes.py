"""Symbolic shape inference and checking over the IR.

Walks each block's graph in topological order and gives every node its shape, a tuple
of `Expr`. A rule that needs two dims equal (or one to divide another) gets one of
three answers from the canonical form: proven (nothing to do), disproven (an error with
both shapes written out), or unknown because it depends on sizes only known at run
time (a run-time check is recorded and rendered into the generated `forward`, or into
`__init__` when it involves constructor arguments only).
"""

from __future__ import annotations

from fractions import Fraction

from . import symbolic as sym
from .diagnostics import Abort, DiagnosticSink, Label, Span
from .ir import BlockIR, CheckInfo, Cond, LayerSpec
from .layers import LAYERS
from .ops import OPS, ListShape
from .symbolic import Expr


MAX_PARAM_DIM = 2**31 - 1  # torch's int32 index limit; a larger param is a typo


def show(shape, order=None) -> str:
    """A shape as people write it: `[b*G, channel/G, h, w]`."""
    if isinstance(shape, ListShape):
        return f"{show(shape.element, order)} x {shape.length}"
    return "[" + ", ".join(sym.render(d, str, style="math", order=order) for d in shape) + "]"


class ShapeContext:
    """What op and layer rules may ask of the checker while they run on one node."""

    def __init__(self, checker: "ShapeChecker", node: int):
        self.checker = checker
        self.node = node
        self.facts = checker.facts
        self.extra_rewrites: dict = {}

    @property
    def _attrs(self):
        return self.checker.ir.graph.nodes[self.node]

    def error(self, code: str, message: str, *, help=None, labels=None) -> None:
        self.checker.sink.error(code, message, self._attrs["span"], help=help, labels=labels or [])
        raise Abort()

    def show(self, shape) -> str:
        return show(shape)

    def normal(self, expr: Expr) -> Expr:
        return self.checker.normal(expr, self.extra_rewrites)

    def is_one(self, dim: Expr) -> bool:
        return self.normal(dim) == Expr.const(1)

    def expect_equal(self, a: Expr, b: Expr, what: str, operands=()) -> None:
        na, nb = self.normal(a), self.normal(b)
        difference = na - nb
        if not difference.terms:
            return
        if difference.is_const or (na.is_const and nb.is_const):
            labels = self._operand_labels(operands)
            self.checker.sink.error(
                "E0201", f"shape mismatch in {what}: {a} is not {b}", self._attrs["span"], labels=labels,
                help=self.checker.suggest_fix(a, b))
            raise Abort()
        if self.checker.is_opaque(na) or self.checker.is_opaque(nb):
            return  # torch checks it at run time; we cannot name the sizes
        self.checker.add_check(("eq", a, b), what, self.node)

    def derive(self, expr: Expr, base: Expr) -> Expr:
        """Name a dim that has no short closed form (a strided conv's output size)."""
        return self.checker.derive(self.normal(expr), base)

    def expect_at_least(self, expr: Expr, bound: int, what: str, *, code: str = "E0205", help=None) -> None:
        """expr >= bound: proven (input dims count as >= 1), refuted, or checked at run time."""
        n = self.normal(expr)
        if (n - bound).is_const:
            if n.value < bound:
                self.error(code, f"{what}: {expr} = {n.value}", help=help)
            return
        if self.checker.is_opaque(n) or self.checker.provably_at_least(n, bound):
            return
        self.checker.add_check(Cond("cmp", (">=", n, Expr.const(bound))), what, self.node)

    def expect_rank_equal(self, a, b, what: str) -> None:
        if len(a) != len(b):
            self.error("E0202", f"{what}: ranks {len(a)} and {len(b)} differ")

    def divide(self, numerator: Expr, denominator: Expr, what: str) -> Expr:
        """numerator / denominator, which must be exact: proven, refuted, or checked at run time."""
        n, d = self.normal(numerator), self.normal(denominator)
        if d == Expr.const(0):
            self.error("E0203", f"{what}: division by zero")
        quotient = n.exact_div(d)
        if n.is_const and d.is_const:
            if quotient.value.denominator != 1:
                self.error("E0203", f"{what}: {numerator} is not divisible by {denominator}",
                           help=self.checker.suggest_fix(numerator, denominator, divide=True))
            return quotient
        # exact_div falls back to a floordiv atom (an integer by construction) when it cannot
        # divide by a sum like `a + 2`: that proves nothing.
        if quotient != Expr.atom("floordiv", n, d) and self.facts.is_integer(quotient):
            return numerator.exact_div(denominator)
        if not self.checker.is_opaque(n):
            self.checker.add_check(("divides", numerator, denominator), what, self.node)
        self.facts.add_integer(quotient)
        return numerator.exact_div(denominator)

    def _operand_labels(self, indices) -> list[Label]:
        ir = self.checker.ir
        operands = ir.operands(self.node)
        labels = []
        for index in indices:
            if index < len(operands):
                source = ir.graph.nodes[operands[index]]
                shape = source.get("shape")
                if shape is not None and not isinstance(shape, tuple) or shape is None:
                    continue
                labels.append(Label(source["span"], f"this has shape {show(shape)}"))
        return labels


class ShapeChecker:
    def __init__(self, ir: BlockIR, sink: DiagnosticSink, checked: dict[str, BlockIR]):
        self.ir = ir
        self.sink = sink
        self.checked = checked
        self.facts = sym.Facts()
        self.lets = {let.name: let.value for let in ir.lets}
        # Dims named by the checker (a strided conv's output size): name -> definition.
        self.derived: dict[str, Expr] = ir.derived
        # Symbols the generated code cannot compute: joins of if/else branches and the
        # dims of optional inputs. Checks on them are left to torch.
        self.opaque: set[str] = set(ir.optional_dims)
        self._seen_checks: set = set()
        self.bad_layers: set[str] = set()  # layers whose arguments are in error: calls are not checked
        self.rewrites: dict[sym.Atom, Expr] = {}
        for name, facts in getattr(ir, "list_element_facts", {}).items():
            if name.startswith("="):
                for modulus, remainder in facts:
                    self._add_mod_rewrite(name[1:], modulus, remainder, self.rewrites)

    # ------------------------------------------------------------------ algebra
    def derive(self, expr: Expr, base: Expr) -> Expr:
        normal = self.normal(expr)
        if not any(isinstance(f, sym.Atom) for m in normal.terms for f, _ in m):
            return normal
        for name, definition in self.derived.items():
            if self.normal(definition) == normal:
                return Expr.symbol(name)
        symbols = base.symbols()
        stem = next(iter(symbols)) if len(symbols) == 1 and base == Expr.symbol(next(iter(symbols))) else "n"
        name = stem + "'"
        while name in self.derived or name in self.opaque or name in self.ir.dim_origin:
            name += "'"
        self.derived[name] = expr
        if normal.symbols() & self.opaque:
            self.opaque.add(name)  # computed from a size only the run time knows
        return Expr.symbol(name)

    def _add_mod_rewrite(self, var: str, modulus: int, remainder: int, into: dict) -> None:
        symbol = Expr.symbol(var)
        atom = sym.Atom("floordiv", (symbol, Expr.const(modulus)))
        into[atom] = (symbol - remainder).exact_div(Expr.const(modulus))

    def normal(self, expr: Expr, extra: dict | None = None) -> Expr:
        """Lets expanded, required facts applied, atoms re-folded."""
        rewrites = dict(self.rewrites)
        if extra:
            rewrites.update(extra)
        for _ in range(8):  # lets may refer to earlier lets
            expanded = sym.substitute(expr, {**self.lets, **self.derived}, self.facts)
            if expanded == expr:
                break
            expr = expanded
        if rewrites:
            expr = _rewrite(expr, rewrites, self.facts)
        return sym.simplify(expr, self.facts)

    def is_opaque(self, expr: Expr) -> bool:
        return bool(expr.symbols() & self.opaque)

    def suggest_fix(self, a: Expr, b: Expr, divide: bool = False) -> str | None:
        if divide:
            return f"make {a} a multiple of {b}, or split by a divisor of it"
        na, nb = self.normal(a), self.normal(b)
        if na.is_const and nb.is_const and nb.value and (na.value / nb.value).denominator == 1:
            return f"{a} is {na.value / nb.value} times {b}; a rearrange can split it"
        return None

    def expand_derived(self, expr: Expr) -> Expr:
        """Checker-named dims (`h'`) replaced by their definitions: generated code cannot name them."""
        for _ in range(8):
            if not expr.symbols() & set(self.derived):
                break
            expr = sym.substitute(expr, self.derived)
        return expr

    def provably_at_least(self, expr: Expr, bound: int) -> bool:
        """expr >= bound whenever input sizes and int arguments are >= 1 (a sufficient test)."""
        lower = self._lower_bound(self.normal(expr))
        return lower is not None and lower >= bound

    def _lower_bound(self, expr: Expr) -> Fraction | None:
        positive = set(self.ir.dim_origin) | {a.name for a in self.ir.args if a.type == "int"}
        total = Fraction(0)
        for monomial, coefficient in expr.terms.items():
            if not monomial:
                total += coefficient
                continue
            if coefficient < 0:
                return None
            product = Fraction(1)
            for factor, exponent in monomial:
                if exponent < 0:
                    return None
                if isinstance(factor, str):
                    if factor not in positive:
                        return None
                    low = Fraction(1)
                elif factor.op == "floordiv":
                    a, b = (self._lower_bound(arg) for arg in factor.args)
                    if a is None or b is None or a < 0 or b < 1:
                        return None
                    low = Fraction(a // b) if factor.args[1].is_const else Fraction(0)
                elif factor.op in ("max", "min"):
                    bounds = [self._lower_bound(arg) for arg in factor.args]
                    known = [v for v in bounds if v is not None]
                    if factor.op == "min" and len(known) < len(bounds) or not known:
                        return None
                    low = max(known) if factor.op == "max" else min(known)
                    if low < 0:
                        return None
                else:
                    return None
                product *= low**exponent
            total += coefficient * product
        return total

    def add_check(self, condition, what: str, node: int | None = None, *, span: Span | None = None,
                  guard: tuple | None = None) -> None:
        """Record a run-time check: ("eq", a, b), ("divides", a, b) or a Cond("cmp", ...)."""
        if node is not None:
            attrs = self.ir.graph.nodes[node]
            span = span or attrs["span"]
            guard = attrs["guard"] if guard is None else guard
        guard = guard or ()
        if isinstance(condition, Cond):
            operator, left, right = condition.args
            left, right = self.expand_derived(left), self.expand_derived(right)
            condition = Cond("cmp", (operator, left, right))
            exprs = (left, right)
            key = ("cmp", operator, self.normal(left), self.normal(right), guard)
        else:
            kind, left, right = condition
            condition = (kind, self.expand_derived(left), self.expand_derived(right))
            exprs = condition[1:]
            key = (kind, self.normal(left), self.normal(right), guard)
        symbols = set()
        for expr in exprs:
            symbols |= self.normal(expr).symbols()
        ir = self.ir
        nameable = set(ir.dim_origin) | {a.name for a in ir.args} | {l.name for l in ir.lets} | \
            {f"len({a.name})" for a in ir.args if a.type == "list[int]"}
        loop = next((l for l in ir.layers if l.loop_var and l.loop_var in symbols - nameable), None)
        if loop is not None:
            # A fact about each element of a layer list (`batch_norm2d(k) for k in kernels`):
            # checked for every element, `all(... for k in kernels)`.
            every = f"for every {loop.loop_var} in {loop.iterable}"
            if isinstance(condition, Cond):
                inner, what = condition, f"{what}, {every}"
            elif condition[0] == "eq":
                inner, what = Cond("cmp", ("==", condition[1], condition[2])), f"{what} must agree {every}"
            else:
                inner = Cond("cmp", ("==", sym.mod(condition[1], condition[2]), Expr.const(0)))
                what = f"{what}: {condition[1]} must be divisible by {condition[2]} {every}"
            condition = Cond("all_elems", (loop.iterable, loop.loop_var, inner))
            key = ("all", loop.iterable, key)
            symbols = (symbols - {loop.loop_var}) | {loop.iterable}
            nameable = nameable | {loop.iterable}
        if symbols - nameable - set(self.derived):
            return  # nothing the generated code can name: torch checks it
        dims = {s for s in symbols if s in self.ir.dim_origin}
        # Under `if mask:` (an optional input) or a test of a size, only forward can tell.
        where = "forward" if dims or any(_run_time_condition(c, set(ir.dim_origin)) for c in guard) else "init"
        if key in self._seen_checks:
            return
        self._seen_checks.add(key)
        self.ir.checks.append(CheckInfo(condition, what, span, where, guard))

    # ------------------------------------------------------------------ walk
    def run(self) -> None:
        graph = self.ir.graph
        for info in self.ir.layers:
            for spec in (info.spec, info.element):
                if spec is not None:
                    self._check_layer_arguments(info, spec)
        for node in self.ir.topological():
            attrs = graph.nodes[node]
            try:
                attrs["shape"] = self._infer(node, attrs)
            except Abort:
                attrs["shape"] = None
                # Users of a node whose shape is unknown are skipped: one error, not a cascade.
        for param in self.ir.params:
            for dim in param.shape:
                self._whole(dim, param.span, f"param {param.name}", param.guard)

    def _check_layer_arguments(self, info, spec: LayerSpec) -> None:
        """What torch's constructors would reject (groups that do not divide the channels,
        dropout outside [0, 1], ...): an error when constant, else a check in __init__."""
        for _, child in spec.children:
            self._check_layer_arguments(info, child)
        definition = LAYERS.get(spec.kind)
        if definition is not None and definition.check is not None:
            definition.check(LayerArguments(self, info, spec), spec.args)

    def _whole(self, dim: Expr, span: Span, what: str, guard=()) -> None:
        normal = self.normal(dim)
        if not normal.is_const and not self.provably_at_least(normal, 0) and \
                all(c.denominator == 1 for c in normal.terms.values()):
            # `[a // -2]`: torch.zeros would fail on a negative size when the module is built.
            self.add_check(Cond("cmp", (">=", dim, Expr.const(0))), f"{what} has a negative dimension", span=span,
                           guard=guard)
        if normal.is_const and (normal.value.denominator != 1 or normal.value < 0):
            self.sink.error("E0205", f"{what} has a dimension {dim} = {normal.value}, not a whole number", span,
                            help="use `//` for integer division")
        elif normal.is_const and normal.value > MAX_PARAM_DIM:
            self.sink.error("E0205", f"{what} has a dimension of {normal.value}, more than any model could hold",
                            span, help=f"a param dimension is at most {MAX_PARAM_DIM}")

    def _infer(self, node: int, attrs: dict):
        op = attrs["op"]
        operands = self.ir.operands(node)
        shapes = [self.ir.graph.nodes[o].get("shape") for o in operands]
        if any(s is None for s, o in zip(shapes, operands) if self.ir.graph.nodes[o]["op"] != "loop_layer"):
            raise Abort()
        context = ShapeContext(self, node)
        if op == "input":
            info = next(i for i in self.ir.inputs if i.name == attrs["attrs"]["input"])
            for dim in info.shape:
                self.facts.add_integer(dim)
            return tuple(info.shape)
        if op == "param":
            info = next(p for p in self.ir.params if p.name == attrs["attrs"]["param"])
            return tuple(info.shape)
        if op == "scalar":
            return ()
        if op == "item":
            return shapes[0][attrs["attrs"]["index"]]
        if op == "loop_layer":
            return ()
        if op == "list_comp":
            layer = next(l for l in self.ir.layers if l.name == attrs["attrs"]["layer"])
            var = layer.loop_var or attrs["attrs"]["var"]
            if any(var in self.expand_derived(d).symbols() for d in shapes[0]):
                # stack/cat need alike elements; a size that varies with the loop cannot be checked.
                self.sink.error("E0201", f"the shape of each element, {show(shapes[0])}, depends on `{var}`: the "
                                "elements may differ in shape", attrs["span"],
                                help=f"add a `require` under which the sizes agree, e.g. `require all([{var} % 2 == 1 "
                                     f"for {var} in {layer.iterable}])` for a conv padded by {var} // 2")
                raise Abort()
            length = Expr.symbol(f"len({layer.iterable})")
            return ListShape(length, shapes[0])
        if op == "phi":
            return self._join(shapes[0], shapes[1], attrs)
        if op == "call_layer":
            return self._call_layer(context, attrs, shapes)
        definition = OPS[op]
        return definition.shape(context, node, shapes, attrs["attrs"])

    def _join(self, a, b, attrs):
        if len(a) != len(b):
            self.sink.error("E0202", f"`{attrs['name']}` has rank {len(a)} on one branch and {len(b)} on the other",
                            attrs["span"])
            raise Abort()
        out = []
        for x, y in zip(a, b):
            if self.normal(x) == self.normal(y):
                out.append(x)
                continue
            # Named after both branches ("in_channels|c_m"): never rendered as code, only
            # in comments, where it says exactly what the reader needs to know.
            name = f"{x}|{y}"
            while name in self.opaque and self._join_keys.get(name) != (x, y):
                name += "'"
            self.opaque.add(name)
            self._join_keys[name] = (x, y)
            out.append(Expr.symbol(name))
        return tuple(out)

    _join_keys: dict = {}

    # ------------------------------------------------------------------ layers
    def _call_layer(self, context: ShapeContext, attrs: dict, shapes):
        info = next(l for l in self.ir.layers if l.name == attrs["attrs"]["layer"])
        if info.name in self.bad_layers:
            raise Abort()
        if attrs["attrs"].get("element"):
            spec = info.element
            for modulus, remainder in getattr(self.ir, "list_element_facts", {}).get(info.iterable, []):
                self._add_mod_rewrite(info.loop_var, modulus, remainder, context.extra_rewrites)
            shapes = shapes[:-1]  # the loop node
        else:
            spec = info.spec
            for name in attrs["attrs"]["path"]:
                spec = next(child for child_name, child in spec.children if child_name == name)
        if len(shapes) != 1 and spec.kind != "block":
            context.error("E0112", f"layer `{info.name}` takes one input, got {len(shapes)}")
        return self.apply_layer(context, spec, shapes)

    def apply_layer(self, context: ShapeContext, spec: LayerSpec, shapes):
        if spec.kind == "sequential":
            shape = shapes[0]
            for _, child in spec.children:
                shape = self.apply_layer(context, child, [shape])
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
        return definition.shape(context, spec.args, shape)

    def _call_block(self, context: ShapeContext, spec: LayerSpec, shapes):
        callee = self.checked.get(spec.block)
        if callee is None or any(i.node is None for i in callee.inputs):
            raise Abort()
        mapping: dict[str, Expr] = {}
        for arg in callee.args:
            value = spec.args.get(arg.name)
            if isinstance(value, Expr):
                mapping[arg.name] = value
            elif value is None and isinstance(arg.default, (int, float)) and not isinstance(arg.default, bool):
                mapping[arg.name] = Expr.const(Fraction(str(arg.default)))
        for let in callee.lets:
            mapping[let.name] = sym.substitute(let.value, mapping)
        required = [i for i in callee.inputs if not i.optional]
        if len(shapes) < len(required) or len(shapes) > len(callee.inputs):
            context.error("E0112", f"block {callee.name} takes {len(required)} input(s), got {len(shapes)}")
        for info, shape in zip(callee.inputs, shapes):
            if len(info.shape) != len(shape):
                context.error("E0202", f"block {callee.name}'s input `{info.name}` has rank {len(info.shape)}, "
                              f"got a tensor of shape {show(shape)}")
            for declared, actual in zip(info.shape, shape):
                symbols = declared.symbols()
                if len(symbols) == 1 and declared == Expr.symbol(next(iter(symbols))) and next(iter(symbols)) in callee.dim_origin:
                    name = next(iter(symbols))
                    if name not in mapping:
                        mapping[name] = actual
                        continue
                context.expect_equal(sym.substitute(declared, mapping), actual,
                                     f"input `{info.name}` of block {callee.name}")
        out = callee.graph.nodes[callee.outputs[0]].get("shape")
        if out is None:
            raise Abort()
        # The callee's own names (a conv's `h'`, an if/else join) mean nothing here: expand
        # the derived ones, and keep joins opaque (torch checks what depends on them).
        result = []
        for dim in out:
            for _ in range(8):
                if not dim.symbols() & set(callee.derived):
                    break
                dim = sym.substitute(dim, callee.derived)
            self.opaque |= dim.symbols() & set(getattr(callee, "opaque", ()))
            result.append(sym.substitute(dim, mapping))
        return tuple(result)


def _run_time_condition(cond: Cond, dims: set[str]) -> bool:
    """Whether a guard can only be evaluated in forward (an input's presence, an input's size)."""
    if cond.op == "present":
        return True
    for arg in cond.args:
        if isinstance(arg, Cond) and _run_time_condition(arg, dims):
            return True
        if isinstance(arg, Expr) and arg.symbols() & dims:
            return True
    return False


class LayerArguments:
    """What a layer's `check` (attndsl.layers) may ask about its constructor arguments."""

    def __init__(self, checker: ShapeChecker, info, spec: LayerSpec):
        self.checker, self.info, self.spec = checker, info, spec
        ir = checker.ir
        self._init_names = {a.name for a in ir.args} | {l.name for l in ir.lets} | \
            {f"len({a.name})" for a in ir.args if a.type == "list[int]"}

    def value(self, name: str) -> Expr | None:
        value = self.spec.args.get(name)
        return value if isinstance(value, Expr) else None

    def constant(self, name: str) -> Fraction | None:
        value = self.value(name)
        n = self.checker.normal(value) if value is not None else None
        return n.value if n is not None and n.is_const else None

    def number(self, name: str, none_ok: bool = False) -> bool:
        """Whether the argument is a number (an error, and the layer left unchecked, if not)."""
        value = self.spec.args.get(name)
        if isinstance(value, Expr) or (value is None and none_ok):
            return isinstance(value, Expr)
        self._error(name, f"`{name}` must be a finite number, got {'None' if value is None else value}", "E0113")
        self.checker.bad_layers.add(self.info.name)
        return False

    def _span(self, name: str) -> Span:
        source = self.spec.sources.get(name)
        return source.span if source is not None else (self.spec.span or self.info.span)

    def _error(self, name: str, message: str, code: str, help=None) -> None:
        self.checker.sink.error(code, f"{self.spec.kind} `{self.info.name}`: {message}", self._span(name), help=help)

    def _checkable(self, *exprs: Expr) -> bool:
        """Renderable in __init__: arguments and lets only (no loop variable), whole coefficients."""
        return all(e.symbols() <= self._init_names and all(c.denominator == 1 for c in e.terms.values())
                   for e in exprs)

    def _record(self, condition, message: str, name: str) -> None:
        separator = " " if message.startswith("(") else ": "
        self.checker.add_check(condition, f"{self.spec.kind} `{self.info.name}`{separator}{message}",
                               span=self._span(name), guard=self.info.guard)

    def at_least(self, name: str, bound: int, code: str = "E0205", none_ok: bool = False) -> None:
        if name not in self.spec.args or not self.number(name, none_ok):
            return
        value = self.value(name)
        n = self.checker.normal(value)
        if n.is_const:
            if n.value < bound:
                self._error(name, f"`{name}` must be at least {bound}, got {n.value}", code)
            elif n.value > MAX_PARAM_DIM:
                self._error(name, f"`{name}` is {n.value}, more than any model could hold", "E0205",
                            help=f"a size is at most {MAX_PARAM_DIM}")
        elif not self.checker.provably_at_least(n, bound) and self._checkable(value):
            self._record(Cond("cmp", (">=", value, Expr.const(bound))), f"`{name}` must be at least {bound}", name)

    def divisible(self, name: str, by: str) -> None:
        a, b = self.value(name), self.value(by)
        if a is None or b is None:
            return
        na, nb = self.checker.normal(a), self.checker.normal(b)
        if nb.is_const and nb.value == 0:
            return  # reported by at_least
        if na.is_const and nb.is_const:
            if (na.value / nb.value).denominator != 1:
                self._error(by, f"{name} = {na.value} is not divisible by {by} = {nb.value}", "E0203")
            return
        quotient = na.exact_div(nb)
        if quotient != Expr.atom("floordiv", na, nb) and self.checker.facts.is_integer(quotient):
            return
        if self._checkable(a, b):
            self._record(("divides", a, b), f"({name} by {by})", by)

    def equal(self, name: str, expected: int, message: str, code: str = "E0112") -> None:
        """argument == expected: an error when it is a different constant, else a check in __init__."""
        value = self.value(name)
        if value is None:
            return
        n = self.checker.normal(value)
        if n.is_const:
            if n.value != expected:
                self._error(name, message, code)
        elif self._checkable(value):
            self._record(Cond("cmp", ("==", value, Expr.const(expected))), message, name)

    def require(self, holds: bool | None, name: str, message: str, code: str = "E0112") -> None:
        """A constraint decided at compile time (None: cannot tell; torch checks it)."""
        if holds is False:
            self._error(name, message, code)


def _rewrite(expr: Expr, rewrites: dict, facts) -> Expr:
    """Replace atoms that a `require` pinned down (`k // 2` -> `(k - 1)/2` for odd k)."""

    def base(factor) -> Expr:
        if isinstance(factor, str):
            return Expr.symbol(factor)
        inner = sym.Atom(factor.op, tuple(_rewrite(a, rewrites, facts) for a in factor.args))
        return rewrites.get(inner) or Expr({((inner, 1),): Fraction(1)})

    return sym.replace_factors(expr, base)


def check_shapes(blocks: list[BlockIR], sink: DiagnosticSink) -> None:
    checked: dict[str, BlockIR] = {}
    for ir in blocks:
        checker = ShapeChecker(ir, sink, checked)
        checker._join_keys = {}
        checker.run()
        ir.opaque = checker.opaque
        ir.facts = checker.facts
        ir.normal = checker.normal
        checked[ir.name] = ir
