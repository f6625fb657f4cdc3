"""Reference: MUSE parallel multi-scale attention (Zhao et al. 2019, arXiv:1911.09483).

Structure and names follow the published ``model/attention/MUSEAttention.py``: the
``ScaledDotProductAttention`` path, plus the values v (b, h*d_v, nk) through three
depthwise-separable conv1d branches (kernel 1: pointwise only; 3 and 5: depthwise then
pointwise), mixed by three weights and added (so nq must equal nk).

INTENDED-MATH FIX: the published forward runs
``self.dy_paras = nn.Parameter(softmax(self.dy_paras))``: every call *replaces* the
parameter by the softmax of its previous value, so outputs drift from call to call
(ones is a fixed point, which hides it), gradients never reach the registered parameter
and an optimizer holds a stale one. Here the mixing weights are ``softmax(dy_paras)``,
computed in forward from the untouched parameter. The first call of a fresh published
module gives the same values.
"""

import math

import torch
from torch import nn


class Depth_Pointwise_Conv1d(nn.Module):
    def __init__(self, in_ch, out_ch, k):
        super().__init__()
        if k == 1:
            self.depth_conv = nn.Identity()
        else:
            self.depth_conv = nn.Conv1d(
                in_ch, in_ch, kernel_size=k, groups=in_ch, padding=k // 2
            )
        self.pointwise_conv = nn.Conv1d(in_ch, out_ch, kernel_size=1, groups=1)

    def forward(self, x):
        return self.pointwise_conv(self.depth_conv(x))


class MUSEAttention(nn.Module):
    def __init__(self, d_model, d_k, d_v, h, dropout=0.1):
        super().__init__()
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = Depth_Pointwise_Conv1d(h * d_v, d_model, 1)
        self.conv3 = Depth_Pointwise_Conv1d(h * d_v, d_model, 3)
        self.conv5 = Depth_Pointwise_Conv1d(h * d_v, d_model, 5)
        self.dy_paras = nn.Parameter(torch.ones(3))
        self.softmax = nn.Softmax(-1)
        self.d_model = d_model
        self.d_k = d_k
        self.d_v = d_v
        self.h = h

    def forward(
        self, queries, keys, values, attention_mask=None, attention_weights=None
    ):
        b_s, nq = queries.shape[:2]
        nk = keys.shape[1]
        q = (
            self.fc_q(queries).view(b_s, nq, self.h, self.d_k).transpose(1, 2)
        )  # b,h,nq,dk
        k = (
            self.fc_k(keys).view(b_s, nk, self.h, self.d_k).permute(0, 2, 3, 1)
        )  # b,h,dk,nk
        v = (
            self.fc_v(values).view(b_s, nk, self.h, self.d_v).transpose(1, 2)
        )  # b,h,nk,dv
        att = torch.matmul(q, k) / math.sqrt(self.d_k)
        if attention_weights is not None:
            att = att * attention_weights
        if attention_mask is not None:
            att = att.masked_fill(attention_mask, float("-inf"))
        att = self.dropout(torch.softmax(att, dim=-1))
        out = torch.matmul(att, v).transpose(1, 2).reshape(b_s, nq, self.h * self.d_v)
        out = self.fc_o(out)  # b, nq, d_model

        v2 = v.transpose(2, 3).reshape(b_s, self.h * self.d_v, nk)  # channels (h, d_v)
        mix = self.softmax(self.dy_paras)  # a function of the parameter, not a new one
        out2 = (
            mix[0] * self.conv1(v2) + mix[1] * self.conv3(v2) + mix[2] * self.conv5(v2)
        )
        return out + out2.transpose(1, 2)
