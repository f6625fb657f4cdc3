"""Lowering of layer calls: a child layer or sub-block called with its tensors, and the
sizes, flags and optional inputs a call passes on to a block."""

from __future__ import annotations

from .. import syntax as ast
from ..ir import Cond
from ..ops import OPS
from .helpers import _label
from .values import LayerElement, Tensor, Value


class LayerCallLowering:
    def _call_layer(self, callee, node: ast.Call) -> Value:
        inputs = self._block_inputs(callee)
        if (node.kwargs and inputs is None) or len(node.args) < 1:
            info = getattr(callee, "info", None)
            hides = info is not None and info.name in OPS and OPS[info.name].callable_by_name
            raise self.error("E0112", "a layer is called with its input tensor(s)", node.span,
                             labels=[_label(info.span, f"`{info.name}` is this layer, which hides the function "
                                                       f"{info.name}()")] if hides else (),
                             help=f"rename the layer (e.g. `{info.name}_`) to call the function" if hides else None)
        operands, given, passed = self._call_arguments(callee, node, inputs or [])
        # A block's flags and sizes, as the caller computes them, and its optional inputs given
        # the caller's (each attribute absent when there is none)
        extra = ({"forward_args": given} if given else {}) | ({"passed_on": passed} if passed else {})
        if isinstance(callee, LayerElement):
            loop = callee.anchor if callee.anchor is not None else self._loop_stack[-1]
            node_id = self._add("call_layer", operands + [loop], node.span, layer=callee.info.name, path=(),
                                element=True, var=callee.var, index=callee.index, **extra)
        else:
            if callee.info.element is not None:
                raise self.error("E0113", f"`{callee.info.name}` is a list of layers; loop over it",
                                 node.func.span, help=f"[f(x) for f in {callee.info.name}]")
            # In a loop's body a layer runs once a pass, whatever its input (attndsl/lower/loops.py).
            loop = getattr(self, "_loop", None)
            node_id = self._add("call_layer", operands + ([loop.anchor] if loop else []), node.span,
                                layer=callee.info.name, path=callee.path, element=False, looped=loop is not None,
                                **extra)
        count = self._returned_values(callee)
        if count == 1:
            return Tensor(node_id)
        # A sub-block that returns several tensors: one item node per value, as for chunk.
        self.ir.graph.nodes[node_id]["attrs"]["outputs"] = count
        # Never shown (the line unpacks into the items' names), but it must not take theirs.
        self.ir.graph.nodes[node_id]["name"] = f"{callee.info.name}_outputs"
        return tuple(Tensor(self._add("item", [node_id], node.span, index=i)) for i in range(count))

    def _call_arguments(self, callee, node: ast.Call, inputs: list[ast.Input]) -> tuple[list[int], tuple, tuple]:
        """The tensors a call passes (its operands); the flags and sizes it passes to a block
        (`attn(x, H, W)`, `attn(x, is_causal=true)`), by name, in the block's order; and the
        block's optional inputs it passes this block's own optional inputs to, None and all:
        ((the block's input, this block's), ...)."""
        operands, given, passed = [], {}, {}

        def tensor(declared, arg: ast.Node) -> None:
            if declared is not None and declared.dtype == "sizes":
                self._refuse_sizes_tuple(callee, declared, arg)
            if declared is not None and declared.optional and isinstance(arg, ast.Name) and \
                    self.scope.get(arg.id, ("",))[0] == "input_opt" and Cond("present", (arg.id,)) not in self.guard:
                # an optional input passed on, None and all (timm's `self.attn(x, attn_mask=attn_mask)`):
                # the block's own `if mask:` decides as this block's `if attn_mask:` would
                operands.append(self.scope[arg.id][1].node)
                passed[declared.name] = arg.id
                return
            value = self._expr(arg)
            if not isinstance(value, Tensor):
                raise self.error("E0113", "a layer's inputs must be tensors", arg.span)
            operands.append(value.node)

        for position, arg in enumerate(node.args):
            declared = inputs[position] if position < len(inputs) else None
            if declared is not None and declared.shape is None:
                given[declared.name] = self._forward_scalar(declared, arg)
            else:
                tensor(declared, arg)
        tensors = [i for i in inputs if i.shape is not None]  # given by position (or by name, in order)
        for keyword in node.kwargs:
            declared = next((i for i in inputs if i.name == keyword.name), None)
            if declared is None:
                raise self.error("E0112", f"block {self._called_block(callee).name} has no input `{keyword.name}`",
                                 keyword.span, help=f"its inputs are {', '.join(i.name for i in inputs)}")
            if keyword.name in given or any(i.name == keyword.name for i in tensors[:len(operands)]):
                raise self.error("E0112", f"`{keyword.name}` is given twice", keyword.span)
            if declared.shape is None:
                given[keyword.name] = self._forward_scalar(declared, keyword.value)
            elif tensors.index(declared) == len(operands):  # the next tensor: as if by position
                tensor(declared, keyword.value)
            else:
                skipped = tensors[len(operands)].name
                raise self.error("E0112", f"`{keyword.name}` is given by name, but `{skipped}` before it is not "
                                 "given", keyword.span, help=f"give `{skipped}` too (a tensor input may be skipped "
                                 "only at the end)")
        for declared in inputs:
            if declared.shape is None and declared.dtype == "int" and declared.name not in given:
                raise self.error("E0112", f"the call does not give the size `{declared.name}` the block takes",
                                 node.span, help=f"e.g. `{declared.name}={declared.name}` or by position")
        return operands, tuple((i.name, given[i.name]) for i in inputs if i.name in given), tuple(passed.items())

    def _refuse_sizes_tuple(self, callee, declared: ast.Input, arg: ast.Node) -> None:
        """A block's `sizes[p, q]` input is a tuple its forward is given; a call in a spec passes
        tensors, sizes one by one and flags only, so such a block is called with its sizes apart."""
        block = self._called_block(callee).name
        sizes = [dim.id if isinstance(dim, ast.Name) else f"size{index}" for index, dim in enumerate(declared.shape)]
        given = ", ".join(f"{size}={size}" for size in sizes)
        raise self.error("E0113", f"`{declared.name}` of {block} is a tuple of sizes (sizes[{', '.join(sizes)}]), "
                         "which a block used as a layer cannot be given", arg.span,
                         help=f"declare each size an input of {block} of its own ("
                         f"{', '.join(f'`input {size}: int`' for size in sizes)}) and pass them: "
                         f"`{callee.info.name}(..., {given})`")

    def _forward_scalar(self, declared: ast.Input, node: ast.Node):
        """A size (an integer expression of the caller's sizes and arguments) or a flag (a
        condition, decided when the call runs) passed to a block."""
        if declared.dtype == "int":
            if isinstance(node, ast.Name) and self.scope.get(node.id, ("",))[0] in ("tensor", "input_opt"):
                raise self.error("E0113", f"`{declared.name}` is a size of the block: a whole number, not a tensor",
                                 node.span)
            return self._dim(node)
        value = self._expr(node)
        if not isinstance(value, Cond):
            raise self.error("E0113", f"`{declared.name}` is a flag of the block: true, false or a condition",
                             node.span)
        return value

    def _block_inputs(self, callee) -> list[ast.Input] | None:
        """The `input` statements of the block a call calls; None for a layer."""
        block = self._called_block(callee)
        return None if block is None else [s for s in block.body if isinstance(s, ast.Input)]

    def _called_block(self, callee) -> ast.Block | None:
        spec = callee.info.element if isinstance(callee, LayerElement) else callee.info.spec
        if isinstance(callee, LayerElement) and callee.index is not None:
            spec = spec.children[callee.index][1]
        for name in () if isinstance(callee, LayerElement) else callee.path:
            spec = next(child for child_name, child in spec.children if child_name == name)
        if spec is None or spec.kind != "block" or spec.block not in self.known_blocks:
            return None
        return self.known_blocks[spec.block]

    def _returned_values(self, callee) -> int:
        """How many tensors a layer call gives: a sub-block's `return a, b` gives two."""
        block = self._called_block(callee)
        if block is None:
            return 1
        returns = [s for s in block.body if isinstance(s, ast.Return)]
        return len(returns[-1].values) if returns else 1
