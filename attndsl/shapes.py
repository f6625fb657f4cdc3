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
        if self.facts.is_integer(quotient):
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

    def add_check(self, condition, what: str, node: int) -> None:
        attrs = self.ir.graph.nodes[node]
        symbols = set()
        for expr in condition[1:]:
            symbols |= self.normal(expr).symbols()
        dims = {s for s in symbols if s in self.ir.dim_origin or s.startswith("len(") and False}
        where = "forward" if dims else "init"
        key = (condition[0], self.normal(condition[1]), self.normal(condition[2]), attrs["guard"])
        if key in self._seen_checks:
            return
        self._seen_checks.add(key)
        self.ir.checks.append(CheckInfo(condition, what, attrs["span"], where, attrs["guard"]))

    # ------------------------------------------------------------------ walk
    def run(self) -> None:
        graph = self.ir.graph
        for node in self.ir.topological():
            attrs = graph.nodes[node]
            try:
                attrs["shape"] = self._infer(node, attrs)
            except Abort:
                attrs["shape"] = None
                # Users of a node whose shape is unknown are skipped: one error, not a cascade.
        for param in self.ir.params:
            for dim in param.shape:
                self._whole(dim, param.span, f"param {param.name}")

    def _whole(self, dim: Expr, span: Span, what: str) -> None:
        normal = self.normal(dim)
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
        return tuple(sym.substitute(d, mapping) for d in out)


def _rewrite(expr: Expr, rewrites: dict, facts) -> Expr:
    result = Expr.const(0)
    for monomial, coefficient in expr.terms.items():
        term = Expr.const(coefficient)
        for factor, exponent in monomial:
            if isinstance(factor, str):
                base = Expr.symbol(factor)
            else:
                inner = sym.Atom(factor.op, tuple(_rewrite(a, rewrites, facts) for a in factor.args))
                base = rewrites.get(inner) or Expr({((inner, 1),): Fraction(1)})
            term = term * (base**exponent if exponent > 0 else Expr.const(1).exact_div(base ** -exponent))
        result = result + term
    return result


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
