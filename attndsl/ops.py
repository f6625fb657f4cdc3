"""The op registry: each tensor op of the language is declared here, once.

An `OpDef` holds everything about an op: its name in specs, its signature, its shape
rule and how it renders as PyTorch. Lowering binds call arguments with the signature,
the shape checker runs the rule, codegen renders the template. Adding an op is adding
one `op(...)` declaration below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from . import symbolic as sym
from .rearrange import Pattern
from .symbolic import Expr

# Python operator precedences, for parenthesising inlined expressions.
ATOM, POWER, UNARY, MUL, ADD, COMPARE, LOWEST = 100, 14, 13, 12, 11, 6, 0

Shape = tuple  # tuple[Expr, ...]


@dataclass(frozen=True)
class ListShape:
    """The shape of a list of tensors, all alike: `length` copies of `element`."""

    length: Expr
    element: Shape


@dataclass
class ParamSpec:
    name: str
    kind: str  # tensor | tensors | axis | axes | int | float | bool | scalar | str | sizes
    default: Any = None
    required: bool = True


@dataclass
class OpDef:
    name: str
    params: list[ParamSpec]
    shape: Callable  # (ctx, node, operand shapes, attrs) -> Shape | tuple[Shape, ...]
    render: Callable | str  # template string or (renderer, node, operands, attrs) -> (text, precedence)
    precedence: int = ATOM
    doc: str = ""
    outputs: Callable | None = None  # number of results, from attrs (chunk); default 1
    elementwise_float: bool = False
    extra: dict = field(default_factory=dict)


OPS: dict[str, OpDef] = {}


def op(name: str, signature: str, shape, render, *, precedence=ATOM, doc="", outputs=None, **extra) -> OpDef:
    """Declare an op. `signature` reads like Python: "x: tensor, dim: axis = -1"."""
    params = []
    for part in filter(None, (p.strip() for p in signature.split(","))):
        head, _, default = part.partition("=")
        pname, _, kind = head.partition(":")
        if default.strip():
            params.append(ParamSpec(pname.strip(), kind.strip(), _literal(default.strip()), required=False))
        else:
            params.append(ParamSpec(pname.strip(), kind.strip()))
    definition = OpDef(name, params, shape, render, precedence, doc, outputs, extra=extra)
    OPS[name] = definition
    return definition


def _literal(text: str):
    words = {"None": None, "false": False, "true": True}
    return words[text] if text in words else _number(text)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


# ============================================================================ shape rules
# Each rule gets a ShapeContext (attndsl.shapes) that proves equalities, records facts
# and run-time checks, and reports errors at the node's span.


def normalize_axis(ctx, node, axis: int, rank: int, what: str = "dim") -> int:
    if not -rank <= axis < rank:
        ctx.error("E0204", f"{what}={axis} is out of range for a tensor of rank {rank}",
                  help=f"valid values are {-rank}..{rank - 1}")
    return axis % rank


def _axes(ctx, node, attrs, rank, key="dim") -> tuple[int, ...]:
    value = attrs.get(key)
    if value is None:
        return tuple(range(rank))
    values = value if isinstance(value, tuple) else (value,)
    return tuple(sorted({normalize_axis(ctx, node, a, rank, key) for a in values}))


def same_shape(ctx, node, shapes, attrs) -> Shape:
    return shapes[0]


def broadcast(ctx, node, shapes, attrs) -> Shape:
    """NumPy broadcasting, proving each pair of dims equal or one of them 1."""
    shapes = [s for s in shapes if s is not None]
    if not shapes:
        return ()
    rank = max(len(s) for s in shapes)
    padded = [(Expr.const(1),) * (rank - len(s)) + tuple(s) for s in shapes]
    result = []
    for axis in range(rank):
        dims = [s[axis] for s in padded]
        chosen = dims[0]
        for index, dim in enumerate(dims[1:], start=1):
            if ctx.is_one(dim):
                continue
            if ctx.is_one(chosen):
                chosen = dim
                continue
            ctx.expect_equal(chosen, dim, f"broadcast dimension {axis - rank}", operands=(0, index))
        result.append(chosen)
    return tuple(result)


def reduce_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    axes = _axes(ctx, node, attrs, len(shape))
    if attrs.get("keepdim"):
        return tuple(Expr.const(1) if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def global_pool_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    if len(shape) < 3:
        ctx.error("E0202", f"global pooling needs a tensor of rank >= 3 (batch, channels, spatial...), got rank {len(shape)}")
    return tuple(shape[:2]) + (Expr.const(1),) * (len(shape) - 2)


def matmul_shape(ctx, node, shapes, attrs) -> Shape:
    a, b = shapes
    if len(a) < 2 or len(b) < 2:
        ctx.error("E0202", f"`@` needs operands of rank >= 2, got ranks {len(a)} and {len(b)}")
    ctx.expect_equal(a[-1], b[-2], "the contracted dimension of `@` (last of the left, second-last of the right)",
                     operands=(0, 1))
    batch = broadcast(ctx, node, [a[:-2], b[:-2]], attrs)
    return tuple(batch) + (a[-2], b[-1])


def softmax_shape(ctx, node, shapes, attrs) -> Shape:
    normalize_axis(ctx, node, attrs["dim"], len(shapes[0]))
    return shapes[0]


def transpose_shape(ctx, node, shapes, attrs) -> Shape:
    shape = list(shapes[0])
    a = normalize_axis(ctx, node, attrs["dim0"], len(shape), "dim0")
    b = normalize_axis(ctx, node, attrs["dim1"], len(shape), "dim1")
    shape[a], shape[b] = shape[b], shape[a]
    return tuple(shape)


def rearrange_shape(ctx, node, shapes, attrs) -> Shape:
    pattern: Pattern = attrs["pattern"]
    shape = shapes[0]
    if len(pattern.left) != len(shape):
        ctx.error("E0202", f"the pattern's left side has {len(pattern.left)} axes but the tensor has rank {len(shape)}",
                  help=f"the tensor's shape is {ctx.show(shape)}")
    sizes: dict[str, Expr] = dict(attrs["sizes"])
    for name in sizes:
        if name not in pattern.axes:
            ctx.error("E0206", f"size given for axis {name!r}, which the pattern does not have")
    for group, dim in zip(pattern.left, shape):
        if not group:
            ctx.expect_equal(dim, Expr.const(1), "an axis written as 1 in the pattern")
            continue
        unknown = [a for a in group if a not in sizes]
        if len(unknown) > 1:
            ctx.error("E0206", f"cannot infer the sizes of {', '.join(unknown)} in ({' '.join(group)})",
                      help=f"give all but one of them, e.g. rearrange(..., {unknown[0]}=...)")
        known = Expr.const(1)
        for a in group:
            if a in sizes:
                known = known * sizes[a]
        if unknown:
            sizes[unknown[0]] = ctx.divide(dim, known, f"splitting ({' '.join(group)})")
        else:
            ctx.expect_equal(dim, known, f"the group ({' '.join(group)})")
    out = []
    for group in pattern.right:
        product = Expr.const(1)
        for a in group:
            product = product * sizes[a]
        out.append(product)
    attrs["axis_sizes"] = sizes  # codegen renders reshape arguments from these
    # A reshape writes its sizes out; one that only the run time knows (the join of an
    # if/else) can be left to -1, two cannot.
    # (The reshapes are those render_rearrange writes.)
    split = any(len(g) != 1 for g in pattern.left)
    merged = any(len(g) != 1 for g in pattern.right)
    reshapes = []
    if pattern.permutation == sorted(pattern.permutation):
        reshapes += [out] if split or merged else []
    else:
        reshapes += ([[sizes[a] for a in pattern.axes]] if split else []) + ([out] if merged else [])
    for dims in reshapes:
        unknown = [d for d in dims if ctx.checker.is_opaque(d)]
        if len(unknown) > 1:
            ctx.error("E0206", f"this rearrange would reshape to sizes {unknown[0]} and {unknown[1]}, which depend on "
                      "which branch of an `if` ran", help="give the tensor the same shape on both branches")
    return tuple(out)


def shuffle_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    if len(shape) < 2:
        ctx.error("E0202", "shuffle needs a tensor with a channel dimension (rank >= 2)")
    ctx.divide(shape[1], attrs["groups"], "channel shuffle")
    return shape


def chunk_shape(ctx, node, shapes, attrs):
    shape = list(shapes[0])
    axis = normalize_axis(ctx, node, attrs["dim"], len(shape))
    part = ctx.divide(shape[axis], Expr.const(attrs["chunks"]), f"chunk into {attrs['chunks']}")
    shape[axis] = part
    return tuple(tuple(shape) for _ in range(attrs["chunks"]))


def cat_shape(ctx, node, shapes, attrs) -> Shape:
    parts = _expand_lists(shapes)
    rank = len(parts[0][1])
    axis = normalize_axis(ctx, node, attrs["dim"], rank)
    total = Expr.const(0)
    for count, shape in parts:
        if len(shape) != rank:
            ctx.error("E0202", f"cat of tensors with different ranks ({rank} and {len(shape)})")
        for i, (d0, d) in enumerate(zip(parts[0][1], shape)):
            if i != axis:
                ctx.expect_equal(d0, d, f"dimension {i} of the tensors joined by cat")
        total = total + count * shape[axis]
    out = list(parts[0][1])
    out[axis] = total
    return tuple(out)


def stack_shape(ctx, node, shapes, attrs) -> Shape:
    parts = _expand_lists(shapes)
    rank = len(parts[0][1])
    axis = normalize_axis(ctx, node, attrs["dim"], rank + 1)
    count = Expr.const(0)
    for n, shape in parts:
        if len(shape) != rank:
            ctx.error("E0202", f"stack of tensors with different ranks ({rank} and {len(shape)})")
        for i, (d0, d) in enumerate(zip(parts[0][1], shape)):
            ctx.expect_equal(d0, d, f"dimension {i} of the tensors stacked")
        count = count + n
    out = list(parts[0][1])
    out.insert(axis, count)
    return tuple(out)


def _expand_lists(shapes) -> list[tuple[Expr, Shape]]:
    """(count, shape) per operand: a tensor counts once, a tensor list `length` times."""
    return [(s.length, s.element) if isinstance(s, ListShape) else (Expr.const(1), s) for s in shapes]


def masked_fill_shape(ctx, node, shapes, attrs) -> Shape:
    result = broadcast(ctx, node, shapes[:2], attrs)
    ctx.expect_rank_equal(result, shapes[0], "masked_fill's mask must broadcast to the filled tensor")
    return shapes[0]


# ============================================================================ rendering helpers


def render_rearrange(r, node, operands, attrs):
    """reshape → permute → reshape, each step left out when it is the identity."""
    pattern: Pattern = attrs["pattern"]
    sizes = attrs["axis_sizes"]
    source = r.wrap(operands[0], ATOM)
    elementary = [sizes[a] for a in pattern.axes]
    input_split = any(len(g) != 1 for g in pattern.left)
    permutation = pattern.permutation
    is_identity = permutation == sorted(permutation)
    output_merged = any(len(g) != 1 for g in pattern.right)
    out_shape = node.shape
    if is_identity:
        if not input_split and not output_merged:
            return operands[0]
        return f"{source}.reshape({r.dims(out_shape) or '()'})", ATOM
    steps = source
    if input_split:
        steps += f".reshape({r.dims(elementary)})"
    if len(permutation) == 2 or _is_swap(permutation):
        a, b = [i for i, p in enumerate(permutation) if p != i]
        steps += f".transpose({a}, {b})"
    else:
        steps += f".permute({', '.join(str(p) for p in permutation)})"
    if output_merged:
        steps += f".reshape({r.dims(out_shape) or '()'})"
    return steps, ATOM


def _is_swap(permutation: list[int]) -> bool:
    moved = [i for i, p in enumerate(permutation) if p != i]
    return len(moved) == 2 and permutation[moved[0]] == moved[1]


def render_reduce(method: str):
    def render(r, node, operands, attrs):
        dims = attrs.get("dim")
        args = []
        if dims is not None:
            args.append(f"dim={r.axes(dims)}")
        if attrs.get("keepdim"):
            args.append("keepdim=True")
        if method == "std" and not attrs.get("unbiased", True):
            args.append("correction=0")
        return f"{r.wrap(operands[0], ATOM)}.{method}({', '.join(args)})", ATOM

    return render


def render_global_pool(method: str):
    def render(r, node, operands, attrs):
        rank = len(node.operand_shapes[0])
        dims = tuple(range(2, rank))
        return f"{r.wrap(operands[0], ATOM)}.{method}(dim={r.axes(dims)}, keepdim=True)", ATOM

    return render


def render_binary(symbol: str, precedence: int):
    def render(r, node, operands, attrs):
        left = r.wrap(operands[0], precedence)
        right = r.wrap(operands[1], precedence + 1)
        return f"{left} {symbol} {right}", precedence

    return render


def render_shuffle(r, node, operands, attrs):
    shape = node.shape
    groups = r.dim(attrs["groups"])
    if any(d.symbols() & set(getattr(r.ir, "opaque", ())) for d in shape):
        # A size only the run time knows (the join of an if/else) cannot be written out.
        return f"{r.wrap(operands[0], ATOM)}.unflatten(1, ({groups}, -1)).transpose(1, 2).flatten(1, 2)", ATOM
    rest = ", ".join(r.dim(d) for d in shape[2:])
    b, c = r.dim(shape[0]), shape[1]
    per_group = r.dim(c.exact_div(attrs["groups"]))
    source = r.wrap(operands[0], ATOM)
    return (
        f"{source}.reshape({b}, {groups}, {per_group}, {rest}).transpose(1, 2).reshape({b}, {r.dim(c)}, {rest})",
        ATOM,
    )


def render_list(r, operands) -> str:
    if len(operands) == 1 and operands[0][1] == "list":
        return operands[0][0]
    return "[" + ", ".join(text for text, _ in operands) + "]"


# ============================================================================ the ops

# --- elementwise arithmetic (from the operators + - * / ** and unary -)
op("add", "x: operand, y: operand", broadcast, render_binary("+", ADD), precedence=ADD)
op("sub", "x: operand, y: operand", broadcast, render_binary("-", ADD), precedence=ADD)
op("mul", "x: operand, y: operand", broadcast, render_binary("*", MUL), precedence=MUL)
op("div", "x: operand, y: operand", broadcast, render_binary("/", MUL), precedence=MUL)
op("pow", "x: operand, y: operand", broadcast,
   lambda r, n, o, a: (f"{r.wrap(o[0], POWER + 1)} ** {r.wrap(o[1], POWER)}", POWER), precedence=POWER)
op("neg", "x: tensor", same_shape, lambda r, n, o, a: (f"-{r.wrap(o[0], UNARY)}", UNARY), precedence=UNARY)
op("matmul", "x: tensor, y: tensor", matmul_shape, render_binary("@", MUL), precedence=MUL,
   doc="matrix product over the last two dims, batch dims broadcast")

# --- activations and pointwise functions
for _name, _method in (("sigmoid", "sigmoid"), ("exp", "exp"), ("relu", "relu"), ("tanh", "tanh"),
                       ("abs", "abs"), ("sqrt", "sqrt"), ("log", "log")):
    op(_name, "x: tensor", same_shape, f"{{x:recv}}.{_method}()")
op("softmax", "x: tensor, dim: axis", softmax_shape, "{x:recv}.softmax(dim={dim})",
   doc="softmax along `dim` (required: the axis matters, see DoubleAttention)")

# --- reductions
for _name, _method in (("sum", "sum"), ("mean", "mean"), ("max", "amax"), ("min", "amin"), ("std", "std"),
                       ("var", "var")):
    op(_name, "x: tensor, dim: axes = None, keepdim: bool = false", reduce_shape, render_reduce(_method),
       doc=f"{_name} over `dim` (all dims when omitted)")
OPS["std"].params.append(ParamSpec("unbiased", "bool", True, required=False))
op("avg_pool", "x: tensor", global_pool_shape, render_global_pool("mean"),
   doc="global average pool over the spatial dims, keeping them as size 1")
op("max_pool", "x: tensor", global_pool_shape, render_global_pool("amax"),
   doc="global max pool over the spatial dims, keeping them as size 1")

# --- layout
op("rearrange", "x: tensor, pattern: pattern, sizes: sizes", rearrange_shape, render_rearrange,
   doc="einops-style reshape/permute, compiled to plain reshape/permute")
op("transpose", "x: tensor, dim0: axis, dim1: axis", transpose_shape, "{x:recv}.transpose({dim0}, {dim1})")
op("shuffle", "x: tensor, groups: int", shuffle_shape, render_shuffle,
   doc="channel shuffle: split dim 1 into `groups` and interleave")
op("chunk", "x: tensor, chunks: count, dim: axis = 0", chunk_shape, "{x:recv}.chunk({chunks}, dim={dim})",
   outputs=lambda attrs: attrs["chunks"])
op("cat", "tensors: tensors, dim: axis = 0", cat_shape,
   lambda r, n, o, a: (f"torch.cat({render_list(r, o)}, dim={a['dim']})", ATOM))
op("stack", "tensors: tensors, dim: axis = 0", stack_shape,
   lambda r, n, o, a: (f"torch.stack({render_list(r, o)}, dim={a['dim']})", ATOM))
op("masked_fill", "x: tensor, mask: tensor, value: scalar", masked_fill_shape,
   "{x:recv}.masked_fill({mask}, {value})", doc="where `mask` is true, replace by `value`")
