"""Reference: SELayer of seed 003 (squeeze-and-excitation, Hu et al. 2018,
arXiv:1709.01507).

Structure and names follow seed 003's ``SELayer``: the maths of ``SEAttention`` (global
average pool, bias-free linear -> ReLU -> bias-free linear -> sigmoid, channel scaling)
with reduction 2 by default and a ``batch_first`` flag: when False the input is laid out
(c, b, h, w) and is permuted to (b, c, h, w) and back.
"""

from torch import nn


class SELayer(nn.Module):
    def __init__(self, channel, reduction=2, batch_first=True):
        super().__init__()
        self.batch_first = batch_first
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction, bias=False),
            nn.ReLU(),
            nn.Linear(channel // reduction, channel, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        if not self.batch_first:
            x = x.permute(1, 0, 2, 3)
        b, c = x.shape[:2]
        y = self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)
        out = x * y
        if not self.batch_first:
            out = out.permute(1, 0, 2, 3)
        return out
