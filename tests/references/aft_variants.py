"""Reference: the Attention Free Transformer variants of seed 000 (Zhai et al. 2021,
arXiv:2105.14103), one head, with a hidden width and an output projection.

Structure and names follow seed 000's ``AFTFull`` / ``AFTSimple`` / ``AFTLocal``
(``to_q``, ``to_k``, ``to_v`` to ``hidden_dim``, ``project`` back to ``dim``; a
``max_seqlen`` x ``max_seqlen`` position bias ``wbias``, xavier-initialised, of which the
first T x T is used, so sequences may be shorter than ``max_seqlen``):

    AFT-full:   out[t] = sigmoid(q[t]) * sum_t' exp(w[t,t'] + k[t']) v[t'] / sum_t' exp(w[t,t'] + k[t'])
                written with the published matmuls: (exp(w) @ (exp(k) * v)) / (exp(w) @ exp(k));
    AFT-simple: no position bias: out[t] = sigmoid(q[t]) * sum_t' softmax_t'(k)[t'] v[t'];
    AFT-local:  AFT-full with w[t,t'] replaced by 0 where |t - t'| >= s (the paper's
                band: outside it the bias is zero, not -inf).
No max-subtraction inside exp, as published (large logits overflow).

INTENDED-MATH FIX (AFTLocal): the published forward rebuilds ``self.wbias`` as a new
``nn.Parameter`` on every call from a Python double loop over the old one: the
registered parameter is replaced (an optimizer keeps the stale one), gradients never
reach what the optimizer holds, and after ``.double()`` the rebuilt float32 parameter
breaks the forward. Here ``wbias`` is never touched: the band is a boolean buffer built
once in ``__init__`` (not persistent, so the state_dict keeps the published keys) and the
banded bias ``where(band, wbias, 0)`` is computed in forward.
"""

import torch
from torch import nn


def _aft_full_mixing(q, k, v, w):
    """sigmoid(q) * (exp(w) @ (exp(k) * v)) / (exp(w) @ exp(k)); w is (T, T)."""
    ew, ek = torch.exp(w), torch.exp(k)
    return torch.sigmoid(q) * (ew @ (ek * v)) / (ew @ ek)


class AFTFull(nn.Module):
    def __init__(self, max_seqlen, dim, hidden_dim=64):
        super().__init__()
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.to_q = nn.Linear(dim, hidden_dim)
        self.to_k = nn.Linear(dim, hidden_dim)
        self.to_v = nn.Linear(dim, hidden_dim)
        self.project = nn.Linear(hidden_dim, dim)
        self.wbias = nn.Parameter(torch.empty(max_seqlen, max_seqlen))
        nn.init.xavier_uniform_(self.wbias)

    def forward(self, x):
        T = x.shape[1]
        mixed = _aft_full_mixing(
            self.to_q(x), self.to_k(x), self.to_v(x), self.wbias[:T, :T]
        )
        return self.project(mixed)


class AFTSimple(nn.Module):
    def __init__(self, max_seqlen, dim, hidden_dim=64):
        super().__init__()
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.to_q = nn.Linear(dim, hidden_dim)
        self.to_k = nn.Linear(dim, hidden_dim)
        self.to_v = nn.Linear(dim, hidden_dim)
        self.project = nn.Linear(hidden_dim, dim)

    def forward(self, x):
        weights = torch.softmax(self.to_k(x), dim=1)  # over the T tokens
        context = (weights * self.to_v(x)).sum(dim=1, keepdim=True)  # b, 1, hidden
        return self.project(torch.sigmoid(self.to_q(x)) * context)


class AFTLocal(nn.Module):
    def __init__(self, max_seqlen, dim, hidden_dim=64, s=256):
        super().__init__()
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.to_q = nn.Linear(dim, hidden_dim)
        self.to_k = nn.Linear(dim, hidden_dim)
        self.to_v = nn.Linear(dim, hidden_dim)
        self.project = nn.Linear(hidden_dim, dim)
        self.wbias = nn.Parameter(torch.empty(max_seqlen, max_seqlen))
        self.max_seqlen = max_seqlen
        self.s = s
        nn.init.xavier_uniform_(self.wbias)
        pos = torch.arange(max_seqlen)
        self.register_buffer(
            "band", (pos[:, None] - pos[None, :]).abs() < s, persistent=False
        )

    def forward(self, x):
        T = x.shape[1]
        w = torch.where(self.band[:T, :T], self.wbias[:T, :T], 0.0)
        mixed = _aft_full_mixing(self.to_q(x), self.to_k(x), self.to_v(x), w)
        return self.project(mixed)
