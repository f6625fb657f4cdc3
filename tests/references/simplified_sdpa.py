"""Reference: scaled dot-product attention without the q/k/v projections.

Structure and names follow the published ``model/attention/SimplifiedSelfAttention.py``:
the inputs are split into ``h`` heads of ``d_k = d_v = d_model // h`` channels directly
(no ``fc_q``/``fc_k``/``fc_v``); only the output projection ``fc_o`` is learned.
``attention_mask`` (True = masked, -inf) and ``attention_weights`` (multiplies the scaled
logits) have shape (b, h, nq, nk), as in ``ScaledDotProductAttention``. Dropout acts on
the attention probabilities.
"""

import math

import torch
from torch import nn


class SimplifiedScaledDotProductAttention(nn.Module):
    def __init__(self, d_model, h, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.d_k = d_model // h
        self.d_v = d_model // h
        self.h = h
        self.fc_o = nn.Linear(h * self.d_v, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, queries, keys, values, attention_mask=None, attention_weights=None
    ):
        b_s, nq = queries.shape[:2]
        nk = keys.shape[1]
        q = queries.view(b_s, nq, self.h, self.d_k).transpose(1, 2)  # b,h,nq,dk
        k = keys.view(b_s, nk, self.h, self.d_k).permute(0, 2, 3, 1)  # b,h,dk,nk
        v = values.view(b_s, nk, self.h, self.d_v).transpose(1, 2)  # b,h,nk,dv
        att = torch.matmul(q, k) / math.sqrt(self.d_k)
        if attention_weights is not None:
            att = att * attention_weights
        if attention_mask is not None:
            att = att.masked_fill(attention_mask, float("-inf"))
        att = self.dropout(torch.softmax(att, dim=-1))
        out = torch.matmul(att, v).transpose(1, 2).reshape(b_s, nq, self.h * self.d_v)
        return self.fc_o(out)
