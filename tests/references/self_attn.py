"""Reference: the self-attention layers of seed 003 (SAGAN-style, Zhang et al. 2018,
arXiv:1805.08318; the channel version is the seed author's own).

Structure and names follow seed 003's ``Self_Attn_Spatial`` and ``Self_Attn_Channel``;
both return a tuple (output, attention map) and have a learned residual scale ``gamma``
that starts at 0 (so at init the output is the input, resp. ``x_conv(x)``).
- ``Self_Attn_Spatial(in_dim, out_dim)``: 1x1 convs q, k (-> out_dim) and v (-> in_dim);
  energy[i, j] = q_i . k_j over the N = h*w positions, softmax over j; out_i = sum_j
  attn[i, j] v_j; returns (gamma * out + x, attn (b, N, N)).
- ``Self_Attn_Channel(in_dim, out_dim)``: 1x1 convs q, k, v and ``x_conv`` (-> out_dim);
  energy[c, c'] = q_c . k_c' over the positions, softmax over c'; out_c = sum_c' attn[c,
  c'] v_c'; returns (gamma * out + x_conv(x), attn (b, out_dim, out_dim)).
"""

import torch
from torch import nn


class Self_Attn_Spatial(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.chanel_in = in_dim
        self.out_dim = out_dim
        self.query_conv = nn.Conv2d(in_dim, out_dim, kernel_size=1)
        self.key_conv = nn.Conv2d(in_dim, out_dim, kernel_size=1)
        self.value_conv = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        b, c, h, w = x.shape
        q = self.query_conv(x).flatten(2).transpose(1, 2)  # b, N, out_dim
        k = self.key_conv(x).flatten(2)  # b, out_dim, N
        attention = self.softmax(torch.bmm(q, k))  # b, N, N
        v = self.value_conv(x).flatten(2)  # b, c, N
        out = torch.bmm(v, attention.transpose(1, 2)).reshape(b, c, h, w)
        return self.gamma * out + x, attention


class Self_Attn_Channel(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.chanel_in = in_dim
        self.out_dim = out_dim
        self.query_conv = nn.Conv2d(in_dim, out_dim, kernel_size=1)
        self.key_conv = nn.Conv2d(in_dim, out_dim, kernel_size=1)
        self.value_conv = nn.Conv2d(in_dim, out_dim, kernel_size=1)
        self.x_conv = nn.Conv2d(in_dim, out_dim, kernel_size=1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        b, _, h, w = x.shape
        q = self.query_conv(x).flatten(2)  # b, out_dim, N
        k = self.key_conv(x).flatten(2).transpose(1, 2)  # b, N, out_dim
        attention = self.softmax(torch.bmm(q, k))  # b, out_dim, out_dim
        out = torch.bmm(attention, self.value_conv(x).flatten(2))
        out = out.reshape(b, self.out_dim, h, w)
        return self.gamma * out + self.x_conv(x), attention
