"""Selection: the k largest values and where they are (`topk`), sorting, the position of a
largest value, and picking or writing by such positions (`gather`, `scatter`).

Indices computed in `forward` are integer tensors whose values the checker knows a bound
of: `topk`, `sort`, `argsort`, `argmax` and `argmin` give positions along an axis of `x`,
so each value lies in [0, size of that axis). A view of them (a reshape, `expand`, a
slice, an `unsqueeze`) and a pick from them keep their values, and so their bound
(`index_bound`). A gather (`x[:, index]`, `gather`) or a scatter by them needs only that
bound within the axis it picks from, a shape check like any other (proven, or made in
forward). A buffer (or a view of one) indexes too: its values are checked once, when the
module is built (codegen/init.py); so does an integer tensor clamped to [0, k], on every
branch of an `if` that assigns it (`clamps`), whose bound is k + 1. An index computed any
other way (arithmetic on positions) has no bound the checker knows and does not index.
"""

from __future__ import annotations

from .. import symbolic as sym
from ..evaluate import integral
from ..symbolic import Expr
from .activations import softmax_shape
from .reductions import reduce_shape
from .registry import ATOM, OPS, Shape, family, normalize_axis, op
from .rendering import CallRender, render_value
from .views import SHARES_STORAGE

# Ops whose values are values of their first operand (views, picks): the bound of an index
# passes through them. A buffer is where the walk stops (its values are checked when built).
KEEPS_VALUES = (SHARES_STORAGE - {"buffer"}) | {"lookup", "gather"}

# Op -> which of its results holds positions along `x`'s axis `dim` (None: its only result).
INDEX_RESULTS = {"topk": 1, "sort": 1, "argsort": None, "argmax": None, "argmin": None}


def index_origin(ir, node: int) -> tuple[str | None, int]:
    """Where an index's values come from, read back through the ops that keep values:
    ("buffer", its node), ("positions", the topk/sort/... node), ("clamped", the clamp node:
    T5's relative-position buckets, `clamp(rel, min=0, max=num_buckets - 1)`) or (None,
    node). Lowering asks it before shapes are known; the shape rules, for the bound
    (`index_bound`)."""
    position = None  # which result of a multi-result op the walk arrived through
    while True:
        attrs = ir.graph.nodes[node]
        name = attrs["op"]
        if name == "buffer":
            return "buffer", node
        if name in ("clamp", "phi"):  # (a phi: an index assigned on both branches of an `if`)
            return ("clamped", node) if clamps(ir, node) else (None, node)
        if name in INDEX_RESULTS and INDEX_RESULTS[name] in (None, position):
            return "positions", node
        if name not in KEEPS_VALUES and name not in INDEX_RESULTS:  # `topk`'s values: those of `x`
            return None, node
        position = attrs["attrs"]["index"] if name == "item" else None
        node = ir.operands(node)[0]


def clamps(ir, node: int) -> list[int]:
    """The clamp nodes an index's values come from, through the ops that keep values and
    the joins of `if`s (`i = clamp(...)`, then under `if c:` another clamp): every way
    must end in one. [] where some way does not."""
    found, todo, seen = [], [node], set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        attrs = ir.graph.nodes[node]
        if attrs["op"] == "clamp":
            found.append(node)
        elif attrs["op"] == "phi":
            todo += ir.operands(node)
        elif attrs["op"] in KEEPS_VALUES:
            todo.append(ir.operands(node)[0])
        else:
            return []
    return sorted(found)


def index_bound(ir, shapes: dict, node: int) -> Expr | None:
    """An exclusive upper bound of the values of the integer tensor `node` (they are
    nonnegative) where they are positions computed in forward: the size of the axis they
    were computed along. None where unknown."""
    origin, source = index_origin(ir, node)
    if origin == "clamped":  # (its least value, `min`, is checked to be at least 0)
        highs = [ir.graph.nodes[clamp]["attrs"].get("max") for clamp in clamps(ir, source)]
        if not all(isinstance(high, Expr) for high in highs):
            return None
        return (highs[0] if len(highs) == 1 else sym.maximum(*highs)) + 1
    shape = shapes.get(ir.operands(source)[0]) if origin == "positions" else None
    if shape is None:
        return None
    return shape[ir.graph.nodes[source]["attrs"]["dim"] % len(shape)]


def unclamped_input(ir, node: int) -> tuple[str, str] | None:
    """Where an index that no rule bounds is computed from an integer input (`input ids:
    long[b, n]`, HF's `position_ids`), what to say: its values are unknown until forward
    runs, so only a clamp into the axis makes it an index. (message, help), or None."""
    import networkx as nx  # (the ops are imported before the graph is needed)

    names = sorted(attrs["attrs"]["input"] for n in nx.ancestors(ir.graph, node) | {node}
                   if (attrs := ir.graph.nodes[n])["op"] == "input" and attrs["attrs"].get("dtype") == "int")
    if not names:
        return None
    return (f"an index computed from the input `{names[0]}` must be clamped into the axis: its values are unknown "
            "until forward runs (torch would read a negative one from the end, and stop on one past the axis)",
            f"clamp it where it indexes: `clamp({names[0]}, min=0, max=k - 1)` for an axis of size k")


def _clamped_from_zero(ctx, attrs: dict, what: str) -> None:
    """A clamped index lies in [0, max] where both bounds are at least 0 (torch takes `max`
    where it is below `min`, so a negative one would wrap)."""
    for name in ("min", "max"):
        bound = attrs.get(name)
        if not isinstance(bound, Expr):
            ctx.error("E0204", f"{what}'s index is clamped without `{name}`: its values could lie outside the axis",
                      help="clamp(i, min=0, max=k - 1) keeps them in an axis of size k")
        ctx.expect_at_least(bound, 0, f"{what}'s index is clamped to [min, max], whose `{name}` must be at least 0",
                            code="E0204")


def expect_within(ctx, index: int, size: Expr, axis: int, what: str) -> None:
    """The values of the index `index` lie within an axis of `size`: a buffer's, checked when
    the module is built (against a size known then); positions', by the axis they were
    computed along; a clamped index's, by its `max`."""
    origin, source = index_origin(ctx.checker.ir, index)
    if origin == "buffer":  # the buffer, or a view of it
        if ctx.checker.is_opaque(size):
            return
        if not ctx.known_when_built(size):
            ctx.error("E0204", f"{what} picks along axis {axis}, of size {size}, which depends on an input: a buffer "
                      "index's values are checked once, when the module is built, against a size known then",
                      help="gather from a param or a buffer, whose sizes come from the arguments")
        ctx.record_index_bound(size, axis)
        return
    for clamp in clamps(ctx.checker.ir, source) if origin == "clamped" else ():
        _clamped_from_zero(ctx, ctx.checker.ir.graph.nodes[clamp]["attrs"], what)
    bound = index_bound(ctx.checker.ir, ctx.checker.shapes, index)
    unclamped = unclamped_input(ctx.checker.ir, index) if bound is None else None
    if unclamped is not None:
        ctx.error("E0204", f"{what}: {unclamped[0]}", help=unclamped[1])
    elif bound is None:
        ctx.error("E0204", f"{what}'s index has no known bound: an index is a buffer (read whole), positions "
                  "computed in this block by topk, sort, argsort, argmax or argmin, or an integer tensor clamped "
                  "to [0, k] (`clamp(i, min=0, max=k)`), read through reshapes, slices and expands only",
                  help="arithmetic, `cat`, reductions and a sub-block's results lose the bound: compute the positions "
                       "where they are used, or build fixed ones in a buffer")
    if ctx.checker.is_opaque(size) or ctx.checker.is_opaque(bound):
        return  # the display walk's `c|2*c`: each world checks its own sizes
    if origin == "clamped":
        # said as size - max (what the value after the message is), never as size - max - 1
        largest = bound - 1
        ctx.expect_at_least(size - largest, 1, f"{what} picks along axis {axis}, of size {size}, by an index "
                            f"clamped to at most {largest}, which must be less than that size (size - max must be "
                            "at least 1)", code="E0204")
        return
    ctx.expect_at_least(size - bound, 0, f"{what} picks along axis {axis}, of size {size}, by positions in an "
                        f"axis of size {bound}, which must not be larger", code="E0204")


def _axis(ctx, node, attrs, rank: int) -> int:
    return normalize_axis(ctx, node, attrs["dim"], rank)


def topk_shape(ctx, node, shapes, attrs) -> tuple[Shape, Shape]:
    shape = list(shapes[0])
    axis = _axis(ctx, node, attrs, len(shape))
    k = attrs["k"]
    ctx.expect_at_least(k, 1, "topk(): `k` must be at least 1")
    ctx.expect_at_least(shape[axis] - k, 0, f"topk(): `k` ({k}) must not exceed the size of axis {axis}, "
                        f"{shape[axis]}", code="E0204")
    shape[axis] = k
    return tuple(shape), tuple(shape)


def sort_shape(ctx, node, shapes, attrs) -> tuple[Shape, Shape]:
    shape = softmax_shape(ctx, node, shapes, attrs)  # `x`'s shape; `dim` an axis of it
    return shape, shape


def arg_extremum_shape(ctx, node, shapes, attrs) -> Shape:
    """As a reduction over `dim` (`keepdim` too), which must hold a value to take the position of."""
    axis = _axis(ctx, node, attrs, len(shapes[0]))
    ctx.expect_at_least(shapes[0][axis], 1, f"{ctx.op}() over axis {axis} needs at least one value")
    return reduce_shape(ctx, node, shapes, attrs)


def _picked_alike(ctx, node, shapes, attrs, what: str) -> int:
    """gather and scatter: `index` has the rank of `x`, no larger on every other axis, and
    positions within `x`'s axis `dim`."""
    x, index = shapes[0], shapes[1]
    ctx.expect_rank_equal(x, index, f"`x` and {what}'s index")
    axis = _axis(ctx, node, attrs, len(x))
    for d, (size, picked) in enumerate(zip(x, index)):
        if d != axis:
            ctx.expect_at_least(size - picked, 0, f"{what}'s index must not be larger than `x` on axis {d} "
                                f"({picked} against {size})", code="E0204")
    expect_within(ctx, ctx.checker.ir.operands(node)[1], x[axis], axis, what)
    return axis


def gather_shape(ctx, node, shapes, attrs) -> Shape:
    _picked_alike(ctx, node, shapes, attrs, "gather()")
    return shapes[1]


def scatter_shape(ctx, node, shapes, attrs) -> Shape:
    _picked_alike(ctx, node, shapes, attrs, "scatter()")
    if ctx.checker.dtypes.get(ctx.checker.ir.operands(node)[0]) == "int" and not _whole(ctx.checker.ir, attrs["value"]):
        # torch would stop on `-inf` (no int64 holds it) and write 2 for 2.5
        ctx.error("E0209", "scatter() into an integer tensor writes a whole number",
                  help="convert the tensor first: `scatter(float(index), ...)`")
    return shapes[0]


def _whole(ir, value) -> bool:
    """Whether a scatter's value is a whole number in Python: a whole constant, or whole
    arithmetic of int arguments and lets that are whole."""
    if not isinstance(value, Expr):
        return False  # inf, finfo(...)
    floats = {a.name for a in ir.args if a.type == "float"}
    for let in ir.lets:  # in order: a let reads earlier ones
        if not integral(let.value, floats):
            floats.add(let.name)
    return integral(value, floats)


def render_gather(r, node, operands, attrs):
    return f"{r.wrap(operands[0], ATOM)}.gather({attrs['dim']}, {operands[1][0]})", ATOM


def render_scatter(r, node, operands, attrs):
    value = render_value(r, _SCATTER_VALUE, attrs["value"])
    return f"{r.wrap(operands[0], ATOM)}.scatter({attrs['dim']}, {operands[1][0]}, {value})", ATOM


family("Selection")
op("topk", "x: tensor[real], k: int, dim: axis = -1, largest: bool = true", topk_shape,
   CallRender("topk", receiver=True, positional=("k",), always=("dim",)),
   outputs=lambda attrs: 2, result=("first", "int"),
   doc="the `k` largest values along `dim` (smallest with `largest=false`), in order, and their positions: "
   "`values, index = topk(x, k, dim=-1)` (top-k sparse attention, BiFormer's routing)",
   shape_doc="two tensors, `x` with `k` in place of `dim` (at least 1, at most its size); the positions lie "
   "in [0, size of `dim`)",
   example="input x: [b, n, n]\nvalues, index = topk(x, 4, dim=-1)\nmasked_fill(x, x < values[:, :, 3:4], -inf)")
op("sort", "x: tensor[real], dim: axis = -1, descending: bool = false", sort_shape,
   CallRender("sort", receiver=True, always=("dim",)),
   outputs=lambda attrs: 2, result=("first", "int"),
   doc="the values along `dim` in order (largest first with `descending=true`), and their positions: "
   "`values, index = sort(x, dim=-1)`",
   shape_doc="two tensors of the shape of `x`; the positions lie in [0, size of `dim`)",
   example="input x: [b, n]\nvalues, index = sort(x, dim=1)\nvalues")
op("argsort", "x: tensor[real], dim: axis = -1, descending: bool = false", softmax_shape,
   CallRender("argsort", receiver=True, always=("dim",)),
   result="int", doc="the positions that sort `x` along `dim`, as `sort`'s second result",
   shape_doc="the shape of `x`; the positions lie in [0, size of `dim`)",
   example="input x: [b, n, d]\nindex = argsort(x, dim=1)\ngather(x, 1, index)")
for _name, _which in (("argmax", "largest"), ("argmin", "smallest")):
    op(_name, "x: tensor[real], dim: axis, keepdim: bool = false", arg_extremum_shape,
       CallRender(_name, receiver=True, always=("dim",)),
       result="int", doc=f"the position of the {_which} value along `dim` (required)",
       shape_doc="`x` without `dim` (size 1 with `keepdim=true`), which must hold a value; the positions lie in "
       "[0, size of `dim`)",
       example=f"input x: [b, n, d]\n{_name}(x, dim=-1)")
op("gather", "x: tensor[any], dim: axis, index: tensor[int]", gather_shape, render_gather, result="first",
   doc="`out[i][j][k] = x[i][index[i][j][k]][k]` for dim=1, as torch.gather: picks along `dim` by positions "
   "computed in forward (a `topk` or `argsort` result, reshaped or expanded)",
   shape_doc="the shape of `index`, which has the rank of `x`, no larger on any other axis; its positions must "
   "lie within `dim` of `x` (the axis they were computed along must not be larger)",
   example="input x: [b, n, d]\nvalues, index = topk(sum(x, dim=2, keepdim=true), 3, dim=1)\n"
   "gather(x, 1, expand(index, (-1, -1, d)))")
op("scatter", "x: tensor[any], dim: axis, index: tensor[int], value: scalar", scatter_shape, render_scatter,
   result="first",
   doc="`x` with `value` written at the positions `index` gives along `dim`, as torch.scatter with a number "
   "(a top-k mask: `scatter(zeros_like(s), -1, index, 1.0)`)",
   shape_doc="the shape of `x`; `index` has its rank, is no larger on any other axis, and its positions lie "
   "within `dim`",
   example="input s: [b, n, n]\nvalues, index = topk(s, 2, dim=-1)\n"
   "masked_fill(s, scatter(zeros_like(s), -1, index, 1.0) == 0.0, -inf)")
_SCATTER_VALUE = next(p for p in OPS["scatter"].params if p.name == "value")
