"""Reference: triplet attention (Misra et al. 2021, arXiv:2010.03045).

Structure and names follow the published ``model/attention/TripletAttention.py``: three
``AttentionGate`` branches, each on a rotation of the input (``cw``: channels and height
exchanged; ``hc``: channels and width exchanged; ``hw``: the input itself): Z-pool (max
and mean over the leading axis, cat [max, mean]) -> 7x7 conv (2 -> 1, no bias) -> BN
(momentum 0.01, as published) -> sigmoid scales the branch's input, which is rotated
back; the branches are averaged (1/3, or 1/2 with ``no_spatial``).
"""

import torch
from torch import nn


class BasicConv(nn.Module):
    def __init__(
        self,
        in_planes,
        out_planes,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        relu=True,
        bn=True,
        bias=False,
    ):
        super().__init__()
        self.out_channels = out_planes
        self.conv = nn.Conv2d(
            in_planes,
            out_planes,
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        self.bn = (
            nn.BatchNorm2d(out_planes, eps=1e-5, momentum=0.01, affine=True)
            if bn
            else None
        )
        self.relu = nn.ReLU() if relu else None

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.relu is not None:
            x = self.relu(x)
        return x


class ZPool(nn.Module):
    def forward(self, x):
        return torch.cat(
            [x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1
        )


class AttentionGate(nn.Module):
    def __init__(self):
        super().__init__()
        kernel_size = 7
        self.compress = ZPool()
        self.conv = BasicConv(
            2, 1, kernel_size, stride=1, padding=(kernel_size - 1) // 2, relu=False
        )

    def forward(self, x):
        return x * torch.sigmoid(self.conv(self.compress(x)))


class TripletAttention(nn.Module):
    def __init__(self, no_spatial=False):
        super().__init__()
        self.cw = AttentionGate()
        self.hc = AttentionGate()
        self.no_spatial = no_spatial
        if not no_spatial:
            self.hw = AttentionGate()

    def forward(self, x):
        out_cw = self.cw(x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)  # b, h, c, w inside
        out_hc = self.hc(x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)  # b, w, h, c inside
        if self.no_spatial:
            return (out_cw + out_hc) / 2
        return (self.hw(x) + out_cw + out_hc) / 3
