"""Fused ops: made by the optimising passes (attndsl/passes), not written in specs."""

from __future__ import annotations

from .registry import ATOM, UNARY, Shape, family, op


def attention_shape(ctx, node, shapes, attrs) -> Shape:
    q, k, v = shapes[:3]
    ctx.expect_equal(q[-1], k[-1], "the feature size of queries and keys")
    ctx.expect_equal(k[-2], v[-2], "the number of keys and values")
    return tuple(q[:-1]) + (v[-1],)


def render_attention(r, node, operands, attrs):
    """`F.scaled_dot_product_attention(q, k, v, ...)`; a mask is "masked" (True = masked,
    passed negated: torch's boolean mask means True = allowed) or "additive" (as is)."""
    arguments = [text for text, _ in operands[:3]]
    if len(operands) > 3:
        mask = operands[3]
        text = f"~{r.wrap(mask, UNARY)}" if attrs.get("mask_kind") == "masked" else mask[0]
        if attrs.get("optional_mask") and text != mask[0]:
            text = f"None if {mask[0]} is None else {text}"
        arguments.append(f"attn_mask={text}")
    if attrs.get("dropout"):
        layer = attrs["dropout"]
        arguments.append(f"dropout_p={layer}.p if {layer}.training else 0.0")
    if attrs.get("scale") is not None:
        arguments.append(f"scale={r.scalar(attrs['scale'])[0]}")
    return f"F.scaled_dot_product_attention({', '.join(arguments)})", ATOM


family("Made by the optimiser")
op("scaled_dot_product_attention", "q: tensor, k: tensor, v: tensor, mask: tensor = None", attention_shape,
   render_attention, doc="softmax(q @ kᵀ * scale [+ mask]) @ v in one call (made by attention fusion)",
   imports=("import torch.nn.functional as F",), internal=True)
