"""Reference: Bottleneck Attention Module (Park et al. 2018, arXiv:1807.06514).

Structure and names follow the published ``model/attention/BAM.py``: a channel branch
(global pool -> flatten -> ``num_layers`` x (linear -> BN1d -> ReLU) -> ``last_fc``) and a
spatial branch (1x1 reduce -> BN -> ReLU -> ``num_layers`` x (dilated 3x3 -> BN -> ReLU) ->
1x1 to one map), broadcast to the input's shape and added; the block returns
``(1 + sigmoid(ca + sa)) * x``.

INTENDED-MATH FIX: the published dilated 3x3 convs use ``padding=1`` whatever
``dia_val`` is, so with dilation d each of them shrinks the map by 2(d - 1) pixels: at the
published default ``dia_val=2`` a 7x7 map collapses to 1x1 (the spatial branch becomes one
number per sample, broadcast) and every other size fails in ``expand_as``. Here the
padding is ``dia_val``, which keeps the map's size, as the paper's dilated convs do. For
``dia_val=1`` (the INTERFACES.md example) both are the same.
"""

from torch import nn


class ChannelAttention(nn.Module):
    def __init__(self, channel, reduction=16, num_layers=3):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        widths = [channel] + [channel // reduction] * num_layers + [channel]
        self.ca = nn.Sequential()
        self.ca.add_module("flatten", nn.Flatten())
        for i in range(num_layers):
            self.ca.add_module(f"fc{i}", nn.Linear(widths[i], widths[i + 1]))
            self.ca.add_module(f"bn{i}", nn.BatchNorm1d(widths[i + 1]))
            self.ca.add_module(f"relu{i}", nn.ReLU())
        self.ca.add_module("last_fc", nn.Linear(widths[-2], widths[-1]))

    def forward(self, x):
        return self.ca(self.avgpool(x))[:, :, None, None].expand_as(x)


class SpatialAttention(nn.Module):
    def __init__(self, channel, reduction=16, num_layers=3, dia_val=2):
        super().__init__()
        mid = channel // reduction
        self.sa = nn.Sequential()
        self.sa.add_module("conv_reduce1", nn.Conv2d(channel, mid, kernel_size=1))
        self.sa.add_module("bn_reduce1", nn.BatchNorm2d(mid))
        self.sa.add_module("relu_reduce1", nn.ReLU())
        for i in range(num_layers):
            self.sa.add_module(
                f"conv_{i}",
                nn.Conv2d(mid, mid, kernel_size=3, padding=dia_val, dilation=dia_val),
            )
            self.sa.add_module(f"bn_{i}", nn.BatchNorm2d(mid))
            self.sa.add_module(f"relu_{i}", nn.ReLU())
        self.sa.add_module("last_conv", nn.Conv2d(mid, 1, kernel_size=1))

    def forward(self, x):
        return self.sa(x).expand_as(x)


class BAMBlock(nn.Module):
    def __init__(self, channel=512, reduction=16, dia_val=2):
        super().__init__()
        self.ca = ChannelAttention(channel=channel, reduction=reduction)
        self.sa = SpatialAttention(
            channel=channel, reduction=reduction, dia_val=dia_val
        )
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        weight = self.sigmoid(self.sa(x) + self.ca(x))
        return (1 + weight) * x
