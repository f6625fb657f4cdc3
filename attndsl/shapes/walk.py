"""One walk over a block's graph: every node gets its shape and dtype, and every need of
every op becomes a proof, an error or a check.

A walk runs in one *world* (a truth value per shape-changing `if` condition, see
attndsl.shapes.worlds), or joined: then a value merged from two branches of different
shapes gets a display-only size (`c|2*c`) and nothing depending on it is checked; the
joined walk gives the shapes the generated code's comments show.
"""

from __future__ import annotations

from .. import symbolic as sym
from ..diagnostics import Abort, DiagnosticSink, Span
from ..ir import BlockIR, Cond, elements_source, negate
from ..ranks import input_dims, pack_dims
from ..lower.loops import list_length
from ..ops import OPS, ListShape
from ..symbolic import Expr
from .constructor_checks import ConstructorChecks
from .context import ShapeContext, show
from .dtypes import infer_dtype, with_article
from .callee_terms import callee_mapping
from .layer_calls import LayerCalls
from .loops import LOOP_OPS, LoopShapes
from .named_sizes import NamedSizes
from .requirements import Requirements
from .disjoint import cannot_meet, whole_symbols
from .worlds import contradicts, decide, literal, rank_contradicts, world_context, world_rank


FALSE = Cond.const(False)


class Walk(ConstructorChecks, LayerCalls, NamedSizes, Requirements, LoopShapes):
    def __init__(self, ir: BlockIR, checked: dict[str, BlockIR], knowledge, *, world: dict | None = None,
                 atoms=(), relevant=None, position=None):
        self.ir = ir
        self.checked = checked
        self.knowledge = knowledge
        self.world = world
        self.atoms = list(atoms)
        self.inferring: int | None = None  # the node whose shape is being inferred (see literals_for)
        # How many facts were known when each node's walk began: another world may borrow the
        # facts of this one up to that point only (BlockChecker._reuse_first).
        self.facts_before: dict[int, int] = {}
        self._lender: Walk | None = None  # the first world's walk, whose facts this one borrows
        self._borrowed = 0  # how many of the lender's facts this walk has looked at
        self._asked_counts: dict = {}  # node -> requirements settled so far (Requirements._asked)
        self.relevant = relevant or {}
        self.position = position or {}
        self.display = False  # set by a joined walk that met different shapes: nothing it checks counts
        self.sink = DiagnosticSink()
        self.records = []
        self.zero_divisors_reported: set = set()  # (divisor, line): E0203 once per division
        self.seen_checks: dict = {}  # a check's condition -> the guards it was made under
        self.shapes: dict[int, object] = {}
        self.dtypes: dict[int, str] = {}
        self.opaque: set[str] = set()
        self.broadcast_sizes: set[str] = set()  # the sizes broadcasts named (`heads'`), attndsl/ops/broadcasting.py
        self.join_keys: dict[str, tuple] = {}
        self.joined_atoms: set = set()  # conditions of phis that joined different shapes
        self.index_bounds: dict[int, dict] = {}  # gather node -> {size: (size, axis)} its index must stay below
        # Display walk: node -> the broadcasts whose real size depends on a branch, upstream of it.
        self.uncertain: dict[int, set] = {}
        self.bad_layers: set[str] = set()
        self.context = world_context(world) if world else frozenset()
        self._whole_names = whole_symbols(ir)
        self._unmet: dict = {}  # guard -> cannot_meet's answer in this world
        # Sub-block calls whose output shape depends on which branch of an `if` the callee takes.
        self.callee_atoms: dict[int, list] = {}
        # Conditions that hold, beyond its node's guard, for what is checked now: the children of
        # a loop in a sequential are checked for a pass that runs (`n > 0` of `range(n)`).
        self.scope_guard: tuple = ()
        # The rank of each pack's argument (`dimension` of `*spatial[dimension]`) in this walk:
        # the world's; a joined walk takes the default's (its shapes are for display only).
        self.ranks = {arg: world_rank(ir, arg, world) for arg in ir.rank_args}
        self._views: dict = {}  # (guard, element) -> (knowledge generation, number of lets, view)
        # Each node's attributes (networkx's own dicts), read for every need of every node: the
        # walk adds no node, and a lookup here costs less than through `graph.nodes`.
        self._nodes = dict(ir.graph.nodes(data=True))

    def skips(self, guard) -> bool:
        """Whether what stands under `guard` does not exist in this walk: a branch of another
        world, or of another rank (`if dimension == 3:` at rank 2)."""
        if self.world is not None and (contradicts(guard, self.world) or self.cannot_meet(guard) or
                                       any(decide(c, self.world) == FALSE for c in guard)):
            return True
        return bool(self.ranks) and rank_contradicts(guard, self.ranks)

    def cannot_meet(self, conditions) -> bool:
        """Whether `conditions` cannot hold in this world by comparisons of whole numbers: under
        `if ws > 0:`, nothing runs in the world where `ws == 0` (attndsl/shapes/disjoint.py)."""
        key = tuple(conditions)
        found = self._unmet.get(key)
        if found is None:
            found = self._unmet[key] = cannot_meet(self.context | set(key), self._whole_names)
        return found

    def pack_sizes(self, name: str) -> list[Expr]:
        """The sizes `*spatial` stands for at this walk's rank."""
        return pack_dims(name, self.ranks[self.ir.packs[name]])

    def view_for_guard(self, guard, element=None):
        # Asked for every need of every node, mostly for the same few guards: the view found for
        # a guard is kept until a new fact (or `let`) could change it, as Knowledge.view keeps it.
        key = (guard if type(guard) is tuple else tuple(guard), element)
        knowledge = self.knowledge
        cached = self._views.get(key)
        if cached is not None and cached[0] == knowledge.generation and cached[1] == len(self.ir.lets):
            return cached[2]
        view = knowledge.view(frozenset(guard) | self.context, element)
        self._views[key] = (knowledge.generation, len(self.ir.lets), view)
        return view

    def _forward_requires(self) -> None:
        """`require n <= max_len`: a check that opens forward, after __init__'s (which cannot
        use it) and before any node (which may: it is a fact from here on)."""
        for require in self.ir.forward_requires:
            if self.skips(require.guard):
                continue
            if self.require(require.condition, require.message, span=require.span, guard=require.guard,
                            kind="require") is False:
                self.sink.error("E0205", f"this require never holds: {require.message}", require.span)

    def view_for(self, node: int, element=None):
        return self.view_for_guard(self._nodes[node]["guard"] + self.scope_guard, element)

    def is_opaque(self, expr: Expr) -> bool:
        return bool(expr.symbols() & self.opaque)

    def warn(self, code: str, message: str, span: Span, help=None) -> None:
        if not self.display:
            self.sink.warning(code, message, span, help=help)

    def suggest_fix(self, a: Expr, b: Expr, divide: bool = False) -> str | None:
        if divide:
            return f"make {a} a multiple of {b}, or split by a divisor of it"
        if a.is_const and b.is_const and b.value and (a.value / b.value).denominator == 1:
            return f"{a} is {a.value / b.value} times {b}; a rearrange can split it"
        return None

    def run(self) -> None:
        self._statements()
        for info in self.ir.layers:
            if self.skips(info.guard):
                continue
            for spec in (info.spec, info.element):
                if spec is not None:
                    self._check_layer_arguments(info, spec, info.name)
        for param in self.ir.params:
            if not self.skips(param.guard):
                for dim in param.shape:
                    self._whole(dim, param.span, f"param `{param.name}`", param.guard)
        self._forward_requires()
        for node in self.ir.topological():
            attrs = self._nodes[node]
            self._borrow_until(node)
            self.facts_before[node] = len(self.knowledge.facts)
            if self.skips(attrs["guard"]):
                continue
            self.inferring = node
            try:
                self.shapes[node] = self._exact_quotients(self._infer(node, attrs), attrs["guard"])
            except Abort:
                self.shapes[node] = None  # users of a failed node are skipped: one error, not a cascade
            finally:
                self.inferring = None
        for param in self.ir.params:
            if param.value is not None and not self.skips(param.guard) and self.shapes.get(param.value) is not None:
                try:
                    self._param_value(param)
                except Abort:
                    pass

    def _param_value(self, param) -> None:
        """`param w: [1, 1, d] = ...`: the value has the declared shape, exactly (the parameter
        is the value), and is floating point (autograd keeps no gradient of integers)."""
        context = ShapeContext(self, param.value)
        value = self.shapes[param.value]
        if len(value) != len(param.shape):
            context.error("E0202", f"param `{param.name}` is declared {show(tuple(param.shape))}, and its first "
                          f"value has shape {show(value)}", help="give the value the param's shape (a rearrange, "
                          "`[None, None, :]`)")
        for axis, (got, declared) in enumerate(zip(value, param.shape)):
            context.expect_equal(got, declared, f"dimension {axis} of param `{param.name}` and of its first value")
        if self.dtypes.get(param.value) != "float":
            given = with_article(self.dtypes.get(param.value))
            context.error("E0209", f"param `{param.name}` is initialised with {given} tensor; a param is floating "
                          "point", help="make it one: `float(...)`")

    def borrow_from(self, lender: "Walk") -> None:
        """Take the facts `lender` (the first world) established without a condition of its
        own, each from the node where the lender knew it on: a fact is a check that has run,
        and only the code after that check may rely on it. Borrowed all at once, a fact checked
        late (`12 == 4*a` at a sub-block call) would prove a check early in this world
        (`a // 2 >= 1` before `a % (a // 2)`) that then runs unchecked, and divides by zero."""
        self._lender = lender

    def _borrow_until(self, node: int) -> None:
        lender = self._lender
        if lender is None or node not in lender.facts_before:
            return
        atoms = set(self.atoms)
        for fact in lender.knowledge.facts[self._borrowed:lender.facts_before[node]]:
            if not any(literal(c)[0] in atoms for c in fact.guard):
                self.knowledge.add(fact.guard, fact.kind, fact.subject, fact.detail)
        self._borrowed = max(self._borrowed, lender.facts_before[node])

    def _exact_quotients(self, shape, guard):
        """`h // p` as `h/p` in a shape once `h % p == 0` is known here (checked before this
        node runs): `p*(h // p)` is `h` then, and the shape reads `[b, c, h, w]`."""
        if not isinstance(shape, tuple) or not all(isinstance(dim, Expr) for dim in shape):
            return shape
        if all(dim.plain_symbols() is not None for dim in shape):
            return shape  # no atom to fold, as most shapes
        integers = self.view_for_guard(guard).integers
        return tuple(sym.simplify(dim, integers) for dim in shape)

    def _infer(self, node: int, attrs: dict):
        op = attrs["op"]
        operands = self.ir.operands(node)
        shapes = [self.shapes.get(o) for o in operands]
        if op == "phi":
            return self._phi(node, attrs, operands)
        if any(s is None for s, o in zip(shapes, operands) if self._nodes[o]["op"] != "loop_layer"):
            raise Abort()
        if op in LOOP_OPS:  # attndsl/shapes/loops.py
            return self.loop_shape(node, attrs, operands, shapes)
        sources = set().union(*(self.uncertain.get(o, set()) for o in operands))
        if sources:
            self.uncertain[node] = sources
        context = ShapeContext(self, node)
        dtypes = [self.dtypes.get(o) for o in operands]
        self.dtypes[node] = infer_dtype(context, op, attrs, dtypes)
        if op == "input":
            info = next(i for i in self.ir.inputs if i.name == attrs["attrs"]["input"])
            shape = input_dims(self.ir, info, self.ranks)
            for dim in shape:
                self.knowledge.add((), "integer", dim)
                self.ensure_defined(dim, node=node)
            return tuple(shape)
        if op == "param":
            # the declaration this node reads (a param declared on each branch has two shapes)
            declared = attrs["attrs"].get("declared")
            return tuple(next(p for p in self.ir.params if p.name == attrs["attrs"]["param"] and
                              (declared is None or p.span == declared)).shape)
        if op == "scalar":
            value = attrs["attrs"]["value"]
            if isinstance(value, Expr):
                self.ensure_defined(value, node=node)
            return ()
        if op == "item":
            return shapes[0][attrs["attrs"]["index"]]
        if op == "loop_layer":
            return ()
        if op == "list_comp":
            return self._list(node, attrs, shapes)
        if op == "call_layer":
            return self._call_layer(context, node, attrs, shapes)
        shape = OPS[op].shape(context, node, shapes, attrs["attrs"])
        for dim in (shape if isinstance(shape, tuple) and all(isinstance(d, Expr) for d in shape) else ()):
            context.ensure_defined(dim)
        return shape

    def _list(self, node, attrs, shapes):
        layer = self.ir.layer(attrs["attrs"]["layer"])
        var = layer.loop_var or attrs["attrs"]["var"]
        if any(var in self.expand_derived(d).symbols() for d in shapes[0]):
            # stack/cat need alike elements; a size that varies with the loop cannot be checked.
            windowed = layer.element is not None and layer.element.kind.startswith(("conv", "max_pool", "avg_pool"))
            if not windowed:
                hint = "stack and cat take elements of one shape: give every element the same output size"
            elif layer.iterable:
                hint = (f"add a `require` under which the sizes agree, e.g. `require all([{var} % 2 == 1 for {var} "
                        f"in {elements_source(layer.elements, str)}])` for a conv padded by {var} // 2")
            else:
                hint = "give each element the padding that keeps the size (e.g. kernel 2 * i + 3, padding i + 1)"
            self.sink.error("E0201", f"the shape of each element, {show(shapes[0])}, depends on `{var}`: the "
                            "elements may differ in shape", self.ir.graph.nodes[node]["span"], help=hint)
            raise Abort()
        return ListShape(list_length(layer), shapes[0])

    def _phi(self, node: int, attrs: dict, operands: list[int]):
        atom, polarity = literal(attrs["attrs"]["condition"])
        chosen = None
        if self.world is not None and atom in self.world:
            chosen = operands[0] if self.world[atom] == polarity else operands[1]
        elif self.world is not None:  # a branch that cannot run in this world (`if ws > 0:` where ws == 0)
            condition, guard = attrs["attrs"]["condition"], tuple(attrs["guard"])
            if self.cannot_meet(guard + (condition,)):
                chosen = operands[1]
            elif self.cannot_meet(guard + (negate(condition),)):
                chosen = operands[0]
        if chosen is not None:
            self.dtypes[node] = self.dtypes.get(chosen)
            shape = self.shapes.get(chosen)
            if shape is None:
                raise Abort()
            return shape
        a, b = (self.shapes.get(o) for o in operands)
        if a is None or b is None:
            raise Abort()
        if not self.ir.users(node) and node not in self.ir.outputs:
            # a name each branch writes and nothing after the `if` reads (a temporary of each
            # branch): its two values need not be alike
            raise Abort()
        ua, ub = (self.uncertain.get(o, set()) for o in operands)
        if ua != ub:  # equal as shown, but one branch broadcast what the other did not
            self.joined_atoms.add(atom)
        if ua | ub:
            self.uncertain[node] = ua | ub
        da, db = (self.dtypes.get(o) for o in operands)
        if da != db:
            self.sink.error("E0209", f"`{attrs['name']}` is {with_article(da)} tensor on one branch and "
                            f"{with_article(db)} tensor on the other", attrs["span"])
            raise Abort()
        self.dtypes[node] = da
        return self._join(a, b, attrs)

    def _size_of_both(self, x: Expr, y: Expr, guard, condition) -> Expr | None:
        """x where it equals y on the branch that gives y, or y where it equals x on the
        branch that gives x: a size that is right on both branches; else None."""
        for branch, kept, other in ((negate(condition), x, y), (condition, y, x)):
            view = self.view_for_guard(tuple(guard) + (branch,))  # knows `k == 1` in `else:` of `k != 1`
            if view.normal(kept) == view.normal(other):
                return kept
        return None

    def opaque_size(self, a: Expr, b: Expr) -> Expr:
        """The display walk's size for a broadcast that depends on the branch taken: shown as
        `a|b` (one of them, as a join is); each world checks the real one."""
        name = self._joined_name(a, b)
        self.opaque.add(name)
        self.join_keys.setdefault(name, (a, b))
        return Expr.symbol(name)

    def _joined_name(self, a: Expr, b: Expr) -> str:
        """`a|b`, each alternative once: `c|2*c`, not `c|2*c|c`, and `s0|s1`, not `s1|s0|s0|s1`
        after a chain of such `if`s (a side that is itself a join gives its alternatives)."""
        alternatives = []
        for side in (a, b):
            for part in _alternatives(str(side)) if str(side) in self.opaque else [str(side)]:
                if part not in alternatives:
                    alternatives.append(part)
        return "|".join(alternatives)

    def _join(self, a, b, attrs):
        if len(a) != len(b):
            self.sink.error("E0202", f"`{attrs['name']}` has rank {len(a)} on one branch and {len(b)} on the other",
                            attrs["span"])
            raise Abort()
        view = self.knowledge.view(self.context)
        condition = attrs["attrs"]["condition"]
        out = []
        for x, y in zip(a, b):
            if view.normal(x) == view.normal(y):
                out.append(x)
                continue
            # One size that is each branch's under its condition: MBConv's `oup` is the
            # input's `input_filters` where `expand_ratio == 1` (the branch that skips the conv).
            taken = self._size_of_both(x, y, attrs["guard"], condition)
            if taken is not None:
                out.append(taken)
                continue
            # Named after both branches ("in_channels|c_m"): shown in comments only. The
            # worlds check each branch's size for real.
            name = self._joined_name(x, y)
            while name in self.opaque and self.join_keys.get(name) != (x, y):
                name += "'"
            self.opaque.add(name)
            self.join_keys[name] = (x, y)
            self.joined_atoms.add(literal(attrs["attrs"]["condition"])[0])
            out.append(Expr.symbol(name))
        return tuple(out)


def _alternatives(name: str) -> list[str]:
    """The sizes a joined name `a|(max(b|c, d))|e` joins: split at its top-level `|` only
    (an alternative may itself be a size that names a join)."""
    parts, depth, current = [], 0, ""
    for char in name:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


__all__ = ["Walk", "callee_mapping"]
