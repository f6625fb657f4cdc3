"""Reference: Selective Kernel attention (Li et al. 2019, arXiv:1903.06586), published variant.

Structure and names follow the published ``model/attention/SKAttention.py``: one
conv-BN-ReLU branch per kernel size, fuse by sum, global average pool, ``fc`` to
d = max(L, channel // reduction) (no BN/ReLU after it, as published), one ``fcs`` linear
per branch, softmax over the branches (dim 0), weighted sum.
"""

from collections import OrderedDict

import torch
from torch import nn


class SKAttention(nn.Module):
    def __init__(self, channel=512, kernels=[1, 3, 5, 7], reduction=16, group=1, L=32):
        super().__init__()
        self.d = max(L, channel // reduction)
        self.convs = nn.ModuleList([])
        for k in kernels:
            self.convs.append(
                nn.Sequential(
                    OrderedDict(
                        [
                            (
                                "conv",
                                nn.Conv2d(
                                    channel,
                                    channel,
                                    kernel_size=k,
                                    padding=k // 2,
                                    groups=group,
                                ),
                            ),
                            ("bn", nn.BatchNorm2d(channel)),
                            ("relu", nn.ReLU()),
                        ]
                    )
                )
            )
        self.fc = nn.Linear(channel, self.d)
        self.fcs = nn.ModuleList([])
        for _ in range(len(kernels)):
            self.fcs.append(nn.Linear(self.d, channel))
        self.softmax = nn.Softmax(dim=0)

    def forward(self, x):
        bs, c, _, _ = x.shape
        conv_outs = [conv(x) for conv in self.convs]
        feats = torch.stack(conv_outs, 0)  # k,b,c,h,w
        U = sum(conv_outs)  # b,c,h,w
        S = U.mean(-1).mean(-1)  # b,c
        Z = self.fc(S)  # b,d
        weights = [fc(Z).view(bs, c, 1, 1) for fc in self.fcs]
        attention_weights = self.softmax(torch.stack(weights, 0))  # k,b,c,1,1
        return (attention_weights * feats).sum(0)
