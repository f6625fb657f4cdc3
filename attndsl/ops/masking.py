"""masked_fill: replace the values a boolean mask selects."""

from __future__ import annotations

from .broadcasting import broadcast
from .registry import Shape, family, op


def masked_fill_shape(ctx, node, shapes, attrs) -> Shape:
    # Out of place, torch broadcasts the tensor and the mask against each other: filling a
    # [b, 1, n] tensor with a [b, h, n] mask gives [b, h, n].
    return broadcast(ctx, node, shapes[:2], attrs)


family("Masking")
op("masked_fill", "x: tensor, mask: tensor[bool], value: scalar", masked_fill_shape,
   "{x:recv}.masked_fill({mask}, {value})",
   doc="where `mask` is true, replace by `value` (a number, `-inf`, or `-finfo(x).max` / `finfo(x).min` "
   "of this `x` itself)",
   shape_doc="`x` and the boolean `mask` broadcast against each other",
   example="input x: [b, h, n, n]\ninput mask: bool[b, 1, n, n]\nmasked_fill(x, mask, -inf)")
