"""Reference: Shuffle Attention (Zhang & Yang 2021, SA-Net, arXiv:2102.00240).

Structure and names follow the published ``model/attention/ShuffleAttention.py``.
The channel branch is ``x0 * sigmoid(cweight * avgpool(x0) + cbias)`` (the correct
formula; seed 001 has the typo ``cweight * x + cweight``).  ``reduction`` is unused,
as published.
"""

import torch
from torch import nn


class ShuffleAttention(nn.Module):
    def __init__(self, channel=512, reduction=16, G=8):
        super().__init__()
        self.G = G
        self.channel = channel
        cg = channel // (2 * G)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.gn = nn.GroupNorm(cg, cg)
        self.cweight = nn.Parameter(torch.zeros(1, cg, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, cg, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, cg, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, cg, 1, 1))
        self.sigmoid = nn.Sigmoid()

    @staticmethod
    def channel_shuffle(x, groups):
        b, c, h, w = x.shape
        x = x.reshape(b, groups, c // groups, h, w)
        x = x.permute(0, 2, 1, 3, 4)
        return x.reshape(b, c, h, w)

    def forward(self, x):
        b, c, h, w = x.shape
        x = x.view(b * self.G, c // self.G, h, w)
        x0, x1 = x.chunk(2, dim=1)
        # channel half: global context, per-channel affine, gate
        xc = x0 * self.sigmoid(self.cweight * self.avg_pool(x0) + self.cbias)
        # spatial half: per-channel GroupNorm, affine, gate
        xs = x1 * self.sigmoid(self.sweight * self.gn(x1) + self.sbias)
        out = torch.cat([xc, xs], dim=1)
        out = out.contiguous().view(b, c, h, w)
        return self.channel_shuffle(out, 2)
