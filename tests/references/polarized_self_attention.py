"""Reference: polarized self-attention (Liu et al. 2021, arXiv:2107.00782), sequential and
parallel layouts.

Structure and names follow the published ``model/attention/PolarizedSelfAttention.py``:
- channel-only branch: ``ch_wq`` (1x1 -> 1 map) softmaxed over the h*w positions pools
  the c/2 maps of ``ch_wv``; ``ch_wz`` lifts the result back to c channels, LayerNorm
  over the channels (``ln``), sigmoid: a per-channel weight;
- spatial-only branch: ``sp_wq`` (1x1 -> c/2), globally pooled and softmaxed over its c/2
  channels, weighs the c/2 maps of ``sp_wv``; sigmoid: a per-position weight.
Sequential: the spatial branch runs on the channel branch's output and scales it.
Parallel: both branches read the input and their outputs are added.
"""

import torch
from torch import nn


class _PolarizedBase(nn.Module):
    def __init__(self, channel=512):
        super().__init__()
        self.ch_wv = nn.Conv2d(channel, channel // 2, kernel_size=(1, 1))
        self.ch_wq = nn.Conv2d(channel, 1, kernel_size=(1, 1))
        self.softmax_channel = nn.Softmax(1)
        self.softmax_spatial = nn.Softmax(-1)
        self.ch_wz = nn.Conv2d(channel // 2, channel, kernel_size=(1, 1))
        self.ln = nn.LayerNorm(channel)
        self.sigmoid = nn.Sigmoid()
        self.sp_wv = nn.Conv2d(channel, channel // 2, kernel_size=(1, 1))
        self.sp_wq = nn.Conv2d(channel, channel // 2, kernel_size=(1, 1))
        self.agp = nn.AdaptiveAvgPool2d((1, 1))

    def channel_weight(self, x):  # b, c, 1, 1
        b, c = x.shape[:2]
        wv = self.ch_wv(x).flatten(2)  # b, c/2, h*w
        wq = self.softmax_channel(self.ch_wq(x).reshape(b, -1, 1))  # b, h*w, 1
        wz = torch.matmul(wv, wq).unsqueeze(-1)  # b, c/2, 1, 1
        z = self.ch_wz(wz).reshape(b, 1, c)
        return self.sigmoid(self.ln(z)).reshape(b, c, 1, 1)

    def spatial_weight(self, x):  # b, 1, h, w
        b, c, h, w = x.shape
        wv = self.sp_wv(x).flatten(2)  # b, c/2, h*w
        wq = self.softmax_spatial(self.agp(self.sp_wq(x)).reshape(b, 1, c // 2))
        return self.sigmoid(torch.matmul(wq, wv).reshape(b, 1, h, w))


class SequentialPolarizedSelfAttention(_PolarizedBase):
    def forward(self, x):
        channel_out = self.channel_weight(x) * x
        return self.spatial_weight(channel_out) * channel_out


class ParallelPolarizedSelfAttention(_PolarizedBase):
    def forward(self, x):
        return self.spatial_weight(x) * x + self.channel_weight(x) * x
