"""Fused ops: made by the optimising passes (attndsl/passes), not written in specs."""

from __future__ import annotations

from .registry import ATOM, UNARY, Shape, family, op


def attention_shape(ctx, node, shapes, attrs) -> Shape:
    q, k, v = shapes[:3]
    ctx.expect_equal(q[-1], k[-1], "the feature size of queries and keys")
    ctx.expect_equal(k[-2], v[-2], "the number of keys and values")
    return tuple(q[:-1]) + (v[-1],)


def render_attention(r, node, operands, attrs):
    """`F.scaled_dot_product_attention(q, k, v, ...)`; a mask is "masked" (True = masked) or
    "additive" (passed as is).

    torch reads a boolean mask the other way (True = allowed), and on CPU turns it into an
    additive float mask before it attends. A "masked" mask therefore goes in as that float
    mask, built once (`zeros_like(mask, dtype=q.dtype).masked_fill_(mask, -inf)`): negating
    it first (`~mask`) would add a boolean copy of the `[b, h, n, n]` mask to the peak
    memory. Where the queries are an expression rather than a name (so that naming their
    dtype would compute them twice) the negated mask is passed instead.

    Where the mask has a row for every query, even that float mask is as large as the
    weights; the call then goes to `_attention_by_query_blocks` (templates/torch/helpers/),
    which makes it a block of queries at a time, a quarter of them or fewer
    (passes/fuse_attention.py decides)."""
    arguments = [text for text, _ in operands[:3]]
    blocks = attrs.get("query_blocks")
    if len(operands) > 3:
        mask = operands[3]
        text = mask[0]
        if attrs.get("mask_kind") == "masked" and not blocks:  # (the helper makes its own, and takes None)
            queries = arguments[0]
            text = (f"torch.zeros_like({mask[0]}, dtype={queries}.dtype).masked_fill_({mask[0]}, float(\"-inf\"))"
                    if queries.isidentifier() and mask[0].isidentifier() else f"~{r.wrap(mask, UNARY)}")
        optional = attrs.get("optional_mask")  # the optional input the mask is (a view of)
        if optional and text != optional:
            text = f"None if {optional} is None else {text}"
        arguments.append(text if blocks else f"attn_mask={text}")
    causal = attrs.get("causal")
    if causal is not None:  # a causal mask built in the spec: SDPA builds none (a condition: only where it holds)
        # SDPA takes a Python bool: a flag the caller gave as 1 or tensor(True) is made one, as `if` reads it
        flag = causal is not True and getattr(causal, "op", None) in ("arg", "flag", "and", "or")
        text = "True" if causal is True else r.condition(causal, r.forward_name)
        arguments.append(f"is_causal=bool({text})" if flag else f"is_causal={text}")
    if attrs.get("dropout"):
        layer = attrs["dropout"]
        arguments.append(f"dropout_p={layer}.p if {layer}.training else 0.0")
    if attrs.get("scale") is not None:
        arguments.append(f"scale={r.scalar(attrs['scale'])[0]}")
    function = f"_{QUERY_BLOCKS_HELPER}" if blocks else "F.scaled_dot_product_attention"
    return f"{function}({', '.join(arguments)})", ATOM


QUERY_BLOCKS_HELPER = "attention_by_query_blocks"
# The fewest queries per call of the helper, which makes at most four: each call costs a
# pass over the keys and values, so smaller blocks cost time (benchmarks/README.md).
QUERY_BLOCK = 256


def attention_helpers(attrs) -> tuple[str, ...]:
    """The module-level functions a fused call needs beside the class (codegen writes each once)."""
    return (QUERY_BLOCKS_HELPER,) if attrs.get("query_blocks") else ()


family("Made by the optimiser")
op("scaled_dot_product_attention", "q: tensor, k: tensor, v: tensor, mask: tensor = None", attention_shape,
   render_attention, doc="softmax(q @ kᵀ * scale [+ mask]) @ v in one call (made by attention fusion)",
   imports=("import torch.nn.functional as F",), helpers=attention_helpers, internal=True)
