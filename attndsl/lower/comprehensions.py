"""Lowering of list comprehensions in the dataflow, one form per what they run over.

    feats = stack([conv(x) for conv in convs], dim=0)               # a layer list: list_comp node
    q, k, v = [rearrange(t, "b n (h d) -> b h n d", h=heads)
               for t in chunk(qkv(x), 3, dim=-1)]                  # counted tensors: unrolled
    spc = stack([conv(g) for conv, g in zip(convs, groups)], dim=1)  # zip or an axis: a loop

The last is the loop of attndsl/lower/loops.py that appends each element to a list.
"""

from __future__ import annotations

from .. import syntax as ast
from .values import LayerElement, LayerRef, Tensor, TensorList, Value


class ComprehensionLowering:
    def _expr_ListComp(self, node: ast.ListComp) -> Value:
        if self._loops_over_tensors(node.iterable):
            return self._comprehension_loop(node)
        iterable = self._expr(node.iterable)
        if isinstance(iterable, (tuple, list)) and iterable and all(isinstance(v, Tensor) for v in iterable):
            self._one_loop_var(node, "a list of tensors")
            return self._unrolled_comprehension(node, iterable)
        if not (isinstance(iterable, LayerRef) and iterable.info.element is not None):
            raise self.error("E0113", "a list comprehension in the dataflow loops over a layer list, tensors "
                             "(`chunk(...)`, `[a, b]`), a tensor's first axis or zip()", node.iterable.span,
                             help="e.g. `[conv(x) for conv in convs]` where `layer convs = [... for k in kernels]`")
        self._one_loop_var(node, "a layer list")
        self._check_loop_var(node.var, node.var_span)
        loop = self.ir.add_node("loop_layer", [], span=node.span, guard=tuple(self.guard), layer=iterable.info.name,
                                var=node.var)
        self._loop_stack = getattr(self, "_loop_stack", []) + [loop]
        with self._names_restored([node.var]):
            self.scope[node.var] = ("layer_element", LayerElement(node.var, iterable.info), node.var_span)
            try:
                element = self._expr(node.element)
            finally:
                self._loop_stack.pop()
        if not isinstance(element, Tensor):
            raise self.error("E0113", "the comprehension must compute a tensor", node.element.span)
        result = self.ir.add_node("list_comp", [element.node, loop], span=node.span, guard=tuple(self.guard),
                                  layer=iterable.info.name, var=node.var)
        return TensorList(result)

    def _loops_over_tensors(self, iterable: ast.Node) -> bool:
        """`zip(convs, groups)`, or a tensor's name: a loop at run time, pass by pass."""
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name):
            return iterable.func.id == "zip" and "zip" not in self.scope
        entry = self.scope.get(iterable.id) if isinstance(iterable, ast.Name) else None
        return entry is not None and entry[0] == "tensor" and isinstance(entry[1], Tensor)

    def _comprehension_loop(self, node: ast.ListComp) -> TensorList:
        """`[conv(g) for conv, g in zip(convs, groups)]`: the loop `for conv, g in zip(convs,
        groups):` appending the element to a new list (attndsl/lower/loops.py), which is the
        comprehension's value; its names are its own, as in Python."""
        if getattr(self, "_loop", None) is not None:
            raise self.error("E0113", "a comprehension over zip() or a tensor's axis is a loop, inside a loop",
                             node.span, help="put the loop's body in a block of its own and use that block as a "
                                             "layer, or compute the list before the loop")
        base = f"{node.targets[-1][0]}_outs"  # `group_outs` for `... for conv, group in zip(convs, groups)`
        name = next(f"{base}{n or ''}" for n in range(len(self.scope) + 1) if f"{base}{n or ''}" not in self.scope)
        self._accumulator(name, node.span, [])
        append = ast.Call(node.span, ast.Attribute(node.span, ast.Name(node.span, name), "append"), [node.element], [])
        with self._names_restored([var for var, _ in node.targets]):
            self._stmt_For(ast.For(node.span, node.targets, node.iterable, [ast.ExprStmt(node.span, append)]))
        return self.scope.pop(name)[1]

    def _unrolled_comprehension(self, node: ast.ListComp, tensors) -> tuple:
        """`[f(t) for t in chunk(x, 3, dim=-1)]`: the compiler knows how many tensors there are,
        so it writes the element once for each, as if the spec had (no loop at run time)."""
        self._check_loop_var(node.var, node.var_span)
        elements = []
        with self._names_restored([node.var]):
            for tensor in tensors:
                self.scope[node.var] = ("tensor", tensor, node.var_span)
                element = self._expr(node.element)
                if not isinstance(element, Tensor):
                    raise self.error("E0113", "the comprehension must compute a tensor", node.element.span)
                elements.append(element)
        return tuple(elements)
