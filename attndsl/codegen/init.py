"""The body of `__init__`: lets, requires and checks on the arguments, attributes, params and layers."""

from __future__ import annotations

from contextlib import contextmanager

from .. import symbolic as sym
from .. import syntax as ast
from ..guards import reads_written
from ..inits import takes_factory
from ..inplace import kind_in_place_hazards
from ..ir import Cond, LayerInfo, LayerSpec
from ..layers import LAYERS
from ..lower.helpers import _symbols_of
from ..lower.layer_kinds import LayerKind, LayerKindArg
from ..ops import ATOM
from ..ops.selection import KEEPS_VALUES
from ..ops.views import SHARES_STORAGE
from ..shapes.check_pruning import init_position
from ..spec_expr import expr as spec_expr
from ..symbolic import Expr
from .expressions import InternalError, _is_default, _negated, layer_class, source_expr
from .numbers import nan_checks
from .sequentials import has_loops, in_place_refusal, module_route
from .text import comment_text, fstring, python_string



class InitEmitter:
    def init_lines(self) -> list[str]:
        """Checks on single arguments first; then the spec's lets and requires in the order
        it wrote them, each after the checks that make it computable; then the checks of
        sizes; the attributes forward reads; and the params and layers."""
        lines: list[str] = ["super().__init__()"]
        checks = [c for c in self.ir.checks if c.where == "init"] if self.options.runtime_checks else []
        statements: list[tuple[tuple, tuple, list[str]]] = []  # (position, guard, lines)
        # a size the checker named (`heads_out`) is computed once, by the first check that reads it
        # (rendered in the order the checks are placed: a later one under that `if` reuses it)
        defined: dict = {}
        for check in sorted((c for c in checks if c.position is not None), key=lambda c: init_position(self.ir, c)):
            statements.append((init_position(self.ir, check), check.guard,
                               self._check_lines(check, self.init_name, "init", defined)))
        written = set()
        for let in self.ir.lets:
            if let.span in written:  # a conditional value: one `let` per branch, written once as a whole
                continue
            written.add(let.span)
            guard = _common_guard([l.guard for l in self.ir.lets if l.span == let.span])
            statements.append((((let.span.line, let.span.column), 1), guard, self._let_lines(let)))
        for check in self.ir.requires:
            test = _negated(check.source, self.init_name, flip=not reads_written(check.condition))
            message = fstring([("text", f"{self.ir.name}: {check.message}")] + self._values_read(check.source))
            statements.append((((check.span.line, check.span.column), 1), check.guard,
                               [f"if {test}:", f"    raise ValueError({message})"]))
        statements.sort(key=lambda s: s[0])
        ordered = [(guard, body) for _, guard, body in statements]
        # NaN refused, and the classes a layer-kind argument may be, first
        ordered = (nan_checks(self.ir) if self.options.runtime_checks else []) + self.layer_kind_checks() + ordered
        ordered += [(c.guard, self._check_lines(c, self.init_name, "init", defined)) for c in checks
                    if c.position is None]
        lines += self._guarded(ordered, self.init_name)
        lines += self._guarded(self._attributes(), self.init_name)
        body: list[tuple[tuple, list[str]]] = []
        declarations = sorted(
            [(p.span.line, p.span.column, "param", p) for p in self.ir.params]
            + [(l.span.line, l.span.column, "layer", l) for l in self.ir.layers]
            + [(b.span.line, b.span.column, "buffer", b) for b in self.ir.buffers],
            key=lambda t: (t[0], t[1]),
        )
        for _, _, kind, item in declarations:
            statement = {"param": self._param_line, "layer": self._layer_line, "buffer": self._buffer_line}[kind](item)
            comments = [f"# {comment_text(c)}" for c in item.comments if comment_text(c)]
            body.append((item.guard, comments + [statement]))
            if kind in ("layer", "param") and item.name in self.used_attributes and self.exists_by_argument(item.name):
                # forward tests `self.bn is not None`: without the layer (or param), the attribute is None
                absent = f"self.{item.name} = None" if kind == "layer" else \
                    f'self.register_parameter("{item.name}", None)'
                body.append((item.guard[:-1] + (Cond("not", item.guard[-1:]),), [absent]))
        body += self.init_statements()  # `init ...`: once every parameter exists
        lines += self.rank_class_lines()  # `conv_nd = {1: nn.Conv1d, ...}[dimension]`: the layers read them
        # the spec's `if` around layers and params: its comments above it (not above the
        # checks the compiler guards by the same condition)
        lines += self._guarded(body, self.init_name, dict(self.ir.if_comments))
        return lines

    def _let_lines(self, let) -> list[str]:
        """`c = ...`; a let with a power (`exp(d) ** 2`, `2.0 ** depth`) may leave a float's
        range, where Python raises OverflowError: refused as the block's ValueError naming it."""
        line = f"{let.name} = {source_expr(let.source, self.init_name)[0]}"
        if not any(_may_overflow(node) for node in ast.walk(let.source)):
            return [line]
        message = fstring([("text", f"{self.ir.name}: `{let.name}` = {spec_expr(let.source)} is too large for a "
                                    "float")] + self._values_read(let.source))
        return ["try:", f"    {line}", "except OverflowError:", f"    raise ValueError({message}) from None"]

    def _values_read(self, condition, names=None, sizes: set = frozenset()) -> list[tuple[str, str]]:
        """Message parts showing the arguments and lets (and, in forward, the `sizes`) a
        `require` reads, as a hand-written check would: `, with dim = 7, num_heads = 2` (up to
        three of them)."""
        known = {a.name for a in self.ir.args} | {let.name for let in self.ir.lets} | set(sizes)
        read = sorted(ast.names_in(condition) & known)
        if not 1 <= len(read) <= 3:
            return []
        parts: list[tuple[str, str]] = []
        for index, name in enumerate(read):
            parts += [("text", (", with " if index == 0 else ", ") + f"{name} = "),
                      ("code", (names or self.init_name)(name))]
        return parts

    def _attributes(self) -> list[tuple[tuple, list[str]]]:
        """`self.x = x` for what forward reads, in argument order (then lets), like hand-written
        code; a let made under `if` is kept under the same `if` (both branches: no `if`)."""
        from ..lower.expressions import _covering_guard

        attributes = []
        for arg in self.ir.args:
            if arg.name in self.used_attributes and not self.exists_by_argument(arg.name):
                # a list is kept as a tuple of its items now: forward checks against the sizes
                # the module was built with, whatever the caller later does to its list
                value = f"tuple({arg.name})" if arg.type in ("list[int]", "list[str]") else arg.name
                attributes.append(((), [f"self.{self.argument_attribute(arg.name)} = {value}"]))
        seen = set()
        for let in self.ir.lets:
            if let.name in self.used_attributes and let.name not in seen:
                seen.add(let.name)
                guard = _covering_guard([l.guard for l in self.ir.lets if l.name == let.name])
                attributes.append((tuple(guard), [f"self.{let.name} = {let.name}"]))
        return attributes

    def _buffer_line(self, info) -> str:
        """Not persistent unless declared so: a constant of the arguments, it moves with
        `.to()` and stays out of `state_dict` (whose keys stay those of the published module).
        A gather's index is then checked against the axes it picks from."""
        steps, materialized = [], set()
        with self._computing_in_init():
            for step in info.steps:  # `t = ...` before the next step reads it twice, as __init__ would
                # (a step the passes merged with another's equal value is gone: that one is computed)
                if step in self.graph and len(set(self.graph.successors(step))) > 1:
                    steps.append(f"{info.name} = {self.expression(step, materialized)[0]}")
                    self.names[step] = info.name
                    materialized.add(step)
            value = self.expression(info.value, materialized)[0]
        persistent = "" if info.persistent else ", persistent=False"
        return "\n".join(steps + [f'self.register_buffer("{info.name}", {value}{persistent})'] +
                          self._index_checks(info))

    def _index_checks(self, info) -> list[str]:
        """torch wraps a negative index and stops on a large one (a device-side assert on a
        GPU): every value must lie in [0, size) of each axis the buffer gathers along. A module
        built on the meta device (deferred initialisation) has no values to check."""
        if not self.options.runtime_checks:
            return []
        bounds: dict[tuple, tuple[str, bool, tuple]] = {}  # (size, guard) -> (as written, a constant, guard)
        for reader, _ in self._index_readers(info.node):
            table = self.graph.nodes[self.ir.operands(reader)[0]]
            param = next((p for p in self.ir.params if p.name == table["attrs"].get("param")), None)
            for size, axis, guard in self.graph.nodes[reader].get("index_bounds", ()):
                # a size the checker named (`g'`, a broadcast of two) is written out: __init__ has no local for it
                written = source_expr(param.shape_sources[axis], self.init_name)[0] if table["op"] == "param" \
                    else sym.render(self._expand_derived(size), self.init_name, style="python", order=self.order)
                guard = tuple(c for c in guard if c not in info.guard)  # (the buffer's own `if` holds already)
                bounds[(str(size), guard)] = (written, size.is_const, guard)
        buffer = f"self.{info.name}"
        checks = []
        for bound, constant, guard in (bounds[key] for key in sorted(bounds, key=lambda k: (len(k[1]), k[0]))):
            size_part = ("text", bound) if constant else ("code", bound)
            message = fstring([("text", f"{self.ir.name}: the values of buffer `{info.name}` must lie in [0, "),
                               size_part, ("text", ") to gather along its axis, got "),
                               ("code", f"{buffer}.min().item()"), ("text", ".."), ("code", f"{buffer}.max().item()")])
            checks.append((guard, [f"if not {buffer}.is_meta and (({buffer} < 0) | ({buffer} >= {bound})).any():",
                                   f"    raise ValueError({message})"]))
        return self._guarded(checks, self.init_name) if checks else []

    def _index_readers(self, buffer: int) -> list[tuple[int, int]]:
        """(gather, its index node) for each gather, scatter or lookup whose index is the buffer
        or a view of it (`expand(idx, ...)`: the same values)."""
        found, todo, seen = [], [buffer], {buffer}
        while todo:
            node = todo.pop()
            for reader in sorted(set(self.graph.successors(node))):
                op = self.graph.nodes[reader]["op"]
                if op in ("lookup", "gather", "scatter") and self.ir.operands(reader)[1] == node:
                    found.append((reader, node))
                elif op in KEEPS_VALUES and self.ir.operands(reader)[0] == node and reader not in seen:
                    seen.add(reader)
                    todo.append(reader)
        return found

    def _shares_a_buffer(self, node: int) -> bool:
        """Whether the tensor `node` gives is a buffer, or a view of one (not a fresh result)."""
        while self.graph.nodes[node]["op"] in SHARES_STORAGE:
            if self.graph.nodes[node]["op"] == "buffer":
                return True
            node = self.ir.operands(node)[0]
        return False

    @contextmanager
    def _computing_in_init(self):
        """Rendering what __init__ computes from the arguments (a buffer, a param's first value)."""
        self.forward_name = self.init_name  # its sizes are the constructor's own names here
        self.phis_inline = True  # no statements before it: a choice is a conditional expression
        try:
            yield
        finally:
            del self.forward_name
            self.phis_inline = False

    def _param_line(self, param) -> str:
        if param.value is not None:  # `= float(arange(d)) / d`: computed, then made a parameter
            with self._computing_in_init():
                value = self.expression(param.value, set())
            if self._shares_a_buffer(param.value):  # training would write into the buffer too
                value = (f"{self.wrap(value, ATOM)}.clone()", ATOM)
            line = f"self.{param.name} = nn.Parameter({value[0]}{_frozen(param)})"
            return "\n".join([line] + self.inline_initializer(param))
        dims = ", ".join(source_expr(d, self.init_name)[0] for d in param.shape_sources)
        arguments = ", ".join([dims or "()"] + self.factory_keywords())
        line = f"self.{param.name} = nn.Parameter(torch.{param.init}({arguments}){_frozen(param)})"
        return "\n".join([line] + self.inline_initializer(param))

    def _layer_line(self, info: LayerInfo) -> str:
        if info.alias is not None:  # the same module, registered under a second name
            return f"self.{info.name} = self.{info.alias}"
        checks = self._not_in_place(info)
        if info.element is not None:
            element = self.layer_expr(info.element)
            loop_var = info.loop_var if info.loop_var and self._mentions(info.element, info.loop_var) else "_"
            if info.count is not None:  # `[... for i in range(depth)]`: `depth` layers, told apart by i or not
                return "\n".join([f"self.{info.name} = nn.ModuleList([{element} for {loop_var} in "
                                  f"range({self._layer_arg(info.count)})])"] + checks)
            return "\n".join([f"self.{info.name} = nn.ModuleList([{element} for {loop_var} in {info.iterable}])"]
                             + checks)
        if has_loops(info.spec):  # children named in a loop: add_module, one by one, each checked once added
            hazards = kind_in_place_hazards(self.ir, info)
            return "\n".join(self.sequential_lines(f"self.{info.name}", info.spec, hazards))
        return "\n".join([f"self.{info.name} = {self.layer_expr(info.spec)}"] + checks)

    def _not_in_place(self, info: LayerInfo) -> list[str]:
        """A layer the caller's class builds (`act_layer()`) may work in place, given as
        `partial(nn.ReLU, inplace=True)`: where its call's input is read again (`x + act(x)`),
        or autograd keeps what it would write over, writing over it would change what the
        block computes, so such a layer is refused once built (attndsl/inplace.py finds
        them: alone, in a sequential, or in each element of a layer list)."""
        if info.element is None and has_loops(info.spec):  # checked as each child is added
            return []
        lines = []
        for layer, route, reason in kind_in_place_hazards(self.ir, info):
            if info.element is not None:
                test = f'any(getattr(element{module_route(route)}, "inplace", False) for element in self.{info.name})'
            else:
                test = f'getattr(self.{info.name}{module_route(route)}, "inplace", False)'
            lines += in_place_refusal(self.ir.name, layer, test, reason)
        return lines

    def _mentions(self, spec: LayerSpec, var: str) -> bool:
        """Whether a layer list's element reads its loop variable: in a size, a condition
        (`bias=i == 1`) or an argument as the spec wrote it (rendered from its source)."""
        if var in _symbols_of(list(spec.args.values())):
            return True
        if any(source is not None and var in ast.names_in(source) for source in spec.sources.values()):
            return True
        return any(self._mentions(child, var) for _, child in spec.children)

    def layer_expr(self, spec: LayerSpec) -> str:
        if spec.kind_arg is not None:  # `act_layer()`: the class the caller chose
            return self.layer_kind_expr(spec)
        if spec.kind == "sequential":
            if spec.children and spec.children[0][0] is not None:
                self.needs_ordered_dict = True
                items = ", ".join(f"({python_string(name)}, {self.layer_expr(child)})" for name, child in spec.children)
                return f"nn.Sequential(OrderedDict([{items}]))"
            return f"nn.Sequential({', '.join(self.layer_expr(child) for _, child in spec.children)})"
        if spec.kind == "list":  # an element of a layer list that is a list itself
            return f"nn.ModuleList([{', '.join(self.layer_expr(child) for _, child in spec.children)}])"
        if spec.kind == "block":
            args = [f"{name}={self._layer_arg(value, spec.sources.get(name))}" for name, value in spec.args.items()]
            callee = self.blocks.get(spec.block)
            if callee is not None:  # its `device` and `dtype` are this block's
                args += [f"{name}={self.ir.factory[kind]}" for kind, name in callee.factory.items()
                         if kind in self.ir.factory]
            return f"{spec.block}({', '.join(args)})"
        definition = LAYERS[spec.kind]
        cls = self.rank_class(spec) if spec.rank_arg is not None else f"nn.{definition.torch_class}"
        positional = [self._layer_arg(spec.args[name], spec.sources.get(name)) for name in spec.positional]
        keywords = []
        for param in definition.params:
            if param.name in spec.positional:
                continue
            value = spec.args.get(param.name)
            if not param.required and _is_default(value, param.default):
                continue
            keywords.append(f"{param.name}={self._layer_arg(value, spec.sources.get(param.name))}")
        keywords += self.factory_keywords() if takes_factory(spec.kind) else []
        return f"{cls}({', '.join(positional + keywords)})"

    def buffer_factory(self, integer: bool) -> list[str]:
        """`device=device, dtype=dtype` for a tensor a buffer makes (an integer one takes the
        device alone): the block's factory arguments, where it has them."""
        return [keyword for keyword in self.factory_keywords() if not (integer and keyword.startswith("dtype="))]

    def buffer_dtype(self) -> str:
        """The floating-point dtype a buffer computes in: the block's `dtype` where it has one
        and it is given, else the default (`.to()` and `.double()` then move it with the module)."""
        default = "torch.get_default_dtype()"
        dtype = self.ir.factory.get("dtype")
        return default if dtype is None else f"{default} if {dtype} is None else {dtype}"

    def factory_keywords(self) -> list[str]:
        """`device=device, dtype=dtype`: the block's factory arguments, for a layer or param that takes them."""
        return [f"{kind}={self.ir.factory[kind]}" for kind in ("device", "dtype") if kind in self.ir.factory]

    def rank_class(self, spec: LayerSpec) -> str:
        """`conv{dimension}d`: a local naming the class of the block's rank (`conv_nd`), made
        once before the layers (`rank_class_lines`)."""
        kinds = list(spec.alternatives)
        classes = tuple(layer_class(kind) for kind in kinds)
        key = (spec.rank_arg, classes)
        if key not in self.rank_classes:
            first = kinds[0]
            stem = first[:first.index(str(self.ir.rank_args[spec.rank_arg][0]))].rstrip("_") + "_nd"
            taken = self.arg_names | self.let_names | {name for name, _ in self.rank_classes.values()}
            name = stem
            while name in taken:
                name += "_"
            self.rank_classes[key] = (name, classes)
        return self.rank_classes[key][0]

    def rank_class_lines(self) -> list[str]:
        lines = []
        for (arg, _), (name, classes) in self.rank_classes.items():
            table = ", ".join(f"{rank}: {cls}" for rank, cls in zip(self.ir.rank_args[arg], classes))
            lines.append(f"{name} = {{{table}}}[{arg}]")
        return lines

    def _layer_arg(self, value, source=None) -> str:
        if isinstance(value, LayerKind):  # `Mlp(d, act_layer=relu)`: the class
            return layer_class(value.kind)
        if isinstance(value, LayerKindArg):  # passed on: the class this block was given
            return value.name
        if isinstance(value, tuple) and hasattr(source, "items"):
            # One size per spatial dim: a tuple, as torch's modules hold and print it.
            items = [source_expr(item, self.init_name)[0] for item in source.items]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if source is not None:
            return source_expr(source, self.init_name)[0]
        if isinstance(value, Expr):
            return sym.render(value, self.init_name, style="float" if value.symbols() & self.float_symbols or
                              (value.is_const and value.value.denominator != 1) else "python")
        if isinstance(value, Cond):
            return self.condition(value, self.init_name)
        if value is None:
            return "None"
        if isinstance(value, str):
            return python_string(value)
        if isinstance(value, (int, float)):
            return repr(value)
        if hasattr(value, "name"):  # a list argument
            return value.name
        raise InternalError(f"cannot render layer argument {value!r}")


def _may_overflow(node) -> bool:
    """A power whose float result may leave a float's range. `d ** -0.5`, `x ** 0.5`, `x ** 1`
    cannot for a base in a float's range (a negative exponent below -0.5 can, of a tiny base:
    `1e-320 ** -1`), and are left as they are: scales are written so."""
    if not (isinstance(node, ast.BinOp) and node.op == "**"):
        return False
    exponent, sign = node.right, 1
    if isinstance(exponent, ast.UnaryOp) and exponent.op == "-":
        exponent, sign = exponent.operand, -1
    return not (isinstance(exponent, ast.Number) and -0.5 <= sign * float(exponent.text) <= 1)


def _common_guard(guards: list[tuple]) -> tuple:
    """The conditions every guard starts with: those of the `if`s around a conditional `let`."""
    common = list(guards[0])
    for guard in guards[1:]:
        length = 0
        while length < min(len(common), len(guard)) and common[length] == guard[length]:
            length += 1
        common = common[:length]
    return tuple(common)


def _frozen(param) -> str:
    return ", requires_grad=False" if param.frozen else ""
