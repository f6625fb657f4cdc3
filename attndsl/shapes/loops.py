"""Shapes of a loop in forward (attndsl/lower/loops.py).

A pass starts from the carried values' shapes before the loop and must give each carried
value back the shape it had (proven, checked, or an error at the assignment that changes
it): by induction the shape after any number of passes, none included, is the one before
the loop. A tensor looped over gives each pass its first axis' slices; tensors zipped
together must agree on that axis. A list a loop appends to holds its first items and one
tensor a pass, all of one shape.
"""

from __future__ import annotations

from ..lower.loops import list_length, loop_layout
from ..ops import ListShape
from ..symbolic import Expr
from .context import ShapeContext, show
from .dtypes import with_article

LOOP_OPS = ("loop", "loop_carry", "loop_slice", "loop_end")


class LoopShapes:
    """Mixin of Walk: the shapes of the nodes of a loop."""

    def loop_shape(self, node: int, attrs: dict, operands: list[int], shapes: list):
        op = attrs["op"]
        context = ShapeContext(self, node)
        if op == "loop":
            self.dtypes[node] = None
            layer = attrs["attrs"].get("layer")
            for other in attrs["attrs"].get("zipped", ()):  # Python's zip would stop at the shorter, silently
                context.expect_equal(list_length(self.ir.layer(other)), self.passes(node),
                                     f"the lengths of `{layer}` and `{other}` (zipped together)")
            for index, shape in enumerate(shapes):
                if not shape:
                    context.error("E0202", "a loop runs over the first axis of a tensor, and this one has rank 0")
                if layer:  # zip(layers, tensors): Python's zip would stop at the shorter, silently
                    context.expect_equal(shape[0], self.passes(node), f"the first axis of the tensor zipped with "
                                         f"`{layer}` and its length")
                elif index:
                    context.expect_equal(shape[0], shapes[0][0], "the first axis of the tensors zipped together")
            return ()
        if op == "loop_carry":
            self.dtypes[node] = self.dtypes.get(operands[0])
            return shapes[0]
        if op == "loop_slice":
            self.dtypes[node] = self.dtypes.get(operands[0])
            return tuple(shapes[0][1:])
        return self._loop_end(node, attrs, operands, shapes)

    def passes(self, anchor: int) -> Expr:
        """How many passes a loop makes: its layer list's length, or the first axis looped over."""
        attrs = self.ir.graph.nodes[anchor]
        if attrs["attrs"].get("count") is not None:  # `for _ in range(n):`
            return attrs["attrs"]["count"]
        if attrs["attrs"].get("layer"):
            return list_length(self.ir.layer(attrs["attrs"]["layer"]))
        return self.shapes[self.ir.operands(anchor)[0]][0]

    def _loop_end(self, node: int, attrs: dict, operands: list[int], shapes: list):
        details = attrs["attrs"]
        layout = loop_layout(details)
        part = {role: operands[start:stop] for role, (start, stop) in layout.items()}
        results, dtypes = [], []
        for name, final, carry in zip(details["carried"], part["finals"], part["carries"]):
            before, after = self.shapes[carry], self.shapes[final]
            # Checked where the body runs: what a pass needs holds when there is a pass.
            context = ShapeContext(self, final)
            if len(before) != len(after):
                context.error("E0202", f"a pass of the loop turns `{name}` of shape {show(before)} into one of "
                              f"shape {show(after)}", help="a loop gives each value it carries the shape it had")
            for axis, (was, now) in enumerate(zip(before, after)):
                context.expect_equal(now, was, f"dimension {axis} of `{name}` before and after a pass of the loop")
            if self.dtypes.get(final) != self.dtypes.get(carry):
                was_type, now_type = (with_article(self.dtypes.get(n)) for n in (carry, final))
                context.error("E0209", f"a pass of the loop turns `{name}` from {was_type} tensor into {now_type} one")
            results.append(before)
            dtypes.append(self.dtypes.get(carry))
        passes = self.passes(part["anchor"][0])
        firsts = list(part["firsts"])
        element_vars = {layer.loop_var for layer in self.ir.layers if layer.loop_var}
        for (name, count), value in zip(details["lists"], part["appended"]):
            element = self.shapes[value]
            context = ShapeContext(self, value)
            for axis, size in enumerate(element):
                # `[conv2d(c, c, 3, padding=i) for i in ...]` applied pass by pass: each pass
                # appends another size, and a list holds tensors of one shape (stack fails)
                varying = sorted(size.symbols() & element_vars) if isinstance(size, Expr) else []
                if varying:
                    layer = next(l for l in self.ir.layers if l.loop_var == varying[0])
                    context.error("E0201", f"the tensors appended to `{name}` differ from pass to pass: dimension "
                                  f"{axis} is {show((size,))[1:-1]}, which depends on `{varying[0]}` of `{layer.name}`",
                                  help=f"a list holds tensors of one shape: make every element of `{layer.name}` "
                                  "give the same size")
            for first in firsts[:count]:
                if len(self.shapes[first]) != len(element):
                    context.error("E0202", f"`{name}` holds tensors of shape {show(self.shapes[first])}, and this "
                                  f"one has shape {show(element)}", help="a list holds tensors of one shape")
                for axis, (a, b) in enumerate(zip(self.shapes[first], element)):
                    context.expect_equal(b, a, f"dimension {axis} of the tensors of `{name}`")
                if self.dtypes.get(first) != self.dtypes.get(value):
                    context.error("E0209", f"`{name}` holds {self.dtypes.get(first)} tensors, and this one is "
                                  f"{self.dtypes.get(value)}")
            firsts = firsts[count:]
            results.append(ListShape(passes + count if count else passes, element))
            dtypes.append(self.dtypes.get(value))
        self.dtypes[node] = tuple(dtypes)
        return tuple(results)


__all__ = ["LoopShapes", "LOOP_OPS"]
