"""Reference: the CBAM variants of seed 003 (Woo et al. 2018, arXiv:1807.06521).

Structure and names follow seed 003's ``ChannelAttention``, ``SpatialAttention`` and
``CBAtten_Res``; each takes ``batch_first`` (False: the input is (c, b, h, w) and is
permuted to (b, c, h, w) and back).
- ``ChannelAttention``: avg- and max-pooled descriptors through one shared bias-free MLP
  of 1x1 convs (``sharedMLP``), added, sigmoid; returns x * weight (upstream CBAM returns
  the weight alone).
- ``SpatialAttention``: cat [mean, max] over the channels (the upstream order is [max,
  mean]) -> k x k conv without bias (k in 3, 5, 7) -> sigmoid; returns x * weight.
- ``CBAtten_Res``: strided k x k conv -> BN -> ReLU -> channel -> spatial attention, plus a
  residual (3x3 max-pool with the same stride -> 1x1 conv), then ReLU.

INTENDED-MATH FIXES (CBAtten_Res):
- the seed pads the residual's 3x3 max-pool by ``kernel_size // 2``: for kernel 5 or 7
  that is more than half the pool window and PyTorch refuses it. The conv path gives
  floor((H - 1) / stride) + 1 rows for every odd kernel, and so does a 3x3 pool padded by
  1, which is used here (the same as the seed at kernel 3);
- with ``batch_first=False`` the seed hands ``batch_first=False`` on to its channel and
  spatial attention although it has already permuted the input to batch-first, so they
  permute it back and attend over the wrong axis. Here the inner blocks are batch-first.
"""

import torch
from torch import nn


class ChannelAttention(nn.Module):
    def __init__(self, in_channels, reduction=4, batch_first=True):
        super().__init__()
        self.batch_first = batch_first
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.sharedMLP = nn.Sequential(
            nn.Conv2d(in_channels, in_channels // reduction, kernel_size=1, bias=False),
            nn.ReLU(),
            nn.Conv2d(in_channels // reduction, in_channels, kernel_size=1, bias=False),
        )
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        if not self.batch_first:
            x = x.permute(1, 0, 2, 3)
        w = self.sigmoid(
            self.sharedMLP(self.avg_pool(x)) + self.sharedMLP(self.max_pool(x))
        )
        out = x * w
        if not self.batch_first:
            out = out.permute(1, 0, 2, 3)
        return out


class SpatialAttention(nn.Module):
    def __init__(self, kernel_size=3, batch_first=True):
        super().__init__()
        if kernel_size not in (3, 5, 7):
            raise ValueError(
                f"SpatialAttention: kernel_size must be 3, 5 or 7, not {kernel_size}"
            )
        self.batch_first = batch_first
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        if not self.batch_first:
            x = x.permute(1, 0, 2, 3)
        pooled = torch.cat(
            [x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1
        )
        out = x * self.sigmoid(self.conv(pooled))
        if not self.batch_first:
            out = out.permute(1, 0, 2, 3)
        return out


class CBAtten_Res(nn.Module):
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=2,
        reduction=4,
        batch_first=True,
    ):
        super().__init__()
        self.batch_first = batch_first
        self.reduction = reduction
        self.padding = kernel_size // 2
        self.max_pool = nn.MaxPool2d(3, stride=stride, padding=1)
        self.conv_res = nn.Conv2d(
            in_channels, out_channels, kernel_size=1, stride=1, bias=True
        )
        self.conv1 = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size=kernel_size,
            stride=stride,
            padding=self.padding,
            bias=True,
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.ca = ChannelAttention(out_channels, reduction=reduction, batch_first=True)
        self.sa = SpatialAttention(kernel_size=kernel_size, batch_first=True)

    def forward(self, x):
        if not self.batch_first:
            x = x.permute(1, 0, 2, 3)
        out = self.sa(self.ca(self.relu(self.bn1(self.conv1(x)))))
        out = self.relu(out + self.conv_res(self.max_pool(x)))
        if not self.batch_first:
            out = out.permute(1, 0, 2, 3)
        return out
