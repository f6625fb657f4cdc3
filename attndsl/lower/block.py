"""Lowering of one block: scope, arguments and the statement dispatch. The statement and
expression families live in their own mixins (declarations, dataflow, layer_specs,
expressions, calls); `BlockLowering` puts them together."""

from __future__ import annotations

import contextlib
import keyword
from typing import Any

from .. import syntax as ast
from ..diagnostics import Abort, DiagnosticSink, Span
from ..guards import forward_inputs
from ..ir import ArgInfo, BlockIR, Cond, Precondition, reads_forward
from ..symbolic import Expr
from ..ops import OPS
from .values import (SCALAR_FUNCTIONS, ARG_TYPES, MODULE_ATTRIBUTES, PRIVATE_ATTRIBUTES, RESERVED, FactoryArg, ListArg,
                     StrArg, StrListArg, Value)
from .helpers import (_label)
from .calls import CallLowering
from .layer_calls import LayerCallLowering
from .comprehensions import ComprehensionLowering
from .conditions import ConditionLowering
from .dataflow import DataflowLowering
from .early_returns import ReturnProblem, join_returns
from .declarations import DeclarationLowering
from .inputs import InputLowering
from .defaults import DefaultLowering
from .attributes import AttributeLowering
from .expressions import ExpressionLowering
from .layer_specs import LayerSpecLowering
from .indexing import IndexingLowering
from .masks import MaskLowering
from .inits import InitLowering
from .layer_names import LayerNameLowering
from .layer_kinds import LayerKindArg, LayerKindLowering
from .numbers import NumberLowering
from .params import ParamLowering
from .sequentials import SequentialLowering
from .strings import StringLowering
from .loops import LoopLowering


# What a name that a value may not take already names, as the error says it.
_WHAT_NAMES = {"arg": "an argument", "param": "a param", "layer": "a layer", "input_opt": "an optional input",
               "let": "a let", "dim": "a size of an input", "buffer": "a buffer", "pack": "a pack of sizes"}


class BlockLowering(InputLowering, DeclarationLowering, DataflowLowering, LayerSpecLowering, ExpressionLowering,
                    AttributeLowering, ConditionLowering, CallLowering, LayerCallLowering, MaskLowering,
                    IndexingLowering, NumberLowering, LayerNameLowering, InitLowering, SequentialLowering,
                    LayerKindLowering, LoopLowering, DefaultLowering, StringLowering, ComprehensionLowering,
                    ParamLowering):
    def __init__(self, block: ast.Block, path: str, sink: DiagnosticSink, known_blocks: dict[str, ast.Block]):
        self.block = block
        self.sink = sink
        self.known_blocks = known_blocks
        self.ir = BlockIR(block.name, block.doc, block.comments, [], span=block.span, path=path)
        self.scope: dict[str, tuple[str, Any, Span]] = {}
        self.optional_args: set[str] = set()  # `x: int | None = None`
        self.layer_named_args: dict[str, list] = {}  # `layer dropout = dropout(dropout)`: name -> LayerInfos
        self.param_named_args: dict[str, object] = {}  # `param bias: [d]` under `if bias:`: name -> ParamInfo
        self.guard: list[Cond] = []
        self._preconditions: list[list] = []  # per statement being lowered: (need, expr, span, guard)
        self._shadow_warned: set[str] = set()
        self._hidden_layers: dict[str, Span] = {}  # a layer name a value took over (`q = q(x)`): its declaration
        self.float_symbols: set[str] = set()
        self.forward_let_asts: dict = {}  # each `let` of input sizes, as written (NumberLowering.float_lets)
        self.list_element_facts: dict[str, list[tuple[int, int]]] = {}  # list arg -> [(modulus, remainder)]
        self.param_nodes: dict[tuple, int] = {}  # (name, declaration span) -> the node reading it
        self.returned = False
        self.unpacked: tuple | None = None  # (the value of an assignment, how many names it is unpacked into)

    def error(self, code: str, message: str, span: Span, *, help=None, labels=()) -> Abort:
        self.sink.error(code, message, span, help=help, labels=labels)
        return Abort()

    def lower(self) -> BlockIR | None:
        with_default = None
        for arg in self.block.args:
            if arg.default is not None:
                with_default = arg
            elif with_default is not None and not arg.keyword_only:
                # The generated __init__ would be a SyntaxError, as in Python.
                self.error("E0111", f"argument `{arg.name}` has no default but follows `{with_default.name}`, "
                           "which has one", arg.span, help="arguments with defaults come last")
            self._declare_arg(arg)
        self._suite(self._joined_returns())
        self._check_examples()
        if not self.ir.outputs and not self.sink.has_errors:
            self.error("E0116", f"block {self.block.name} has no `return`", self.block.span,
                       help="end the block with `return <expr>`")
        return self.ir

    def _bind(self, name: str, kind: str, value, span: Span) -> None:
        # `_` is the generated code's placeholder for unused sizes (`_, c, h, w = x.shape`).
        if name in RESERVED or keyword.iskeyword(name) or name.startswith("__") or name == "_":
            if name != "_" and name not in self.scope:
                self.scope[name] = ("poison", None, span)  # its uses say nothing more (not "unknown name")
            raise self.error("E0105", f"`{name}` is reserved and cannot name a value", span,
                             help=f"rename it, e.g. `{name.strip('_')}_`")
        if kind in ("arg", "let") and name in self.known_blocks:
            # __init__ builds sub-blocks by class name: a local of that name would shadow it.
            raise self.error("E0105", f"`{name}` names a block of this file and cannot name a value", span,
                             help=f"rename it, e.g. `{name[:1].lower()}{name[1:]}_`")
        private = name.startswith("_") and (kind not in ("param", "layer") or name in PRIVATE_ATTRIBUTES)
        if kind in ("arg", "param", "layer", "let", "buffer") and (name in MODULE_ATTRIBUTES or private):
            if name not in self.scope:
                self.scope[name] = ("poison", None, span)  # its uses say nothing more (not "unknown name")
            raise self.error("E0105", f"`{name}` would replace an attribute nn.Module relies on", span,
                             help=f"rename it, e.g. `{name.strip('_')}_`")
        previous = self.scope.get(name)
        if kind == "layer" and previous and previous[0] == "arg":
            # Published modules name layers after arguments (`self.bn = ...` for `bn=True`).
            return self._name_layer_like_argument(name, value, span)
        if kind == "param" and previous and previous[0] == "arg" and self._param_of_flag(name, value):
            # and params after a bool argument (`self.bias = nn.Parameter(...)` for `bias=True`)
            return self._name_param_like_argument(name, value, span)
        if previous and previous[0] != "poison" and kind not in ("tensor", "scalar"):
            sized = previous[0] == "dim" and kind == "let"  # `input c: [b, n, hd]`, then `let hd = d // h`
            flag = kind == "param" and previous[0] == "arg"  # `self.bias = nn.Parameter(...)` for `bias=True`
            raise self.error("E0103", f"`{name}` is already defined", span,
                             labels=[_label(previous[2], "first defined here")],
                             help="an input's shape names a new size with a new name: to size the input by the "
                                  "`let`, declare the `let` before the input" if sized else
                                  f"a param takes the name of a bool argument when declared under `if {name}:` "
                                  "alone (None without it, as `register_parameter` writes)" if flag else None)
        if previous and previous[0] == "layer" and kind == "tensor" and not self.guard and \
                getattr(self, "_loop", None) is None:
            # `q = q(x)`: the published module's `q = self.q(x)`, whose layer names the state_dict
            # fixes (timm's ClassAttn); from here on `q` is the value, as the local is in Python.
            self.scope[name] = (kind, value, span)
            self._hidden_layers[name] = previous[2]
            return
        if previous and previous[0] in ("arg", "param", "layer", "input_opt", "let", "dim", "buffer", "pack") and \
                kind in ("tensor", "scalar"):
            raise self.error("E0103", f"`{name}` already names {_WHAT_NAMES[previous[0]]}; pick another name", span,
                             labels=[_label(previous[2], "defined here")])
        # A layer named after its kind (`layer relu = relu()`) and an argument named after a
        # layer are the language's own idioms; a value or a let named like a function is not.
        # (An input keeps the published forward's name, `cos`, `sin`: nothing to rename, no warning;
        # a call of the function it hides says so.)
        if kind in ("tensor", "scalar", "let") and not self._declaring_input and (
                name in OPS and OPS[name].callable_by_name or name in SCALAR_FUNCTIONS) and \
                name not in self._shadow_warned:
            # `layer softmax = softmax(dim=-1)`: from here on `softmax(...)` calls the layer.
            self._shadow_warned.add(name)
            what = {"tensor": "the value", "scalar": "the number", "dim": "the size", "input_opt": "the input"}.get(
                kind, f"the {kind}")
            self.sink.warning("W0007", f"{what} `{name}` hides the function {name}() in the rest of this block",
                              span, help=f"rename it, e.g. `{name}_`, to keep calling {name}()")
        self.scope[name] = (kind, value, span)

    @contextlib.contextmanager
    def _names_restored(self, names):
        """Within: a loop variable may hide `names`; after: each is what it was (or free again)."""
        saved = {name: self.scope.get(name) for name in names}
        try:
            yield
        finally:
            for name, entry in saved.items():
                if entry is None:
                    self.scope.pop(name, None)
                else:
                    self.scope[name] = entry

    def _check_loop_var(self, name: str, span: Span) -> None:
        """A comprehension's variable is written into the generated code as it is named."""
        if name in RESERVED or keyword.iskeyword(name) or name.startswith("__") or name == "_" or \
                name in self.known_blocks:
            raise self.error("E0105", f"`{name}` is reserved and cannot name a loop variable", span,
                             help=f"rename it, e.g. `{name.strip('_')}_`")

    def _one_loop_var(self, comp: ast.ListComp, what: str) -> None:
        """Several names in a comprehension go with zip(); anything else gives one value a pass."""
        if comp.more:
            raise self.error("E0118", f"{len(comp.targets)} names, but {what} gives one value a pass",
                             comp.more[0][1], help="several names unpack zip(): `[conv(g) for conv, g in zip(convs, "
                                                   "groups)]`")

    def _declare_arg(self, arg: ast.Arg) -> None:
        optional = arg.type.endswith(" | None")
        if optional:
            arg = ast.Arg(arg.span, arg.name, arg.type[:-len(" | None")], arg.default, arg.keyword_only)
        try:
            family = self._layer_family(arg)
        except Abort:
            return
        if family is not None:
            arg = ast.Arg(arg.span, arg.name, "layer", arg.default, arg.keyword_only)
        if arg.type not in ARG_TYPES or optional and arg.type not in ("int", "float", "str", "layer"):
            self.error("E0111", f"unknown argument type `{arg.type}{' | None' if optional else ''}`", arg.span,
                       help="argument types are int, float, bool, list[int], str, list[str], layer (a layer kind), "
                       "layer[kind] (one of that kind's family), device and dtype; int, float, str and layer may be "
                       "`| None`")
            try:
                self._bind(arg.name, "poison", None, arg.span)  # its uses say nothing more (not "`norm` is a function")
            except Abort:
                pass
            return
        if arg.type in ("device", "dtype"):
            return self._declare_factory_arg(arg)
        default = None
        if arg.default is not None and not (optional and isinstance(arg.default, ast.NoneLit)):
            try:
                default = self._layer_kind_default(arg, family) if arg.type == "layer" else self._literal_default(arg)
            except Abort:
                pass  # reported; the argument is still declared, so its uses raise no "unknown name"
        info = ArgInfo(arg.name, arg.type, default, arg.span, arg.default is None, optional, arg.keyword_only,
                       default_name=arg.default.value if arg.type == "layer" and isinstance(arg.default, ast.String)
                       else None)
        if optional:
            self.optional_args.add(arg.name)
        self.ir.args.append(info)
        if arg.type in ("int", "float"):
            value: Value = Expr.symbol(arg.name)
            if arg.type == "float":
                self.float_symbols.add(arg.name)
        elif arg.type == "bool":
            value = Cond("arg", (arg.name,))
        elif arg.type == "layer":
            value = LayerKindArg(arg.name, default, family or default)
        elif arg.type == "str":
            value = StrArg(arg.name)
        elif arg.type == "list[str]":
            value = StrListArg(arg.name)
        else:
            value = ListArg(arg.name)
        try:
            self._bind(arg.name, "arg", value, arg.span)
        except Abort:
            pass

    def _declare_factory_arg(self, arg: ast.Arg) -> None:
        """`device: device = None`: torch's factory argument, passed on to every layer and param."""
        if not isinstance(arg.default, ast.NoneLit):
            self.error("E0111", f"`{arg.name}` must default to None (torch's default {arg.type})", arg.span,
                       help=f"`{arg.name}: {arg.type} = None`")
            return
        if arg.type in self.ir.factory:
            self.error("E0111", f"a block has one {arg.type} argument, and `{self.ir.factory[arg.type]}` is one",
                       arg.span)
            return
        self.ir.factory[arg.type] = arg.name
        self.ir.args.append(ArgInfo(arg.name, arg.type, None, arg.span, False, True, arg.keyword_only))
        try:
            self._bind(arg.name, "arg", FactoryArg(arg.name, arg.type), arg.span)
        except Abort:
            pass

    def _statement(self, stmt: ast.Stmt) -> None:
        handler = getattr(self, "_stmt_" + type(stmt).__name__)
        if isinstance(stmt, _MADE_IN_INIT):
            self._check_no_dataflow_numbers(stmt)
            if not isinstance(stmt, ast.Require):  # one of input sizes is forward's (_stmt_Require)
                self._check_not_under_forward_condition(stmt)
        outer_guard = tuple(self.guard)
        self._preconditions.append([])
        try:
            handler(stmt)
        finally:
            found = self._preconditions.pop()
        # What the constructor computes in Python (lets, requires, layer arguments, param
        # shapes, `if` conditions) is checked just before it; forward's scalars are rendered
        # from their canonical form, whose needs the shape checker reads off directly.
        if isinstance(stmt, (ast.Let, ast.Require, ast.Layer, ast.Param, ast.Input, ast.If, ast.Assign, ast.Return,
                             ast.Init, ast.LayerBlock, ast.For, ast.ExprStmt)):
            for need, expr, span, guard, element, what in found:
                # the statement's guard, and within it the branch of a conditional value (`let`)
                within = outer_guard + tuple(c for c in guard if c not in outer_guard)
                self.ir.preconditions.append(Precondition(need, expr, within, span, (stmt.span.line, stmt.span.column),
                                                          element, what))

    def _joined_returns(self) -> list[ast.Stmt]:
        """The block's body with its returns inside `if`s joined into one (early_returns.py)."""
        body = self.block.body
        taken = ast.names_in(body) | {arg.name for arg in self.block.args}
        taken |= {name for stmt in ast.statements(body) for name in _defined(stmt)}
        try:
            return join_returns(body, taken)
        except ReturnProblem as problem:
            self.error("E0116", problem.message, problem.span, help=problem.help)
            return []

    def _check_no_dataflow_numbers(self, stmt: ast.Stmt) -> None:
        """A declaration is made in __init__, before forward's dataflow assigns its numbers
        (`e = 12 // a`): it may read arguments and lets, not those."""
        for name in ast.name_nodes(stmt):
            if self.scope.get(name.id, ("",))[0] == "scalar":
                raise self.error("E0113", f"`{name.id}` is a number the dataflow assigns, in forward; a declaration "
                                 "is made in __init__, before it", name.span,
                                 help=f"compute it with `let {name.id} = ...`, which __init__ has")

    def _check_not_under_forward_condition(self, stmt: ast.Stmt) -> None:
        """A declaration is made once, in __init__; an `if` on an optional input's presence or
        on a flag is decided in forward, call by call."""
        deciding = next((c for c in self.guard if reads_forward(c)), None)
        if deciding is None:
            return
        inputs = sorted(forward_inputs(deciding))
        what = " and ".join(f"`{name}`" for name in inputs)
        kind = type(stmt).__name__.lower().replace("layerblock", "layer")
        costs = ": a layer a call does not use costs only its weights" if kind in ("layer", "param") else ""
        raise self.error("E0116", f"a {kind} is made once, in __init__, and cannot depend on {what}, an input of "
                         "forward", stmt.span, help=f"declare it before the `if`{costs}")

    def _suite(self, stmts: list[ast.Stmt]) -> None:
        for inner in stmts:
            try:
                self._statement(inner)
            except Abort:
                self._poison(inner)

    def _poison(self, stmt: ast.Stmt) -> None:
        """Names a failed statement defines are poisoned: later uses stay silent, so
        one mistake gives one error, not a cascade of unknown names."""
        if isinstance(stmt, ast.Assign):
            names = _defined(stmt)
        elif isinstance(stmt, ast.For):  # what the loop carries, and what only its body knew
            names = [name for inner in stmt.body if isinstance(inner, ast.Assign) for name in _defined(inner)]
        elif isinstance(stmt, ast.If):  # a condition that failed: what either branch defines
            names = [name for inner in ast.statements(stmt.body + stmt.orelse) for name in _defined(inner)
                     if name not in self.scope]
        else:  # a declaration that clashed (E0103) leaves the first one in place
            names = [name for name in _defined(stmt) if name not in self.scope]
        for name in names:
            if self.scope.get(name, ("",))[0] != "arg":
                self.scope[name] = ("poison", None, stmt.span)

    def _add(self, op: str, operands: list[int], span: Span, **attrs) -> int:
        return self.ir.add_node(op, operands, span=span, guard=tuple(self.guard), **attrs)


# Statements made in __init__, whose expressions are rendered as written there.
_MADE_IN_INIT = (ast.Let, ast.Require, ast.Layer, ast.Param, ast.Init, ast.LayerBlock, ast.Buffer)


def _defined(stmt: ast.Stmt) -> list[str]:
    """The names a statement binds: an assignment's targets, a declaration's name."""
    if isinstance(stmt, ast.Assign):
        return [name for name, _ in stmt.targets]
    if isinstance(stmt, (ast.Input, ast.Param, ast.Layer, ast.Let, ast.Buffer, ast.LayerBlock)):
        return [stmt.name]
    return []
