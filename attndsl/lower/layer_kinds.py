"""Arguments that are layer kinds: `act_layer: layer = relu`, `norm_layer: layer | None = None`,
so that one block is built with ReLU or SiLU, BatchNorm or none, as the published blocks
take `act_layer=nn.ReLU`.

The kinds such an argument may be are those of its default's family in the registry
(activations, normalisations, ...) with the same shape rule, that take the arguments it is
called with; the checker checks each one's arguments, and the generated `__init__`
refuses any other class.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import syntax as ast
from ..diagnostics import Abort, DiagnosticSink
from ..ir import LayerSpec, negate
from ..layers import LAYERS, kind_named
from .helpers import _default_value, _label
from .numbers import is_none
from .values import suggest


@dataclass(frozen=True)
class LayerKindArg:
    """The value of a `layer` argument in the spec: its name, its default kind, and the kind
    whose family it may be (`layer[batch_norm2d] | None = None`; else the default)."""

    name: str
    default: str | None
    family: str | None = None


@dataclass(frozen=True)
class LayerKind:
    """A layer kind given as a block's argument: `Mlp(d, act_layer=relu)`."""

    kind: str


def kinds_like(default: str) -> list[str]:
    """The kinds a `layer` argument defaulting to `default` may be: its family's kinds with the
    same shape rule and ranks (ReLU, SiLU, GELU, ... for an activation; the BatchNorms of one
    rank), so that the module's shapes do not depend on the choice."""
    model = LAYERS[default]
    return [name for name, definition in LAYERS.items() if definition.family == model.family
            and definition.shape is model.shape and (definition.min_rank, definition.max_rank) ==
            (model.min_rank, model.max_rank)]


class LayerKindLowering:
    def _layer_kind_value(self, node: ast.Node, name: str):
        """What a block's `layer` argument is given: a kind (`relu`), this block's own layer
        argument passed on (`act_layer=act_layer`), or None."""
        if isinstance(node, ast.NoneLit):
            return None
        if isinstance(node, ast.Name):
            entry = self.scope.get(node.id)
            if entry is not None and entry[0] == "arg" and isinstance(entry[1], LayerKindArg):
                return entry[1]
            if entry is None and node.id in LAYERS:
                return LayerKind(node.id)
        raise self.error("E0113", f"`{name}` takes a layer kind (e.g. relu), a layer argument of this block, or "
                         "None", node.span)

    def _check_layer_kinds(self, target: ast.Block, bound: dict, sources: dict) -> None:
        """Each kind given to a block's `layer` argument is one that argument may be: of its
        default's family, with its shape rule (the callee's `__init__` refuses any other)."""
        for arg in target.args:
            if not arg.type.startswith("layer") or arg.name not in bound:
                continue
            value, optional = bound[arg.name], arg.type.endswith("| None")
            default = _kind_in_type(arg.type) or written_kind(arg.default)
            if value is None:
                if not optional:
                    raise self.error("E0112", f"`{arg.name}` of {target.name} may not be None", sources[arg.name].span,
                                     help=f"declare it `{arg.name}: layer | None` to allow None")
                continue
            if isinstance(value, LayerKindArg) and not optional:
                self._check_kind_given(value, sources[arg.name], arg.name, target.name)
            # an argument passed on may be any kind of its family, which its type names (or its default)
            given = value.kind if isinstance(value, LayerKind) else value.family
            allowed = kinds_like(default) if default in LAYERS else []
            if given is None:  # `act_layer: layer | None = None`: no kind says what it may be
                raise self.error("E0112", f"`{value.name}` may be any kind (neither its type nor its default names "
                                 f"one), so it cannot be `{arg.name}` of {target.name}", sources[arg.name].span,
                                 help=f"name its family in its type: `{value.name}: layer[{default}] | None = None`"
                                 if default in LAYERS else "name its family in its type, e.g. `layer[relu] | None`")
            if given not in allowed:
                what = f"`{value.kind}`" if isinstance(value, LayerKind) else f"`{value.name}` (one of {given}'s family)"
                raise self.error("E0112", f"{what} cannot be `{arg.name}` of {target.name}, which is one of "
                                 f"{', '.join(allowed) or 'no kind'}", sources[arg.name].span)

    def _check_kind_given(self, value: LayerKindArg, source: ast.Node, name: str, callee: str) -> None:
        """A `layer | None` argument passed on where None is not taken: only where a test says it is given,
        as an optional number is used (E0106)."""
        if value.name in self.optional_args and not self._implied((negate(is_none(value.name)),)):
            raise self.error("E0106", f"argument `{value.name}` may be None here, and `{name}` of {callee} may "
                             "not be None", source.span,
                             labels=[_label(self.scope[value.name][2], "declared optional here")],
                             help=f"pass it under `if {value.name} is not None:`, or declare `{name}` of {callee} "
                             "`layer | None`")

    def _layer_kind_default(self, arg: ast.Arg, family: str | None = None) -> str:
        """The kind a `layer` argument defaults to: `relu`, or its name, `"relu"` (then the
        module takes names too, as timm's `gate_layer="sigmoid"`)."""
        node = arg.default
        if isinstance(node, ast.String) and kind_named(node.value) is not None:
            kind = kind_named(node.value)
        elif isinstance(node, ast.Name) and node.id in LAYERS:
            kind = node.id
        else:
            raise self.error("E0111", f"the default of layer argument `{arg.name}` is a layer kind, e.g. relu, or "
                             "its name, \"relu\"", node.span, help="layer kinds are listed in docs/language.md")
        if family is not None and kind not in kinds_like(family):
            raise self.error("E0111", f"the default of `{arg.name}`, {kind}, is not of {family}'s family",
                             node.span, help=f"one of {', '.join(kinds_like(family))}")
        return kind

    def _layer_family(self, arg: ast.Arg) -> str | None:
        """The kind named in `layer[kind]`: the argument may be any kind of its family."""
        kind = _kind_in_type(arg.type)
        if kind is None:
            return None
        if kind not in LAYERS:
            raise self.error("E0111", f"`{kind}` in the type of `{arg.name}` is no layer kind", arg.span,
                             help=suggest(kind, list(LAYERS)))
        return kind

    def _layer_from_argument(self, node: ast.Call, arg: LayerKindArg) -> LayerSpec:
        default = arg.family or self._declared_default(arg.name)
        # The default must take the call (its errors are the user's); the others of its kind
        # are the alternatives that take it too.
        reported = len(self.sink.items)
        try:
            alternatives = {default: self._bound(default, node)}
        except Abort:
            problem = self.sink.items[-1] if len(self.sink.items) > reported else None
            if problem is not None and problem.help is None:  # say what the argument is, and so what it takes
                family = kinds_like(default)
                problem.help = (f"`{arg.name}` is one of {default}'s family ({', '.join(family[:4])}"
                                f"{', ...' if len(family) > 4 else ''}): its call takes {default}'s arguments")
            raise
        sources = alternatives[default][1]
        for kind in kinds_like(default):
            if kind != default and _takes(LAYERS[kind], node):
                sink, self.sink = self.sink, DiagnosticSink()
                try:
                    alternatives[kind] = self._bound(kind, node)
                except Abort:
                    pass
                finally:
                    self.sink = sink
        alternatives = {kind: bound for kind, (bound, _) in alternatives.items()}
        positional = [p.name for p in LAYERS[default].params[:len(node.args)]]
        return LayerSpec(default, alternatives[default], positional, span=node.span, sources=sources,
                         kind_arg=arg.name, alternatives=alternatives)

    def _bound(self, kind: str, node: ast.Call):
        definition = LAYERS[kind]
        bound, sources = self._bind_call([(p.name, p.kind, not p.required) for p in definition.params], node, kind)
        for p in definition.params:
            bound.setdefault(p.name, _default_value(p))
        return bound, sources

    def _declared_default(self, name: str) -> str:
        declared = next(a for a in self.block.args if a.name == name)
        if written_kind(declared.default) in LAYERS:
            return written_kind(declared.default)
        raise self.error("E0111", f"layer argument `{name}` needs a layer kind, its default or in its type, whose "
                         "family are the kinds it may be", declared.span,
                         help=f"e.g. `{name}: layer | None = relu`, or `{name}: layer[batch_norm2d] | None = None`")


def _kind_in_type(type_name: str) -> str | None:
    """`batch_norm2d` of `layer[batch_norm2d]` (or `layer[batch_norm2d] | None`)."""
    type_name = type_name.removesuffix(" | None")
    if type_name.startswith("layer[") and type_name.endswith("]"):
        return type_name[len("layer["):-1]
    return None


def _takes(definition, call: ast.Call) -> bool:
    """Whether a layer kind takes these arguments (by count and keyword names)."""
    names = [p.name for p in definition.params]
    given = set(names[:len(call.args)]) | {kw.name for kw in call.kwargs}
    return len(call.args) <= len(names) and {kw.name for kw in call.kwargs} <= set(names) and \
        all(p.name in given for p in definition.params if p.required)


def written_kind(node) -> str | None:
    """The kind a `layer` argument's default names: `relu`, or `"relu"`."""
    if isinstance(node, ast.Name):
        return node.id
    return kind_named(node.value) if isinstance(node, ast.String) else None
