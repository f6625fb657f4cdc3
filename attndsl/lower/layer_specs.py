"""Lowering of layer constructors (`layer x = kind(...)`): binding their arguments against the registry."""

from __future__ import annotations

from typing import Any

from .. import syntax as ast
from ..diagnostics import Abort
from ..evaluate import OptionalPassedOn
from ..ir import Cond, LayerSpec, negate
from ..ranks import default_rank
from ..layers import LAYERS
from ..symbolic import Expr
from .values import (MODULE_ATTRIBUTES, ListArg, Literal, StrArg, StrListArg, suggest)
from .helpers import (_default_value, _float_source, _label)
from .torch_names import layer_kind_of
from .numbers import float_symbols_outside_integers, is_none


class LayerSpecLowering:
    def _layer_spec(self, node: ast.Node) -> LayerSpec:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.KindTemplate):
            return self._rank_layer_spec(node)
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            # `nn.Linear(c, c)`: the language's name of the kind
            kind = layer_kind_of(node.func.attr) if isinstance(node, ast.Call) and \
                isinstance(node.func, ast.Attribute) else None
            stack = isinstance(node, ast.ListComp)  # `sequential([Block(...) for i in range(depth)])`
            raise self.error("E0113", "a layer is built by calling a layer kind, e.g. linear(d_model, d_k)" if not stack
                             else "a sequential's children are written one by one, not as a list", node.span,
                             help=f"`{node.func.attr}` is the layer kind `{kind}`: `{kind}(...)`, with no module "
                             "before it" if kind is not None else "a stack of alike layers is a layer list, `layer "
                             "blocks = [Block(...) for i in range(depth)]`, run by `for block in blocks:` (its "
                             "state_dict keys `blocks.0. ...` are nn.Sequential's)" if stack else None)
        kind = node.func.id
        argument = self.scope.get(kind)
        if argument is not None and argument[0] == "arg" and type(argument[1]).__name__ == "LayerKindArg":
            self._check_not_none(node.func)  # `act_layer: layer = relu`, called: one of its family
            return self._layer_from_argument(node, argument[1])
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
            bound, sources = self._bind_call([(a.name, a.type, a.default is not None) for a in target.args], node, kind,
                                             positional=sum(1 for a in target.args if not a.keyword_only))
            for arg in target.args:  # None only where the block declares `| None`
                if isinstance(sources.get(arg.name), ast.NoneLit) and not arg.type.endswith(" | None"):
                    raise self.error("E0113", f"`{arg.name}` of block {kind} takes {_EXPECTED.get(arg.type, arg.type)}, "
                                     "not None", sources[arg.name].span,
                                     help=f"declare it `{arg.name}: {arg.type} | None` in block {kind} to take None")
            self._check_layer_kinds(target, bound, sources)
            self.ir.uses_blocks.append(kind)
            return LayerSpec("block", bound, [], block=kind, span=node.span, sources=sources)
        definition = LAYERS.get(kind)
        if definition is None:
            known = layer_kind_of(kind)  # `LayerNorm(d)`, as PyTorch names the class
            words = self.scope.get(kind, ("",))[0] == "arg" and isinstance(self.scope[kind][1], StrArg)
            raise self.error("E0102", f"unknown layer kind `{kind}`", node.func.span,
                             help=f"`{kind}` is the layer kind `{known}`" if known is not None else
                             f"`{kind}` is a str argument: choose the layer by its words, `if {kind} == \"gelu\": "
                             f"layer act = gelu()` / `else: layer act = relu()`, or make it a layer kind argument "
                             f"(`{kind}: layer = relu`)" if words else
                             suggest(kind, list(LAYERS) + ["sequential"] +
                                     [b for b in self.known_blocks if b != self.block.name]))  # (not itself)
        params = [(p.name, p.kind, not p.required) for p in definition.params]
        bound, sources = self._bind_call(params, node, kind)
        for p in definition.params:
            if p.name not in bound:
                bound[p.name] = _default_value(p)
        positional_count = len(node.args)
        return LayerSpec(kind, bound, [p.name for p in definition.params[:positional_count]], span=node.span,
                         sources=sources)

    def _rank_layer_spec(self, node: ast.Call) -> LayerSpec:
        """`conv{dimension}d(...)`: the layer of the rank a pack's argument says; each rank's
        kind is bound (and checked) on its own, the default rank's stands for the layer."""
        template = node.func
        arg = template.value.id if isinstance(template.value, ast.Name) else None
        if arg not in self.ir.rank_args:
            raise self.error("E0113", "the braces of a layer kind take the argument that gives a pack's length",
                             template.value.span, help="e.g. `input x: [b, c, *spatial[dimension]]` and "
                             "`conv{dimension}d(c, c, 1)`")
        specs = {}
        entry = self.scope.get(arg)
        if entry is None:  # the argument could not be declared (a reserved name): reported there
            raise Abort()
        for rank in self.ir.rank_args[arg]:
            kind = f"{template.prefix}{rank}{template.suffix}"
            if kind not in LAYERS:
                raise self.error("E0102", f"there is no layer kind `{kind}` for rank {rank}", template.span,
                                 help="the braces work for layers made for each rank: conv, max_pool, avg_pool, "
                                 "batch_norm, ...")
            # Bound at this rank, the arguments decide what they test of it: `(1, 2, 2) if
            # dimension == 3 else 2` is (1, 2, 2) for max_pool3d. The module computes them as written.
            self.scope[arg] = (entry[0], Expr.const(rank), *entry[2:])
            try:
                specs[kind] = self._layer_spec(ast.Call(node.span, ast.Name(template.span, kind), node.args,
                                                        node.kwargs))
            finally:
                self.scope[arg] = entry
        default = list(specs.values())[self.ir.rank_args[arg].index(default_rank(self.ir, arg))]
        return LayerSpec(default.kind, default.args, default.positional, span=node.span, sources=default.sources,
                         rank_arg=arg, alternatives={kind: spec.args for kind, spec in specs.items()})

    def _bind_call(self, params, call: ast.Call, what: str,
                   positional: int | None = None) -> tuple[dict[str, Any], dict[str, ast.Node]]:
        """Bind positional and keyword arguments to a signature: values, and the AST as written.
        `positional`: how many may be given by position (a block's keyword-only ones may not)."""
        names = [p[0] for p in params]
        bound: dict[str, Any] = {}
        sources: dict[str, ast.Node] = {}
        limit = len(params) if positional is None else positional
        if len(call.args) > limit:
            raise self.error("E0112", f"{what} takes at most {limit} positional arguments, got {len(call.args)}",
                             call.args[limit].span,
                             help=f"`{names[limit]}` and the arguments after it are keyword-only: give them by name"
                             if limit < len(params) else None)
        for (name, kind, _), arg in zip(params, call.args):
            bound[name] = self._argument(arg, kind, name)
            sources[name] = arg
        for kw in call.kwargs:
            if kw.name not in names:
                raise self.error("E0112", f"{what} has no argument `{kw.name}`", kw.span,
                                 help=suggest(kw.name, names) or _arguments_help(names))
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
        if kind.startswith("layer"):  # a block's `layer` argument: a kind, not a value
            return self._layer_kind_value(node, name)
        if kind.endswith(" | None"):  # a block's optional number: None, or what its type takes
            if isinstance(node, ast.NoneLit):
                return None
            if isinstance(node, ast.Name) and node.id in self.optional_args and \
                    not self._implied((negate(is_none(node.id)),)):
                return OptionalPassedOn(node.id)  # this block's own, None and all
            kind = kind[:-len(" | None")]
        if kind == "list[str]" and isinstance(node, (ast.ListExpr, ast.TupleExpr)):
            if not all(isinstance(item, ast.String) for item in node.items):
                raise self.error("E0113", f"`{name}` must be a list of strings", node.span)
            return [item.value for item in node.items]
        value = self._expr(node)
        if kind == "str" and isinstance(value, (str, StrArg)) or kind == "list[str]" and isinstance(value, StrListArg):
            return value  # a block's str argument: a string, or this block's own passed on
        if kind == "choice" and isinstance(value, StrArg):
            raise self.error("E0113", f"`{name}` takes a string written in the spec (the layer's words are checked "
                             "when it compiles), not a str argument", node.span,
                             help=f'branch on the argument instead: `if {value.name} == "...":`')
        sizes = _sizes(value, kind)  # `kernel_size=[1, 7]`: one size per spatial dim (attndsl/layers)
        if sizes is not None:
            # each size as written: `(1e0, 1)` is a float in Python, whatever its value
            written = node.items if isinstance(node, (ast.TupleExpr, ast.ListExpr)) and \
                len(node.items) == len(sizes) else [node] * len(sizes)
            for item, part in zip(sizes, written):
                if isinstance(item, Expr):
                    self._require_whole(part, item, f"`{name}`")
            return sizes
        if kind in ("size", "output_size") and isinstance(value, Expr):
            kind = "int"
        if kind == "choice" and isinstance(value, str):
            return value  # the layer's check says which words it takes
        if kind in ("int", "padding") and isinstance(value, Expr):
            self._require_whole(node, value, f"`{name}`")
        if kind in ("int", "float", "list[int]") and isinstance(value, Expr):
            return value
        if kind == "list[int]" and isinstance(value, ListArg):
            return value
        if kind == "list[int]" and isinstance(value, (list, tuple)) and all(isinstance(v, Expr) for v in value):
            for item, part in zip(value, node.items):  # `window_size=[wh, ww]`: whole numbers, as written
                self._require_whole(part, item, f"an item of `{name}`")
            return list(value)
        if kind == "padding" and (isinstance(value, Expr) or value in ("same", "valid")):
            return value
        if kind == "bool" and isinstance(value, Cond):
            return value
        if kind == "axis" and isinstance(value, Expr) and value.is_const and value.value.denominator == 1:
            if _float_source(node) is not None:  # `dim=2.0` is rendered as written, and torch takes no float
                raise self.error("E0113", f"`{name}` must be an integer axis, and this is a float in Python",
                                 node.span, help="write the number without a decimal point or exponent")
            return int(value.value)
        if kind == "float" and isinstance(value, Literal):
            return value
        if kind in ("int", "float", "bool", "axis", "padding", "output_size") and value is None and node is not None and isinstance(node, ast.NoneLit):
            return None
        if isinstance(value, ListArg) and kind in ("size", "output_size", "padding"):
            raise self.error("E0113", f"`{name}` takes one size per spatial axis, written out; `{value.name}` is a "
                             "list[int] argument, whose length is only known when the module is built",
                             node.span, help=f"write its items: `({value.name}[0], {value.name}[1])`")
        raise self.error("E0113", f"`{name}` must be {_EXPECTED.get(kind, kind)}", node.span)

    def _require_whole(self, node: ast.Node, value: Expr, what: str, code: str = "E0113") -> None:
        """A size rendered into __init__ (a param's shape, a layer's int argument) is passed to
        torch as written: it must be a Python int, not `64.0`, `c / 2` or a float argument."""
        if code == "E0205" and value.is_const and (value.value.denominator != 1 or value.value < 0):
            return  # the shape checker reports the value (E0205)
        culprit = _float_source(node, self.float_lets())
        if isinstance(culprit, ast.Name):  # a let written as a float: `let mip = max(5., c // r)`
            defined = self.scope.get(culprit.id)
            raise self.error(code, f"{what} must be a whole number, and `{culprit.id}` is a float in Python",
                             culprit.span, labels=[_label(defined[2], "defined here")] if defined else [],
                             help="write its numbers without a decimal point or exponent, or use int()")
        if culprit is not None:
            raise self.error(code, f"{what} must be a whole number, and this is a float in Python", culprit.span,
                             help="use `//` for integer division" if isinstance(culprit, ast.BinOp)
                             else "write the number without a decimal point or exponent")
        for expanded in self._let_expansions(value):  # one per combination of conditional lets' branches
            floats = sorted(float_symbols_outside_integers(expanded, self.float_symbols))
            if floats:
                raise self.error(code, f"{what} must be a whole number, but `{floats[0]}` is a float argument",
                                 node.span, help="int(), round(), ceil() or floor() make a whole number of it")
            if any(c.denominator != 1 for c in expanded.terms.values()) or any(
                    e < 0 or not isinstance(f, str) and f.op in ("sqrt", "truediv", "math.log", "math.log2",
                                                                    "math.exp")
                    for m in expanded.terms for f, e in m):
                raise self.error(code, f"{what} must be a whole number, and {value} may not be one", node.span,
                                 help="use `//` for integer division")


# What an argument of each kind must be, in words (an error's "must be ...", "takes ...").
_EXPECTED = {"int": "an integer", "float": "a number", "bool": "true or false", "axis": "a constant axis",
             "padding": "an integer, a list of them, \"same\" or \"valid\"", "list[int]": "a list argument",
             "size": "an integer or a list of them", "output_size": "an integer or a list of them (None "
             "keeps a dimension)", "choice": "a string", "str": "a string or a str argument",
             "list[str]": "a list of strings or a list[str] argument", "layer": "a layer kind"}


def _arguments_help(names: list[str]) -> str:
    return f"its arguments are {', '.join(names)}" if names else "it takes no arguments"


def _sizes(value, kind: str) -> tuple | None:
    """A list (or tuple) of sizes for an argument that takes one per spatial dim, else None."""
    if kind not in ("size", "padding", "output_size") or not isinstance(value, (list, tuple)) or not value:
        return None
    allowed = (Expr, type(None)) if kind == "output_size" else (Expr,)
    return tuple(value) if all(isinstance(item, allowed) for item in value) else None
