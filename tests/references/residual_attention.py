"""Reference: class-specific residual attention, CSRA (Zhu & Wu 2021, arXiv:2108.02456).

Structure and names follow the published ``model/attention/ResidualAttention.py``: a
bias-free 1x1 conv ``fc`` turns the feature map into one score map per class; each
class's score is the spatial mean of its map plus ``la`` times its spatial maximum.
A classifier head: (b, channel, h, w) -> (b, num_class).
"""

from torch import nn


class ResidualAttention(nn.Module):
    def __init__(self, channel=512, num_class=1000, la=0.2):
        super().__init__()
        self.la = la
        self.fc = nn.Conv2d(channel, num_class, kernel_size=1, stride=1, bias=False)

    def forward(self, x):
        scores = self.fc(x).flatten(2)  # b, num_class, h*w
        return scores.mean(dim=2) + self.la * scores.amax(dim=2)
