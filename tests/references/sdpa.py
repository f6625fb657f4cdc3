"""Reference: multi-head scaled dot-product attention (Vaswani et al. 2017).

Structure and names follow the published ``model/attention/SelfAttention.py``.
``attention_mask`` is boolean with True = masked (filled with -inf before the softmax);
``attention_weights`` multiplies the scaled logits.  Both have shape (b, h, nq, nk).
Dropout acts on the attention probabilities (inactive in eval mode).
"""

import math

import torch
from torch import nn


class ScaledDotProductAttention(nn.Module):
    def __init__(self, d_model, d_k, d_v, h, dropout=0.1):
        super().__init__()
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.dropout = nn.Dropout(dropout)
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
            self.fc_q(queries).view(b_s, nq, self.h, self.d_k).permute(0, 2, 1, 3)
        )  # b,h,nq,dk
        k = (
            self.fc_k(keys).view(b_s, nk, self.h, self.d_k).permute(0, 2, 3, 1)
        )  # b,h,dk,nk
        v = (
            self.fc_v(values).view(b_s, nk, self.h, self.d_v).permute(0, 2, 1, 3)
        )  # b,h,nk,dv
        att = torch.matmul(q, k) / math.sqrt(self.d_k)  # b,h,nq,nk
        if attention_weights is not None:
            att = att * attention_weights
        if attention_mask is not None:
            att = att.masked_fill(attention_mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        att = self.dropout(att)
        out = torch.matmul(att, v)  # b,h,nq,dv
        out = out.permute(0, 2, 1, 3).contiguous().view(b_s, nq, self.h * self.d_v)
        return self.fc_o(out)
