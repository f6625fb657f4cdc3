"""Reference: separable self-attention of MobileViTv2 (Mehta & Rastegari 2022,
arXiv:2206.02680).

Structure and names follow the published ``model/attention/MobileViTv2Attention.py``:
``fc_i`` scores every token (d_model -> 1), the scores are softmaxed over the tokens and
pool the keys ``fc_k(x)`` into one context vector; the values ``fc_v(x)`` are scaled by
it channel-wise and projected by ``fc_o``. As published, there is no ReLU on the value
branch (the paper has one).
"""

import torch
from torch import nn


class MobileViTv2Attention(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.fc_i = nn.Linear(d_model, 1)
        self.fc_k = nn.Linear(d_model, d_model)
        self.fc_v = nn.Linear(d_model, d_model)
        self.fc_o = nn.Linear(d_model, d_model)
        self.d_model = d_model

    def forward(self, input):
        scores = torch.softmax(self.fc_i(input), dim=1)  # b, n, 1: over the tokens
        context = (scores * self.fc_k(input)).sum(dim=1, keepdim=True)  # b, 1, d
        return self.fc_o(self.fc_v(input) * context)
