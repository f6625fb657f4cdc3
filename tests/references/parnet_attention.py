"""Reference: the ParNet attention block (Goyal et al. 2021, "Non-deep Networks",
arXiv:2110.07641).

Structure and names follow the published ``model/attention/ParNetAttention.py``: a 1x1
conv + BN branch, a 3x3 conv + BN branch and a skip-squeeze-excitation branch
(global pool -> 1x1 conv -> sigmoid, scaling the input) are added and passed through SiLU.
"""

from torch import nn


class ParNetAttention(nn.Module):
    def __init__(self, channel=512):
        super().__init__()
        self.sse = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channel, channel, kernel_size=1),
            nn.Sigmoid(),
        )
        self.conv1x1 = nn.Sequential(
            nn.Conv2d(channel, channel, kernel_size=1), nn.BatchNorm2d(channel)
        )
        self.conv3x3 = nn.Sequential(
            nn.Conv2d(channel, channel, kernel_size=3, padding=1),
            nn.BatchNorm2d(channel),
        )
        self.silu = nn.SiLU()

    def forward(self, x):
        return self.silu(self.conv1x1(x) + self.conv3x3(x) + self.sse(x) * x)
