"""Lowering of calls: ops from the registry and scalar functions (a layer's call is
lowered in layer_calls.py)."""

from __future__ import annotations

from typing import Any

from .. import symbolic as sym
from .. import syntax as ast
from ..spec_expr import expr as spec_expr
from ..diagnostics import Span
from ..ir import Cond
from ..ranks import PackSizes
from ..layers import LAYERS
from ..ops import OPS, OpDef
from ..ast_expressions import raw_offset
from ..rearrange import PatternError
from ..symbolic import Expr
from .numbers import NUMBER_FUNCTIONS
from .torch_names import spelling_help
from .helpers import _label
from .values import (MAX_COUNT, SCALAR_FUNCTIONS, DtypeLimit,
                     LayerElement, LayerRef, ListArg, Literal, Tensor, TensorList, Value, suggest)


class CallLowering:
    def _expr_Call(self, node: ast.Call) -> Value:
        func = node.func
        if isinstance(func, (ast.Name, ast.Attribute)):
            callee = None
            if isinstance(func, ast.Name) and func.id in self.layer_named_args:  # called: the layer
                return self._call_layer(self._argument_layer(func), node)
            if isinstance(func, ast.Name) and func.id not in self.scope and func.id not in ("inf",):
                return self._call_named(func.id, node)
            callee = self._expr(func)
            if isinstance(callee, (LayerRef, LayerElement)):
                return self._call_layer(callee, node)
            named_function = isinstance(func, ast.Name) and (func.id in OPS and OPS[func.id].callable_by_name or
                                                             func.id in SCALAR_FUNCTIONS)
            if named_function and self.scope[func.id][0] == "arg":
                # a number is never called: `topk(s, topk)` with BiFormer's argument `topk` (a published
                # name, which torch's namespace kept apart) calls the function
                return self._call_named(func.id, node)
            if named_function:
                raise self.error("E0113", f"`{func.id}` names a value of this block, which hides the function "
                                 f"{func.id}()", func.span, labels=[_label(self.scope[func.id][2], "named here")],
                                 help="rename the value to call the function (an input keeps its name: compute the "
                                      "function another way)")
            if isinstance(func, ast.Name) and func.id in self._hidden_layers:
                raise self.error("E0113", f"`{func.id}` is a value here: its assignment took the name from the layer",
                                 func.span, labels=[_label(self.scope[func.id][2], "the value named so here"),
                                                    _label(self._hidden_layers[func.id], "the layer")],
                                 help="give the value another name to call the layer again")
            raise self.error("E0113", "only layers and functions can be called", func.span)
        if isinstance(func, ast.Subscript) and isinstance(func.value, ast.Name) and \
                self.scope.get(func.value.id, ("",))[0] == "layer":  # `convs[0](x)`, `blocks[i](x)`
            name = func.value.id
            raise self.error("E0113", f"the layers of the layer list `{name}` are called in a loop over it, not "
                             "picked by an index", func.span,
                             help=f"`for layer in {name}:`, `[f(x) for f in {name}]`, or `zip({name}, ...)` with "
                                  "another list; a layer on its own is a `layer` of its own")
        raise self.error("E0113", "only layers and functions can be called", func.span)

    def _call_named(self, name: str, node: ast.Call) -> Value:
        operator = OPS[name].operator if name in OPS else None
        if operator is not None:
            raise self.error("E0102", f"`{name}` is written as an operator: `x {operator} y`" if operator != "-" or
                             name == "sub" else f"`{name}` is written as an operator: `-x`", node.func.span)
        if (name not in OPS or not OPS[name].callable_by_name) and name not in SCALAR_FUNCTIONS and name != "len":
            if name in LAYERS or name == "sequential" or name in self.known_blocks:
                raise self.error("E0102", f"`{name}` is a layer kind: declare it with `layer {name}_1 = {name}(...)` "
                                 "and call the layer", node.func.span)
            # Only what can be called: functions, and the layers in scope (a misspelt layer name).
            callable_names = [n for n, d in OPS.items() if d.callable_by_name] + list(SCALAR_FUNCTIONS)
            callable_names += [n for n, entry in self.scope.items() if entry[0] in ("layer", "layer_element")]
            raise self.error("E0102", f"unknown function `{name}`", node.func.span,
                             help=spelling_help(name) or suggest(name, callable_names))
        # Arguments are evaluated once, left to right; their kinds pick scalar or tensor meaning.
        values = [self._expr(a) for a in node.args]
        keyword_values = {kw.name: (kw, self._expr(kw.value)) for kw in node.kwargs}
        is_tensor_call = any(isinstance(v, (Tensor, TensorList, list)) for v in values)
        if name in NUMBER_FUNCTIONS and not is_tensor_call:
            return self._number_function(name, node, values)
        if name not in OPS and is_tensor_call:
            raise self.error("E0113", f"{name}() takes a number; on tensors, write the op it stands for",
                             node.span)
        if name in SCALAR_FUNCTIONS and not is_tensor_call:
            if keyword_values or not all(isinstance(v, Expr) for v in values):
                raise self.error("E0112", f"{name}() on numbers takes numbers only", node.span)
            if name == "sqrt":
                if len(values) != 1:
                    raise self.error("E0112", "sqrt() takes one number", node.span)
                self._note_precondition("nonnegative", values[0], node.args[0].span)
                return sym.sqrt(values[0])
            if len(values) < 2:
                raise self.error("E0112", f"{name}() takes at least two numbers", node.span)
            combine = sym.maximum if name == "max" else sym.minimum
            result = values[0]
            for v in values[1:]:
                result = combine(result, v)
            return result
        if name in ("max", "min") and len(values) == 2 and all(isinstance(v, Tensor) for v in values) \
                and not keyword_values:
            return self._call_op(OPS["maximum" if name == "max" else "minimum"], node, values, keyword_values)
        if name == "len":
            if len(values) == 1 and isinstance(values[0], ListArg):
                return Expr.symbol(f"len({values[0].name})")
            raise self.error("E0112", "len() takes a list[int] argument (the length of a list[str] is not a size "
                             "the module is built with)", node.span)
        return self._call_op(OPS[name], node, values, keyword_values)

    def _call_op(self, definition: OpDef, node: ast.Call, values: list, keyword_values: dict) -> Value:
        params = [p for p in definition.params if p.kind != "sizes"]
        takes_sizes = len(params) != len(definition.params)
        operands: list[int] = []
        attrs: dict[str, Any] = {}
        keywords = dict(keyword_values)
        if len(values) > len(params):
            help = None
            if params[-1].kind in ("ints", "axes"):  # `expand(x, -1, -1, h, 5)`, as torch's methods take them
                items = ", ".join(spec_expr(a) for a in node.args[len(params) - 1:])
                help = f"give `{params[-1].name}` as one tuple: `{definition.name}(..., ({items}))`"
            raise self.error("E0112", f"{definition.name}() takes at most {len(params)} positional arguments",
                             node.args[len(params)].span, help=help)
        unknown = [kw for kw, _ in keywords.values() if kw.name not in {p.name for p in params}]
        if unknown and not takes_sizes:
            names = [p.name for p in params]
            raise self.error("E0112", f"{definition.name}() has no argument `{unknown[0].name}`", unknown[0].span,
                             help=suggest(unknown[0].name, names) or _arguments_help(names))
        for index, param in enumerate(params):
            if index < len(values):
                # rearrange's `x=h` names an axis where `x` is given by position (einops reads it so)
                if param.name in keywords and not takes_sizes:
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
        # arange(n): on the device of an input; float(index): in its dtype
        if definition.extra.get("creates") and not operands or definition.extra.get("converts") and len(operands) == 1:
            like = self._like_operand(node)
            operands += [] if like is None else [like]
        if definition.extra.get("unpacked"):  # as many results as names it is unpacked into
            attrs["count"] = self._unbind_count(node)
        result = self._add(definition.name, operands, node.span, **attrs)
        if not definition.outputs:
            return Tensor(result)
        # A multi-output op (chunk) always gets item nodes, even for one result: its own
        # node's shape is a tuple of shapes.
        count = definition.outputs(attrs)
        items = tuple(Tensor(self._add("item", [result], node.span, index=i)) for i in range(count))
        return items[0] if count == 1 else items

    def _unbind_count(self, node: ast.Call) -> int:
        """How many tensors `unbind` gives: one per name it is unpacked into, which the shape
        check then holds to the size of its axis."""
        if self.unpacked is None or self.unpacked[0] is not node or self.unpacked[1] < 2:
            raise self.error("E0113", "unbind() is unpacked into names, one per slice: `q, k = unbind(qk, dim=0)`",
                             node.span, help="to apply something to every slice, loop over the first axis: "
                             "`[f(t) for t in x]`")
        return self.unpacked[1]

    def _bind_op_arg(self, definition, param, arg_node, value, operands, attrs) -> None:
        kind = param.kind
        if value is None and not param.required and param.default is None and kind not in ("tensor", "tensors"):
            attrs[param.name] = None  # `s=None`: the default, written out
            return
        if kind == "tensor":
            if not isinstance(value, Tensor):
                tensors = [p for p in definition.params if p.kind in ("tensor", "tensors", "operand")]
                which = "" if len(tensors) == 1 else f" as `{param.name}`"
                raise self.error("E0113", f"{definition.name}() takes a tensor{which}, and this is {_described(value)}",
                                 arg_node.span, help=_number_help(definition.name, value))
            operands.append(value.node)
        elif kind == "operand":
            operands.append(self._operand(value, arg_node))
        elif kind == "tensors":
            items = list(value) if isinstance(value, (list, tuple)) else [value]
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
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if not items or not all(isinstance(v, Expr) and v.is_const and v.value.denominator == 1 for v in items):
                raise self.error("E0115", f"`{param.name}` must be a constant integer or a list of them", arg_node.span)
            ints = tuple(int(v.value) for v in items)
            attrs[param.name] = ints if isinstance(value, (list, tuple)) else ints[0]
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
            if isinstance(value, DtypeLimit):
                # a limit of the filled tensor's own dtype, as `attn.masked_fill(m, -torch.finfo(attn.dtype).max)`
                if definition.name != "masked_fill" or not operands or value.node != operands[0]:
                    raise self.error("E0113", "finfo() gives the fill value of masked_fill, of the tensor it fills",
                                     arg_node.span, help="e.g. masked_fill(att, mask, -finfo(att).max)")
            elif not isinstance(value, (Expr, Literal)):
                raise self.error("E0113", f"`{param.name}` must be a number", arg_node.span)
            attrs[param.name] = value
        elif kind == "pattern":  # rearrange's, einsum's: parsed here, located in the string
            if not isinstance(value, str):
                raise self.error("E0113", f"the {param.name} must be a string", arg_node.span)
            try:
                attrs[param.name] = definition.extra["parse"](value)
            except PatternError as problem:
                raw = getattr(arg_node, "raw", None)
                start = raw_offset(raw, problem.offset) if raw is not None else problem.offset
                end = raw_offset(raw, problem.offset + problem.length) if raw is not None else start + problem.length
                span = Span(arg_node.span.path, arg_node.span.line, arg_node.span.column + 1 + start,
                            arg_node.span.line, arg_node.span.column + 1 + end)
                raise self.error("E0117", problem.message, span, help=problem.help)
        elif kind == "ints" and isinstance(value, PackSizes):  # `unflatten(y, 2, spatial)`
            if not definition.extra.get("takes_pack"):
                raise self.error("E0113", f"`{param.name}` of {definition.name}() takes sizes, and `{value.name}` is a "
                                 "pack of them, whose number depends on the rank", arg_node.span,
                                 help="unflatten() takes a pack: `unflatten(y, 2, spatial)`")
            attrs[param.name] = value
        elif kind == "ints" and isinstance(value, ListArg):
            raise self.error("E0113", f"`{param.name}` of {definition.name}() takes its sizes written out; "
                             f"`{value.name}` is a list[int] argument, whose length is only known when the module "
                             "is built", arg_node.span, help=f"write its items: `({value.name}[0], {value.name}[1])`")
        elif kind == "ints":  # a size, or one per dimension: `3`, `[1, 7]`
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if not items or not all(isinstance(v, Expr) for v in items):
                raise self.error("E0113", f"`{param.name}` of {definition.name}() must be an integer expression "
                                 "or a tuple of them", arg_node.span)
            for item in items:
                self._require_whole(arg_node, item, f"`{param.name}` of {definition.name}()")
            attrs[param.name] = tuple(items) if isinstance(value, (list, tuple)) else value
        elif kind == "numbers":  # tensor([0, 6, 1]): its values, and whether they make it float
            attrs[param.name], attrs["floating"] = self._tensor_values(arg_node, value)
        elif kind == "choice":
            if value not in param.choices:
                words = ", ".join('"' + c + '"' for c in param.choices)
                raise self.error("E0112", f"`{param.name}` of {definition.name}() is one of {words}", arg_node.span,
                                 help=suggest(value, list(param.choices)) if isinstance(value, str) else None)
            attrs[param.name] = value
        else:  # the registry's kinds are fixed
            raise AssertionError(kind)


def _arguments_help(names: list[str]) -> str:
    return f"its arguments are {', '.join(names)}" if names else "it takes no arguments"



def _described(value) -> str:
    """A value as the user knows it, for "this is ..." messages."""
    if isinstance(value, (Expr, Literal)):
        return "a number"
    if isinstance(value, Cond):
        return "a condition"
    if isinstance(value, (LayerRef, LayerElement)):
        return "a layer (call it on a tensor)"
    if isinstance(value, TensorList):
        return "a list of tensors"
    if isinstance(value, (list, ListArg)):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "None" if value is None else "not a tensor"


def _number_help(name: str, value) -> str | None:
    if not isinstance(value, (Expr, Literal)):
        return None
    return (f"{name}() works on tensors; on numbers, only {', '.join(SCALAR_FUNCTIONS)} and the operators "
            "`+ - * / // % **` are computed (when the module is built)")
