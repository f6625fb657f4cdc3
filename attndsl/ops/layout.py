"""Ops that move elements without computing: rearrange, transpose, shuffle, chunk, cat, stack."""

from __future__ import annotations

from ..rearrange import Pattern, parse_pattern
from ..symbolic import Expr, simplify
from .registry import ATOM, ListShape, Shape, family, normalize_axis, op


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
        # A reshape takes no size below 1 for a tensor that has elements (-1 means "infer").
        ctx.expect_at_least(sizes[name], 1, f"the size of axis `{name}` must be at least 1")
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
    # `nh=h // s` is `h/s` once `h % s == 0` is known: the reshape then writes `w // s`, not
    # `h * w // (s * s * (h // s))`
    sizes = {axis: simplify(size, ctx.facts) for axis, size in sizes.items()}
    out = []
    for group in pattern.right:
        product = Expr.const(1)
        for a in group:
            product = product * sizes[a]
        out.append(product)
    if ctx.checker.world is None:
        # Codegen renders reshape arguments from these: the sizes every branch agrees on,
        # as the first (joined) walk sees them; not one world's, which another may not share.
        attrs["axis_sizes"] = sizes
    else:  # for where the joined walk stopped before this node (attndsl/shapes/block_checker.py)
        attrs.setdefault("world_axis_sizes", []).append(sizes)
    # A split writes its sizes out (attndsl/ops/layout.py, render_rearrange); one that only
    # the run time knows (the join of an if/else) can be left to -1, two in one group cannot.
    for group in pattern.left:
        unknown = [sizes[a] for a in group if ctx.checker.is_opaque(sizes[a])]
        if len(group) > 1 and len(unknown) > 1:
            ctx.error("E0206", f"this rearrange would split an axis into sizes {unknown[0]} and {unknown[1]}, which "
                      "depend on which branch of an `if` ran", help="give the tensor the same shape on both branches")
    return tuple(out)


def shuffle_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    if len(shape) < 2:
        ctx.error("E0202", "shuffle needs a tensor with a channel dimension (rank >= 2)")
    ctx.expect_at_least(attrs["groups"], 1, "channel shuffle needs at least 1 group")
    ctx.divide(shape[1], attrs["groups"], "channel shuffle")
    return shape


def chunk_shape(ctx, node, shapes, attrs):
    shape = list(shapes[0])
    axis = normalize_axis(ctx, node, attrs["dim"], len(shape))
    part = ctx.divide(shape[axis], Expr.const(attrs["chunks"]), f"chunk into {attrs['chunks']}")
    shape[axis] = part
    return tuple(tuple(shape) for _ in range(attrs["chunks"]))


def unbind_shape(ctx, node, shapes, attrs):
    shape = list(shapes[0])
    axis = normalize_axis(ctx, node, attrs["dim"], len(shape))
    count = attrs["count"]
    ctx.expect_equal(shape[axis], Expr.const(count), f"dimension {axis}, which unbind() splits into {count} tensors "
                     f"(one per name it is unpacked into)")
    return tuple(tuple(shape[:axis] + shape[axis + 1:]) for _ in range(count))


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
    _at_least_one(ctx, parts, "cat")
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
    _at_least_one(ctx, parts, "stack")
    out = list(parts[0][1])
    out.insert(axis, count)
    return tuple(out)


def _at_least_one(ctx, parts, what: str) -> None:
    """torch refuses to cat or stack nothing: a list argument that is empty."""
    count = Expr.const(0)
    for n, _ in parts:
        count = count + n
    ctx.expect_at_least(count, 1, f"{what} needs at least one tensor")


def _expand_lists(shapes) -> list[tuple[Expr, Shape]]:
    """(count, shape) per operand: a tensor counts once, a tensor list `length` times."""
    return [(s.length, s.element) if isinstance(s, ListShape) else (Expr.const(1), s) for s in shapes]


def render_rearrange(r, node, operands, attrs):
    """reshape → permute → reshape, each step left out when it is the identity. Where a size
    is known only at run time (the join of an if/else), the axes are split and merged in
    place instead (`unflatten`, `flatten`), which never writes out the other sizes."""
    pattern: Pattern = attrs["pattern"]
    sizes = attrs["axis_sizes"]
    source = r.wrap(operands[0], ATOM)
    elementary = [sizes[a] for a in pattern.axes]
    input_split = any(len(g) != 1 for g in pattern.left)
    permutation = pattern.permutation
    is_identity = permutation == sorted(permutation)
    output_merged = any(len(g) != 1 for g in pattern.right)
    out_shape = node.shape
    in_place = any(r.runtime_only(e) for e in elementary)
    if is_identity and not input_split and not output_merged:
        return operands[0]
    if is_identity and not input_split and all(pattern.right) and \
            sum(len(g) > 1 for g in pattern.right) == 1:  # `(i j) k` → `.flatten(0, 1)`, no sizes written
        return source + _merge_in_place(pattern), ATOM
    if is_identity and not in_place:
        return f"{source}.reshape({r.dims(out_shape) or '()'})", ATOM
    merged = None if in_place else _merged_runs(pattern, sizes)
    if merged is not None:
        return _render_runs(r, source, pattern, merged, out_shape), ATOM
    steps = source
    if input_split:
        steps += _split_in_place(r, pattern, sizes) if in_place else f".reshape({r.dims(elementary)})"
    if is_identity:
        pass
    elif len(permutation) == 2 or _is_swap(permutation):
        a, b = [i for i, p in enumerate(permutation) if p != i]
        steps += f".transpose({a}, {b})"
    else:
        steps += f".permute({', '.join(str(p) for p in permutation)})"
    if output_merged:
        steps += _merge_in_place(pattern) if in_place else f".reshape({r.dims(out_shape) or '()'})"
    return steps, ATOM


def _merged_runs(pattern: Pattern, sizes) -> tuple[list, list[int]] | None:
    """Axes that stay side by side and in order, and end in one output group, move as one:
    `b (h d) p s -> b h (p s) d` is `reshape(b, h, d, p*s).transpose(2, 3)`, not a 5-d round
    trip through `permute(0, 1, 3, 4, 2)`. (The runs in the input's order, with their sizes;
    the permutation of them.) None where no two axes move together."""
    axes = pattern.axes
    position = {a: i for i, a in enumerate(axes)}
    group_of = {a: index for index, group in enumerate(pattern.right) for a in group}
    runs: list[list[str]] = []
    for axis in (a for group in pattern.right for a in group):
        last = runs[-1][-1] if runs else None
        if last is not None and position[axis] == position[last] + 1 and group_of[axis] == group_of[last]:
            runs[-1].append(axis)
        else:
            runs.append([axis])
    if all(len(run) == 1 for run in runs):
        return None
    in_order = sorted(runs, key=lambda run: position[run[0]])
    sized = []
    for run in in_order:
        size = Expr.const(1)
        for axis in run:
            size = size * sizes[axis]
        sized.append((tuple(run), size))
    return sized, [in_order.index(run) for run in runs]


def _render_runs(r, source: str, pattern: Pattern, merged, out_shape) -> str:
    """reshape to the runs (left out where the input's axes are the runs already), permute
    them, reshape to the output (left out where its groups are the runs)."""
    runs, permutation = merged
    steps = source
    if [tuple(group) for group in pattern.left] != [run for run, _ in runs]:
        steps += f".reshape({r.dims([size for _, size in runs])})"
    if len(permutation) == 2 or _is_swap(permutation):
        a, b = [i for i, p in enumerate(permutation) if p != i]
        steps += f".transpose({a}, {b})"
    elif permutation != sorted(permutation):
        steps += f".permute({', '.join(str(p) for p in permutation)})"
    in_output = [runs[p][0] for p in permutation]
    if [tuple(group) for group in pattern.right] != in_output:
        steps += f".reshape({r.dims(out_shape) or '()'})"
    return steps


def _split_in_place(r, pattern: Pattern, sizes) -> str:
    """`(k l)` → `.unflatten(3, (-1, l))`, `1` → `.squeeze(0)`: right to left, so the axes
    to the left keep their positions."""
    steps = ""
    for index in reversed(range(len(pattern.left))):
        group = pattern.left[index]
        if not group:
            steps += f".squeeze({index})"
        elif len(group) > 1:
            steps += f".unflatten({index}, ({r.dims([sizes[a] for a in group])}))"
    return steps


def _merge_in_place(pattern: Pattern) -> str:
    """`(i k)` → `.flatten(1, 2)`, `()` → `.unsqueeze(...)`: right to left."""
    starts, position = [], 0
    for group in pattern.right:
        starts.append(position)
        position += len(group)
    steps = ""
    final = len(pattern.right) - 1
    for index, (start, group) in reversed(list(enumerate(zip(starts, pattern.right)))):
        if not group:
            steps += f".unsqueeze({start})"
        elif len(group) > 1:
            last = start + len(group) - 1
            # `.flatten(start)` runs to the end: only for the last group (a `1` after it is
            # an axis unsqueezed already, which it would swallow)
            steps += f".flatten({start})" if index == final else f".flatten({start}, {last})"
    return steps


def _is_swap(permutation: list[int]) -> bool:
    moved = [i for i, p in enumerate(permutation) if p != i]
    return len(moved) == 2 and permutation[moved[0]] == moved[1]


def render_shuffle(r, node, operands, attrs):
    shape = node.shape
    groups = r.dim(attrs["groups"])
    if any(r.runtime_only(d) for d in shape):
        # A size only the run time knows (the join of an if/else) cannot be written out.
        return f"{r.wrap(operands[0], ATOM)}.unflatten(1, ({groups}, -1)).transpose(1, 2).flatten(1, 2)", ATOM
    rest = [r.dim(d) for d in shape[2:]]
    b, c = r.dim(shape[0]), shape[1]
    per_group = r.dim(c.exact_div(attrs["groups"]))
    source = r.wrap(operands[0], ATOM)
    split = ", ".join([b, groups, per_group] + rest)  # no trailing comma for black to explode
    merged = ", ".join([b, r.dim(c)] + rest)
    return f"{source}.reshape({split}).transpose(1, 2).reshape({merged})", ATOM


def render_list(r, operands) -> str:
    """`[a, b]`, a list as it is (`[f(x) for f in self.convs]`), or both joined by `+`:
    `[y] + [op(y) for op in self.aggreg]`."""
    parts, tensors = [], []
    for text, kind in operands:
        if kind == "list":
            if tensors:
                parts.append("[" + ", ".join(tensors) + "]")
                tensors = []
            parts.append(text)
        else:
            tensors.append(text)
    if tensors or not parts:
        parts.append("[" + ", ".join(tensors) + "]")
    return " + ".join(parts)


family("Layout")
op("rearrange", "x: tensor[any], pattern: pattern, sizes: sizes", rearrange_shape, render_rearrange, result="same",
   parse=parse_pattern,
   doc="einops-style reshape/permute, compiled to plain reshape/permute/transpose (no einops at run time)",
   shape_doc="the pattern's right side, each group the product of its axes; a split group `(g c)` needs all "
   "but one size given (`g=groups`) and the dim divisible by them",
   example='input x: [b, c, h, w]\nrearrange(x, "b (g c) h w -> (b g) c h w", g=4)')
op("transpose", "x: tensor[any], dim0: axis, dim1: axis", transpose_shape, "{x:recv}.transpose({dim0}, {dim1})",
   result="same", doc="swap two axes", shape_doc="`x` with the sizes of `dim0` and `dim1` swapped",
   example="input x: [b, n, d]\ntranspose(x, 1, 2)")
op("shuffle", "x: tensor, groups: int", shuffle_shape, render_shuffle,
   doc="channel shuffle: split dim 1 into `groups` and interleave",
   shape_doc="the shape of `x`; dim 1 must be divisible by `groups`", example="input x: [b, c, h, w]\nshuffle(x, 2)")
op("chunk", "x: tensor[any], chunks: count, dim: axis = 0", chunk_shape, "{x:recv}.chunk({chunks}, dim={dim})",
   outputs=lambda attrs: attrs["chunks"], result="same",
   doc="split into `chunks` equal pieces along `dim`, unpacked as `a, b = chunk(x, 2, dim=1)`",
   shape_doc="`chunks` tensors, each `x` with the size of `dim` divided by `chunks` (which must divide it)",
   example="input x: [b, c, h, w]\nfirst, second = chunk(x, 2, dim=1)\nfirst * sigmoid(second)")
op("unbind", "x: tensor[any], dim: axis = 0", unbind_shape, "{x:recv}.unbind({dim})",
   outputs=lambda attrs: attrs["count"], result="same", unpacked=True,
   doc="the slices along `dim`, without it, unpacked into one name each: `q, k, v = unbind(qkv, dim=0)`",
   shape_doc="as many tensors as names it is unpacked into (the size of `dim`, which must equal that count), "
   "each `x` without `dim`",
   example='input x: [b, n, d]\nqk = rearrange(x, "b n (two e) -> two b n e", two=2)\nq, k = unbind(qk, dim=0)\nq @ '
   'transpose(k, 1, 2)')
op("cat", "tensors: tensors[any], dim: axis = 0", cat_shape,
   lambda r, n, o, a: (f"torch.cat({render_list(r, o)}, dim={a['dim']})", ATOM), result="same",
   doc="join tensors along an existing axis (a list, or a comprehension over a layer list)",
   shape_doc="the tensors agree on every other axis; `dim` is the sum of theirs",
   example="input x: [b, c, h, w]\ncat([max(x, dim=1, keepdim=true), mean(x, dim=1, keepdim=true)], dim=1)")
op("stack", "tensors: tensors[any], dim: axis = 0", stack_shape,
   lambda r, n, o, a: (f"torch.stack({render_list(r, o)}, dim={a['dim']})", ATOM), result="same",
   doc="join tensors along a new axis", shape_doc="the tensors have equal shapes; a new axis of their count at `dim`",
   example="input x: [b, n, d]\ninput y: [b, n, d]\nstack([x, y], dim=0)")
