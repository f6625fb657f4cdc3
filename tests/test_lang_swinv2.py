"""Swin V2's window attention, a port that needs most of the integer and gather constructs:
a log-spaced table of relative coordinates built from integer arithmetic (`//`, `%`,
`float()`, `sign`, `log2`) as a persistent buffer, run through a small MLP and gathered by
the persistent `relative_position_index`; cosine attention with a clamped logit scale.
The reference is written by us from the paper's math, with the published module's
structure, names and state_dict keys."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from .language_support import agree, generated, rand

SWIN_V2 = """\
block WindowAttention(dim: int, window_size: list[int], num_heads: int, qkv_bias: bool = true,
        attn_drop: float = 0.0, proj_drop: float = 0.0, pretrained_window_size: list[int] = [0, 0]):
    input x: [bw, window_size[0] * window_size[1], dim]
    input mask: [nw, window_size[0] * window_size[1], window_size[0] * window_size[1]] = None
    require len(window_size) == 2 and len(pretrained_window_size) == 2, "sizes are (height, width)"
    require dim % num_heads == 0, "dim must be divisible by num_heads"
    let wh = window_size[0]
    let ww = window_size[1]
    let n = wh * ww
    let th = 2 * wh - 1
    let tw = 2 * ww - 1
    # the coordinates' scale: the pretrained window's, where one is given (as published, by its height)
    let sh = pretrained_window_size[0] - 1 if pretrained_window_size[0] > 0 else wh - 1
    let sw = pretrained_window_size[1] - 1 if pretrained_window_size[0] > 0 else ww - 1

    param logit_scale: [num_heads, 1, 1] = constant(log(10))
    layer cpb_mlp = sequential(linear(2, 512), relu(inplace=true), linear(512, num_heads, bias=false))
    # relative coordinates (row, column) of the table's entries, to -8..8, then log-spaced
    buffer coords = stack([float(arange(th * tw) // tw - (wh - 1)) / sh * 8,
                           float(arange(th * tw) % tw - (ww - 1)) / sw * 8], dim=1)
    persistent buffer relative_coords_table = rearrange(
        sign(coords) * log2(abs(coords) + 1.0) / log2(8), "(a c) t -> 1 a c t", a=th
    )
    persistent buffer relative_position_index = (
        arange(n)[:, None] // ww - arange(n)[None, :] // ww + wh - 1
    ) * tw + arange(n)[:, None] % ww - arange(n)[None, :] % ww + ww - 1
    layer qkv = linear(dim, dim * 3, bias=false)
    if qkv_bias:
        param q_bias: [dim] = zeros()
        param v_bias: [dim] = zeros()
    layer attn_drop = dropout(attn_drop)
    layer proj = linear(dim, dim)
    layer proj_drop = dropout(proj_drop)
    layer softmax = softmax(dim=-1)

    t = qkv(x)
    if qkv_bias:
        t = t + cat([q_bias, zeros([dim]), v_bias], dim=0)
    t = rearrange(t, "b n (three h d) -> three b h n d", three=3, h=num_heads)
    attn = normalize(t[0], dim=-1) @ transpose(normalize(t[1], dim=-1), -2, -1)
    attn = attn * exp(clamp(logit_scale, max=log(1 / 0.01)))
    table = rearrange(cpb_mlp(relative_coords_table), "1 a c h -> (a c) h")
    attn = attn + 16 * sigmoid(rearrange(table[relative_position_index], "i j h -> h i j"))[None]
    if mask:
        attn = rearrange(attn, "(b w) h i j -> b w h i j", w=nw) + mask[None, :, None]
        attn = rearrange(attn, "b w h i j -> (b w) h i j")
    attn = attn_drop(softmax(attn))
    return proj_drop(proj(rearrange(attn @ t[2], "b h n d -> b n (h d)")))
"""


class WindowAttention(nn.Module):
    def __init__(self, dim, window_size, num_heads, qkv_bias=True, attn_drop=0.0, proj_drop=0.0,
                 pretrained_window_size=(0, 0)):
        super().__init__()
        self.window_size, self.num_heads = window_size, num_heads
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((num_heads, 1, 1))))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512), nn.ReLU(inplace=True), nn.Linear(512, num_heads, bias=False))
        wh, ww = window_size
        rows = torch.arange(-(wh - 1), wh, dtype=torch.float32)
        cols = torch.arange(-(ww - 1), ww, dtype=torch.float32)
        table = torch.stack(torch.meshgrid([rows, cols], indexing="ij")).permute(1, 2, 0).unsqueeze(0)
        scale = pretrained_window_size if pretrained_window_size[0] > 0 else window_size
        table = table / torch.tensor([scale[0] - 1, scale[1] - 1]) * 8
        table = torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)
        self.register_buffer("relative_coords_table", table)
        position = torch.stack(torch.meshgrid([torch.arange(wh), torch.arange(ww)], indexing="ij")).flatten(1)
        offset = (position[:, :, None] - position[:, None, :]).permute(1, 2, 0)
        self.register_buffer("relative_position_index", (offset[..., 0] + wh - 1) * (2 * ww - 1) + offset[..., 1] + ww - 1)
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = self.v_bias = None
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x, mask=None):
        windows, n, c = x.shape
        bias = None if self.q_bias is None else torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(windows, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(self.logit_scale, max=math.log(1.0 / 0.01)).exp()
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)
        bias = table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)
        attn = attn + 16 * torch.sigmoid(bias).unsqueeze(0)
        if mask is not None:
            groups = mask.shape[0]
            attn = attn.view(windows // groups, groups, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, n, n)
        attn = self.attn_drop(self.softmax(attn))
        return self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(windows, n, c)))


@pytest.mark.parametrize("window_size, pretrained, qkv_bias", [([3, 4], [0, 0], True), ([4, 4], [6, 6], True),
                                                               ([2, 5], [0, 0], False)])
def test_swin_v2_window_attention(window_size, pretrained, qkv_bias):
    arguments = dict(dim=8, window_size=window_size, num_heads=2, qkv_bias=qkv_bias, pretrained_window_size=pretrained)
    torch.manual_seed(0)
    module, reference = generated(SWIN_V2)(**arguments), WindowAttention(**arguments)
    # the buffers made when built: the index exactly, the table as float32 computes it
    assert torch.equal(module.relative_position_index, reference.relative_position_index)
    torch.testing.assert_close(module.relative_coords_table, reference.relative_coords_table)
    module, reference = module.double().eval(), reference.double().eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_(std=0.5)
        reference.logit_scale.fill_(5.0)  # above log(100): the clamp decides
    module.load_state_dict(reference.state_dict(), strict=True)
    n = window_size[0] * window_size[1]
    x = rand(4, n, 8).requires_grad_()
    mask = torch.where(rand(2, n, n, seed=1) > 0.5, -100.0, 0.0).double()
    for given in (None, mask):
        got, expected = module(x, given), reference(x, given)
        torch.testing.assert_close(got, expected)
        mine = torch.autograd.grad(got.square().sum(), [x, module.cpb_mlp[0].weight])
        theirs = torch.autograd.grad(expected.square().sum(), [x, reference.cpb_mlp[0].weight])
        for a, b in zip(mine, theirs):
            torch.testing.assert_close(a, b)
    with torch.no_grad():  # the comparison can fail: one weight of the position MLP moved
        module.cpb_mlp[2].weight[0, 0] += 1
    assert not torch.allclose(module(x, mask), reference(x, mask))
    assert agree(SWIN_V2, arguments, {"x": (4, n, 8), "mask": (2, n, n)}) == "agree"
