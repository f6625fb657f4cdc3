"""AST → IR. Resolves names, evaluates constructor-argument arithmetic symbolically,
binds op and layer arguments against their registries, and builds one dataflow graph
per block. Knows nothing of torch or Jinja; shapes are computed later (attndsl.shapes).
"""

from __future__ import annotations

import difflib
import math
import keyword
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import symbolic as sym
from . import syntax as ast
from .diagnostics import Abort, DiagnosticSink, Span
from .ir import ArgInfo, BlockIR, CheckInfo, Cond, Guard, InputInfo, LayerInfo, LayerSpec, LetInfo, ParamInfo
from .layers import LAYERS
from .ops import OPS, OpDef
from .rearrange import PatternError, parse_pattern
from .symbolic import Expr

ARG_TYPES = ("int", "float", "bool", "list[int]")
PARAM_INITS = ("zeros", "ones", "randn")
SCALAR_FUNCTIONS = ("max", "min", "sqrt")
# Names that generated code relies on; a spec may not rebind them (issue: injection-safe output).
MAX_COUNT = 1024  # pieces of a chunk
MAX_SCALAR = 2**63  # a whole number combined with a tensor is a Python int: torch takes 64 bits
RESERVED = {"self", "torch", "nn", "F", "OrderedDict", "super", "forward", "None", "True", "False", "inf",
            # builtins the generated code calls
            "len", "max", "min", "all", "float", "int", "getattr", "ValueError"}
# Arguments, params and layers become attributes of the nn.Module: they may not replace
# what nn.Module itself keeps there (`self.training = ...` would break train/eval).
MODULE_ATTRIBUTES = {
    "training", "forward", "parameters", "named_parameters", "buffers", "named_buffers", "children",
    "named_children", "modules", "named_modules", "state_dict", "load_state_dict", "to", "cuda", "cpu", "xpu",
    "ipu", "mtia", "type", "float", "double", "half", "bfloat16", "to_empty", "train", "eval", "zero_grad",
    "requires_grad_", "apply", "register_buffer", "register_parameter", "register_module", "add_module",
    "register_forward_hook", "register_forward_pre_hook", "register_backward_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_state_dict_pre_hook",
    "register_load_state_dict_post_hook", "get_submodule", "get_parameter", "get_buffer", "get_extra_state",
    "set_extra_state", "extra_repr", "share_memory", "compile", "dump_patches", "call_super_init",
    "T_destination", "set_submodule",
}


# ---------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Tensor:
    node: int


@dataclass(frozen=True)
class TensorList:
    node: int


@dataclass(frozen=True)
class ListArg:
    """A `list[int]` constructor argument (its length and elements are run-time values)."""

    name: str


@dataclass(frozen=True)
class LayerRef:
    info: LayerInfo
    path: tuple[str, ...] = ()  # child names inside a sequential


@dataclass(frozen=True)
class LayerElement:
    """The loop variable of `[f(x) for conv in convs]`: one element of a layer list."""

    var: str
    info: LayerInfo


@dataclass(frozen=True)
class Literal:
    """A float that is not a finite rational (inf)."""

    value: float


Value = Any  # Tensor | TensorList | Expr | Cond | str | list | LayerRef | LayerElement | Literal | None


def suggest(name: str, candidates) -> str | None:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


class BlockLowering:
    def __init__(self, block: ast.Block, path: str, sink: DiagnosticSink, known_blocks: dict[str, ast.Block]):
        self.block = block
        self.sink = sink
        self.known_blocks = known_blocks
        self.ir = BlockIR(block.name, block.doc, block.comments, [], span=block.span, path=path)
        self.scope: dict[str, tuple[str, Any, Span]] = {}
        self.guard: list[Cond] = []
        self.float_symbols: set[str] = set()
        self.list_element_facts: dict[str, list[tuple[int, int]]] = {}  # list arg -> [(modulus, remainder)]
        self.param_nodes: dict[str, int] = {}
        self.returned = False

    # ------------------------------------------------------------------ diagnostics
    def error(self, code: str, message: str, span: Span, *, help=None, labels=()) -> Abort:
        self.sink.error(code, message, span, help=help, labels=labels)
        return Abort()

    # ------------------------------------------------------------------ entry
    def lower(self) -> BlockIR | None:
        with_default = None
        for arg in self.block.args:
            if arg.default is not None:
                with_default = arg
            elif with_default is not None:
                # The generated __init__ would be a SyntaxError, as in Python.
                self.error("E0111", f"argument `{arg.name}` has no default but follows `{with_default.name}`, "
                           "which has one", arg.span, help="arguments with defaults come last")
            self._declare_arg(arg)
        self._suite(self.block.body)
        self._check_examples()
        if not self.ir.outputs and not self.sink.has_errors:
            self.error("E0116", f"block {self.block.name} has no `return`", self.block.span,
                       help="end the block with `return <expr>`")
        return self.ir

    def _bind(self, name: str, kind: str, value, span: Span) -> None:
        # `_` is the generated code's placeholder for unused sizes (`_, c, h, w = x.shape`).
        if name in RESERVED or keyword.iskeyword(name) or name.startswith("__") or name == "_":
            raise self.error("E0105", f"`{name}` is reserved and cannot name a value", span,
                             help=f"rename it, e.g. `{name.strip('_')}_`")
        if kind in ("arg", "let") and name in self.known_blocks:
            # __init__ builds sub-blocks by class name: a local of that name would shadow it.
            raise self.error("E0105", f"`{name}` names a block of this file and cannot name a value", span,
                             help=f"rename it, e.g. `{name[:1].lower()}{name[1:]}_`")
        if kind in ("arg", "param", "layer", "let") and (name in MODULE_ATTRIBUTES or name.startswith("_")):
            raise self.error("E0105", f"`{name}` would replace an attribute nn.Module relies on", span,
                             help=f"rename it, e.g. `{name.strip('_')}_`")
        previous = self.scope.get(name)
        if previous and previous[0] != "poison" and kind not in ("tensor", "scalar"):
            raise self.error("E0103", f"`{name}` is already defined", span,
                             labels=[_label(previous[2], "first defined here")])
        if previous and previous[0] in ("arg", "param", "layer", "input_opt", "let", "dim") and kind in ("tensor", "scalar"):
            raise self.error("E0103", f"`{name}` already names a {previous[0]}; pick another name", span,
                             labels=[_label(previous[2], "defined here")])
        self.scope[name] = (kind, value, span)

    def _check_loop_var(self, name: str, span: Span) -> None:
        """A comprehension's variable is written into the generated code as it is named."""
        if name in RESERVED or keyword.iskeyword(name) or name.startswith("__") or name == "_" or \
                name in self.known_blocks:
            raise self.error("E0105", f"`{name}` is reserved and cannot name a loop variable", span,
                             help=f"rename it, e.g. `{name.strip('_')}_`")

    def _declare_arg(self, arg: ast.Arg) -> None:
        if arg.type not in ARG_TYPES:
            self.error("E0111", f"unknown argument type `{arg.type}`", arg.span,
                       help="argument types are int, float, bool and list[int]")
            return
        default = None
        if arg.default is not None:
            try:
                default = self._literal_default(arg)
            except Abort:
                return
        info = ArgInfo(arg.name, arg.type, default, arg.span, arg.default is None)
        self.ir.args.append(info)
        if arg.type in ("int", "float"):
            value: Value = Expr.symbol(arg.name)
            if arg.type == "float":
                self.float_symbols.add(arg.name)
        elif arg.type == "bool":
            value = Cond("arg", (arg.name,))
        else:
            value = ListArg(arg.name)
        try:
            self._bind(arg.name, "arg", value, arg.span)
        except Abort:
            pass

    def _literal_default(self, arg: ast.Arg):
        node = arg.default

        def number(n):
            if isinstance(n, ast.UnaryOp) and n.op == "-" and isinstance(n.operand, ast.Number):
                return -self._number(n.operand)
            if isinstance(n, ast.Number):
                return self._number(n)
            raise self.error("E0111", f"the default of `{arg.name}` must be a literal", n.span)

        if arg.type == "bool":
            if not isinstance(node, ast.Bool):
                raise self.error("E0111", f"the default of bool argument `{arg.name}` must be true or false", node.span)
            return node.value
        if arg.type == "list[int]":
            if not isinstance(node, ast.ListExpr):
                raise self.error("E0111", f"the default of `{arg.name}` must be a list like [1, 3]", node.span)
            values = [number(item) for item in node.items]
            if any(not isinstance(v, int) for v in values):
                raise self.error("E0111", f"the default of `{arg.name}` must be a list of ints", node.span)
            return values
        value = number(node)
        if arg.type == "int" and not isinstance(value, int):
            raise self.error("E0111", f"the default of int argument `{arg.name}` must be an int, got {value}",
                             node.span)
        return float(value) if arg.type == "float" else value

    # ------------------------------------------------------------------ statements
    def _statement(self, stmt: ast.Stmt) -> None:
        handler = getattr(self, "_stmt_" + type(stmt).__name__)
        handler(stmt)

    def _stmt_Input(self, stmt: ast.Input) -> None:
        if self.guard:
            raise self.error("E0116", "inputs cannot be declared inside `if`", stmt.span)
        optional = next((i for i in self.ir.inputs if i.optional), None)
        if optional is not None and not stmt.optional:
            # forward(self, mask=None, x) would be a SyntaxError, as in Python.
            raise self.error("E0116", f"input `{stmt.name}` is required but follows the optional input "
                             f"`{optional.name}`", stmt.span, help="declare the optional inputs last")
        shape = []
        for axis, dim in enumerate(stmt.shape):
            if isinstance(dim, ast.Name) and dim.id not in self.scope:
                # A new dimension symbol, bound by this input's size at run time. An
                # optional input's new dims are only named: they may broadcast, and
                # the generated code never reads them.
                symbol = Expr.symbol(dim.id)
                self._bind(dim.id, "dim", symbol, dim.span)
                if stmt.optional:
                    self.ir.optional_dims.add(dim.id)
                else:
                    self.ir.dim_origin[dim.id] = (stmt.name, axis)
                shape.append(symbol)
            else:
                shape.append(self._dim(dim))
        if stmt.name in self.scope:
            raise self.error("E0103", f"`{stmt.name}` is already defined", stmt.span,
                             labels=[_label(self.scope[stmt.name][2], "first defined here")])
        node = self.ir.add_node("input", [], span=stmt.span, input=stmt.name, optional=stmt.optional)
        self.ir.inputs.append(InputInfo(stmt.name, shape, stmt.optional, stmt.span, node))
        self._bind(stmt.name, "input_opt" if stmt.optional else "tensor", Tensor(node), stmt.span)
        self.ir.graph.nodes[node]["name"] = stmt.name

    def _stmt_Param(self, stmt: ast.Param) -> None:
        shape = [self._dim(d) for d in stmt.shape]
        init = stmt.init
        if not (isinstance(init, ast.Name) and init.id in PARAM_INITS):
            raise self.error("E0114", "a param is initialised with zeros, ones or randn", init.span,
                             help=suggest(getattr(init, "id", ""), PARAM_INITS))
        self._built_in_init(stmt.span, f"the shape of param `{stmt.name}`", shape)
        for node, dim in zip(stmt.shape, shape):
            self._require_whole(node, dim, f"a dimension of param `{stmt.name}`", "E0205")
        info = ParamInfo(stmt.name, shape, init.id, tuple(self.guard), stmt.span, stmt.comments, list(stmt.shape))
        self.ir.params.append(info)
        self._bind(stmt.name, "param", info, stmt.span)

    def _stmt_Layer(self, stmt: ast.Layer) -> None:
        value = stmt.value
        if isinstance(value, ast.ListComp):
            iterable = self._expr(value.iterable)
            if not isinstance(iterable, ListArg):
                raise self.error("E0113", "a layer list loops over a list[int] argument", value.iterable.span)
            saved = self.scope.get(value.var)
            self._check_loop_var(value.var, value.var_span)
            shadowed = self.scope.get(value.var)
            if shadowed is not None and shadowed[0] in ("arg", "let", "dim", "loopvar", "scalar"):
                # Its sizes would be one symbol with the hidden name's: shapes would seem to agree.
                raise self.error("E0103", f"`{value.var}` is already defined; the loop variable would hide it",
                                 value.var_span, labels=[_label(shadowed[2], "defined here")])
            self.scope[value.var] = ("loopvar", Expr.symbol(value.var), value.var_span)
            try:
                element = self._layer_spec(value.element)
            finally:
                if saved is None:
                    self.scope.pop(value.var, None)
                else:
                    self.scope[value.var] = saved
            info = LayerInfo(stmt.name, None, tuple(self.guard), stmt.span, stmt.comments, element=element,
                             loop_var=value.var, iterable=iterable.name)
        else:
            info = LayerInfo(stmt.name, self._layer_spec(value), tuple(self.guard), stmt.span, stmt.comments)
        self._built_in_init(stmt.value.span, f"the arguments of layer `{stmt.name}`", info.spec, info.element)
        self.ir.layers.append(info)
        self._bind(stmt.name, "layer", info, stmt.span)

    def _stmt_Let(self, stmt: ast.Let) -> None:
        value = self._expr(stmt.value)
        if not isinstance(value, Expr):
            raise self.error("E0113", "`let` binds a number computed from the arguments", stmt.value.span)
        self._built_in_init(stmt.value.span, "a `let`", value)
        # Bound first: a `let` that redefines a name (`let d = max(L, channel // d)` with an
        # argument `d`) must not reach ir.lets, where it would refer to itself.
        self._bind(stmt.name, "let", Expr.symbol(stmt.name), stmt.span)
        self.ir.lets.append(LetInfo(stmt.name, value, stmt.span, tuple(self.guard), stmt.value))

    def _stmt_Require(self, stmt: ast.Require) -> None:
        condition = self._condition(stmt.condition)
        self._built_in_init(stmt.condition.span, "a `require`", condition)
        message = stmt.message or "a `require` of the spec does not hold"
        self.ir.requires.append(CheckInfo(condition, message, stmt.span, "init", tuple(self.guard), stmt.condition))
        self._learn(condition)

    def _built_in_init(self, span: Span, what: str, *values) -> None:
        """Layers, params, lets and requires are made in __init__, before any input is seen:
        they (and the `if`s around them) may use arguments, not the sizes of inputs."""
        dims = set(self.ir.dim_origin) | set(self.ir.optional_dims)
        found = sorted(_symbols_of(list(values)) & dims)
        if found:
            raise self.error("E0113", f"{what} must be known when the module is built, but `{found[0]}` is the size "
                             "of an input, known only when it is called", span,
                             help="use a constructor argument instead; the shape checker ties it to the input")
        found = sorted(_symbols_of(list(self.guard)) & dims)
        if found:
            raise self.error("E0113", f"{what} must be known when the module is built, but the `if` around it "
                             f"tests `{found[0]}`, the size of an input", span,
                             help="test constructor arguments only around layers, params, lets and requires")

    def _learn(self, condition: Cond) -> None:
        """Turn `k % m == r` requirements into facts the shape checker can use."""
        if condition.op == "all_elems":
            list_name, var, inner = condition.args
            if inner.op == "cmp" and inner.args[0] == "==":
                _, left, right = inner.args
                fact = _mod_fact(left, right, var)
                if fact:
                    self.list_element_facts.setdefault(list_name, []).append(fact)
        elif condition.op == "cmp" and condition.args[0] == "==":
            _, left, right = condition.args
            for name in left.symbols():
                fact = _mod_fact(left, right, name)
                if fact:
                    self.list_element_facts.setdefault("=" + name, []).append(fact)
        elif condition.op == "and":
            for part in condition.args:
                self._learn(part)

    def _stmt_Example(self, stmt: ast.Example) -> None:
        example = {}
        for kw in stmt.kwargs:
            if kw.name in example:
                raise self.error("E0112", f"`{kw.name}` is given twice", kw.span)
            example[kw.name] = self._example_value(kw.value)
        self.ir.examples.append(example)
        self._example_stmts = getattr(self, "_example_stmts", []) + [(stmt, example)]

    def _check_examples(self) -> None:
        """An example names every required argument and input, and nothing else, with values
        of the right kind: it is what tests and readers instantiate and run."""
        args = {a.name: a for a in self.ir.args}
        inputs = {i.name: i for i in self.ir.inputs}
        for stmt, example in getattr(self, "_example_stmts", []):
            for kw in stmt.kwargs:
                value = example.get(kw.name)
                if kw.name in inputs:
                    if not (isinstance(value, list) and all(type(v) is int and v >= 0 for v in value)):
                        self.error("E0113", f"the example of input `{kw.name}` is its shape, a list of sizes",
                                   kw.value.span, help=f"e.g. {kw.name}=[2, 64, 7, 7]")
                elif kw.name in args:
                    kind = args[kw.name].type
                    ok = {"int": lambda v: type(v) is int, "float": lambda v: type(v) in (int, float),
                          "bool": lambda v: type(v) is bool,
                          "list[int]": lambda v: isinstance(v, list) and all(type(i) is int for i in v)}[kind]
                    if not ok(value):
                        self.error("E0113", f"the example gives `{kw.name}` a value that is not a {kind}",
                                   kw.value.span)
                else:
                    self.error("E0112", f"the example names `{kw.name}`, which is neither an argument nor an "
                               f"input of block {self.block.name}", kw.span,
                               help=suggest(kw.name, list(args) + list(inputs)))
            missing = [a.name for a in self.ir.args if a.required and a.name not in example]
            missing += [i.name for i in self.ir.inputs if not i.optional and i.name not in example]
            if missing:
                self.error("E0112", f"the example does not give {', '.join(f'`{m}`' for m in missing)}",
                           stmt.span, help="an example gives every required argument and every input")

    def _example_value(self, node):
        if isinstance(node, ast.ListExpr):
            return [self._example_value(item) for item in node.items]
        if isinstance(node, ast.Number):
            return self._number(node)
        if isinstance(node, ast.UnaryOp) and node.op == "-" and isinstance(node.operand, ast.Number):
            return -self._number(node.operand)
        if isinstance(node, ast.Bool):
            return node.value
        raise self.error("E0113", "example values are numbers, booleans or lists of them", node.span)

    def _stmt_Assign(self, stmt: ast.Assign) -> None:
        value = self._expr(stmt.value)
        names = stmt.targets
        if len(names) > 1:
            if not (isinstance(value, tuple) and len(value) == len(names)):
                count = len(value) if isinstance(value, tuple) else 1
                raise self.error("E0118", f"{len(names)} names on the left but the right side gives {count} value(s)",
                                 stmt.span)
            values = value
        else:
            if isinstance(value, tuple):
                raise self.error("E0118", f"the right side gives {len(value)} values; unpack them into as many names",
                                 stmt.span)
            values = (value,)
        for (name, span), item in zip(names, values):
            if isinstance(item, (Tensor, TensorList)):
                self._bind(name, "tensor", item, span)
                attrs = self.ir.graph.nodes[item.node]
                attrs.setdefault("var_names", []).append(name)
                if attrs["name"] is None and attrs["op"] not in ("input",):
                    attrs["name"] = name
                if not attrs["comments"]:
                    attrs["comments"] = list(stmt.comments)
            elif isinstance(item, Expr):
                self._bind(name, "scalar", item, span)
            else:
                raise self.error("E0113", "only tensors and numbers can be assigned in the dataflow", stmt.value.span)

    def _stmt_Return(self, stmt: ast.Return) -> None:
        if self.guard:
            raise self.error("E0116", "`return` cannot be inside `if`; assign in both branches and return after",
                             stmt.span)
        outputs = []
        for value_node in stmt.values:
            value = self._expr(value_node)
            if not isinstance(value, Tensor):
                raise self.error("E0113", "a block returns tensors", value_node.span)
            outputs.append(value.node)
        if len(outputs) == 1 and not self.ir.graph.nodes[outputs[0]]["comments"]:
            self.ir.graph.nodes[outputs[0]]["comments"] = list(stmt.comments)
        self.ir.outputs = outputs
        self.returned = True

    def _stmt_If(self, stmt: ast.If) -> None:
        condition = self._condition(stmt.condition, allow_presence=True)
        if condition.op == "const":
            for inner in stmt.body if condition.args[0] else stmt.orelse:
                self._statement(inner)
            return
        before = dict(self.scope)
        self.guard.append(condition)
        try:
            self._suite(stmt.body)
        finally:
            self.guard.pop()
        after_then = self.scope
        self.scope = dict(before)
        self.guard.append(_negate(condition))
        try:
            self._suite(stmt.orelse)
        finally:
            self.guard.pop()
        after_else = self.scope
        self.scope = dict(before)
        self._merge(before, after_then, after_else, condition, stmt.span)

    def _suite(self, stmts: list[ast.Stmt]) -> None:
        for inner in stmts:
            try:
                self._statement(inner)
            except Abort:
                self._poison(inner)

    def _poison(self, stmt: ast.Stmt) -> None:
        """Names a failed statement defines are poisoned: later uses stay silent, so
        one mistake gives one error, not a cascade of unknown names."""
        names = [name for name, _ in stmt.targets] if isinstance(stmt, ast.Assign) else \
            [stmt.name] if isinstance(stmt, (ast.Input, ast.Param, ast.Layer, ast.Let)) else []
        for name in names:
            if self.scope.get(name, ("",))[0] != "arg":
                self.scope[name] = ("poison", None, stmt.span)

    def _merge(self, before, after_then, after_else, condition: Cond, span: Span) -> None:
        for name in sorted(set(after_then) | set(after_else)):
            then_value, else_value = after_then.get(name), after_else.get(name)
            if then_value == else_value:
                if then_value is not None:
                    self.scope[name] = then_value
                continue
            if then_value is None or else_value is None:
                defined = then_value or else_value
                if defined[0] in ("param", "layer", "let"):
                    self.scope[name] = defined  # declarations keep their guard
                    continue
                # Defined on one path only: using it later is an error (see _name).
                self.scope[name] = ("branch_only", (condition, then_value is not None), defined[2])
                continue
            if then_value[0] != "tensor" or else_value[0] != "tensor":
                self.scope[name] = then_value if then_value[0] in ("param", "layer", "let") else ("branch_only", (condition, True), then_value[2])
                continue
            node = self.ir.add_node("phi", [then_value[1].node, else_value[1].node], span=span,
                                    guard=tuple(self.guard), condition=condition)
            self.ir.graph.nodes[node]["name"] = name
            self.scope[name] = ("tensor", Tensor(node), then_value[2])

    # ------------------------------------------------------------------ layers
    def _layer_spec(self, node: ast.Node) -> LayerSpec:
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            raise self.error("E0113", "a layer is built by calling a layer kind, e.g. linear(d_model, d_k)", node.span)
        kind = node.func.id
        if kind == "sequential":
            if node.args and node.kwargs:
                raise self.error("E0113", "sequential takes either positional or named children, not both", node.span)
            children = [(None, self._layer_spec(a)) for a in node.args]
            children += [(kw.name, self._layer_spec(kw.value)) for kw in node.kwargs]
            for name, _ in children:
                if name is not None and (not name.isidentifier() or name.startswith("_")
                                         or name in MODULE_ATTRIBUTES):
                    # nn.Sequential sets them as attributes: `float=...` clashes with Module.float.
                    raise self.error("E0105" if name in MODULE_ATTRIBUTES else "E0113",
                                     f"`{name}` cannot name a child layer", node.span)
            return LayerSpec("sequential", {}, [], children, span=node.span)
        if kind in self.known_blocks:
            if kind == self.block.name:
                raise self.error("E0104", f"block {kind} uses itself as a layer", node.func.span,
                                 help="a block cannot contain itself")
            target = self.known_blocks[kind]
            bound, sources = self._bind_call([(a.name, a.type, a.default is not None) for a in target.args], node, kind)
            self.ir.uses_blocks.append(kind)
            return LayerSpec("block", bound, [], block=kind, span=node.span, sources=sources)
        definition = LAYERS.get(kind)
        if definition is None:
            raise self.error("E0102", f"unknown layer kind `{kind}`", node.func.span,
                             help=suggest(kind, list(LAYERS) + ["sequential"] + list(self.known_blocks)))
        params = [(p.name, p.kind, not p.required) for p in definition.params]
        bound, sources = self._bind_call(params, node, kind)
        for p in definition.params:
            if p.name not in bound:
                bound[p.name] = _default_value(p)
        positional_count = len(node.args)
        return LayerSpec(kind, bound, [p.name for p in definition.params[:positional_count]], span=node.span,
                         sources=sources)

    def _bind_call(self, params, call: ast.Call, what: str) -> tuple[dict[str, Any], dict[str, ast.Node]]:
        """Bind positional and keyword arguments to a signature: values, and the AST as written."""
        names = [p[0] for p in params]
        bound: dict[str, Any] = {}
        sources: dict[str, ast.Node] = {}
        if len(call.args) > len(params):
            raise self.error("E0112", f"{what} takes at most {len(params)} positional arguments, got {len(call.args)}",
                             call.args[len(params)].span)
        for (name, kind, _), arg in zip(params, call.args):
            bound[name] = self._argument(arg, kind, name)
            sources[name] = arg
        for kw in call.kwargs:
            if kw.name not in names:
                raise self.error("E0112", f"{what} has no argument `{kw.name}`", kw.span,
                                 help=suggest(kw.name, names) or f"its arguments are {', '.join(names)}")
            if kw.name in bound:
                raise self.error("E0112", f"argument `{kw.name}` given twice", kw.span)
            kind = next(p[1] for p in params if p[0] == kw.name)
            bound[kw.name] = self._argument(kw.value, kind, kw.name)
            sources[kw.name] = kw.value
        for name, kind, optional in params:
            if name not in bound and not optional:
                raise self.error("E0112", f"{what} needs argument `{name}`", call.span)
        return bound, sources

    def _argument(self, node: ast.Node, kind: str, name: str):
        value = self._expr(node)
        if kind in ("int", "padding") and isinstance(value, Expr):
            self._require_whole(node, value, f"`{name}`")
        if kind in ("int", "float", "list[int]") and isinstance(value, Expr):
            return value
        if kind == "list[int]" and isinstance(value, ListArg):
            return value
        if kind == "padding" and (isinstance(value, Expr) or value == "same"):
            return value
        if kind == "bool" and isinstance(value, Cond):
            return value
        if kind == "axis" and isinstance(value, Expr) and value.is_const and value.value.denominator == 1:
            return int(value.value)
        if kind == "float" and isinstance(value, Literal):
            return value
        if kind in ("int", "float", "bool", "axis", "padding") and value is None and node is not None and isinstance(node, ast.NoneLit):
            return None
        expected = {"int": "an integer", "float": "a number", "bool": "true or false", "axis": "a constant axis",
                    "padding": "an integer or \"same\"", "list[int]": "a list argument"}.get(kind, kind)
        raise self.error("E0113", f"`{name}` must be {expected}", node.span)

    def _require_whole(self, node: ast.Node, value: Expr, what: str, code: str = "E0113") -> None:
        """A size rendered into __init__ (a param's shape, a layer's int argument) is passed to
        torch as written: it must be a Python int, not `64.0`, `c / 2` or a float argument."""
        if code == "E0205" and value.is_const and (value.value.denominator != 1 or value.value < 0):
            return  # the shape checker reports the value (E0205)
        culprit = _float_source(node)
        if culprit is not None:
            raise self.error(code, f"{what} must be a whole number, and this is a float in Python", culprit.span,
                             help="use `//` for integer division" if isinstance(culprit, ast.BinOp)
                             else "write the number without a decimal point or exponent")
        lets = {let.name: let.value for let in self.ir.lets}
        expanded = value
        for _ in range(8):
            if not expanded.symbols() & set(lets):
                break
            expanded = sym.substitute(expanded, lets)
        floats = sorted(expanded.symbols() & self.float_symbols)
        if floats:
            raise self.error(code, f"{what} must be a whole number, but `{floats[0]}` is a float argument",
                             node.span)
        if any(c.denominator != 1 for c in expanded.terms.values()) or any(
                e < 0 or not isinstance(f, str) and f.op == "sqrt" for m in expanded.terms for f, e in m):
            raise self.error(code, f"{what} must be a whole number, and {value} may not be one", node.span,
                             help="use `//` for integer division")

    # ------------------------------------------------------------------ expressions
    def _dim(self, node: ast.Node) -> Expr:
        value = self._expr(node)
        if not isinstance(value, Expr):
            raise self.error("E0113", "a dimension must be an integer expression", node.span)
        if any(s in self.float_symbols for s in value.symbols()):
            raise self.error("E0113", "a dimension cannot depend on a float argument", node.span)
        return value

    def _condition(self, node: ast.Node, allow_presence: bool = False) -> Cond:
        if allow_presence and isinstance(node, ast.Name) and self.scope.get(node.id, ("",))[0] == "input_opt":
            return Cond("present", (node.id,))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "all":
            comp = node.args[0] if len(node.args) == 1 else None
            if not isinstance(comp, ast.ListComp):
                raise self.error("E0113", "all() takes a list comprehension, e.g. all([k % 2 == 1 for k in kernels])",
                                 node.span)
            iterable = self._expr(comp.iterable)
            if not isinstance(iterable, ListArg):
                raise self.error("E0113", "all() loops over a list[int] argument", comp.iterable.span)
            saved = self.scope.get(comp.var)
            self._check_loop_var(comp.var, comp.var_span)
            self.scope[comp.var] = ("loopvar", Expr.symbol(comp.var), comp.var_span)
            try:
                inner = self._condition(comp.element)
            finally:
                if saved is None:
                    self.scope.pop(comp.var, None)
                else:
                    self.scope[comp.var] = saved
            return Cond("all_elems", (iterable.name, comp.var, inner))
        value = self._expr(node)
        if isinstance(value, Cond):
            return value
        raise self.error("E0113", "a condition must be a comparison or a bool argument", node.span)

    def _expr(self, node: ast.Node) -> Value:
        method = getattr(self, "_expr_" + type(node).__name__, None)
        if method is None:
            raise self.error("E0113", f"{type(node).__name__.lower()} expressions are not supported here", node.span)
        return method(node)

    def _number(self, node: ast.Number, exact: bool = False):
        try:
            return _number_value(node, exact)
        except _NumberTooLarge:
            raise self.error("E0119", f"{node.text} is too large for a number", node.span)

    def _expr_Number(self, node: ast.Number) -> Expr:
        return Expr.const(self._number(node, exact=True))

    def _expr_String(self, node: ast.String) -> str:
        return node.value

    def _expr_Bool(self, node: ast.Bool) -> Cond:
        return Cond.const(node.value)

    def _expr_NoneLit(self, node) -> None:
        return None

    def _expr_Name(self, node: ast.Name) -> Value:
        if node.id == "inf":
            return Literal(float("inf"))
        entry = self.scope.get(node.id)
        if entry is None:
            if node.id in OPS or node.id in LAYERS:
                raise self.error("E0102", f"`{node.id}` is a function; call it", node.span)
            raise self.error("E0101", f"unknown name `{node.id}`", node.span,
                             help=suggest(node.id, list(self.scope)))
        kind, value, span = entry
        if kind == "poison":
            raise Abort()
        if kind == "branch_only":
            condition, in_then = value
            raise self.error("E0106", f"`{node.id}` is only defined on one branch of an `if`", node.span,
                             labels=[_label(span, "assigned here")],
                             help="assign it in both branches (add an `else:`)")
        if kind in ("param", "layer"):
            self._check_declared_here(node, kind, value.guard, span)
        elif kind == "let":
            let = next((l for l in self.ir.lets if l.name == node.id), None)
            if let is not None:
                self._check_declared_here(node, kind, let.guard, span)
        if kind == "param":
            return Tensor(self._param_node(value, node.span))
        if kind == "layer":
            return LayerRef(value)
        if kind == "input_opt":
            if Cond("present", (node.id,)) not in self.guard:
                raise self.error("E0106", f"`{node.id}` is an optional input: it may be None here", node.span,
                                 labels=[_label(span, "declared optional here")],
                                 help=f"use it inside `if {node.id}:`")
            return value
        if kind in ("tensor",):
            return value
        if kind == "layer_element":
            return value
        return value

    def _check_declared_here(self, node: ast.Name, kind: str, guard, span: Span) -> None:
        """A layer, param or let declared under `if` exists only under that condition: a use
        must be inside the same `if` (else `self.<name>` is missing when the module runs)."""
        missing = [c for c in guard if c not in self.guard]
        if missing:
            raise self.error("E0106", f"{kind} `{node.id}` is declared under an `if` that does not enclose this use",
                             node.span, labels=[_label(span, "declared here")],
                             help="use it under the same condition as its declaration")

    def _param_node(self, info: ParamInfo, span: Span) -> int:
        if info.name not in self.param_nodes:
            node = self.ir.add_node("param", [], span=info.span, param=info.name)
            self.ir.graph.nodes[node]["name"] = info.name
            self.param_nodes[info.name] = node
        return self.param_nodes[info.name]

    def _expr_ListExpr(self, node: ast.ListExpr) -> list:
        return [self._expr(item) for item in node.items]

    def _expr_UnaryOp(self, node: ast.UnaryOp) -> Value:
        if node.op == "not":
            return _negate(self._condition(node.operand))
        value = self._expr(node.operand)
        if isinstance(value, Literal):
            return Literal(-value.value)
        if isinstance(value, Expr):
            return -value
        if isinstance(value, Tensor):
            return Tensor(self._add("neg", [value.node], node.span))
        raise self.error("E0113", "`-` applies to numbers and tensors", node.span)

    def _expr_BoolOp(self, node: ast.BoolOp) -> Cond:
        return Cond(node.op, tuple(self._condition(v) for v in node.values))

    def _expr_Compare(self, node: ast.Compare) -> Cond:
        left, right = self._expr(node.left), self._expr(node.right)
        if not (isinstance(left, Expr) and isinstance(right, Expr)):
            raise self.error("E0113", "comparisons are between numbers computed from the arguments", node.span,
                             help="tensor comparisons are not part of the language yet")
        if left.is_const and right.is_const:
            result = {"==": left.value == right.value, "!=": left.value != right.value, "<": left.value < right.value,
                      "<=": left.value <= right.value, ">": left.value > right.value, ">=": left.value >= right.value}
            return Cond.const(result[node.op])
        return Cond("cmp", (node.op, left, right))

    _BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul", "**": "pow"}

    def _expr_BinOp(self, node: ast.BinOp) -> Value:
        left, right = self._expr(node.left), self._expr(node.right)
        if isinstance(left, Expr) and isinstance(right, Expr):
            return self._scalar_arith(node, left, right)
        if node.op in ("//", "%"):
            raise self.error("E0113", f"`{node.op}` works on numbers, not tensors", node.span)
        if not any(isinstance(v, Tensor) for v in (left, right)):
            raise self.error("E0113", f"`{node.op}` needs numbers or tensors", node.span)
        operands = [self._operand(v, n) for v, n in ((left, node.left), (right, node.right))]
        if node.op == "@" and not all(isinstance(v, Tensor) for v in (left, right)):
            raise self.error("E0113", "`@` multiplies two tensors", node.span)
        return Tensor(self._add(self._BINARY[node.op], operands, node.span))

    def _operand(self, value: Value, node: ast.Node) -> int:
        if isinstance(value, Tensor):
            return value.node
        if isinstance(value, Expr) and value.is_const and abs(value.value) >= MAX_SCALAR:
            raise self.error("E0119", "this number is too large to combine with a tensor",
                             node.span, help="torch takes numbers within 64 bits; write `inf` for infinity")
        if isinstance(value, (Expr, Literal)):
            return self.ir.add_node("scalar", [], span=node.span, guard=tuple(self.guard), value=value,
                                    float_symbols=frozenset(self.float_symbols))
        raise self.error("E0113", "expected a tensor or a number", node.span)

    def _scalar_arith(self, node: ast.BinOp, left: Expr, right: Expr) -> Expr:
        try:
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "*":
                return left * right
            if node.op == "/":
                if right == Expr.const(0):
                    raise ZeroDivisionError
                return left.exact_div(right)
            if node.op == "//":
                return sym.floordiv(left, right, self._facts())
            if node.op == "%":
                return sym.mod(left, right, self._facts())
            if node.op == "**":
                if right.is_const and right.value.denominator == 1 and 0 <= right.value <= 64:
                    return left ** int(right.value)
                if right == Expr.const(Fraction(1, 2)):
                    return sym.sqrt(left)
                raise self.error("E0119", "`**` takes a whole constant exponent (or 0.5)", node.right.span)
        except ZeroDivisionError:
            raise self.error("E0119", "division by zero", node.span)
        raise self.error("E0119", f"`{node.op}` does not apply to numbers", node.span)

    def _facts(self) -> sym.Facts:
        return sym.Facts()

    def _expr_Attribute(self, node: ast.Attribute) -> Value:
        base = self._expr(node.value)
        if isinstance(base, LayerRef):
            spec = _resolve_child(base.info.spec, base.path) if base.info.spec else None
            names = [n for n, _ in spec.children] if spec and spec.kind == "sequential" else []
            if node.attr not in names:
                raise self.error("E0102", f"layer `{base.info.name}` has no child `{node.attr}`", node.span,
                                 help=suggest(node.attr, [n for n in names if n]))
            return LayerRef(base.info, base.path + (node.attr,))
        raise self.error("E0113", "attribute access is only for a sequential layer's named children", node.span)

    def _expr_ListComp(self, node: ast.ListComp) -> Value:
        iterable = self._expr(node.iterable)
        if not (isinstance(iterable, LayerRef) and iterable.info.element is not None):
            raise self.error("E0113", "a list comprehension in the dataflow loops over a layer list", node.iterable.span,
                             help="e.g. `[conv(x) for conv in convs]` where `layer convs = [... for k in kernels]`")
        saved = self.scope.get(node.var)
        self._check_loop_var(node.var, node.var_span)
        self.scope[node.var] = ("layer_element", LayerElement(node.var, iterable.info), node.var_span)
        loop = self.ir.add_node("loop_layer", [], span=node.span, guard=tuple(self.guard), layer=iterable.info.name,
                                var=node.var)
        self._loop_stack = getattr(self, "_loop_stack", []) + [loop]
        try:
            element = self._expr(node.element)
        finally:
            self._loop_stack.pop()
            if saved is None:
                self.scope.pop(node.var, None)
            else:
                self.scope[node.var] = saved
        if not isinstance(element, Tensor):
            raise self.error("E0113", "the comprehension must compute a tensor", node.element.span)
        result = self.ir.add_node("list_comp", [element.node, loop], span=node.span, guard=tuple(self.guard),
                                  layer=iterable.info.name, var=node.var)
        return TensorList(result)

    def _expr_Call(self, node: ast.Call) -> Value:
        func = node.func
        if isinstance(func, (ast.Name, ast.Attribute)):
            callee = None
            if isinstance(func, ast.Name) and func.id not in self.scope and func.id not in ("inf",):
                return self._call_named(func.id, node)
            callee = self._expr(func)
            if isinstance(callee, (LayerRef, LayerElement)):
                return self._call_layer(callee, node)
            raise self.error("E0113", "only layers and functions can be called", func.span)
        raise self.error("E0113", "only layers and functions can be called", func.span)

    def _call_named(self, name: str, node: ast.Call) -> Value:
        if name not in OPS and name not in SCALAR_FUNCTIONS and name != "len":
            if name in LAYERS or name == "sequential" or name in self.known_blocks:
                raise self.error("E0102", f"`{name}` is a layer kind: declare it with `layer {name}_1 = {name}(...)` "
                                 "and call the layer", node.func.span)
            raise self.error("E0102", f"unknown function `{name}`", node.func.span,
                             help=suggest(name, list(OPS) + list(SCALAR_FUNCTIONS) + list(self.scope)))
        # Arguments are evaluated once, left to right; their kinds pick scalar or tensor meaning.
        values = [self._expr(a) for a in node.args]
        keyword_values = {kw.name: (kw, self._expr(kw.value)) for kw in node.kwargs}
        is_tensor_call = any(isinstance(v, (Tensor, TensorList, list)) for v in values)
        if name in SCALAR_FUNCTIONS and not is_tensor_call:
            if keyword_values or not all(isinstance(v, Expr) for v in values):
                raise self.error("E0112", f"{name}() on numbers takes numbers only", node.span)
            if name == "sqrt":
                if len(values) != 1:
                    raise self.error("E0112", "sqrt() takes one number", node.span)
                return sym.sqrt(values[0])
            if len(values) < 2:
                raise self.error("E0112", f"{name}() takes at least two numbers", node.span)
            combine = sym.maximum if name == "max" else sym.minimum
            result = values[0]
            for v in values[1:]:
                result = combine(result, v)
            return result
        if name == "len":
            if len(values) == 1 and isinstance(values[0], ListArg):
                return Expr.symbol(f"len({values[0].name})")
            raise self.error("E0112", "len() takes a list argument", node.span)
        return self._call_op(OPS[name], node, values, keyword_values)

    def _call_op(self, definition: OpDef, node: ast.Call, values: list, keyword_values: dict) -> Value:
        params = [p for p in definition.params if p.kind != "sizes"]
        takes_sizes = len(params) != len(definition.params)
        operands: list[int] = []
        attrs: dict[str, Any] = {}
        keywords = dict(keyword_values)
        if len(values) > len(params):
            raise self.error("E0112", f"{definition.name}() takes at most {len(params)} positional arguments",
                             node.args[len(params)].span)
        unknown = [kw for kw, _ in keywords.values() if kw.name not in {p.name for p in params}]
        if unknown and not takes_sizes:
            names = [p.name for p in params]
            raise self.error("E0112", f"{definition.name}() has no argument `{unknown[0].name}`", unknown[0].span,
                             help=suggest(unknown[0].name, names) or f"its arguments are {', '.join(names)}")
        for index, param in enumerate(params):
            if index < len(values):
                if param.name in keywords:
                    raise self.error("E0112", f"argument `{param.name}` given twice", keywords[param.name][0].span)
                arg_node, value = node.args[index], values[index]
            elif param.name in keywords:
                kw, value = keywords.pop(param.name)
                arg_node = kw.value
            elif not param.required:
                attrs[param.name] = param.default
                continue
            else:
                raise self.error("E0112", f"{definition.name}() needs argument `{param.name}`", node.span)
            self._bind_op_arg(definition, param, arg_node, value, operands, attrs)
        if takes_sizes:
            sizes = []
            for name, (kw, value) in keywords.items():
                if not isinstance(value, Expr):
                    raise self.error("E0113", f"the size of axis `{name}` must be an integer expression", kw.span)
                self._require_whole(kw.value, value, f"the size of axis `{name}`")
                sizes.append((name, value))
            attrs["sizes"] = tuple(sizes)
        if definition.name == "rearrange":
            try:
                attrs["pattern"] = parse_pattern(attrs["pattern"])
            except PatternError as problem:
                arg = node.args[1] if len(node.args) > 1 else node
                column = arg.span.column + 1 + problem.offset
                span = Span(arg.span.path, arg.span.line, column, arg.span.line, column + 1)
                raise self.error("E0117", problem.message, span, help=problem.help)
        result = self._add(definition.name, operands, node.span, **attrs)
        if not definition.outputs:
            return Tensor(result)
        # A multi-output op (chunk) always gets item nodes, even for one result: its own
        # node's shape is a tuple of shapes.
        count = definition.outputs(attrs)
        items = tuple(Tensor(self._add("item", [result], node.span, index=i)) for i in range(count))
        return items[0] if count == 1 else items

    def _bind_op_arg(self, definition, param, arg_node, value, operands, attrs) -> None:
        kind = param.kind
        if kind == "tensor":
            if not isinstance(value, Tensor):
                raise self.error("E0113", f"`{param.name}` of {definition.name}() must be a tensor", arg_node.span)
            operands.append(value.node)
        elif kind == "operand":
            operands.append(self._operand(value, arg_node))
        elif kind == "tensors":
            items = value if isinstance(value, list) else [value]
            if not items or not all(isinstance(v, (Tensor, TensorList)) for v in items):
                raise self.error("E0113", f"`{param.name}` of {definition.name}() must be a list of tensors",
                                 arg_node.span, help="e.g. [a, b] or [f(x) for f in layers]")
            operands.extend(v.node for v in items)
        elif kind in ("axis", "count"):
            if not (isinstance(value, Expr) and value.is_const and value.value.denominator == 1):
                raise self.error("E0115", f"`{param.name}` must be a constant integer", arg_node.span)
            attrs[param.name] = int(value.value)
            if kind == "count" and attrs[param.name] < 1:
                raise self.error("E0115", f"`{param.name}` must be at least 1", arg_node.span)
            if kind == "count" and attrs[param.name] > MAX_COUNT:
                # One name per piece: chunk(x, 1e308) would never finish compiling.
                raise self.error("E0115", f"`{param.name}` must be at most {MAX_COUNT}", arg_node.span)
        elif kind == "axes":
            items = value if isinstance(value, list) else [value]
            if not items or not all(isinstance(v, Expr) and v.is_const and v.value.denominator == 1 for v in items):
                raise self.error("E0115", f"`{param.name}` must be a constant integer or a list of them", arg_node.span)
            ints = tuple(int(v.value) for v in items)
            attrs[param.name] = ints if isinstance(value, list) else ints[0]
        elif kind == "bool":
            if not (isinstance(value, Cond) and value.op == "const"):
                raise self.error("E0115", f"`{param.name}` must be true or false", arg_node.span)
            attrs[param.name] = value.args[0]
        elif kind == "int":
            if not isinstance(value, Expr):
                raise self.error("E0113", f"`{param.name}` must be an integer expression", arg_node.span)
            self._require_whole(arg_node, value, f"`{param.name}` of {definition.name}()")
            attrs[param.name] = value
        elif kind == "scalar":
            if not isinstance(value, (Expr, Literal)):
                raise self.error("E0113", f"`{param.name}` must be a number", arg_node.span)
            attrs[param.name] = value
        elif kind == "pattern":
            if not isinstance(value, str):
                raise self.error("E0113", "the pattern must be a string", arg_node.span)
            attrs[param.name] = value
        else:  # the registry's kinds are fixed
            raise AssertionError(kind)

    def _call_layer(self, callee, node: ast.Call) -> Value:
        if node.kwargs or len(node.args) < 1:
            raise self.error("E0112", "a layer is called with its input tensor(s)", node.span)
        operands = []
        for arg in node.args:
            value = self._expr(arg)
            if not isinstance(value, Tensor):
                raise self.error("E0113", "a layer's inputs must be tensors", arg.span)
            operands.append(value.node)
        if isinstance(callee, LayerElement):
            loop = self._loop_stack[-1]
            node_id = self._add("call_layer", operands + [loop], node.span, layer=callee.info.name, path=(),
                                element=True, var=callee.var)
        else:
            if callee.info.element is not None:
                raise self.error("E0113", f"`{callee.info.name}` is a list of layers; loop over it",
                                 node.func.span, help=f"[f(x) for f in {callee.info.name}]")
            node_id = self._add("call_layer", operands, node.span, layer=callee.info.name, path=callee.path,
                                element=False)
        return Tensor(node_id)

    def _add(self, op: str, operands: list[int], span: Span, **attrs) -> int:
        return self.ir.add_node(op, operands, span=span, guard=tuple(self.guard), **attrs)


# ---------------------------------------------------------------------------- helpers


def _label(span: Span, message: str):
    from .diagnostics import Label

    return Label(span, message)


def _number_value(node: ast.Number, exact: bool = False):
    text = node.text
    if text.isdigit():
        return int(text)
    if not math.isfinite(float(text)):
        # Would render as `inf`, which is no Python literal; a spec means a real number.
        raise _NumberTooLarge(node)
    return Fraction(text) if exact else float(text)


class _NumberTooLarge(Exception):
    def __init__(self, node):
        super().__init__(node.text)
        self.node = node


def _default_value(param):
    default = param.default
    if isinstance(default, bool):
        return Cond.const(default)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return Expr.const(Fraction(str(default)))
    return default


def _float_source(node) -> ast.Node | None:
    """The part of an expression that is a float in Python (`2.0`, `1e3`, `a / 2`, `a ** 0.5`)."""
    if isinstance(node, ast.Number):
        return None if node.is_int else node
    if isinstance(node, ast.BinOp):
        if node.op == "/":
            return node
        if node.op == "**" and not (isinstance(node.right, ast.Number) and node.right.is_int):
            return node
        return _float_source(node.left) or _float_source(node.right)
    if isinstance(node, ast.UnaryOp):
        return _float_source(node.operand)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "sqrt":
            return node
        for arg in node.args:
            found = _float_source(arg)
            if found is not None:
                return found
    return None


def _negate(condition: Cond) -> Cond:
    """`not c`, with `not not c` folded to `c` (codegen renders an `else:` only for a plain negation)."""
    if condition.op == "not":
        return condition.args[0]
    if condition.op == "const":
        return Cond.const(not condition.args[0])
    return Cond("not", (condition,))


def _symbols_of(value) -> set[str]:
    """The symbols an Expr, a Cond, a LayerSpec or a collection of them mentions."""
    if isinstance(value, Expr):
        return value.symbols()
    if isinstance(value, Cond):
        return _symbols_of(list(value.args))
    if isinstance(value, LayerSpec):
        return _symbols_of(list(value.args.values()) + [child for _, child in value.children])
    if isinstance(value, (list, tuple)):
        found: set[str] = set()
        for item in value:
            found |= _symbols_of(item)
        return found
    return set()


def _resolve_child(spec: LayerSpec, path: tuple[str, ...]) -> LayerSpec:
    for name in path:
        spec = next(child for child_name, child in spec.children if child_name == name)
    return spec


def _mod_fact(left: Expr, right: Expr, var: str):
    """Recognise `var % m == r` (as canonicalised: var - m*floordiv(var, m) == r)."""
    if not right.is_const:
        return None
    for monomial, coefficient in left.terms.items():
        for factor, _ in monomial:
            if isinstance(factor, sym.Atom) and factor.op == "floordiv":
                numerator, modulus = factor.args
                if numerator == Expr.symbol(var) and modulus.is_const:
                    m = int(modulus.value)
                    if left == Expr.symbol(var) - m * Expr.atom("floordiv", numerator, modulus):
                        return (m, int(right.value))
    return None


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
        lowering = BlockLowering(block, path, sink, known)
        ir = lowering.lower()
        ir.float_symbols = lowering.float_symbols
        ir.list_element_facts = lowering.list_element_facts
        results.append(ir)
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
