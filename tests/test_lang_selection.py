"""Selection: `topk`, `sort`, `argsort`, `argmax`/`argmin`, and picking or writing by the
positions they compute (`gather`, `scatter`, `x[:, index]`): explicit sparse (top-k)
attention and BiFormer's region routing, written in full.

Positions computed along an axis lie below its size; a pick by them needs that size no
larger than the axis picked from (a shape check, proven or made in forward). Positions
moved by arithmetic have no such bound and do not index.
"""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, build, compile_ok, first_error, generated, rand

SPARSE = """\
block SparseAttention(dim: int, heads: int = 4, topk: int = 8):
    \"\"\"Explicit sparse attention: each query keeps its `topk` largest logits.\"\"\"
    input x: [b, n, dim]
    require dim % heads == 0
    layer qkv = linear(dim, 3 * dim)
    layer proj = linear(dim, dim)
    q, k, v = unbind(rearrange(qkv(x), "b n (three h d) -> three b h n d", three=3, h=heads), dim=0)
    s = q @ transpose(k, -2, -1) * (dim // heads) ** -0.5
    values, index = topk(s, topk, dim=-1)
    keep = scatter(zeros_like(s), -1, index, 1.0)
    a = softmax(masked_fill(s, keep == 0.0, -inf), dim=-1)
    return proj(rearrange(a @ v, "b h n d -> b n (h d)"))
"""


def _sparse_reference(module, x, heads, topk):
    b, n, dim = x.shape
    q, k, v = module.qkv(x).reshape(b, n, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
    s = q @ k.transpose(-2, -1) * (dim // heads) ** -0.5
    kth = s.topk(topk, dim=-1).values[..., -1:]  # the k-th largest logit of each row
    a = s.masked_fill(s < kth, float("-inf")).softmax(dim=-1)
    return module.proj((a @ v).transpose(1, 2).reshape(b, n, dim))


def test_sparse_attention_keeps_the_topk_logits_of_each_row(device):
    code = compile_ok(SPARSE)
    assert "_, index = s.topk(self.topk, dim=-1)" in code  # the argument `topk` calls the function
    assert "torch.zeros_like(s).scatter(-1, index, 1)" in code
    module = build(SPARSE, dim=32, heads=4, topk=3).to(device)
    x = rand(2, 10, 32).to(device).requires_grad_()
    got = module(x)
    want = _sparse_reference(module, x, 4, 3)
    torch.testing.assert_close(got, want)
    grads = torch.autograd.grad(got.square().sum(), [x, *module.parameters()])
    wants = torch.autograd.grad(want.square().sum(), [x, *module.parameters()])
    for g, w in zip(grads, wants):
        torch.testing.assert_close(g, w)
    with torch.no_grad():
        module.qkv.weight[0, 0] += 1e-3  # the comparison can fail
    assert not torch.allclose(module(x), want)
    for topk, n in ((3, 10), (10, 10), (1, 4)):
        assert agree(SPARSE, {"dim": 32, "heads": 4, "topk": topk}, {"x": (2, n, 32)}) == "agree"


def test_a_k_past_its_axis_is_refused_where_the_axis_is_known():
    module = build(SPARSE, dim=8, heads=2, topk=6)
    with pytest.raises(ValueError, match=r"^SparseAttention: topk\(\): `k` \(topk\) must not exceed the size of "
                                         r"axis 3, n, with n = 5, topk = 6"):
        module(rand(1, 5, 8))
    assert agree(SPARSE, {"dim": 8, "heads": 2, "topk": 6}, {"x": (1, 5, 8)}).startswith("both refused")
    assert first_error("block B():\n    input x: [b, 4]\n    v, i = topk(x, 5, dim=1)\n    return v\n")[:3] == \
        ("E0204", 3, 12)


ROUTING = """\
block Routing(dim: int, regions: int = 4, topk: int = 2):
    \"\"\"BiFormer's routing: each region attends to the tokens of its `topk` most related regions.\"\"\"
    input x: [b, p, w, dim]
    require p == regions
    layer qkv = linear(dim, 3 * dim)
    q, k, v = chunk(qkv(x), 3, dim=-1)
    affinity = mean(q, dim=2) @ transpose(mean(k, dim=2), -1, -2)
    weight, index = topk(affinity, topk, dim=-1)
    picks = expand(index[:, :, :, None, None], (-1, -1, -1, w, dim))
    keys = rearrange(gather(expand(unsqueeze(k, 1), (-1, p, -1, -1, -1)), 2, picks), "b p t w d -> b p (t w) d")
    vals = rearrange(gather(expand(unsqueeze(v, 1), (-1, p, -1, -1, -1)), 2, picks), "b p t w d -> b p (t w) d")
    return softmax(q @ transpose(keys, -1, -2) * dim ** -0.5, dim=-1) @ vals
"""


def _routing_reference(module, x, topk):
    b, p, w, dim = x.shape
    q, k, v = module.qkv(x).chunk(3, dim=-1)
    affinity = q.mean(dim=2) @ k.mean(dim=2).transpose(-1, -2)  # [b, p, p]
    index = affinity.topk(topk, dim=-1).indices  # [b, p, topk]
    rows = torch.arange(b, device=x.device)[:, None, None]
    keys = k[rows, index].reshape(b, p, topk * w, dim)  # region index[i, j, t] of batch i, by advanced indexing
    vals = v[rows, index].reshape(b, p, topk * w, dim)
    return (q @ keys.transpose(-1, -2) * dim ** -0.5).softmax(dim=-1) @ vals


def test_routing_gathers_the_tokens_of_the_topk_regions(device):
    module = build(ROUTING, dim=8, regions=4, topk=2).to(device)
    x = rand(2, 4, 5, 8).to(device).requires_grad_()
    got, want = module(x), _routing_reference(module, x, 2)
    torch.testing.assert_close(got, want)
    grads = torch.autograd.grad(got.sum(), [x, *module.parameters()])
    wants = torch.autograd.grad(want.sum(), [x, *module.parameters()])
    for g, w in zip(grads, wants):
        torch.testing.assert_close(g, w)
    with torch.no_grad():
        module.qkv.bias[3] += 1e-3
    assert not torch.allclose(module(x), want)
    assert agree(ROUTING, {"dim": 8, "regions": 4, "topk": 4}, {"x": (3, 4, 1, 8)}) == "agree"
    assert agree(ROUTING, {"dim": 8, "regions": 3, "topk": 4}, {"x": (3, 3, 1, 8)}).startswith("both refused")


ORDERS = """\
block Orders():
    input x: [b, n, d]
    values, index = sort(x, dim=1, descending=true)
    low, where_low = topk(x, 2, dim=2, largest=false)
    return values + gather(x, 1, argsort(x, dim=1)), low, float(argmax(x, dim=2, keepdim=true)) + float(argmin(x, dim=1)[:, None, :]), gather(x, 2, where_low)
"""


def test_sort_argsort_argmax_argmin_and_smallest_values_are_torchs():
    x = rand(2, 5, 3)
    a, low, positions, picked = build(ORDERS)(x)
    torch.testing.assert_close(a, x.sort(dim=1, descending=True).values + x.sort(dim=1).values)
    torch.testing.assert_close(low, x.topk(2, dim=2, largest=False).values)
    torch.testing.assert_close(picked, low)
    torch.testing.assert_close(positions, (x.argmax(dim=2, keepdim=True) + x.argmin(dim=1)[:, None, :]).double())
    assert agree(ORDERS, {}, {"x": (2, 5, 3)}) == "agree"
    assert agree(ORDERS, {}, {"x": (2, 5, 1)}).startswith("both refused")  # topk(..., 2) of one value


LOOKUP = """\
block Lookup():
    input x: [b, n, d]
    input y: [b, m, d]
    return x[:, argmax(y[0], dim=0)]
"""


def test_positions_from_a_larger_axis_are_refused_before_they_pick():
    """argmax over y's m positions picks along x's n: m <= n is a check in forward (the values
    drawn may happen to fit; the language does not count on them)."""
    code = compile_ok(LOOKUP)
    assert "if n < m:" in code
    module = build(LOOKUP)
    x, y = rand(2, 6, 3), rand(2, 5, 3)
    torch.testing.assert_close(module(x, y), x[:, y[0].argmax(dim=0)])
    with pytest.raises(ValueError, match="^Lookup: a gather picks along axis 1, of size n, by positions in an axis "
                                         "of size m, which must not be larger, with m = 5, n = 3"):
        module(rand(2, 3, 3), y)
    assert agree(LOOKUP, {}, {"x": (2, 6, 3), "y": (2, 5, 3)}) == "agree"
    assert agree(LOOKUP, {}, {"x": (2, 3, 3), "y": (2, 5, 3)}).startswith("both refused")
    proven = "block B():\n    input x: [b, n, d]\n    y = cat([x, x], dim=1)\n    return gather(x, 1, argsort(y, dim=1))\n"
    assert first_error(proven)[0] == "E0204"


@pytest.mark.parametrize("index, message", [
    ("argsort(x, dim=1) + 1", "gather()'s index has no known bound"),
    ("argsort(x, dim=1) // 2", "gather()'s index has no known bound"),
])
def test_positions_moved_by_arithmetic_do_not_index(index, message):
    code, line, column, text = first_error(f"block B():\n    input x: [b, n, d]\n    return gather(x, 1, {index})\n")
    assert (code, line, column) == ("E0204", 3, 12) and text.startswith(message)
    code, line, column, text = first_error(f"block B():\n    input x: [b, n, d]\n    return x[:, {index}]\n")
    assert (code, line, column) == ("E0113", 3, 17) and "positions computed by topk" in text


def test_the_values_of_topk_are_no_index():
    source = "block B():\n    input x: [b, n]\n    v, i = topk(long(x), 2, dim=1)\n    return x[:, v]\n"
    assert first_error(source)[:3] == ("E0113", 4, 17)


def test_gather_and_scatter_need_an_index_of_the_same_rank_no_larger_elsewhere():
    rank = "block B():\n    input x: [b, n, d]\n    return gather(x, 1, argmax(x, dim=1))\n"
    assert first_error(rank)[0] == "E0202"
    wider = ("block B():\n    input x: [b, n, d]\n    i = argsort(x, dim=1)\n"
             "    return scatter(x[:, :, :1], 1, i, 0.0)\n")
    with pytest.raises(ValueError, match="scatter\\(\\)'s index must not be larger than `x` on axis 2"):
        build(wider)(rand(2, 5, 3))  # d = 3 against the one column written into
    assert agree(wider, {}, {"x": (2, 5, 3)}).startswith("both refused")
    assert agree(wider, {}, {"x": (2, 5, 1)}) == "agree"
    Scatter = generated("block B():\n    input x: [b, n, d]\n    v, i = topk(x, 2, dim=1)\n"
                        "    return scatter(x, 1, i, -inf)\n")
    x = rand(2, 5, 3)
    torch.testing.assert_close(Scatter()(x), x.scatter(1, x.topk(2, dim=1).indices, float("-inf")))


def test_selection_compiles_without_a_graph_break():
    """topk, scatter and gather trace into one graph (torch.compile, fullgraph)."""
    module = build(SPARSE, dim=16, heads=2, topk=3)
    compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
    x = rand(2, 7, 16)
    torch.testing.assert_close(compiled(x), module(x))
    routing = build(ROUTING, dim=8, regions=4, topk=2)
    x = rand(2, 4, 5, 8)
    torch.testing.assert_close(torch.compile(routing, backend="aot_eager", fullgraph=True)(x), routing(x))


def test_positions_are_bounded_in_each_world():
    """`y` is `[b, 2n, c]` where `wide`, else `x`: its own positions pick from it in both worlds;
    picked from `x`, they may pass its end where `wide` holds, an error since it can."""
    source = """\
block P(c: int = 3, wide: bool = false):
    input x: [b, n, c]
    if wide:
        y = cat([x, x], dim=1)
    else:
        y = x
    index = argsort(sum(y, dim=2), dim=1)
    return y[:, index[0]]
"""
    for wide in (True, False):
        assert agree(source, {"wide": wide}, {"x": (2, 3, 3)}) == "agree"
    code, _, _, message = first_error(source.replace("return y[:, index[0]]", "return x[:, index[0]]"))
    assert code == "E0204" and message.endswith("(when `wide` is true)")
