"""Layout folding: consecutive transposes and rearranges become one, identities go.

- `transpose(transpose(x, a, b), a, b)` and an identity rearrange are `x`;
- `transpose(rearrange(x, p), a, b)` is `rearrange(x, p')` with p's output axes a and
  b swapped; `rearrange(transpose(x, a, b), p)` swaps p's input axes instead;
- `rearrange(rearrange(x, p1), p2)` is one rearrange when p2 reads p1's output groups
  as they were made (a group kept whole, or split back into the same axes);
- a transpose of an `if`/`else` join whose branches are rearranges moves into both.

A rewrite happens only when the inner value has no other reader and the result renders
with fewer reshape/permute/transpose steps than the two ops did (these are all views:
what is gained is a shorter, clearer line, and no step that could copy). Generated code
never calls `.contiguous()`: `reshape` copies only when a view is impossible.
"""

from __future__ import annotations

from ..ir import BlockIR
from ..rearrange import Pattern
from .rewrite import attrs_of, is_live, is_private, new_node, op_of, redirect, same_dims, shape_of, sole_user


def fold_layout(ir: BlockIR) -> int:
    folded = 0
    changed = True
    while changed:
        changed = False
        for node in ir.topological():
            if is_live(ir, node) and any(rule(ir, node) for rule in _RULES):
                folded += 1
                changed = True
    return folded


def steps(pattern: Pattern) -> int:
    """How many reshape/permute calls a rearrange renders as (see ops.render_rearrange)."""
    split = any(len(group) != 1 for group in pattern.left)
    merged = any(len(group) != 1 for group in pattern.right)
    if pattern.permutation == sorted(pattern.permutation):
        return 1 if split or merged else 0
    return int(split) + 1 + int(merged)


# ---------------------------------------------------------------------------- rules


def _identity(ir: BlockIR, node: int) -> bool:
    op = op_of(ir, node)
    operand = ir.operands(node)[0] if op in ("transpose", "rearrange") else None
    if op == "transpose":
        a, b = _axes(ir, node)
        if a == b:
            redirect(ir, node, operand)
            return True
        if op_of(ir, operand) == "transpose" and is_private(ir, operand, node) and set(_axes(ir, operand)) == {a, b}:
            redirect(ir, node, ir.operands(operand)[0])
            return True
    if op == "rearrange":
        pattern = attrs_of(ir, node)["pattern"]
        if pattern.left == pattern.right and same_dims(ir, shape_of(ir, node), shape_of(ir, operand)):
            redirect(ir, node, operand)
            return True
    return False


def _transpose_of_rearrange(ir: BlockIR, node: int) -> bool:
    if op_of(ir, node) != "transpose":
        return False
    inner = ir.operands(node)[0]
    if op_of(ir, inner) != "rearrange" or not is_private(ir, inner, node):
        return False
    pattern = attrs_of(ir, inner)["pattern"]
    swapped = Pattern(pattern.left, _swap(pattern.right, *_axes(ir, node)))
    if steps(swapped) >= steps(pattern) + 1:
        return False
    _replace_with_rearrange(ir, node, inner, swapped, source=ir.operands(inner)[0])
    return True


def _rearrange_of_transpose(ir: BlockIR, node: int) -> bool:
    if op_of(ir, node) != "rearrange":
        return False
    inner = ir.operands(node)[0]
    if op_of(ir, inner) != "transpose" or not is_private(ir, inner, node):
        return False
    pattern = attrs_of(ir, node)["pattern"]
    swapped = Pattern(_swap(pattern.left, *_axes(ir, inner)), pattern.right)
    if steps(swapped) >= steps(pattern) + 1:
        return False
    _replace_with_rearrange(ir, node, node, swapped, source=ir.operands(inner)[0])
    return True


def _rearrange_of_rearrange(ir: BlockIR, node: int) -> bool:
    if op_of(ir, node) != "rearrange":
        return False
    inner = ir.operands(node)[0]
    if op_of(ir, inner) != "rearrange" or not is_private(ir, inner, node):
        return False
    first, second = attrs_of(ir, inner)["pattern"], attrs_of(ir, node)["pattern"]
    composed = _compose(ir, first, attrs_of(ir, inner)["axis_sizes"], second, attrs_of(ir, node)["axis_sizes"])
    if composed is None or steps(composed) >= steps(first) + steps(second):
        return False
    _replace_with_rearrange(ir, node, inner, composed, source=ir.operands(inner)[0], keep=node)
    return True


def _transpose_of_join(ir: BlockIR, node: int) -> bool:
    """`k = rearrange(...)` on both branches of an `if`, then `transpose(k)`: transpose each."""
    if op_of(ir, node) != "transpose":
        return False
    join = ir.operands(node)[0]
    if op_of(ir, join) != "phi" or not is_private(ir, join, node):
        return False
    branches = ir.operands(join)
    swaps = []
    for branch in branches:
        if op_of(ir, branch) != "rearrange" or sole_user(ir, branch) != join:
            return False
        pattern = attrs_of(ir, branch)["pattern"]
        swapped = Pattern(pattern.left, _swap(pattern.right, *_axes(ir, node)))
        if steps(swapped) > steps(pattern):
            return False
        swaps.append(swapped)
    replacements = []
    for branch, swapped in zip(branches, swaps):
        shape = _swapped_shape(shape_of(ir, branch), *_axes(ir, node))
        replacement = new_node(ir, "rearrange", [ir.operands(branch)[0]], like=branch, shape=shape,
                               name=ir.graph.nodes[branch]["name"], **{**attrs_of(ir, branch), "pattern": swapped})
        ir.graph.nodes[replacement]["comments"] = list(ir.graph.nodes[branch]["comments"])
        replacements.append(replacement)
    details = ir.graph.nodes[join]
    new_join = new_node(ir, "phi", replacements, like=join, shape=shape_of(ir, node), name=details["name"],
                        **attrs_of(ir, join))
    ir.graph.nodes[new_join]["comments"] = list(details["comments"])
    redirect(ir, node, new_join)
    return True


_RULES = (_identity, _transpose_of_rearrange, _rearrange_of_transpose, _rearrange_of_rearrange, _transpose_of_join)


# ---------------------------------------------------------------------------- helpers


def _axes(ir: BlockIR, node: int) -> tuple[int, int]:
    rank = len(shape_of(ir, node))
    details = attrs_of(ir, node)
    return details["dim0"] % rank, details["dim1"] % rank


def _swap(groups: tuple, a: int, b: int) -> tuple:
    groups = list(groups)
    groups[a], groups[b] = groups[b], groups[a]
    return tuple(groups)


def _swapped_shape(shape, a: int, b: int) -> tuple:
    return _swap(tuple(shape), a, b)


def _replace_with_rearrange(ir: BlockIR, node: int, like: int, pattern: Pattern, *, source: int,
                            keep: int | None = None) -> None:
    """`node` becomes one rearrange of `source`; it keeps the name and comments of `like`
    (the spec statement the layout came from), and the axis sizes of both."""
    details = ir.graph.nodes[like]
    sizes = dict(attrs_of(ir, like)["axis_sizes"])
    if keep is not None:
        sizes.update({a: s for a, s in attrs_of(ir, keep)["axis_sizes"].items() if a not in sizes})
    sizes = {a: sizes[a] for a in pattern.axes}
    rearranged = new_node(ir, "rearrange", [source], like=like, guard=ir.graph.nodes[node]["guard"],
                          shape=shape_of(ir, node), name=ir.graph.nodes[node]["name"] or details["name"],
                          pattern=pattern, sizes=tuple(sorted(sizes.items())), axis_sizes=sizes)
    ir.graph.nodes[rearranged]["comments"] = list(ir.graph.nodes[node]["comments"] or details["comments"])
    redirect(ir, node, rearranged)


def _compose(ir: BlockIR, first: Pattern, first_sizes: dict, second: Pattern, second_sizes: dict) -> Pattern | None:
    """`second` after `first` as one pattern over `first`'s axes, when each input group of
    `second` is one output group of `first`, whole or split into the same axes."""
    if len(second.left) != len(first.right):
        return None
    meaning: dict[str, tuple[str, ...]] = {}
    for reads, made in zip(second.left, first.right):
        if not reads:
            if made:
                return None  # a literal 1 over named axes of size 1: not worth the proof
            continue
        if len(reads) == 1:
            meaning[reads[0]] = made
            continue
        if len(reads) != len(made) or not same_dims(ir, [second_sizes[a] for a in reads],
                                                    [first_sizes[a] for a in made]):
            return None
        for axis, original in zip(reads, made):
            meaning[axis] = (original,)
    right = tuple(tuple(a for axis in group for a in meaning[axis]) for group in second.right)
    used = sorted(a for group in right for a in group)
    if used != sorted(first.axes):
        return None
    return Pattern(first.left, right)
