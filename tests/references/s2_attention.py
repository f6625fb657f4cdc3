"""Reference: the S2-MLPv2 block (Yu et al. 2021, arXiv:2108.01072).

Structure and names follow the published ``model/attention/S2Attention.py``: ``mlp1``
expands the channels (channels-last) to 3c; the first c go through ``spatial_shift1``,
the next c through ``spatial_shift2``, the last c unshifted; split attention
(``split_attention``: the three are summed over branches and positions, a bias-free
linear -> GELU -> bias-free linear gives 3 weights per channel, softmaxed over the
branches) mixes them; ``mlp2`` projects.

A spatial shift moves each quarter of the channels by one pixel: ``spatial_shift1`` moves
quarter 1 down the rows (row r takes row r - 1), quarter 2 up (row r takes row r + 1),
quarter 3 right along the columns, quarter 4 left; ``spatial_shift2`` does the same with
rows and columns exchanged. The row (column) that has no source keeps its own value.

INTENDED-MATH FIXES:
- the published shifts are in-place copies between overlapping slices of one tensor
  (``x[:, 1:] = x[:, :-1]``), whose result is implementation-defined in PyTorch: on
  torch 2.13 CPU the "+1" copies cascade so every row becomes row 0 (the "-1" ones come
  out right). Here each shift reads the unshifted values (out-of-place ``torch.cat``),
  which is the semantics the paper's (NumPy-style) code has;
- the published ``SplitAttention()`` is built with its default 512 channels whatever
  ``channels`` is, so the block only runs at channels=512 (INTERFACES.md lists
  ``split_attention.mlp1.weight`` (512, 512) next to a 64-channel ``mlp1``). Here it is
  ``SplitAttention(channels)``.
"""

import torch
from torch import nn


def _shift(x, dim, step):
    """Along ``dim``: out[r] = x[r - step] for step = +1 or -1; the edge row with no
    source keeps its own value."""
    n = x.shape[dim]
    if step == 1:
        return torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)], dim)
    return torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)], dim)


def _shift_quarters(x, moves):
    """x: (b, rows, cols, c); quarter q of the channels is shifted by ``moves[q]``, a
    (dim, step) pair."""
    c = x.shape[-1]
    bounds = [0, c // 4, c // 2, c * 3 // 4, c]
    parts = [
        _shift(x[..., bounds[q] : bounds[q + 1]], dim, step)
        for q, (dim, step) in enumerate(moves)
    ]
    return torch.cat(parts, dim=-1)


def spatial_shift1(x):
    return _shift_quarters(x, [(1, 1), (1, -1), (2, 1), (2, -1)])


def spatial_shift2(x):
    return _shift_quarters(x, [(2, 1), (2, -1), (1, 1), (1, -1)])


class SplitAttention(nn.Module):
    def __init__(self, channel=512, k=3):
        super().__init__()
        self.channel = channel
        self.k = k
        self.mlp1 = nn.Linear(channel, channel, bias=False)
        self.gelu = nn.GELU()
        self.mlp2 = nn.Linear(channel, channel * k, bias=False)
        self.softmax = nn.Softmax(1)

    def forward(self, x_all):
        b, k, h, w, c = x_all.shape
        x_all = x_all.reshape(b, k, h * w, c)
        a = x_all.sum(dim=(1, 2))  # b, c
        bar_a = self.softmax(self.mlp2(self.gelu(self.mlp1(a))).reshape(b, self.k, c))
        return (bar_a.unsqueeze(-2) * x_all).sum(dim=1).reshape(b, h, w, c)


class S2Attention(nn.Module):
    def __init__(self, channels=512):
        super().__init__()
        self.mlp1 = nn.Linear(channels, channels * 3)
        self.mlp2 = nn.Linear(channels, channels)
        self.split_attention = SplitAttention(channels)

    def forward(self, x):
        b, c, h, w = x.shape
        x = self.mlp1(x.permute(0, 2, 3, 1))  # b, h, w, 3c
        x1 = spatial_shift1(x[..., :c])
        x2 = spatial_shift2(x[..., c : 2 * c])
        x3 = x[..., 2 * c :]
        a = self.split_attention(torch.stack([x1, x2, x3], dim=1))
        return self.mlp2(a).permute(0, 3, 1, 2)
