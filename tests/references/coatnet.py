"""Reference: the CoAtNet backbone as published (after Dai et al. 2021, arXiv:2106.04803).

Structure and names follow the published ``model/attention/CoAtNet.py`` and
``model/conv/MBConv.py``: stage 0 (two 3x3 convs) and three 1x1-conv MLPs between
2x2 max-pools; two MBConv stages (depthwise 3x3 with TF-style static "same" padding
computed from ``image_size``, BN with eps 0.01, swish, squeeze-excitation, 1x1 project,
BN, residual); two ``ScaledDotProductAttention`` stages (8 heads, dropout 0.1) on the
flattened token map, each followed by a linear MLP and a max-pool over pairs of
consecutive tokens; the 768-channel tokens are reshaped to a sqrt(N) x sqrt(N) map.
As published: no relative attention (the paper's key idea), ``image_size`` must be the
input's size, the MBConv swish is x * sigmoid(x) (a custom autograd function there, with
the same derivative; ``F.silu`` here).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from .sdpa import ScaledDotProductAttention


class Conv2dStaticSamePadding(nn.Conv2d):
    """A conv with TensorFlow's "same" padding for a fixed input size, computed once."""

    def __init__(
        self, in_channels, out_channels, kernel_size, image_size=None, **kwargs
    ):
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        ih, iw = (image_size, image_size) if isinstance(image_size, int) else image_size
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        pad_h = max(
            (math.ceil(ih / sh) - 1) * sh + (kh - 1) * self.dilation[0] + 1 - ih, 0
        )
        pad_w = max(
            (math.ceil(iw / sw) - 1) * sw + (kw - 1) * self.dilation[1] + 1 - iw, 0
        )
        # F.pad order: left, right, top, bottom; the odd pixel goes right / bottom
        self.same_pad = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)

    def forward(self, x):
        return super().forward(F.pad(x, self.same_pad))


class MBConvBlock(nn.Module):
    def __init__(
        self,
        ksize,
        input_filters,
        output_filters,
        expand_ratio=1,
        stride=1,
        image_size=224,
    ):
        super().__init__()
        self._input_filters = input_filters
        self._output_filters = output_filters
        self._expand_ratio = expand_ratio
        self._stride = stride
        inp, oup = input_filters, input_filters * expand_ratio
        if expand_ratio != 1:
            self._expand_conv = Conv2dStaticSamePadding(
                inp, oup, 1, image_size=image_size, bias=False
            )
            self._bn0 = nn.BatchNorm2d(oup, momentum=0.1, eps=0.01)
        self._depthwise_conv = Conv2dStaticSamePadding(
            oup,
            oup,
            ksize,
            image_size=image_size,
            groups=oup,
            stride=stride,
            bias=False,
        )
        self._bn1 = nn.BatchNorm2d(oup, momentum=0.1, eps=0.01)
        out_size = [math.ceil(image_size / stride)] * 2
        squeezed = max(1, int(input_filters * 0.25))
        self._se_reduce = Conv2dStaticSamePadding(oup, squeezed, 1, image_size=(1, 1))
        self._se_expand = Conv2dStaticSamePadding(squeezed, oup, 1, image_size=(1, 1))
        self._project_conv = Conv2dStaticSamePadding(
            oup, output_filters, 1, image_size=out_size, bias=False
        )
        self._bn2 = nn.BatchNorm2d(output_filters, momentum=0.1, eps=0.01)

    def forward(self, inputs):
        x = inputs
        if self._expand_ratio != 1:
            x = F.silu(self._bn0(self._expand_conv(x)))
        x = F.silu(self._bn1(self._depthwise_conv(x)))
        gate = self._se_expand(F.silu(self._se_reduce(F.adaptive_avg_pool2d(x, 1))))
        x = self._bn2(self._project_conv(torch.sigmoid(gate) * x))
        if self._stride == 1 and self._input_filters == self._output_filters:
            x = x + inputs
        return x


def _conv_mlp(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=1),
        nn.ReLU(),
        nn.Conv2d(cout, cout, kernel_size=1),
    )


def _linear_mlp(cin, cout):
    return nn.Sequential(nn.Linear(cin, cout), nn.ReLU(), nn.Linear(cout, cout))


class CoAtNet(nn.Module):
    def __init__(self, in_ch, image_size, out_chs=[64, 96, 192, 384, 768]):
        super().__init__()
        self.out_chs = out_chs
        self.maxpool2d = nn.MaxPool2d(kernel_size=2, stride=2)
        self.maxpool1d = nn.MaxPool1d(kernel_size=2, stride=2)
        self.s0 = nn.Sequential(
            nn.Conv2d(in_ch, in_ch, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(in_ch, in_ch, kernel_size=3, padding=1),
        )
        self.mlp0 = _conv_mlp(in_ch, out_chs[0])
        self.s1 = MBConvBlock(3, out_chs[0], out_chs[0], image_size=image_size // 2)
        self.mlp1 = _conv_mlp(out_chs[0], out_chs[1])
        self.s2 = MBConvBlock(3, out_chs[1], out_chs[1], image_size=image_size // 4)
        self.mlp2 = _conv_mlp(out_chs[1], out_chs[2])
        self.s3 = ScaledDotProductAttention(
            out_chs[2], out_chs[2] // 8, out_chs[2] // 8, 8
        )
        self.mlp3 = _linear_mlp(out_chs[2], out_chs[3])
        self.s4 = ScaledDotProductAttention(
            out_chs[3], out_chs[3] // 8, out_chs[3] // 8, 8
        )
        self.mlp4 = _linear_mlp(out_chs[3], out_chs[4])

    def _pool_tokens(self, y):
        return self.maxpool1d(y.transpose(1, 2)).transpose(1, 2)  # pairs of tokens

    def forward(self, x):
        B = x.shape[0]
        y = self.maxpool2d(self.mlp0(self.s0(x)))
        y = self.maxpool2d(self.mlp1(self.s1(y)))
        y = self.maxpool2d(self.mlp2(self.s2(y)))
        y = y.reshape(B, self.out_chs[2], -1).transpose(1, 2)  # B, N, C
        y = self._pool_tokens(self.mlp3(self.s3(y, y, y)))
        y = self._pool_tokens(self.mlp4(self.s4(y, y, y)))  # B, N/4, C4
        side = int(math.sqrt(y.shape[1]))
        return y.transpose(1, 2).reshape(B, self.out_chs[4], side, side)
