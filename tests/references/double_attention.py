"""Reference: A^2 double attention (Chen et al. 2018, arXiv:1810.11579).

Structure and names follow the published ``model/attention/A2Atttention.py``.

INTENDED-MATH FIX: the published code calls ``F.softmax`` without ``dim`` on 3-D
tensors, which softmaxes over dim 0 (the batch), coupling the samples of a batch.
Here, as in the paper:
- attention maps    = softmax(B.view(b, c_n, h*w), dim=-1)  (each map over positions),
- attention vectors = softmax(V.view(b, c_n, h*w), dim=1)   (per position over the c_n
  descriptors).
"""

import torch
from torch import nn


class DoubleAttention(nn.Module):
    def __init__(self, in_channels, c_m, c_n, reconstruct=True):
        super().__init__()
        self.in_channels = in_channels
        self.reconstruct = reconstruct
        self.c_m = c_m
        self.c_n = c_n
        self.convA = nn.Conv2d(in_channels, c_m, 1)
        self.convB = nn.Conv2d(in_channels, c_n, 1)
        self.convV = nn.Conv2d(in_channels, c_n, 1)
        if self.reconstruct:
            self.conv_reconstruct = nn.Conv2d(c_m, in_channels, kernel_size=1)

    def forward(self, x):
        b, c, h, w = x.shape
        assert c == self.in_channels
        A = self.convA(x)  # b,c_m,h,w
        B = self.convB(x)  # b,c_n,h,w
        V = self.convV(x)  # b,c_n,h,w
        tmpA = A.view(b, self.c_m, h * w)
        attention_maps = torch.softmax(B.view(b, self.c_n, h * w), dim=-1)
        attention_vectors = torch.softmax(V.view(b, self.c_n, h * w), dim=1)
        # step 1: feature gathering
        global_descriptors = torch.bmm(
            tmpA, attention_maps.permute(0, 2, 1)
        )  # b,c_m,c_n
        # step 2: feature distribution
        tmpZ = global_descriptors.matmul(attention_vectors)  # b,c_m,h*w
        tmpZ = tmpZ.view(b, self.c_m, h, w)
        if self.reconstruct:
            tmpZ = self.conv_reconstruct(tmpZ)
        return tmpZ
