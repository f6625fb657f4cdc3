"""Reference: coordinate attention (Hou, Zhou & Feng 2021, arXiv:2103.02907).

Structure and names follow the published ``model/attention/CoordAttention.py``: the input
is average-pooled along the width (one value per row) and along the height (one per
column); the two strips are concatenated along the spatial axis and share ``conv1``
(1x1 to mip = max(8, inp // reduction)), ``bn1`` (so in training its batch statistics
are taken over both strips together) and h-swish (x * ReLU6(x + 3) / 6); split back,
``conv_h`` / ``conv_w`` (1x1 to oup) and sigmoid give a per-row and a per-column weight
that scale the input. oup must equal inp.
"""

import torch
from torch import nn


class h_sigmoid(nn.Module):
    def __init__(self, inplace=True):
        super().__init__()
        self.relu = nn.ReLU6(inplace=inplace)

    def forward(self, x):
        return self.relu(x + 3) / 6


class h_swish(nn.Module):
    def __init__(self, inplace=True):
        super().__init__()
        self.sigmoid = h_sigmoid(inplace=inplace)

    def forward(self, x):
        return x * self.sigmoid(x)


class CoordAtt(nn.Module):
    def __init__(self, inp, oup, reduction=32):
        super().__init__()
        self.pool_h = nn.AdaptiveAvgPool2d((None, 1))
        self.pool_w = nn.AdaptiveAvgPool2d((1, None))
        mip = max(8, inp // reduction)
        self.conv1 = nn.Conv2d(inp, mip, kernel_size=1, stride=1, padding=0)
        self.bn1 = nn.BatchNorm2d(mip)
        self.act = h_swish()
        self.conv_h = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)
        self.conv_w = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)

    def forward(self, x):
        n, c, h, w = x.shape
        x_h = self.pool_h(x)  # n, c, h, 1
        x_w = self.pool_w(x).transpose(2, 3)  # n, c, w, 1
        y = self.act(
            self.bn1(self.conv1(torch.cat([x_h, x_w], dim=2)))
        )  # n, mip, h+w, 1
        y_h, y_w = torch.split(y, [h, w], dim=2)
        a_h = self.conv_h(y_h).sigmoid()  # n, oup, h, 1
        a_w = self.conv_w(y_w.transpose(2, 3)).sigmoid()  # n, oup, 1, w
        return x * a_w * a_h
