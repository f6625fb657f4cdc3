"""Lowering of repetition: layer lists built `n` times and loops in forward.

    layer blocks = [TransformerBlock(dim, heads) for _ in range(depth)]
    layer layers = [[PreNormAttention(dim), PreNormFeedForward(dim)] for _ in range(depth)]

    for block in blocks:                  # over a layer list
        x = block(x)
    for conv, g in zip(convs, groups):    # a layer list zipped with tensors (PSA)
        outs.append(conv(g))
    for conv, norm in zip(convs, norms):  # layer lists zipped together (their lengths agree)
        x = norm(conv(x))
    for attn, ff in layers:               # each element a list: unpacked
        x = attn(x) + x
        x = ff(x) + x
    outs = []
    for qs, ks in zip(q, k):              # over the first axis of tensors
        memory = memory + transpose(ks, 1, 2) @ qs
        outs.append(qs @ memory)
    for _ in range(iters):                # a number of passes the arguments give
        v = 0.25 * v @ (13 * eye(n) - z @ v)

A loop is a few nodes around its body: `loop` (the pass: its element layer, the tensors
it slices, or its `count`), `loop_carry` per carried value (a name assigned in the body that held a tensor
before it: its value when a pass begins), `loop_slice` per tensor looped over, and
`loop_end`, whose operands are the carried values at the end of a pass, the carries, the
`loop` node, the appended values, the lists' first items and the body's other results;
`item` nodes read its results (the carried values after the last pass, then the lists).
The body is what descends from `loop` and leads to `loop_end`. The checker proves (or
checks) that a pass gives each carried value the shape it had when the pass began, so
that the shape after any number of passes is the one before the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .. import syntax as ast
from ..diagnostics import Abort
from ..ir import Cond, LayerInfo, LayerSpec
from ..symbolic import Expr
from .helpers import _label
from .values import LayerElement, LayerRef, Literal, Tensor, TensorList

# What a loop's body may hold: the dataflow (an `if` on arguments or inputs included).
_IN_LOOPS = (ast.Assign, ast.ExprStmt, ast.If)


def _not_in_loops_help(stmt: ast.Stmt) -> str:
    """What to write instead of a statement a loop's body cannot have."""
    if isinstance(stmt, ast.For):
        return ("loops do not nest: put the inner loop in a block of its own, used here as a layer "
                "(`layer step = Step(...)` before the loop, `x = step(x)` in it)")
    if isinstance(stmt, ast.Return):
        return "a loop's body does not return: assign what it computes, and `return` it after the loop"
    return "declare layers, params and lets before the loop"


@dataclass(frozen=True)
class Accumulator:
    """`outs = []` (or `outs = [first]`): a list a loop appends to, one tensor a pass."""

    items: tuple  # the nodes of its first items
    span: object


@dataclass
class _Loop:
    anchor: int
    guard: tuple  # the guard of the body (the loop's, and that it runs at least once)
    appended: dict = field(default_factory=dict)  # accumulator name -> (node, span)


def is_range(node: ast.Node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"


def list_length(info: LayerInfo) -> Expr:
    """How many layers a layer list holds."""
    return info.count if info.count is not None else Expr.symbol(f"len({info.iterable})")


def loop_layout(attrs: dict) -> dict:
    """The operands of a `loop_end` node by role: {role: (start, stop)}."""
    carried, lists = len(attrs["carried"]), len(attrs["lists"])
    firsts = sum(count for _, count in attrs["lists"])
    at = 0
    layout = {}
    for role, size in (("finals", carried), ("carries", carried), ("anchor", 1), ("appended", lists),
                       ("firsts", firsts)):
        layout[role] = (at, at + size)
        at += size
    layout["effects"] = (at, None)
    return layout


def loop_body(ir, end: int) -> set[int]:
    """The nodes of a loop's body: after its `loop` node, before its `loop_end`."""
    operands = ir.operands(end)
    start, _ = loop_layout(ir.graph.nodes[end]["attrs"])["anchor"]
    anchor = operands[start]
    return (nx.descendants(ir.graph, anchor) & nx.ancestors(ir.graph, end)) - {anchor}


class LoopLowering:
    # ------------------------------------------------------------------ layer lists
    def _element_spec(self, node: ast.Node) -> LayerSpec:
        """The element of a layer list: a layer, or a list of layers (an nn.ModuleList)."""
        if isinstance(node, ast.ListExpr):
            if not node.items:
                raise self.error("E0113", "an element of a layer list holds at least one layer", node.span)
            return LayerSpec("list", {}, [], [(None, self._layer_spec(item)) for item in node.items], span=node.span)
        return self._layer_spec(node)

    def _range_layer_list(self, stmt: ast.Layer, value: ast.ListComp) -> LayerInfo:
        """`[block(dim) for _ in range(depth)]`: `depth` layers built alike, or told apart by
        their index: `[conv2d(c, c, 2 * i + 3, padding=i + 1) for i in range(S)]` (PSA)."""
        call = value.iterable
        if len(call.args) != 1 or call.kwargs:
            raise self.error("E0113", "a layer list is built `range(n)` times, n a whole number", call.span)
        count = self._expr(call.args[0])
        if not isinstance(count, Expr):
            raise self.error("E0113", "the count of range() is a whole number", call.args[0].span)
        self._require_whole(call.args[0], count, "the count of range()")
        saved = self.scope.get(value.var)
        if value.var != "_":
            self._check_loop_var(value.var, value.var_span)
            if saved is not None:
                raise self.error("E0103", f"`{value.var}` is already defined; the loop variable would hide it",
                                 value.var_span, labels=[_label(saved[2], "defined here")])
            # The index of the element: 0 <= i < count (attndsl/shapes/knowledge.py knows it).
            self.scope[value.var] = ("loopvar", Expr.symbol(value.var), value.var_span)
        outer_element = self._element
        if value.var != "_":  # what building an element needs, it needs for each (0 <= i < count known)
            self._element = (count, value.var)
        try:
            element = self._element_spec(value.element)
        finally:
            self._element = outer_element
            if value.var != "_":
                self.scope.pop(value.var, None)
        return LayerInfo(stmt.name, None, tuple(self.guard), stmt.span, stmt.comments, element=element, count=count,
                         loop_var=None if value.var == "_" else value.var)

    # ------------------------------------------------------------------ `outs = []`, `outs.append(y)`
    def _accumulator(self, name: str, span, items: list) -> None:
        if not all(isinstance(item, Tensor) for item in items):
            raise self.error("E0113", "a list in the dataflow holds tensors (a loop appends to it)", span)
        self._bind(name, "tensor", Accumulator(tuple(item.node for item in items), span), span)

    def _stmt_ExprStmt(self, stmt: ast.ExprStmt) -> None:
        call = stmt.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "append"
                and isinstance(call.func.value, ast.Name)):
            raise self.error("E0113", "a statement assigns a value; only `outs.append(y)`, in a loop, stands alone",
                             stmt.span, help="assign it: `y = ...`")
        name = call.func.value.id
        loop: _Loop | None = getattr(self, "_loop", None)
        entry = self.scope.get(name)
        if entry is not None and entry[0] == "poison":
            raise self.error("E0101", f"`{name}` could not be defined", call.func.value.span)
        if entry is None or not isinstance(entry[1], Accumulator):
            raise self.error("E0113", f"`{name}` is not a list made before the loop (`{name} = []`)",
                             call.func.value.span)
        if loop is None:
            raise self.error("E0113", "`append` adds one tensor a pass, inside a `for` loop", stmt.span,
                             help=f"outside a loop, write the list: `{name} = [a, b]`")
        if len(call.args) != 1 or call.kwargs:
            raise self.error("E0112", "append() takes one tensor", call.span)
        if tuple(self.guard) != loop.guard:
            raise self.error("E0113", "`append` under an `if` would make the list's length depend on it",
                             stmt.span, help="append on every pass")
        if name in loop.appended:
            raise self.error("E0113", f"`{name}` is appended to twice in a pass", stmt.span,
                             labels=[_label(loop.appended[name][1], "first appended here")])
        value = self._expr(call.args[0])
        if not isinstance(value, Tensor):
            raise self.error("E0113", "append() takes a tensor", call.args[0].span)
        loop.appended[name] = (value.node, stmt.span)

    # ------------------------------------------------------------------ the loop
    def _stmt_For(self, stmt: ast.For) -> None:
        if getattr(self, "_loop", None) is not None:
            raise self.error("E0113", "a loop inside a loop", stmt.span,
                             help="put the inner loop in a block of its own and use that block as a layer")
        count = self._loop_count(stmt)
        infos, tensors = ([], []) if count is not None else self._loop_iterable(stmt)
        info = infos[0] if infos else None  # the list whose length counts the passes
        names = stmt.targets
        for index, (name, span) in enumerate(names if count is None else ()):
            self._check_loop_var(name, span)
            if any(other == name for other, _ in names[:index]):
                raise self.error("E0103", f"`{name}` names two values of the loop", span)
            # a name only an earlier loop defined (its variable, PVT's two `for blk in ...`) may be reused
            if name in self.scope and self.scope[name][0] not in ("poison", "loop_only"):
                raise self.error("E0103", f"`{name}` is already defined; the loop variable would hide it", span,
                                 labels=[_label(self.scope[name][2], "defined here")])
        if count is not None:
            loop_guard = (Cond("cmp", (">=", count, Expr.const(1))),)
        elif info is not None and (tensors or len(infos) > 1):
            if len(names) != len(infos) + len(tensors):
                raise self.error("E0118", f"{len(names)} names for {len(infos)} layer list(s) and {len(tensors)} "
                                 "tensor(s) zipped together", stmt.span,
                                 help="one name per list or tensor: `for conv, g in zip(convs, groups):`")
            loop_guard = (Cond("cmp", (">=", list_length(info), Expr.const(1))),)
        elif info is not None:
            element = info.element
            if len(names) > 1 and (element.kind != "list" or len(element.children) != len(names)):
                count = len(element.children) if element.kind == "list" else 1
                raise self.error("E0118", f"{len(names)} names, but each element of `{info.name}` is {count} "
                                 f"layer(s)", stmt.span)
            loop_guard = (Cond("cmp", (">=", list_length(info), Expr.const(1))),)
        else:
            if len(names) != len(tensors):
                raise self.error("E0118", f"{len(names)} names for {len(tensors)} tensor(s) looped over", stmt.span,
                                 help="one name per tensor: `for a, b in zip(x, y):`")
            loop_guard = ()
        for inner in ast.statements(stmt.body, into_loops=False):
            if not isinstance(inner, _IN_LOOPS):
                raise self.error("E0113", "a loop's body is dataflow: assignments, `append` and `if`", inner.span,
                                 help=_not_in_loops_help(inner))
        graph = self.ir.graph
        outer_guard = tuple(self.guard)
        zipped = tuple(other.name for other in infos[1:])  # lists zipped with the first, as long as it
        anchor = self._add("loop", [t.node for t in tensors], stmt.span,
                           layer=None if info is None else info.name, zipped=zipped, vars=tuple(n for n, _ in names),
                           count=count)
        assigned = _assigned(stmt.body)
        for name in assigned:  # `acc = 0` before FocalNet's `acc = acc + gate * ctx`: Python's, not ours
            entry = self.scope.get(name)
            if entry is not None and isinstance(entry[1], (Expr, Literal)):
                raise self.error("E0113", f"`{name}` is a number before the loop, and a loop carries tensors", entry[2],
                                 labels=[_label(stmt.span, "the loop that assigns it")],
                                 help=f"start it as a tensor of the shape the loop makes: `{name} = zeros([...])`")
        carried = [n for n in assigned if self.scope.get(n, ("",))[0] == "tensor"
                   and isinstance(self.scope[n][1], Tensor)]
        before = dict(self.scope)
        self.guard.extend(loop_guard)
        loop = _Loop(anchor, tuple(self.guard))
        saved_loop = getattr(self, "_loop", None)
        self._loop = loop
        carries = []
        try:
            for name in carried:
                carry = self._add("loop_carry", [self.scope[name][1].node, anchor], stmt.span, var=name)
                graph.nodes[carry]["name"] = name
                carries.append(carry)
                self.scope[name] = ("tensor", Tensor(carry), self.scope[name][2])
            for index, (name, span) in enumerate(names if count is None else ()):  # range's `_` names nothing
                if index < len(infos) or (info is not None and not tensors and not zipped):
                    # `for attn, ff in layers:` unpacks one list's elements; zip's names take a list each
                    unpacked = len(infos) == 1 and len(names) > 1 and not tensors
                    element_of = info if unpacked else infos[index]
                    self.scope[name] = ("layer_element",
                                        LayerElement(name, element_of, index if unpacked else None, anchor), span)
                else:
                    tensor = tensors[index - len(infos)]
                    piece = self._add("loop_slice", [tensor.node, anchor], span, var=name)
                    graph.nodes[piece]["name"] = name
                    self.scope[name] = ("tensor", Tensor(piece), span)
            self._suite(stmt.body)
        except BaseException:
            self.scope = before
            raise
        finally:
            self._loop = saved_loop
            self.guard[:] = list(outer_guard)
        inside = self.scope
        self.scope = before
        finals = []
        for name in carried:
            entry = inside.get(name)
            if entry is not None and entry[0] == "poison":
                raise Abort()  # its statement in the body failed: that error is reported
            if entry is None or entry[0] != "tensor" or not isinstance(entry[1], Tensor):
                raise self.error("E0113", f"`{name}` must stay a tensor in the loop", stmt.span)
            finals.append(entry[1].node)
        lists = [(name, self.scope[name][1]) for name in loop.appended]
        if not carried and not lists:
            if any(before.get(name, ("",))[0] == "poison" for name in assigned):
                raise Abort()  # it would carry a value whose statement failed: that error is reported
            raise self.error("E0113", "this loop gives nothing: it assigns no value it had before and appends to "
                             "no list", stmt.span, help="assign the value the loop computes before it: `x = ...`, "
                             "then `x = block(x)` in the loop")
        appended = [loop.appended[name][0] for name, _ in lists]
        firsts = [node for _, accumulator in lists for node in accumulator.items]
        body = nx.descendants(graph, anchor)
        # What the body computes and nothing in it reads (a layer called for nothing but its
        # effect on running statistics): the loop still computes it, once a pass.
        effects = sorted(n for n in body if graph.out_degree(n) == 0 and n not in finals and n not in appended
                         and graph.nodes[n]["op"] not in ("loop_carry", "loop_slice"))
        end = self.ir.add_node("loop_end", finals + carries + [anchor] + appended + firsts + effects, span=stmt.span,
                               guard=outer_guard, carried=tuple(carried),
                               lists=tuple((name, len(accumulator.items)) for name, accumulator in lists),
                               layer=None if info is None else info.name, zipped=zipped,
                               outputs=len(carried) + len(lists), count=count)
        graph.nodes[end]["name"] = f"{'_'.join(carried + [n for n, _ in lists]) or 'loop'}_after"
        graph.nodes[end]["comments"] = list(stmt.comments)  # above the generated `for`
        for index, name in enumerate(carried + [n for n, _ in lists]):
            item = self._add("item", [end], stmt.span, index=index)
            graph.nodes[item]["name"] = name
            graph.nodes[item].setdefault("var_names", []).append(name)
            value = Tensor(item) if index < len(carried) else TensorList(item)
            self.scope[name] = ("tensor", value, self.scope[name][2])
        for name in _assigned(stmt.body) + [n for n, _ in names if count is None]:
            if name not in carried and name not in loop.appended and inside.get(name, ("",))[0] != "poison":
                self.scope[name] = ("loop_only", None, inside[name][2] if name in inside else stmt.span)

    def _loop_count(self, stmt: ast.For) -> Expr | None:
        """`for _ in range(n):` (Nystromformer's pseudo-inverse iterations): n passes, alike,
        n a whole number the arguments give; None for a loop over layers or tensors."""
        node = stmt.iterable
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
                and "range" not in self.scope):
            return None
        if len(node.args) != 1 or node.kwargs:
            raise self.error("E0112", "range() in forward takes the number of passes", node.span)
        count = self._expr(node.args[0])
        if not isinstance(count, Expr) or count.symbols() & (set(self.ir.dim_origin) | self.float_symbols):
            raise self.error("E0113", "the number of passes is a whole number the arguments give", node.args[0].span,
                             help="e.g. `for _ in range(iters):` with an argument `iters: int = 6`")
        self._require_whole(node.args[0], count, "the number of passes")
        if [name for name, _ in stmt.targets] != ["_"]:
            raise self.error("E0113", "the passes of `range()` are alike: name them `_`", stmt.targets[0][1],
                             help="a pass that depends on its index is a layer list's: `for blk in blocks:`")
        return count

    def _loop_iterable(self, stmt: ast.For):
        """(the layer lists, the tensors) a loop runs over: a layer list, tensors, or layer
        lists zipped with each other and with tensors (element i of each list meets slice i
        of each tensor)."""
        node = stmt.iterable
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "zip" \
                and "zip" not in self.scope:
            if node.kwargs or len(node.args) < 2:
                raise self.error("E0112", "zip() takes two or more layer lists or tensors", node.span)
            infos, tensors = [], []
            for arg in node.args:
                value = self._expr(arg)
                if isinstance(value, LayerRef) and value.info.element is not None and not value.path:
                    if tensors:
                        raise self.error("E0113", "layer lists zipped with tensors come first", arg.span,
                                         help=f"`zip({value.info.name}, ...)`")
                    infos.append(value.info)
                    continue
                if not isinstance(value, Tensor):
                    raise self.error("E0113", "zip() runs over layer lists, and tensors along their first axis",
                                     arg.span,
                                     help="pieces of one tensor are its first axis after a rearrange: "
                                          "`rearrange(x, \"b (s c) h w -> s b c h w\", s=3)`"
                                     if isinstance(value, tuple) else None)
                tensors.append(value)
            return infos, tensors
        value = self._expr(node)
        if isinstance(value, LayerRef) and value.info.element is not None and not value.path:
            return [value.info], []
        if isinstance(value, Tensor):
            return [], [value]
        if isinstance(value, LayerRef):
            raise self.error("E0113", f"`{value.info.name}` is one layer, not a list of layers", node.span,
                             help=f"a layer list: `layer {value.info.name} = [... for _ in range(n)]`")
        raise self.error("E0113", "a loop runs over a layer list, or over the first axis of tensors", node.span,
                         help="`for block in blocks:`, `for t in x:` or `for a, b in zip(x, y):`")

    def _check_loop_use(self, node: ast.Name, kind: str) -> None:
        if kind == "loop_only":
            raise self.error("E0106", f"`{node.id}` is assigned in a loop that may run no pass; it exists only "
                             "inside it", node.span,
                             help=f"assign `{node.id}` before the loop too, so that the loop carries it")


def _assigned(body: list) -> list[str]:
    """The names a suite assigns, in order, each once."""
    names: list[str] = []
    for stmt in ast.statements(body, into_loops=False):
        if isinstance(stmt, ast.Assign):
            names += [name for name, _ in stmt.targets if name not in names]
    return names
