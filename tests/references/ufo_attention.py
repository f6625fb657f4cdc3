"""Reference: UFO attention (Song 2021, "UFO-ViT", arXiv:2109.14382).

Structure and names follow the published ``model/attention/UFOAttention.py``: multi-head
projections as in ``ScaledDotProductAttention``, then no softmax: the key-value product
``k^T v`` (per head, d_k x d_v) and the queries are each passed through XNorm,
``XNorm(t) = gamma * t / ||t||_2`` with the L2 norm over the last axis and one learnable
``gamma`` per head, and multiplied. As published: ``gamma`` starts random (randn), the
declared dropout is never applied, and the norm has no epsilon.
"""

import torch
from torch import nn


def XNorm(x, gamma):
    return x * gamma / torch.linalg.vector_norm(x, ord=2, dim=-1, keepdim=True)


class UFOAttention(nn.Module):
    def __init__(self, d_model, d_k, d_v, h, dropout=0.1):
        super().__init__()
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.dropout = nn.Dropout(dropout)  # declared, unused (as published)
        self.gamma = nn.Parameter(torch.randn((1, h, 1, 1)))
        self.d_model = d_model
        self.d_k = d_k
        self.d_v = d_v
        self.h = h

    def forward(self, queries, keys, values):
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
        kv = XNorm(torch.matmul(k, v), self.gamma)  # b,h,dk,dv
        out = torch.matmul(XNorm(q, self.gamma), kv)  # b,h,nq,dv
        return self.fc_o(out.transpose(1, 2).reshape(b_s, nq, self.h * self.d_v))
