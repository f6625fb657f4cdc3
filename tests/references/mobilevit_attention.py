"""Reference: the MobileViT block (Mehta & Rastegari 2021, arXiv:2110.02178), published
variant.

Structure and names follow the published ``model/attention/MobileViTAttention.py``
(einops replaced by reshape/permute): local representation (k x k conv, 1x1 conv to
``dim``); the map is cut into ``patch_size`` x ``patch_size`` patches and the pixels at the
same offset of every patch form one sequence (b, ph*pw, patches, dim); a 3-layer
pre-norm Transformer (8 heads of 64, MLP 1024 with SiLU, dropout 0, hard-coded as
published) runs on each sequence; the map is put back, projected to ``in_channel`` (1x1),
concatenated with the input and fused by a k x k conv. h and w must be multiples of the
patch size.
"""

import torch
from torch import nn


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x, **kwargs):
        return self.fn(self.ln(x), **kwargs)


class FeedForward(nn.Module):
    def __init__(self, dim, mlp_dim, dropout):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, mlp_dim),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.net(x)


class Attention(nn.Module):
    def __init__(self, dim, heads, head_dim, dropout):
        super().__init__()
        inner_dim = heads * head_dim
        project_out = not (heads == 1 and head_dim == dim)
        self.heads = heads
        self.scale = head_dim**-0.5
        self.attend = nn.Softmax(dim=-1)
        self.to_qkv = nn.Linear(dim, inner_dim * 3, bias=False)
        self.to_out = (
            nn.Sequential(nn.Linear(inner_dim, dim), nn.Dropout(dropout))
            if project_out
            else nn.Identity()
        )

    def forward(self, x):  # b, p, n, dim
        b, p, n, _ = x.shape
        q, k, v = (
            t.reshape(b, p, n, self.heads, -1).transpose(2, 3)  # b, p, heads, n, d
            for t in self.to_qkv(x).chunk(3, dim=-1)
        )
        attn = self.attend(torch.matmul(q, k.transpose(-1, -2)) * self.scale)
        out = torch.matmul(attn, v).transpose(2, 3).reshape(b, p, n, -1)
        return self.to_out(out)


class Transformer(nn.Module):
    def __init__(self, dim, depth, heads, head_dim, mlp_dim, dropout=0.0):
        super().__init__()
        self.layers = nn.ModuleList([])
        for _ in range(depth):
            self.layers.append(
                nn.ModuleList(
                    [
                        PreNorm(dim, Attention(dim, heads, head_dim, dropout)),
                        PreNorm(dim, FeedForward(dim, mlp_dim, dropout)),
                    ]
                )
            )

    def forward(self, x):
        for att, ffn in self.layers:
            x = x + att(x)
            x = x + ffn(x)
        return x


class MobileViTAttention(nn.Module):
    def __init__(self, in_channel=3, dim=512, kernel_size=3, patch_size=7):
        super().__init__()
        self.ph, self.pw = patch_size, patch_size
        self.conv1 = nn.Conv2d(
            in_channel, in_channel, kernel_size=kernel_size, padding=kernel_size // 2
        )
        self.conv2 = nn.Conv2d(in_channel, dim, kernel_size=1)
        self.trans = Transformer(dim=dim, depth=3, heads=8, head_dim=64, mlp_dim=1024)
        self.conv3 = nn.Conv2d(dim, in_channel, kernel_size=1)
        self.conv4 = nn.Conv2d(
            2 * in_channel,
            in_channel,
            kernel_size=kernel_size,
            padding=kernel_size // 2,
        )

    def forward(self, x):
        y = self.conv2(self.conv1(x))  # b, dim, h, w
        b, dim, h, w = y.shape
        nh, nw = h // self.ph, w // self.pw
        # b dim (nh ph) (nw pw) -> b (ph pw) (nh nw) dim
        y = y.reshape(b, dim, nh, self.ph, nw, self.pw).permute(0, 3, 5, 2, 4, 1)
        y = self.trans(y.reshape(b, self.ph * self.pw, nh * nw, dim))
        # and back
        y = y.reshape(b, self.ph, self.pw, nh, nw, dim).permute(0, 5, 3, 1, 4, 2)
        y = self.conv3(y.reshape(b, dim, h, w))
        return self.conv4(torch.cat([x, y], dim=1))
