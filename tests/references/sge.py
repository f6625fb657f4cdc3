"""Reference: Spatial Group-wise Enhance (Li, Hu & Yang 2019, arXiv:1905.09646).

Structure and names follow the published ``model/attention/SGE.py`` (bias init zeros,
as upstream; seed 000 uses ones).
"""

import torch
from torch import nn


class SpatialGroupEnhance(nn.Module):
    def __init__(self, groups):
        super().__init__()
        self.groups = groups
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.weight = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.sig = nn.Sigmoid()

    def forward(self, x):
        b, c, h, w = x.shape
        g = self.groups
        xg = x.view(b * g, c // g, h, w)
        # similarity of every position to its group's global descriptor
        xn = (xg * self.avg_pool(xg)).sum(dim=1, keepdim=True)  # [b*g, 1, h, w]
        t = xn.view(b * g, h * w)
        t = t - t.mean(dim=1, keepdim=True)
        t = t / (t.std(dim=1, keepdim=True) + 1e-5)  # unbiased std, as published
        t = t.view(b, g, h, w) * self.weight + self.bias
        t = t.view(b * g, 1, h, w)
        out = xg * self.sig(t)
        return out.view(b, c, h, w)
