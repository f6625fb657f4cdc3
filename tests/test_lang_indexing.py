"""Indexing and unequal splits: `y[:, :, :h]`, `x[..., -1]`, `q[:, None]`, `x[:, ::2]`,
and `split(y, [h, w], dim=2)` (CoordAtt: one conv and BatchNorm on the concatenation of
both directions, then a split; exact in training mode too)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from .language_support import agree, build, compile_ok, first_error, generated, rand

COORD = """\
block Coord(inp: int = 16, oup: int = 16, reduction: int = 4):
    input x: [b, inp, h, w]
    require inp == oup, "the attention maps multiply the input"
    let mip = max(8, inp // reduction)
    layer conv1 = conv2d(inp, mip, 1)
    layer bn1 = batch_norm2d(mip)
    layer conv_h = conv2d(mip, oup, 1)
    layer conv_w = conv2d(mip, oup, 1)
    x_h = mean(x, dim=3, keepdim=true)
    x_w = transpose(mean(x, dim=2, keepdim=true), 2, 3)
    y = hardswish(bn1(conv1(cat([x_h, x_w], dim=2))))
    x_h, x_w = split(y, [h, w], dim=2)
    return x * sigmoid(conv_w(transpose(x_w, 2, 3))) * sigmoid(conv_h(x_h))
"""


def _coord_reference(module, x):
    y = torch.cat([x.mean(dim=3, keepdim=True), x.mean(dim=2, keepdim=True).permute(0, 1, 3, 2)], dim=2)
    y = F.hardswish(module.bn1(module.conv1(y)))
    h = x.shape[2]
    a_h = module.conv_h(y[:, :, :h]).sigmoid()
    a_w = module.conv_w(y[:, :, h:].permute(0, 1, 3, 2)).sigmoid()
    return x * a_w * a_h


def test_one_batch_norm_on_the_concatenation_then_a_split():
    code = compile_ok(COORD)
    assert "x_h, x_w = y.split([h, w], dim=2)" in code
    module = build(COORD)
    x = rand(3, 16, 5, 7)
    torch.testing.assert_close(module(x), _coord_reference(module, x))
    # training mode: the statistics are those of the concatenation (one BatchNorm call)
    trained = build(COORD).train()
    reference = build(COORD).train()
    reference.load_state_dict(trained.state_dict())
    torch.testing.assert_close(trained(x), _coord_reference(reference, x))
    torch.testing.assert_close(trained.bn1.running_mean, reference.bn1.running_mean)
    assert agree(COORD, {}, {"x": (3, 16, 5, 7)}) == "agree"


SLICES = """\
block Slices(k: int = 2):
    input x: [b, c, n]
    first = x[:, :k]
    last = x[..., -1]
    return first[:, :, None, 1:n:2] + unsqueeze(last[:, k:], 2)[:, :, :, None] + x[:, ::2][:, :1, None, :1]
"""


def test_slices_indices_and_new_axes_compute_what_torch_indexing_computes():
    code = compile_ok(SLICES)
    assert "first = x[:, : self.k]" in code and "last = x[..., -1]" in code
    module = build(SLICES, k=2)
    x = rand(2, 4, 5)
    first, last = x[:, :2], x[..., -1]
    want = first[:, :, None, 1:5:2] + last[:, 2:].unsqueeze(2)[:, :, :, None] + x[:, ::2][:, :1, None, :1]
    torch.testing.assert_close(module(x), want)
    assert agree(SLICES, {"k": 2}, {"x": (2, 4, 5)}) == "agree"
    # On a size-1 last axis the slice 1:5:2 would be empty: every size is at least 1, so both refuse.
    assert agree(SLICES, {"k": 2}, {"x": (2, 4, 1)}).startswith("both refused")


def test_a_slice_past_its_axis_is_refused_not_clamped():
    module = build(SLICES, k=5)
    with pytest.raises(ValueError, match="^Slices: .*slice of axis 1 must end within its size"):
        module(rand(2, 4, 5))
    assert agree(SLICES, {"k": 5}, {"x": (2, 4, 5)}).startswith("both refused")
    head = "block B():\n    input x: [b, 4, n]\n"
    code, line, column, message = first_error(head + "    return x[:, :6]\n")
    assert (code, line, column) == ("E0204", 3, 12) and "within its size 4" in message
    assert first_error(head + "    return x[:, -5]\n")[:2] == ("E0204", 3)
    assert first_error(head + "    return x[:, 3:1]\n")[:2] == ("E0204", 3)


def test_split_needs_its_sizes_to_add_up():
    head = "block B(k: int = 2):\n    input x: [b, 6, n]\n"
    code, line, column, message = first_error(head + "    p, q = split(x, [2, 3], dim=1)\n    return p\n")
    assert (code, line, column) == ("E0201", 3, 12) and "sum of split()'s sizes" in message
    module = build(head + "    p, q = split(x, [k, n - k], dim=2)\n    return q\n", k=2)
    torch.testing.assert_close(module(rand(2, 6, 5)), rand(2, 6, 5)[:, :, 2:])
    module = build(head + "    p, q = split(x, [k, 3], dim=2)\n    return q\n", k=2)
    with pytest.raises(ValueError, match="^B: "):
        module(rand(2, 6, 6))


def test_indexing_traces_under_torch_compile():
    module = generated(COORD)().eval()
    x = torch.randn(2, 16, 5, 7)
    torch.testing.assert_close(torch.compile(module, fullgraph=True, backend="aot_eager")(x), module(x))


def test_misused_subscripts_are_located_errors():
    head = "block B(d: int = 4):\n    input x: [b, n, d]\n    input m: bool[b, n, d]\n"
    code, line, column, message = first_error(head + "    return x[m]\n")
    assert (code, line, column) == ("E0113", 4, 14) and "depend on the values" in message
    assert first_error(head + "    return x[..., 0, ...]\n")[:3] == ("E0113", 4, 22)
    assert first_error(head + "    return x[:, ::0]\n")[:3] == ("E0115", 4, 19)
    assert first_error(head + "    return x[0, 0, 0, 0]\n")[:3] == ("E0202", 4, 12)
    assert first_error(head + "    return x[:, 0.5]\n")[:3] == ("E0113", 4, 17)
    assert first_error(head + "    return split(x, 2, dim=1)\n")[:3] == ("E0112", 4, 12)


GAU = """\
block GAU(dim: int = 8, qk_dim: int = 4):
    input x: [b, n, dim]
    layer to_qk = linear(dim, qk_dim)
    param gamma: [2, qk_dim] = normal(std=0.02)
    param beta: [2, qk_dim] = zeros
    qk = rearrange(to_qk(x), "b n d -> b n 1 d") * gamma + beta
    q, k = unbind(qk, dim=-2)
    return relu(q @ transpose(k, -1, -2) / n) ** 2 @ x
"""


def test_unbind_gives_one_tensor_per_name_it_is_unpacked_into():
    """The gated attention unit's two query/key heads from one projection (FLASH), and timm's
    `q, k, v = qkv.unbind(0)`: the slices along an axis, without it; values against the
    math written out, and the interpreter."""
    code = compile_ok(GAU)
    assert "q, k = qk.unbind(-2)" in code
    module = build(GAU)
    with torch.no_grad():
        module.beta.normal_()  # a zero offset would hide a swapped q and k
    x = rand(3, 5, 8)
    qk = module.to_qk(x)[:, :, None, :] * module.gamma + module.beta
    q, k = qk[:, :, 0], qk[:, :, 1]
    torch.testing.assert_close(module(x), (q @ k.transpose(-1, -2) / 5).relu() ** 2 @ x)
    assert agree(GAU, {}, {"x": (3, 5, 8)}) == "agree"
    qkv = """\
block B(h: int = 2):
    input x: [b, n, c]
    q, k, v = unbind(rearrange(x, "b n (three h e) -> three b h n e", three=3, h=h), dim=0)
    return softmax(q @ transpose(k, -1, -2), dim=-1) @ v
"""
    x = rand(2, 4, 12)
    parts = x.reshape(2, 4, 3, 2, 2).permute(2, 0, 3, 1, 4)
    torch.testing.assert_close(build(qkv)(x), (parts[0] @ parts[1].transpose(-1, -2)).softmax(-1) @ parts[2])


def test_unbind_names_its_slices_and_needs_as_many():
    head = "block B():\n    input x: [b, 3, n]\n"
    code, line, column, message = first_error(head + "    q, k = unbind(x, dim=1)\n    return q\n")
    assert (code, line, column) == ("E0201", 3, 12) and "unbind" in message, message
    code, line, column, message = first_error(head + "    qs = unbind(x, dim=1)\n    return x\n")
    assert (code, line) == ("E0113", 3) and "unpacked into names" in message
    module = build("block B():\n    input x: [b, n, d]\n    q, k = unbind(x, dim=1)\n    return q * k\n")
    x = rand(2, 2, 3)
    torch.testing.assert_close(module(x), x[:, 0] * x[:, 1])
    with pytest.raises(ValueError, match="^B: "):  # n must be 2: a run-time check where it is not known
        module(rand(2, 3, 3))
