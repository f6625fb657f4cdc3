"""Reference: Contextual Transformer attention, CoT (Li et al. 2021, arXiv:2107.12292),
published simplification.

Structure and names follow the published ``model/attention/CoTAttention.py``: static
context keys k1 = ReLU(BN(grouped k x k conv, 4 groups, no bias)); values = BN(1x1 conv);
an attention embedding of cat[k1, x] (1x1 -> BN -> ReLU -> 1x1 to k*k*c maps) is averaged
over its k*k maps, softmaxed over the h*w positions per channel and scales the values
(the dynamic context k2); the output is k1 + k2. As published, a global softmax with a
mean over k*k replaces the paper's local k x k aggregation; dim must be a multiple of 4.
"""

import torch
from torch import nn


class CoTAttention(nn.Module):
    def __init__(self, dim=512, kernel_size=3):
        super().__init__()
        self.dim = dim
        self.kernel_size = kernel_size
        self.key_embed = nn.Sequential(
            nn.Conv2d(
                dim, dim, kernel_size, padding=kernel_size // 2, groups=4, bias=False
            ),
            nn.BatchNorm2d(dim),
            nn.ReLU(),
        )
        self.value_embed = nn.Sequential(
            nn.Conv2d(dim, dim, 1, bias=False), nn.BatchNorm2d(dim)
        )
        factor = 4
        self.attention_embed = nn.Sequential(
            nn.Conv2d(2 * dim, 2 * dim // factor, 1, bias=False),
            nn.BatchNorm2d(2 * dim // factor),
            nn.ReLU(),
            nn.Conv2d(2 * dim // factor, kernel_size * kernel_size * dim, 1),
        )

    def forward(self, x):
        bs, c, h, w = x.shape
        k1 = self.key_embed(x)
        v = self.value_embed(x).flatten(2)  # bs, c, h*w
        att = self.attention_embed(torch.cat([k1, x], dim=1))  # bs, c*k*k, h, w
        att = att.reshape(bs, c, self.kernel_size * self.kernel_size, h * w).mean(2)
        k2 = torch.softmax(att, dim=-1) * v  # over the positions, per channel
        return k1 + k2.reshape(bs, c, h, w)
