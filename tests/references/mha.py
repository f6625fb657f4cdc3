"""Reference: the multi-head attention of seed 003's closing snippet (Vaswani et al. 2017,
arXiv:1706.03762).

Structure and names follow the seed's ``MultiHeadAttention(d_model, num_heads)``: linear
``Wq``, ``Wk``, ``Wv`` (d_model -> d_model), heads of depth = d_model // num_heads, scores
Q K^T / sqrt(depth), softmax, weighted values, heads merged, linear ``fc``; ``forward``
returns a tuple (output, attention (b, heads, nq, nk)). Its mask convention is the
opposite of ``ScaledDotProductAttention``'s: positions where ``mask == 0`` are masked,
filled with the finite -1e9 (so a fully masked row is uniform, not NaN); the mask must
broadcast to (b, heads, nq, nk). No dropout. The seed takes sqrt of a float32 tensor;
here sqrt is taken in Python (the same for the usual square depths).
"""

import math

import torch
from torch import nn


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads):
        super().__init__()
        assert d_model % num_heads == 0
        self.num_heads = num_heads
        self.d_model = d_model
        self.depth = d_model // num_heads
        self.Wq = nn.Linear(d_model, d_model)
        self.Wk = nn.Linear(d_model, d_model)
        self.Wv = nn.Linear(d_model, d_model)
        self.fc = nn.Linear(d_model, d_model)

    def scaled_dot_product_attention(self, Q, K, V, mask=None):
        scores = torch.matmul(Q, K.transpose(-1, -2)) / math.sqrt(Q.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        attention = torch.softmax(scores, dim=-1)
        return torch.matmul(attention, V), attention

    def split_heads(self, x, batch_size):  # b, n, d_model -> b, heads, n, depth
        return x.view(batch_size, -1, self.num_heads, self.depth).transpose(1, 2)

    def forward(self, Q, K, V, mask=None):
        batch_size = Q.shape[0]
        Q = self.split_heads(self.Wq(Q), batch_size)
        K = self.split_heads(self.Wk(K), batch_size)
        V = self.split_heads(self.Wv(V), batch_size)
        out, attention = self.scaled_dot_product_attention(Q, K, V, mask)
        out = out.transpose(1, 2).reshape(batch_size, -1, self.d_model)
        return self.fc(out), attention
