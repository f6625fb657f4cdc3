"""Reference: outlook attention of VOLO (Yuan et al. 2021, arXiv:2106.13112), published
variant.

Structure and names follow the published ``model/attention/OutlookAttention.py``
(channels-last input (B, H, W, C); ``v_pj``, ``attn``, ``proj``; the unfold module is
called ``unflod``, as published): the values are unfolded into k x k windows; the
attention over each window (k^2 x k^2 per head) is produced by the linear ``attn`` from
the average-pooled input (``stride`` x ``stride``, ceil mode), scaled by
head_dim^-0.5 and softmaxed; the weighted windows are folded back (overlap-add) and
projected. As published, ``attn_drop`` is also the dropout after the projection.

INTENDED-MATH FIX: the published module builds ``nn.Unfold(kernel_size, padding,
stride)`` positionally, which is ``Unfold(kernel_size, dilation=padding,
padding=stride, stride=1)``: correct only for (3, 1, 1) (the defaults); stride 2, kernel 5
with padding 2, or padding 0 crash. Here the unfold takes ``kernel_size``, ``padding``,
``stride`` by keyword, matching the fold. The windows must tile the pooled grid:
ceil(H / stride) windows per axis (e.g. padding = kernel_size // 2).
"""

import math

from torch import nn
from torch.nn import functional as F


class OutlookAttention(nn.Module):
    def __init__(
        self,
        dim,
        num_heads=1,
        kernel_size=3,
        padding=1,
        stride=1,
        qkv_bias=False,
        attn_drop=0.1,
    ):
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.kernel_size = kernel_size
        self.padding = padding
        self.stride = stride
        self.scale = self.head_dim**-0.5
        self.v_pj = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn = nn.Linear(dim, kernel_size**4 * num_heads)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(attn_drop)
        self.unflod = nn.Unfold(kernel_size=kernel_size, padding=padding, stride=stride)
        self.pool = nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True)

    def forward(self, x):
        B, H, W, C = x.shape
        kk = self.kernel_size * self.kernel_size
        h, w = math.ceil(H / self.stride), math.ceil(W / self.stride)
        v = self.unflod(self.v_pj(x).permute(0, 3, 1, 2))  # B, C*kk, h*w
        v = v.reshape(B, self.num_heads, self.head_dim, kk, h * w).permute(
            0, 1, 4, 3, 2
        )
        # B, heads, h*w, kk, head_dim: the values of every window
        a = self.pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # B, h, w, C
        a = self.attn(a).reshape(B, h * w, self.num_heads, kk, kk).transpose(1, 2)
        a = self.attn_drop((a * self.scale).softmax(dim=-1))  # B, heads, h*w, kk, kk
        out = (a @ v).permute(0, 1, 4, 3, 2).reshape(B, C * kk, h * w)
        out = F.fold(
            out,
            output_size=(H, W),
            kernel_size=self.kernel_size,
            padding=self.padding,
            stride=self.stride,
        )  # B, C, H, W: overlapping windows add up
        return self.proj_drop(self.proj(out.permute(0, 2, 3, 1)))
