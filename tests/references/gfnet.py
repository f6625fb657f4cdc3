"""Reference: the global filter layer and block of GFNet (Rao et al. 2021,
arXiv:2107.00645).

Structure and names follow the published ``model/attention/gfnet.py``:
- ``GlobalFilter(dim, h, w)``: the tokens (b, N, C) are laid on an a x b grid (a = b =
  sqrt(N) unless ``spatial_size`` is given), transformed by a 2-D real FFT over the grid
  (orthonormal), multiplied element-wise by the learned complex filter
  ``complex_weight`` (h, w, dim, 2 = real, imaginary; h = a, w = b // 2 + 1), and
  transformed back (inverse real FFT to a x b);
- ``Block``: x + drop_path(mlp(norm2(filter(norm1(x))))), the MLP linear -> GELU ->
  dropout -> linear -> dropout with ``mlp_ratio`` hidden width.

INTENDED-MATH FIX: the published filter casts its input to float32 before the FFT, so a
float64 module silently computes (and returns) float32. Here the FFT runs in the input's
dtype (complex64 or complex128, the weight viewed as complex of its own dtype); for
float32 inputs nothing changes. ``DropPath`` (from timm in the published file) is written
here: per-sample stochastic depth in training, identity when ``drop_path == 0``.
"""

import math

import torch
from torch import nn


class GlobalFilter(nn.Module):
    def __init__(self, dim, h=14, w=8):
        super().__init__()
        self.complex_weight = nn.Parameter(
            torch.randn(h, w, dim, 2, dtype=torch.float32) * 0.02
        )
        self.w = w
        self.h = h

    def forward(self, x, spatial_size=None):
        B, N, C = x.shape
        if spatial_size is None:
            a = b = int(math.sqrt(N))
        else:
            a, b = spatial_size
        spectrum = torch.fft.rfft2(x.view(B, a, b, C), dim=(1, 2), norm="ortho")
        spectrum = spectrum * torch.view_as_complex(self.complex_weight)
        x = torch.fft.irfft2(spectrum, s=(a, b), dim=(1, 2), norm="ortho")
        return x.reshape(B, N, C)


class Mlp(nn.Module):
    def __init__(
        self,
        in_features,
        hidden_features=None,
        out_features=None,
        act_layer=nn.GELU,
        drop=0.0,
    ):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a whole sample's branch with probability p
    and scale the kept ones by 1 / (1 - p)."""

    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        return x * torch.bernoulli(x.new_full(shape, keep)) / keep


class Block(nn.Module):
    def __init__(
        self,
        dim,
        mlp_ratio=4.0,
        drop=0.0,
        drop_path=0.0,
        act_layer=nn.GELU,
        norm_layer=nn.LayerNorm,
        h=14,
        w=8,
    ):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.filter = GlobalFilter(dim, h=h, w=w)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(
            in_features=dim,
            hidden_features=int(dim * mlp_ratio),
            act_layer=act_layer,
            drop=drop,
        )

    def forward(self, x):
        return x + self.drop_path(self.mlp(self.norm2(self.filter(self.norm1(x)))))
