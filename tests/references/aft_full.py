"""Reference: Attention Free Transformer, AFT-full (Zhai et al. 2021, arXiv:2105.14103).

Structure and names follow the published ``model/attention/AFT.py``:
    out[t] = sigmoid(q[t]) * sum_t' exp(k[t'] + w[t, t']) * v[t'] / sum_t' exp(k[t'] + w[t, t'])
written with the published broadcast (k viewed (1, b, n, d), w viewed (n, 1, n, 1),
sums over dim 2, then a permute).  No max-subtraction, as published.

With ``simple=True`` the position biases are a plain zeros (n, n) tensor that is not
registered (not in ``state_dict``), as published.  Unlike the published code, the
reference moves that tensor to the input's device and dtype in forward, so it also
runs on CUDA and in float64 (the values are zeros, so the math is unchanged).
"""

import torch
from torch import nn


class AFT_FULL(nn.Module):
    def __init__(self, d_model, n=49, simple=False):
        super().__init__()
        self.fc_q = nn.Linear(d_model, d_model)
        self.fc_k = nn.Linear(d_model, d_model)
        self.fc_v = nn.Linear(d_model, d_model)
        if simple:
            self.position_biases = torch.zeros((n, n))
        else:
            self.position_biases = nn.Parameter(torch.ones((n, n)))
        self.d_model = d_model
        self.n = n
        self.sigmoid = nn.Sigmoid()

    def forward(self, input):
        bs, n, dim = input.shape
        q = self.fc_q(input)  # b,n,d
        k = self.fc_k(input).view(1, bs, n, dim)
        v = self.fc_v(input).view(1, bs, n, dim)
        w = self.position_biases.to(device=k.device, dtype=k.dtype).view(n, 1, n, 1)
        weights = torch.exp(k + w)  # n(t),b,n(t'),d
        numerator = torch.sum(weights * v, dim=2)  # n,b,d
        denominator = torch.sum(weights, dim=2)  # n,b,d
        out = numerator / denominator
        return self.sigmoid(q) * out.permute(1, 0, 2)  # b,n,d
