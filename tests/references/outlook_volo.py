"""Reference: outlook attention as in the official VOLO code (Yuan et al. 2021,
arXiv:2106.13112), the variant of seed 000.

Structure and names follow seed 000's ``OutlookAttention``: the maths of
``tests/references/outlook.py`` with the official names (``v`` instead of ``v_pj``, so
the state_dict keys differ, and ``unfold``), a keyword ``nn.Unfold`` (stride 2 works),
an optional ``qk_scale`` replacing head_dim^-0.5, and separate ``attn_drop`` /
``proj_drop`` rates, both 0 by default. ``num_heads`` is required. (The seed as printed
lacks its ``math`` and ``F`` imports; that is all.)
"""

import math

from torch import nn
from torch.nn import functional as F


class OutlookAttention(nn.Module):
    def __init__(
        self,
        dim,
        num_heads,
        kernel_size=3,
        padding=1,
        stride=1,
        qkv_bias=False,
        qk_scale=None,
        attn_drop=0.0,
        proj_drop=0.0,
    ):
        super().__init__()
        head_dim = dim // num_heads
        self.num_heads = num_heads
        self.kernel_size = kernel_size
        self.padding = padding
        self.stride = stride
        self.scale = qk_scale or head_dim**-0.5
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn = nn.Linear(dim, kernel_size**4 * num_heads)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.unfold = nn.Unfold(kernel_size=kernel_size, padding=padding, stride=stride)
        self.pool = nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True)

    def forward(self, x):
        B, H, W, C = x.shape
        kk = self.kernel_size * self.kernel_size
        h, w = math.ceil(H / self.stride), math.ceil(W / self.stride)
        v = self.unfold(self.v(x).permute(0, 3, 1, 2))  # B, C*kk, h*w
        v = v.reshape(B, self.num_heads, C // self.num_heads, kk, h * w)
        v = v.permute(0, 1, 4, 3, 2)  # B, heads, h*w, kk, C/heads
        a = self.pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # B, h, w, C
        a = self.attn(a).reshape(B, h * w, self.num_heads, kk, kk).transpose(1, 2)
        a = self.attn_drop((a * self.scale).softmax(dim=-1))
        out = (a @ v).permute(0, 1, 4, 3, 2).reshape(B, C * kk, h * w)
        out = F.fold(
            out,
            output_size=(H, W),
            kernel_size=self.kernel_size,
            padding=self.padding,
            stride=self.stride,
        )
        return self.proj_drop(self.proj(out.permute(0, 2, 3, 1)))
