"""Reference: Efficient Multi-head Self-Attention of ResT (Zhang & Yang 2021, arXiv:2105.13677).

Structure and names follow the published ``model/attention/EMSA.py``:
- when ``ratio > 1`` keys and values are computed from the *queries* reshaped to
  (b, c, H, W), reduced by a depthwise strided conv and a LayerNorm; the ``keys`` and
  ``values`` arguments are then ignored (as published);
- the head-mixing transform (conv 1x1 over heads, softmax, InstanceNorm2d) is active
  only when ``apply_transform and h > 1`` (as published); ``transform`` is an
  ``nn.Sequential`` with children ``conv``, ``softmax``, ``in``.

INTENDED-MATH FIX: the published forward applies ``attention_weights`` and the -inf
``attention_mask`` *after* the softmax (and after the InstanceNorm), which gives NaN for
any masked entry and leaves the weights outside the normalisation.  Here the order is:
logits -> [transform.conv] -> [* weights] -> [masked_fill -inf] -> softmax ->
[transform.in] -> dropout -> @ v.
"""

import math

import torch
from torch import nn


class EMSA(nn.Module):
    def __init__(
        self, d_model, d_k, d_v, h, dropout=0.1, H=7, W=7, ratio=3, apply_transform=True
    ):
        super().__init__()
        self.H = H
        self.W = W
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.dropout = nn.Dropout(dropout)

        self.ratio = ratio
        if self.ratio > 1:
            self.sr_conv = nn.Conv2d(
                d_model,
                d_model,
                kernel_size=ratio + 1,
                stride=ratio,
                padding=ratio // 2,
                groups=d_model,
            )
            self.sr_ln = nn.LayerNorm(d_model)

        self.apply_transform = apply_transform and h > 1
        if self.apply_transform:
            self.transform = nn.Sequential()
            self.transform.add_module("conv", nn.Conv2d(h, h, kernel_size=1, stride=1))
            self.transform.add_module("softmax", nn.Softmax(-1))
            self.transform.add_module("in", nn.InstanceNorm2d(h))

        self.d_model = d_model
        self.d_k = d_k
        self.d_v = d_v
        self.h = h

    def forward(
        self, queries, keys, values, attention_mask=None, attention_weights=None
    ):
        b_s, nq, c = queries.shape
        nk = keys.shape[1]
        q = (
            self.fc_q(queries).view(b_s, nq, self.h, self.d_k).permute(0, 2, 1, 3)
        )  # b,h,nq,dk
        if self.ratio > 1:
            x = queries.permute(0, 2, 1).reshape(b_s, c, self.H, self.W)
            x = self.sr_conv(x)  # b,c,H',W'
            x = x.contiguous().view(b_s, c, -1).permute(0, 2, 1)  # b,n',c
            x = self.sr_ln(x)
            k = (
                self.fc_k(x).view(b_s, -1, self.h, self.d_k).permute(0, 2, 3, 1)
            )  # b,h,dk,n'
            v = (
                self.fc_v(x).view(b_s, -1, self.h, self.d_v).permute(0, 2, 1, 3)
            )  # b,h,n',dv
        else:
            k = self.fc_k(keys).view(b_s, nk, self.h, self.d_k).permute(0, 2, 3, 1)
            v = self.fc_v(values).view(b_s, nk, self.h, self.d_v).permute(0, 2, 1, 3)

        att = torch.matmul(q, k) / math.sqrt(self.d_k)  # b,h,nq,nk'
        if self.apply_transform:
            att = self.transform.conv(att)  # mixes the heads
        if attention_weights is not None:
            att = att * attention_weights
        if attention_mask is not None:
            att = att.masked_fill(attention_mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        if self.apply_transform:
            att = getattr(self.transform, "in")(att)
        att = self.dropout(att)

        out = (
            torch.matmul(att, v)
            .permute(0, 2, 1, 3)
            .contiguous()
            .view(b_s, nq, self.h * self.d_v)
        )
        return self.fc_o(out)
