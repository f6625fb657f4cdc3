"""Each world's real shapes, for the code generator and the tools.

After an `if` whose branches give a value different shapes, a node's "shape" attribute
is only a display approximation (`c|2*c`: one or the other). The checker walks the block
once per *world*, a truth value for each such condition (attndsl/shapes/worlds.py), and
keeps every world's shapes on the IR (`ir.world_shapes`: [(world, {node: shape})]).
A `WorldView` answers for one world: whether a node exists there, and its shape.

The optimising passes (attndsl/passes) add nodes the checker never saw (a fused
attention, a transpose); their shape in a world is their display shape with each
display size replaced by what their operands' sizes are in that world. `pin(ir)`, called
before the passes run, remembers which nodes are the checker's (a pass may reuse the
number of a node it removed).
"""

from __future__ import annotations

from .. import symbolic as sym
from ..ir import BlockIR, Cond
from ..ops import ListShape
from . import show
from .conjunctions import render_guard
from .disjoint import cannot_meet, whole_symbols
from .worlds import as_condition, decide, literal, merge_guards


def pin(ir: BlockIR) -> None:
    """Remember the checker's nodes (their attribute dicts), before any pass edits the graph."""
    if not hasattr(ir, "tool_checked_nodes"):
        ir.tool_checked_nodes = dict(ir.graph.nodes(data=True))


def world_views(ir: BlockIR) -> list["WorldView"]:
    pin(ir)
    worlds = getattr(ir, "world_shapes", None)
    if not worlds:  # a checker without per-world shapes: the display shapes are all there is
        worlds = [({}, {n: a["shape"] for n, a in ir.graph.nodes(data=True) if a.get("shape") is not None})]
    return [WorldView(ir, world, shapes) for world, shapes in worlds]


class WorldView:
    def __init__(self, ir: BlockIR, world: dict, shapes: dict):
        self.ir, self.world, self.shapes = ir, world, shapes
        self.literals = tuple(as_condition(atom, value) for atom, value in world.items())
        self._whole = whole_symbols(ir)
        self.key = frozenset(world.items())
        self._derived: dict[int, object] = {}
        self._joins: dict | None = None
        self._equal: dict | None = None

    # ------------------------------------------------------------------ nodes
    def exists(self, node: int) -> bool:
        """Whether the node runs in this world (its guard does not contradict the world, as
        the checker's walk of the world decides: attndsl/shapes/walk.py, `skips`)."""
        guard = tuple(self.ir.graph.nodes[node]["guard"])
        return all(decide(c, self.world) != Cond.const(False) for c in guard) and \
            not cannot_meet(self.literals + guard, self._whole)

    def shape(self, node: int):
        """The node's shape in this world; None where it does not exist."""
        if node not in self._derived:
            if self._is_checked(node):
                shape = _map_shape(self.shapes.get(node), self._readable)
            else:
                shape = self._pass_shape(node) if self.exists(node) else None
            self._derived[node] = shape
        return self._derived[node]

    def _readable(self, dim):
        """A size as the spec's reader knows it: where a check of this world equates it with
        an input's dim (`nq == H*W` for a rearrange's group, `nk' == nk` for a product
        after a broadcast), that dim. Every run that gets through forward has them equal."""
        if self._equal is None:
            self._equal = _equalities(self.ir, self.world)
        for _ in range(4):
            before = dim
            dim = self._equal["whole"].get(dim, dim)
            dim = sym.substitute(dim, self._equal["names"]) if dim.symbols() & set(self._equal["names"]) else dim
            if dim == before:
                break
        return dim

    def child_shapes(self, node: int) -> dict:
        """A sequential call's children's output shapes (by id of the child spec) in this world;
        a node the checker walked once for every world has one record."""
        attrs = self.ir.graph.nodes[node]
        by_world = attrs.get("world_child_shapes", {})
        if self.key in by_world:
            return {child: _map_shape(shape, self._readable) for child, shape in by_world[self.key].items()}
        first = self.ir.world_shapes[0][0] if getattr(self.ir, "world_shapes", None) else {}
        recorded = by_world.get(frozenset(first.items()), attrs.get("child_shapes", {}))
        return {child: _map_shape(shape, self._readable) for child, shape in recorded.items()}

    def _is_checked(self, node: int) -> bool:
        pinned = getattr(self.ir, "tool_checked_nodes", {})
        return node in self.ir.graph and pinned.get(node) is self.ir.graph.nodes[node]

    # ------------------------------------------------------------------ nodes made by passes
    def _pass_shape(self, node: int):
        """The display shape with each size its operands have in display replaced by the size
        they have in this world; a join size (`a|b`) no operand explains, by what it is in
        this world anywhere in the graph."""
        mapping: dict = {}
        for operand in self.ir.operands(node):
            shown, real = self.ir.graph.nodes[operand].get("shape"), self.shape(operand)
            for a, b in zip(dims(shown), dims(real)):
                if a != b:
                    mapping.setdefault(a, b)
        joins = self._join_sizes()
        return _map_shape(self.ir.graph.nodes[node].get("shape"), lambda d: mapping.get(d) or _substitute(d, joins))

    def _join_sizes(self) -> dict:
        """Join names (`c|2*c`) -> their size in this world, from the checker's nodes."""
        if self._joins is None:
            found: dict = {}
            for node, real in self.shapes.items():
                if not self._is_checked(node):
                    continue
                for shown, size in zip(dims(self.ir.graph.nodes[node].get("shape")), dims(real)):
                    name = _single_symbol(shown)
                    if name is not None and "|" in name:
                        found.setdefault(name, size)
            self._joins = found
        return self._joins


def _equalities(ir: BlockIR, world: dict) -> dict:
    """The size equalities the block's checks and requires establish in this world, each
    oriented towards the more readable side (see `_readability`):
    {"whole": {size: size}, "names": {checker-made name: size}}."""
    whole, names = {}, {}
    for check in list(ir.checks) + list(ir.requires):
        condition = check.condition
        if isinstance(condition, tuple) and condition[0] == "eq":
            a, b = condition[1], condition[2]
        elif isinstance(condition, Cond) and condition.op == "cmp" and condition.args[0] == "==":
            a, b = condition.args[1], condition.args[2]
        else:
            continue
        if not all(decide(c, world) == Cond.const(True) for c in check.guard):
            continue
        source, target = sorted((a, b), key=lambda e: _readability(ir, e), reverse=True)
        if _readability(ir, source) == _readability(ir, target):
            continue
        name = _single_symbol(source)
        if name is not None and name in ir.derived:
            names.setdefault(name, target)
        else:
            whole.setdefault(source, target)
    _through_broadcasts(ir, names)
    return {"whole": whole, "names": names}


def _through_broadcasts(ir: BlockIR, names: dict) -> None:
    """A broadcast of a broadcast: `n'' = max(m, n')` equal to T, with `n' = max(T, mw)`,
    makes n' equal to T too (T <= n' <= n'' = T)."""
    changed = True
    while changed:
        changed = False
        for name, target in list(names.items()):
            for inner in _max_args(ir.derived.get(name)):
                inner_name = _single_symbol(inner)
                if inner_name in ir.derived and inner_name not in names and target in _max_args(ir.derived[inner_name]):
                    names[inner_name] = target
                    changed = True


def _max_args(definition) -> tuple:
    """The arguments of a size defined as `max(a, b, ...)`; () for any other."""
    if definition is None or len(definition.terms) != 1:
        return ()
    ((monomial, coefficient),) = definition.terms.items()
    if coefficient != 1 or len(monomial) != 1 or monomial[0][1] != 1:
        return ()
    factor = monomial[0][0]
    return factor.args if isinstance(factor, sym.Atom) and factor.op == "max" else ()


def _readability(ir: BlockIR, expr) -> int:
    """0: one of the block's names (an argument, a let, an input's dim); 1: a size made of
    them (`H*W`); 2: one with checker-made names (`H'`, a conv's output size); 3: a
    broadcast's size (`n' = max(H'*W', mw)`). Two names of the same rank stay as they are."""
    name = _single_symbol(expr)
    if name is not None and name not in ir.derived:
        return 0
    if name is not None and name in ir.derived and _is_broadcast(ir.derived[name]):
        return 3
    return 2 if expr.symbols() & set(ir.derived) else 1


def _is_broadcast(definition) -> bool:
    return any(isinstance(factor, sym.Atom) and factor.op == "max"
               for monomial in definition.terms for factor, _ in monomial)


def dims(shape) -> list:
    """The sizes of a shape, flattened (a list of tensors: its length and element's; several
    results: all of theirs)."""
    if shape is None:
        return []
    if isinstance(shape, ListShape):
        return [shape.length] + dims(shape.element)
    if isinstance(shape, tuple) and any(isinstance(part, (tuple, ListShape)) for part in shape):
        return [d for part in shape for d in dims(part)]
    return list(shape)


def _single_symbol(dim) -> str | None:
    names = dim.symbols()
    if len(names) == 1:
        (name,) = names
        if dim == sym.Expr.symbol(name):
            return name
    return None


def _map_shape(shape, change):
    if shape is None:
        return None
    if isinstance(shape, ListShape):
        return ListShape(change(shape.length), _map_shape(shape.element, change))
    if isinstance(shape, tuple) and any(isinstance(part, (tuple, ListShape)) for part in shape):
        return tuple(_map_shape(part, change) for part in shape)
    return tuple(change(d) for d in shape)


def _substitute(dim, joins: dict):
    names = {s for s in dim.symbols() if "|" in s}
    return sym.substitute(dim, {n: joins[n] for n in names if n in joins}) if names else dim


# ---------------------------------------------------------------------------- display


def alternatives(ir: BlockIR, node: int, views=None, within=()) -> list[tuple[tuple, object]]:
    """The node's distinct shapes over the worlds where it exists (and the conditions
    `within` may hold), each with the fewest world conditions that select it:
    [(conditions, shape)], one entry `((), shape)` when every world agrees."""
    by_shape: dict = {}
    for view in views or world_views(ir):
        if not view.exists(node) or any(decide(c, view.world) == Cond.const(False) for c in within):
            continue
        shape = view.shape(node)
        if shape is not None:
            by_shape.setdefault(_frozen(shape), (shape, []))[1].append(view.literals)
    if len(by_shape) <= 1:
        return [((), shape) for shape, _ in by_shape.values()]
    seen = [literals for _, worlds in by_shape.values() for literals in worlds]
    fixed = set(seen[0]).intersection(*seen)  # the same in every world considered: says nothing
    atoms = [literal(c)[0] for c in seen[0] if c not in fixed]
    out = []
    for shape, worlds in by_shape.values():
        entries = [((), tuple(c for c in literals if c not in fixed)) for literals in worlds]
        for conditions in merge_guards(entries, atoms, ir.rank_args):
            out.append((conditions, shape))
    return out


def _frozen(shape):
    return repr(shape)


def shape_text(ir: BlockIR, node: int, order=None, *, views=None, within=(), fallback=None) -> str | None:
    """A node's shape for people: `[b, c, h, w]`, or one shape per case when the worlds differ
    (`[s0, s1, h, w] if batch_first; [s1, s0, h, w] if not batch_first`)."""
    cases = alternatives(ir, node, views, within)
    if not cases:
        shape = ir.graph.nodes[node].get("shape") if fallback is None else fallback
        return None if shape is None else show(shape, order)
    if len(cases) == 1:
        return show(cases[0][1], order)
    return "; ".join(f"{show(shape, order)} if {render_guard(conditions, order, sort=False)}"
                     for conditions, shape in cases)
