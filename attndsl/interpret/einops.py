"""einops-style `rearrange`, from its definition: split each input axis into the
elementary axes of its group, reorder the elementary axes, merge them into the output
groups. Written from einops' semantics, not from the compiler's reshape plan.
"""

from __future__ import annotations

from math import prod

from ..rearrange import Pattern
from .values import Refusal


def axis_sizes(pattern: Pattern, shape, given: dict[str, int]) -> dict[str, int]:
    """The size of every elementary axis, or a Refusal when the shape does not fit the pattern."""
    if len(pattern.left) != len(shape):
        raise Refusal(f"rearrange: the pattern has {len(pattern.left)} input axes but the tensor has rank {len(shape)}")
    sizes = dict(given)
    for name, size in sizes.items():
        if size < 0:
            raise Refusal(f"rearrange: axis {name} = {size} is negative")
    for group, dim in zip(pattern.left, shape):
        if not group:
            if dim != 1:
                raise Refusal(f"rearrange: an axis written 1 has size {dim}")
            continue
        unknown = [a for a in group if a not in sizes]
        known = prod(sizes[a] for a in group if a in sizes)
        if len(unknown) > 1:
            raise Refusal(f"rearrange: cannot infer both {unknown[0]} and {unknown[1]}")
        if unknown:
            if known == 0 or dim % known:
                raise Refusal(f"rearrange: ({' '.join(group)}) = {dim} is not divisible by {known}")
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise Refusal(f"rearrange: ({' '.join(group)}) should be {known}, got {dim}")
    return sizes


def rearrange(x, pattern: Pattern, given: dict[str, int]):
    sizes = axis_sizes(pattern, tuple(x.shape), given)
    elementary = [a for group in pattern.left for a in group]
    y = x.reshape([sizes[a] for a in elementary])
    order = [elementary.index(a) for group in pattern.right for a in group]
    y = y.permute(order)
    return y.reshape([prod(sizes[a] for a in group) for group in pattern.right])
