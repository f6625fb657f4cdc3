"""Reference: SKEConv of seed 003, a selective-kernel convolution (Li et al. 2019,
arXiv:1903.06586).

Structure and names follow seed 003's ``SKEConv``: M branches of grouped convs (branch i:
kernel 3 + 2i, padding 1 + i, ``stride``, G groups) -> BN -> ReLU; their sum is pooled,
``fc`` (c -> d = max(int(c / reduction), L)), one linear per branch back to c, softmax
over the branches (dim 1), and the branches are mixed with those weights.

INTENDED-MATH FIXES:
- the seed's forward adds the branch axis with in-place ``unsqueeze_`` on the in-place
  ReLU outputs, which makes ``backward()`` fail; here the branches are stacked
  out of place;
- ``batch_first=False`` calls ``x.permutation`` (no such method); here it permutes
  (c, b, h, w) to (b, c, h, w) and back, like the other seed-003 blocks;
- ``self.M`` is hard-coded to 2 in the seed (the loops use ``M``); here it is ``M``.
(The seed prints an output shape of (4, 16, 10, 10) for an (4, 8, 20, 20) input with
stride 2; the real shape is (4, 8, 10, 10).)
"""

import torch
from torch import nn


class SKEConv(nn.Module):
    def __init__(
        self, in_channels, M=2, G=2, stride=1, L=32, reduction=2, batch_first=True
    ):
        super().__init__()
        self.M = M
        self.in_channels = in_channels
        self.batch_first = batch_first
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(
                    in_channels,
                    in_channels,
                    kernel_size=3 + 2 * i,
                    stride=stride,
                    padding=1 + i,
                    groups=G,
                ),
                nn.BatchNorm2d(in_channels),
                nn.ReLU(),
            )
            for i in range(M)
        )
        self.d = max(int(in_channels / reduction), L)
        self.fc = nn.Linear(in_channels, self.d)
        self.fcs = nn.ModuleList(nn.Linear(self.d, in_channels) for _ in range(M))
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        if not self.batch_first:
            x = x.permute(1, 0, 2, 3)
        feas = torch.stack([conv(x) for conv in self.convs], dim=1)  # b, M, c, h, w
        fea_z = self.fc(feas.sum(dim=1).mean(-1).mean(-1))  # b, d
        attention = self.softmax(
            torch.stack([fc(fea_z) for fc in self.fcs], dim=1)
        )  # b, M, c
        out = (feas * attention[..., None, None]).sum(dim=1)
        if not self.batch_first:
            out = out.permute(1, 0, 2, 3)
        return out
