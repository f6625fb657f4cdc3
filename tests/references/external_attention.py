"""Reference: External Attention (Guo et al. 2021, arXiv:2105.02358).

Structure and names follow the published ``model/attention/ExternalAttention.py``:
softmax over the tokens (dim=1), then double normalisation over the S memory slots.
"""

import torch
from torch import nn


class ExternalAttention(nn.Module):
    def __init__(self, d_model, S=64):
        super().__init__()
        self.mk = nn.Linear(d_model, S, bias=False)
        self.mv = nn.Linear(S, d_model, bias=False)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, queries):
        attn = self.mk(queries)  # b,n,S
        attn = self.softmax(attn)  # over the n tokens
        attn = attn / torch.sum(attn, dim=2, keepdim=True)  # over the S slots
        return self.mv(attn)  # b,n,d_model
