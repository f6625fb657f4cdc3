"""Lowering of initialisation: `param w: [..] = normal(std=0.02)` and `init <target> = ...`
(the initialisers and the parameters of each layer kind are in attndsl/inits.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import syntax as ast
from ..diagnostics import Abort
from ..inits import INITIALIZERS, kind_parameters, layer_parameters
from ..ir import Cond, InitInfo, LayerSpec
from ..layers import LAYERS
from ..symbolic import Expr
from .helpers import _default_value
from .values import LayerRef, Literal, suggest


class InitLowering:
    def _initializer(self, node: ast.Node):
        """(initialiser, bound values, their AST) of `normal(std=0.02)`."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            raise self.error("E0120", "an initialiser is a call such as normal(std=0.02) or zeros()", node.span,
                             help=f"initialisers: {', '.join(INITIALIZERS)}")
        definition = INITIALIZERS.get(node.func.id)
        if definition is None:
            raise self.error("E0120", f"unknown initialiser `{node.func.id}`", node.func.span,
                             help=suggest(node.func.id, INITIALIZERS) or f"initialisers: {', '.join(INITIALIZERS)}")
        params = [(p.name, p.kind, not p.required) for p in definition.params]
        values, sources = self._bind_call(params, node, f"{definition.name}()")
        self._built_in_init(node.span, f"the arguments of {definition.name}()", list(values.values()), node.args,
                            node.kwargs)
        for param in definition.params:
            value = values.get(param.name)
            if param.kind == "choice" and value is not None and value not in param.choices:
                words = ", ".join(f'"{c}"' for c in param.choices)
                raise self.error("E0120", f"`{param.name}` of {definition.name}() is one of {words}",
                                 sources[param.name].span)
            if param.kind == "float" and isinstance(value, Literal):
                raise self.error("E0120", f"`{param.name}` of {definition.name}() must be finite",
                                 sources[param.name].span)
        self._check_spread(definition, values, sources)
        return definition, values, sources

    def _check_spread(self, definition, values: dict, sources: dict) -> None:
        """What torch refuses: a negative `std`, an empty interval."""
        if definition.name in ("uniform", "trunc_normal") and ("a" in sources or "b" in sources):
            bottom = values.get("a", _default(definition, "a"))
            top = values.get("b", _default(definition, "b"))
            if isinstance(bottom, Expr) and isinstance(top, Expr):
                self._at_least(top - bottom, definition, sources.get("b") or sources.get("a"),
                               "the interval from a to b is empty", "`a` must be at most `b`")
        if isinstance(values.get("std"), Expr) and "std" in sources:
            self._at_least(values["std"], definition, sources["std"], "`std` is negative", "`std` must not be negative")

    def _at_least(self, value: Expr, definition, source, what: str, need: str) -> None:
        if value.is_const:
            if value.value < 0:
                raise self.error("E0120", f"{definition.name}(): {what}", source.span)
        else:
            self._note_precondition("not_negative", value, source.span, f"{definition.name}(): {need}")

    # ------------------------------------------------------------------ `param w: [..] = normal(...)`
    def _param_initializer(self, stmt: ast.Param, shape) -> None:
        definition, values, sources = self._initializer(stmt.init)
        self._check_rank(definition, len(shape), stmt.init.span, f"param `{stmt.name}`")
        self.ir.inits.append(InitInfo("param", stmt.name, None, definition.name, values, sources, tuple(self.guard),
                                      stmt.span, inline=True))

    # ------------------------------------------------------------------ `init target = ...`
    def _stmt_Init(self, stmt: ast.Init) -> None:
        names = [name for name, _ in stmt.target]
        head, head_span = stmt.target[0]
        definition, values, sources = self._initializer(stmt.value)
        entry = self.scope.get(head)
        if entry is not None and entry[0] == "poison":
            raise Abort()  # its declaration failed, and said why: nothing more to say here
        if head in self.param_named_args:  # `init bias = zeros` of a param named like a bool argument
            info = self.param_named_args[head]
            self._check_declared_here(ast.Name(head_span, head), "param", info.guard, info.span)
            entry = ("param", info, None)
        if len(names) == 1:
            if entry is None or entry[0] != "param":
                raise self.error("E0120", f"`{head}` is not a param; a layer's parameter is written `layer.weight`",
                                 head_span)
            self._expr(ast.Name(head_span, head))  # declared here (its `if` encloses this)
            self._check_rank(definition, len(entry[1].shape), stmt.value.span, f"param `{head}`")
            info = InitInfo("param", head, None, definition.name, values, sources, tuple(self.guard), stmt.span)
        elif head in self.layer_named_args or entry is not None and entry[0] == "layer":
            info = self._layer_init(stmt, names, definition, values, sources)
        elif head in LAYERS and len(names) == 2:
            info = self._kind_init(stmt, head, names[1], definition, values, sources)
        else:
            raise self.error("E0120", f"`{head}` is neither a layer, a param nor a layer kind", head_span,
                             help=suggest(head, [n for n, e in self.scope.items() if e[0] in ("layer", "param")]
                                          + list(LAYERS)))
        self.ir.inits.append(info)

    def _layer_init(self, stmt, names, definition, values, sources) -> InitInfo:
        head, head_span = stmt.target[0]
        node = ast.Name(head_span, head)
        ref = self._argument_layer(node) if head in self.layer_named_args else self._expr(node)
        if not isinstance(ref, LayerRef):
            raise self.error("E0120", f"`{head}` is not a layer", head_span)
        spec = ref.info.element if ref.info.element is not None else ref.info.spec
        path = []
        steps = stmt.target[1:-1]
        for index, (name, span) in enumerate(steps):
            if spec.kind == "block":
                # A layer of a block used as a layer: that block's layers are known once it is
                # lowered; check_inits_into_blocks follows the rest of the path then.
                into = IntoBlock(spec.block, _path_text(head, path), tuple(steps[index:]), stmt.target[-1],
                                 stmt.value.span)
                return InitInfo("layer", head, stmt.target[-1][0], definition.name, values, sources,
                                tuple(self.guard), stmt.span, tuple(path) + tuple(n for n, _ in steps[index:]),
                                ref.info.element is not None, into_block=into)
            try:
                spec = child_layer(spec, name, span, _path_text(head, path))
            except InitPathError as problem:
                raise self.error("E0120", problem.message, problem.span, help=problem.help)
            path.append(name)
        parameter, span = stmt.target[-1]
        if spec.kind == "block":  # `init proj.weight` of a block's own param (gMLP's spatial projection)
            into = IntoBlock(spec.block, _path_text(head, path), (), stmt.target[-1], stmt.value.span)
            return InitInfo("layer", head, parameter, definition.name, values, sources, tuple(self.guard),
                            stmt.span, tuple(path), ref.info.element is not None, into_block=into)
        shape, exists = self._parameter(spec, parameter, span, _path_text(head, path))
        self._check_rank(definition, len(shape), stmt.value.span, f"`{'.'.join(map(str, names))}`")
        return InitInfo("layer", head, parameter, definition.name, values, sources, tuple(self.guard), stmt.span,
                        tuple(path), ref.info.element is not None, exists is not None)

    def _parameter(self, spec: LayerSpec, parameter: str, span, label: str):
        try:
            return layer_parameter(spec, parameter, span, label)
        except InitPathError as problem:
            raise self.error("E0120", problem.message, problem.span, help=problem.help)

    def _kind_init(self, stmt, kind, parameter, definition, values, sources) -> InitInfo:
        span = stmt.target[1][1]
        ranks = kind_parameters(kind)
        if parameter not in ranks:
            raise self.error("E0120", f"{kind} has no parameter `{parameter}`", span,
                             help=suggest(parameter, ranks) or (f"its parameters are {', '.join(ranks)}" if ranks
                                                                else "it has no parameters"))
        self._check_rank(definition, ranks[parameter], stmt.value.span, f"`{kind}.{parameter}`")
        # Some modules of the kind may lack it (a bias switched off): tested one by one.
        optional = parameter != "weight" or kind not in ("linear",) and not kind.startswith("conv")
        return InitInfo("kind", kind, parameter, definition.name, values, sources, tuple(self.guard), stmt.span,
                        optional=optional)

    def _check_rank(self, definition, rank: int, span, what: str) -> None:
        try:
            check_rank(definition, rank, span, what)
        except InitPathError as problem:
            raise self.error("E0120", problem.message, problem.span, help=problem.help)


class InitPathError(Exception):
    """An init target that names no parameter (E0120), found inside or outside lowering."""

    def __init__(self, message: str, span, help: str | None = None):
        super().__init__(message)
        self.message, self.span, self.help = message, span, help


@dataclass(frozen=True)
class IntoBlock:
    """The part of `init inner.conv.weight` inside a block used as a layer (`conv.weight`
    of block Inner), followed once every block is lowered."""

    block: str
    label: str  # the layer as the spec reaches it: `inner`, `mlp.inner`
    steps: tuple  # ((name, span), ...): the children inside the block
    parameter: tuple  # (name, span)
    value_span: Any  # the initialiser's, for a rank it cannot have


def child_layer(spec: LayerSpec, name, span, label: str) -> LayerSpec:
    """The child `name` (or position) of a sequential."""
    children = spec.children if spec.kind == "sequential" else []
    if isinstance(name, int):  # `W[1]`: a child by its position
        if name >= len(children):
            raise InitPathError(f"layer `{label}` has no child [{name}]", span,
                                f"it has {len(children)} children" if children else "it has no children")
        return children[name][1]
    named = {n: child for n, child in children if n}
    if name not in named:
        raise InitPathError(f"layer `{label}` has no child `{name}`", span, suggest(name, list(named)))
    return named[name]


def layer_parameter(spec: LayerSpec, parameter: str, span, label: str):
    """(the parameter's shape, the condition it exists under or None when it always does)."""
    if spec.kind in ("sequential", "block"):
        raise InitPathError(f"`{label}` is a {'sequential' if spec.kind == 'sequential' else 'block'}: "
                            "initialise its layers (`mlp.fc1.weight`), or every layer of a kind "
                            "(`linear.weight`)", span)
    parameters = layer_parameters(spec.kind, spec.args)
    if parameter not in parameters:
        raise InitPathError(f"{spec.kind} `{label}` has no parameter `{parameter}`", span,
                            suggest(parameter, parameters) or (f"its parameters are {', '.join(parameters)}"
                                                               if parameters else "it has no parameters"))
    shape, flag = parameters[parameter]
    if flag is False or isinstance(flag, Cond) and flag == Cond.const(False):
        raise InitPathError(f"{spec.kind} `{label}` has no `{parameter}`: an argument switches it off", span)
    if flag is not None and getattr(spec, "kind_arg", None):
        # a layer kind the caller gives may be a partial that switches it off
        # (`partial(nn.BatchNorm2d, affine=False)`): tested for None where it is initialised
        return shape, Cond("kind", (spec.kind_arg, spec.kind))
    return shape, None if flag is None or flag is True or flag == Cond.const(True) else flag


def check_rank(definition, rank: int, span, what: str) -> None:
    if definition.rank is not None and rank != definition.rank:
        raise InitPathError(f"{definition.name}() fills a tensor of rank {definition.rank}, and {what} has rank "
                            f"{rank}", span, "use normal(), uniform() or constant() on it")
    if definition.fan and rank < 2:
        raise InitPathError(f"{definition.name}() computes fan-in and fan-out, which {what} of rank {rank} does "
                            "not have", span, "use normal(), uniform() or constant() on it")


def check_inits_into_blocks(blocks: list, sink) -> None:
    """Follow each `init inner.conv.weight` into the block `inner` is (E0120 where it names no
    parameter). A parameter that an argument of that block may switch off is tested for None
    where it is initialised, since the caller's arguments decide it only through the call."""
    by_name = {ir.name: ir for ir in blocks}
    for ir in blocks:
        for info in ir.inits:
            if info.into_block is None:
                continue
            try:
                if _follow_into_block(info.into_block, by_name, INITIALIZERS[info.initializer]):
                    info.optional = True
            except InitPathError as problem:
                sink.error("E0120", problem.message, problem.span, help=problem.help)


def _follow_into_block(into: IntoBlock, by_name: dict, definition) -> bool:
    """Whether the parameter may be None; raises InitPathError where the path names nothing."""
    block, label, spec = by_name[into.block], into.label, None
    for name, span in into.steps:
        if spec is not None and spec.kind != "block":
            spec = child_layer(spec, name, span, label)
        else:
            if spec is not None:
                block = by_name[spec.block]
            spec = _block_layer(block, name, span, label)
        label += f"[{name}]" if isinstance(name, int) else f".{name}"
    parameter, span = into.parameter
    if spec is None or spec.kind == "block":  # a param of the block itself
        return _block_param(block if spec is None else by_name[spec.block], parameter, span, label, definition,
                            into.value_span)
    shape, exists = layer_parameter(spec, parameter, span, label)
    check_rank(definition, len(shape), into.value_span, f"`{label}.{parameter}`")
    return exists is not None


def _block_param(block, name: str, span, label: str, definition, value_span) -> bool:
    """`init proj.weight`, where `proj` is block Inner and `weight` its param: it always exists."""
    params = {param.name: param for param in block.params}
    param = params.get(name)
    if param is None:
        layers = [layer.name for layer in block.layers]
        raise InitPathError(f"`{label}` (block {block.name}) has no param `{name}`", span,
                            suggest(name, list(params)) or (f"initialise its layers: `{label}.{layers[0]}.weight`"
                                                            if layers else None))
    if param.guard:
        raise InitPathError(f"block {block.name} makes its param `{name}` only under a condition on its "
                            "arguments", span, f"initialise it inside block {block.name}")
    check_rank(definition, len(param.shape), value_span, f"`{label}.{name}`")
    return False


def _block_layer(block, name, span, label: str) -> LayerSpec:
    """The layer `name` that `block` always builds, with its kind fixed by the block itself."""
    layers = {layer.name: layer for layer in block.layers}
    layer = layers.get(name) if isinstance(name, str) else None
    if layer is None:
        raise InitPathError(f"layer `{label}` (block {block.name}) has no layer `{name}`", span,
                            suggest(str(name), list(layers)))
    if layer.guard:
        raise InitPathError(f"block {block.name} builds its layer `{name}` only under a condition on its "
                            "arguments", span, f"initialise it inside block {block.name}")
    if layer.spec is None or layer.spec.kind == "list":
        raise InitPathError(f"`{name}` of block {block.name} is a layer list", span,
                            f"initialise its elements inside block {block.name}")
    if layer.spec.kind_arg is not None or layer.spec.rank_arg is not None:
        raise InitPathError(f"the kind of layer `{name}` of block {block.name} is chosen by its argument "
                            f"`{layer.spec.kind_arg or layer.spec.rank_arg}`", span,
                            f"initialise it inside block {block.name}")
    return layer.spec


def _default(definition, name: str) -> Expr:
    return _default_value(next(p for p in definition.params if p.name == name))


def _path_text(head: str, path: list) -> str:
    """`W[1]` or `mlp.fc1`: a child as the spec reaches it."""
    return head + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)
