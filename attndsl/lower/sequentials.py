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
        self._built_in_init(stmt.span, f"the children of layer `{stmt.name}`", spec, stmt.children)
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
        text = display_name(name, loop[0]) if loop else name
        prefix = name[0] if isinstance(name, tuple) else name
        if not prefix or not (prefix[0].isalpha() or prefix[0] == "_") or prefix.startswith("_") or \
                not isinstance(name, tuple) and (not name.isidentifier() or name in MODULE_ATTRIBUTES):
            raise self.error("E0105" if name in MODULE_ATTRIBUTES else "E0113", f"`{text}` cannot name a child layer",
                             child.span)
        for other, (span, other_loop) in names.items():
            if other == name or self._may_collide(name, loop, other, other_loop):
                written = display_name(other, other_loop[0]) if other_loop else other
                raise self.error("E0103", f"child `{text}` may have the name of `{written}`", child.span,
                                 labels=[_label(span, "named here")])
        names[name] = (child.span, loop)
        return name

    @staticmethod
    def _may_collide(name, loop, other, other_loop) -> bool:
        """Whether a templated name can equal another for some passes of their loops: `fc{i}`
        for i in range(1, n) and `fc0` cannot; `a{i}` for i in range(12) and `a1{j}` can
        (`a10`). Loops whose ranges the arguments decide may run as far as they like."""
        if not isinstance(name, tuple) and not isinstance(other, tuple):
            return False
        if not isinstance(name, tuple):
            name, loop, other, other_loop = other, other_loop, name, loop
        if not isinstance(other, tuple):
            return _may_be_named(other, name, loop)
        return _templates_meet(name, loop, other, other_loop)

    def _check_child_var(self, node: ast.Name, kind: str) -> None:
        if kind == "child_var":
            raise self.error("E0113", f"the loop variable `{node.id}` names children; their arguments are the same "
                             "in every pass", node.span,
                             help="children whose sizes change from pass to pass are written one by one")


# How many names of a loop with constant bounds are tried one by one against another template.
_NAMES_TRIED = 10_000
_DIGITS = "0123456789-"  # what the text of a number is made of (`-1` too)


def _may_be_named(text: str, template: tuple, loop) -> bool:
    """Whether some pass of `loop` may give `template` the name `text`."""
    prefix, offset, suffix = template
    if len(text) <= len(prefix) + len(suffix) or not text.startswith(prefix) or not text.endswith(suffix):
        return False
    middle = text[len(prefix):len(text) - len(suffix)]
    if not middle.lstrip("-").isdigit() or str(int(middle)) != middle:  # `a01` is no name `a{i}` gives
        return False
    return _may_run(int(middle) - offset, loop)


def _may_run(index: int, loop) -> bool:
    """Whether the loop may run a pass with this index (bounds the arguments decide may be anything)."""
    _, start, stop = loop
    return not ((start.is_const and index < start.value) or (stop.is_const and index >= stop.value))


def _names(template: tuple, loop) -> list[str] | None:
    """Every name the loop gives the template, where its bounds are constant and it has few passes."""
    _, start, stop = loop
    if not (start.is_const and stop.is_const) or stop.value - start.value > _NAMES_TRIED:
        return None
    prefix, offset, suffix = template
    return [f"{prefix}{index + offset}{suffix}" for index in range(int(start.value), int(stop.value))]


def _templates_meet(name: tuple, loop, other: tuple, other_loop) -> bool:
    """Whether two templates named in loops may give one name. A name is text, a run of
    digits holding the number, text: where the texts around the two runs differ, the names
    differ, unless one run is written in the other's text, which fixes its number."""
    for names, template, template_loop in ((_names(name, loop), other, other_loop),
                                           (_names(other, other_loop), name, loop)):
        if names is not None:  # few passes: try each of their names
            return any(_may_be_named(text, template, template_loop) for text in names)
    (before, after), (other_before, other_after) = _around_number(name), _around_number(other)
    if (before, after) == (other_before, other_after):
        return True  # the same text around: equal numbers may give one name, as passes far enough may
    if len(before) == len(other_before):
        return False  # the runs start alike: the texts around them must be equal
    if len(before) > len(other_before):
        return _templates_meet(other, other_loop, name, loop)
    # the run of `name` is written in the other's text, between two letters: its number is fixed
    if not other_before.startswith(before):
        return False
    run_end = len(before)
    while other_before[run_end] in _DIGITS:  # (the text ends in a letter: the run ends inside it)
        run_end += 1
    prefix, offset, suffix = name
    run, written_before, written_after = other_before[len(before):run_end], prefix[len(before):], \
        suffix[:len(suffix) - len(after)]
    if not (run.startswith(written_before) and run.endswith(written_after)):
        return False
    number = run[len(written_before):len(run) - len(written_after)]
    if not number.lstrip("-").isdigit() or str(int(number)) != number or not _may_run(int(number) - offset, loop):
        return False
    return _may_be_named(prefix + number + suffix, other, other_loop)


def _around_number(template: tuple) -> tuple[str, str]:
    """The text before and after the run of digits a template's number is written in:
    `a1{j}_2x` is `a`, a run, `_2x`."""
    prefix, _, suffix = template
    return prefix.rstrip(_DIGITS), suffix.lstrip(_DIGITS)
