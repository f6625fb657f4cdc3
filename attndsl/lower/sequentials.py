"""Lowering of a sequential written child by child, with children named in loops:

    layer sa = sequential:
        conv_reduce1 = conv2d(channel, mid, 1)
        for i in range(num_layers):
            conv_{i} = conv2d(mid, mid, 3, padding=1)
            bn_{i} = batch_norm2d(mid)
        last_conv = conv2d(mid, 1, 1)

as the published modules build theirs with `add_module("conv_%d" % i, ...)` (BAM), so that
`state_dict` keys come out as theirs (`sa.conv_0.weight`). A loop is a LayerSpec of kind
"loop" among the children (args: var, start, stop); a child's name in a loop is a template,
`("conv_", i + offset, "")`. The loop variable names children only: every pass builds the
same layers, which must give back the shape they take (checked in attndsl/shapes/walk.py).
"""

from __future__ import annotations

from .. import syntax as ast
from ..ir import LayerInfo, LayerSpec, display_name
from ..symbolic import Expr
from .helpers import _label
from .values import MODULE_ATTRIBUTES


class SequentialLowering:
    def _stmt_LayerBlock(self, stmt: ast.LayerBlock) -> None:
        if stmt.kind != "sequential":
            raise self.error("E0113", f"only a sequential is written child by child, not `{stmt.kind}`",
                             stmt.kind_span, help=f"`layer {stmt.name} = sequential:` and one child per line")
        names: dict = {}
        children = self._children(stmt.children, [], names)
        spec = LayerSpec("sequential", {}, [], children, span=stmt.span)
        info = LayerInfo(stmt.name, spec, tuple(self.guard), stmt.span, stmt.comments)
        self._built_in_init(stmt.span, f"the children of layer `{stmt.name}`", spec)
        self.ir.layers.append(info)
        self._bind(stmt.name, "layer", info, stmt.span)

    def _children(self, items, loops: list, names: dict) -> list:
        children = []
        for item in items:
            if isinstance(item, ast.ChildLoop):
                start, stop = self._child_range(item)
                self._check_loop_var(item.var, item.var_span)
                if item.var in self.scope or any(item.var == var for var, _, _ in loops):
                    raise self.error("E0103", f"`{item.var}` is already defined; the loop variable would hide it",
                                     item.var_span)
                body = self._children(item.body, loops + [(item.var, start, stop)], names)
                children.append((None, LayerSpec("loop", {"var": item.var, "start": start, "stop": stop}, [], body,
                                                 span=item.span)))
                continue
            name = self._child_name(item, loops, names)
            with self._names_restored([var for var, _, _ in loops]):
                for var, _, _ in loops:  # it names children; their arguments may not use it
                    self.scope[var] = ("child_var", None, item.span)
                spec = self._layer_spec(item.value)
            children.append((name, spec))
        return children

    def _child_range(self, loop: ast.ChildLoop) -> tuple[Expr, Expr]:
        call = loop.iterable
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"
                and 1 <= len(call.args) <= 2 and not call.kwargs):
            raise self.error("E0113", "children are named in a loop over `range(n)` or `range(start, stop)`",
                             call.span)
        bounds = []
        for arg in call.args:
            value = self._expr(arg)
            if not isinstance(value, Expr):
                raise self.error("E0113", "the bounds of range() are whole numbers", arg.span)
            self._require_whole(arg, value, "a bound of range()")
            bounds.append(value)
        return (Expr.const(0), bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])

    def _child_name(self, child: ast.NamedChild, loops: list, names: dict):
        parts = child.name
        if not loops:
            if len(parts) != 1:
                raise self.error("E0113", "`{...}` in a child's name takes a loop variable: name it in a "
                                 "`for i in range(n):` loop", child.span)
            return self._unique_name(parts[0], child, names)
        texts = [p for p in parts if isinstance(p, str)]
        expressions = [p for p in parts if not isinstance(p, str)]
        if len(expressions) != 1 or not isinstance(parts[0], str) or len(parts) > 3:
            raise self.error("E0113", "a child named in a loop has a name like `conv_{i}`: text, then one loop "
                             "variable in braces (`{i + 1}` too), then text if needed", child.span)
        var, _, _ = loops[-1]
        saved = self.scope.get(var)
        self.scope[var] = ("loopvar", Expr.symbol(var), child.span)
        try:
            value = self._expr(expressions[0])
        finally:
            if saved is None:
                self.scope.pop(var)
            else:
                self.scope[var] = saved
        # Strings, booleans and lists are values too; only a size can name a pass.
        offset = value - Expr.symbol(var) if isinstance(value, Expr) else None
        if offset is None or not (offset.is_const and offset.value.denominator == 1):
            raise self.error("E0113", f"the braces in a child's name hold `{var}` plus a whole constant, so that "
                             "each pass names its children apart", expressions[0].span)
        template = (texts[0], int(offset.value), texts[1] if len(texts) > 1 else "")
        return self._unique_name(template, child, names, loops[-1])

    def _unique_name(self, name, child: ast.NamedChild, names: dict, loop=None):
        text = display_name(name)
        prefix = name[0] if isinstance(name, tuple) else name
        if not prefix or not (prefix[0].isalpha() or prefix[0] == "_") or prefix.startswith("_") or \
                not isinstance(name, tuple) and (not name.isidentifier() or name in MODULE_ATTRIBUTES):
            raise self.error("E0105" if name in MODULE_ATTRIBUTES else "E0113", f"`{text}` cannot name a child layer",
                             child.span)
        for other, (span, other_loop) in names.items():
            if other == name or self._may_collide(name, loop, other, other_loop):
                raise self.error("E0103", f"child `{text}` may have the name of `{display_name(other)}`", child.span,
                                 labels=[_label(span, "named here")])
        names[name] = (child.span, loop)
        return name

    @staticmethod
    def _may_collide(name, loop, other, other_loop) -> bool:
        """Whether a templated name can equal another: `fc{i}` for i in range(1, n) and `fc0` cannot."""
        if not isinstance(name, tuple) and not isinstance(other, tuple):
            return False
        if isinstance(name, tuple) and isinstance(other, tuple):
            return name[0] == other[0] and name[2] == other[2]  # two loops naming alike: refused
        (prefix, offset, suffix), (_, start, stop) = (name, loop) if isinstance(name, tuple) else (other, other_loop)
        fixed = other if isinstance(name, tuple) else name
        middle = fixed[len(prefix):len(fixed) - len(suffix)] if fixed.startswith(prefix) and \
            fixed.endswith(suffix) and len(fixed) > len(prefix) + len(suffix) else None
        if middle is None or not middle.lstrip("-").isdigit():
            return False
        index = int(middle) - offset
        outside = (start.is_const and index < start.value) or (stop.is_const and index >= stop.value)
        return not outside

    def _check_child_var(self, node: ast.Name, kind: str) -> None:
        if kind == "child_var":
            raise self.error("E0113", f"the loop variable `{node.id}` names children; their arguments are the same "
                             "in every pass", node.span,
                             help="children whose sizes change from pass to pass are written one by one")
