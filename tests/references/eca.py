"""Reference: Efficient Channel Attention (Wang et al. 2020, arXiv:1910.03151).

Structure and names follow the published ``model/attention/ECAAttention.py``: the
globally pooled channel descriptor is read as a 1-channel sequence over the channels,
convolved by a ``kernel_size`` conv1d (with bias, zero padding) and squashed by a
sigmoid; the input is scaled per channel. ``kernel_size`` is fixed (the paper derives
it from the channel count).
"""

from torch import nn


class ECAAttention(nn.Module):
    def __init__(self, kernel_size=3):
        super().__init__()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(
            1, 1, kernel_size=kernel_size, padding=(kernel_size - 1) // 2
        )
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        y = self.gap(x).flatten(1).unsqueeze(1)  # b, 1, c: the channels as a sequence
        y = self.sigmoid(self.conv(y))  # b, 1, c
        return x * y.transpose(1, 2).unsqueeze(-1)  # scale by b, c, 1, 1
