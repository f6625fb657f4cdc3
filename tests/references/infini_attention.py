"""Reference: Infini-attention (Munkhdalai, Faruqui & Gopal 2024, arXiv:2404.07143),
written from the paper; there is no published module to follow (the seeds' TF list only
names it), so the class name and constructor are ours:

    InfiniAttention(d_model, d_k, d_v, h, segment_len, delta_rule=False)
    forward(x: (b, n, d_model)) -> (b, n, d_model),  n a multiple of segment_len

Multi-head projections ``fc_q``, ``fc_k``, ``fc_v`` (d_model -> h * d_k / h * d_v) and
``fc_o`` (h * d_v -> d_model), as in ``ScaledDotProductAttention``, and one gating scalar
per head ``beta`` (1, h, 1, 1), initialised to 0 (an even mix). The sequence is cut into
segments of ``segment_len`` tokens, processed in order; per head, with
sigma(t) = ELU(t) + 1 and a compressive memory M (d_k x d_v) and normaliser z (d_k),
both zero at the start of every forward call (the module keeps no state between calls):

    A_dot = softmax(Q K^T / sqrt(d_k) + causal mask) V      within the segment
    A_mem = sigma(Q) M / (sigma(Q) z)                       retrieval; 0 while M is empty
    M    += sigma(K)^T V                                    linear update, or with
    M    += sigma(K)^T (V - sigma(K) M / (sigma(K) z))      delta_rule=True (the retrieved
                                                            part is not stored twice)
    z    += sum over the segment's tokens of sigma(K)
    A     = sigmoid(beta) * A_mem + (1 - sigmoid(beta)) * A_dot

The retrieval and the delta term use the memory before the segment's update. The first
segment has an empty memory (M = 0, z = 0), where sigma(Q) M / (sigma(Q) z) is 0 / 0: its
retrieval is defined as 0 and its delta update as the linear one.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F


def _sigma(t):
    return F.elu(t) + 1


class InfiniAttention(nn.Module):
    def __init__(self, d_model, d_k, d_v, h, segment_len, delta_rule=False):
        super().__init__()
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.beta = nn.Parameter(torch.zeros(1, h, 1, 1))
        self.d_model = d_model
        self.d_k = d_k
        self.d_v = d_v
        self.h = h
        self.segment_len = segment_len
        self.delta_rule = delta_rule

    def forward(self, x):
        b, n, _ = x.shape
        L = self.segment_len
        if n % L != 0:
            raise ValueError(
                f"InfiniAttention: the sequence length {n} must be a multiple of segment_len = {L}"
            )
        q = self.fc_q(x).view(b, n, self.h, self.d_k).transpose(1, 2)  # b,h,n,dk
        k = self.fc_k(x).view(b, n, self.h, self.d_k).transpose(1, 2)
        v = self.fc_v(x).view(b, n, self.h, self.d_v).transpose(1, 2)  # b,h,n,dv
        future = torch.ones(L, L, dtype=torch.bool, device=x.device).triu(1)
        gate = torch.sigmoid(self.beta)
        memory = x.new_zeros(b, self.h, self.d_k, self.d_v)
        norm = x.new_zeros(b, self.h, self.d_k, 1)
        outs = []
        for start in range(0, n, L):
            qs, ks, vs = (t[:, :, start : start + L] for t in (q, k, v))
            att = torch.matmul(qs, ks.transpose(-1, -2)) / math.sqrt(self.d_k)
            a_dot = torch.matmul(
                att.masked_fill(future, float("-inf")).softmax(dim=-1), vs
            )
            sq, sk = _sigma(qs), _sigma(ks)
            if start == 0:  # empty memory: nothing to retrieve, nothing to subtract
                a_mem = torch.zeros_like(a_dot)
                new_values = vs
            else:
                a_mem = torch.matmul(sq, memory) / torch.matmul(sq, norm)
                new_values = vs
                if self.delta_rule:
                    new_values = vs - torch.matmul(sk, memory) / torch.matmul(sk, norm)
            memory = memory + torch.matmul(sk.transpose(-1, -2), new_values)
            norm = norm + sk.sum(dim=2).unsqueeze(-1)
            outs.append(gate * a_mem + (1 - gate) * a_dot)
        out = torch.cat(outs, dim=2).transpose(1, 2).reshape(b, n, self.h * self.d_v)
        return self.fc_o(out)
