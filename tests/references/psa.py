"""Reference: Pyramid Squeeze Attention of EPSANet (Zhang et al. 2021, arXiv:2105.14447).

Structure and names follow the published ``model/attention/PSA.py``: the channels are
split into S groups; group i goes through its own conv (kernel 2i+3, padding i+1); an SE
block per group (global pool -> bias-free 1x1 -> ReLU -> bias-free 1x1 -> sigmoid) gives a
channel weight; the weights are softmaxed across the S groups (dim 1) and scale the conv
outputs.

INTENDED-MATH FIX (state and autograd, not the formula):
- the published module keeps ``convs`` and ``se_blocks`` in plain Python lists, so they
  are not registered: ``parameters()`` and the state_dict are empty (INTERFACES.md:
  "empty"), ``.to()``/``.double()`` do not move them and weights cannot be loaded. Here
  they are ``nn.ModuleList``s: keys ``convs.{i}.weight/bias`` and
  ``se_blocks.{i}.1.weight`` / ``se_blocks.{i}.3.weight``;
- the published forward writes each conv output into a view of the *input*
  (``x.view(b, S, c/S, h, w)[:, i] = conv(...)``), so the caller's tensor is mutated and
  ``backward()`` fails (an in-place write into a tensor autograd needs). Here the group
  outputs are stacked into a new tensor. The values equal the published forward's on a
  fresh copy of the input.
"""

import torch
from torch import nn


class PSA(nn.Module):
    def __init__(self, channel=512, reduction=4, S=4):
        super().__init__()
        self.S = S
        width = channel // S
        self.convs = nn.ModuleList(
            nn.Conv2d(width, width, kernel_size=2 * (i + 1) + 1, padding=i + 1)
            for i in range(S)
        )
        self.se_blocks = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Conv2d(width, channel // (S * reduction), kernel_size=1, bias=False),
                nn.ReLU(),
                nn.Conv2d(channel // (S * reduction), width, kernel_size=1, bias=False),
                nn.Sigmoid(),
            )
            for _ in range(S)
        )
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        b, c, h, w = x.shape
        groups = x.view(b, self.S, c // self.S, h, w)
        spc = torch.stack(
            [conv(groups[:, i]) for i, conv in enumerate(self.convs)], dim=1
        )  # b, S, c/S, h, w: one kernel size per group
        se = torch.stack(
            [se(spc[:, i]) for i, se in enumerate(self.se_blocks)], dim=1
        )  # b, S, c/S, 1, 1
        return (spc * self.softmax(se)).reshape(b, c, h, w)
