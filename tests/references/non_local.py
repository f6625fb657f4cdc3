"""Reference: the non-local block (Wang et al. 2018, arXiv:1711.07971), embedded-Gaussian
form, for 1-, 2- and 3-d inputs, as in seed 003's ``NonLocalBlockND``.

Structure and names follow the seed: 1x1 convs (of the input's rank) theta, phi and g to
``inter_channels`` (default in_channels // 2, at least 1); with ``sub_sample`` phi and g
are followed by a max-pool (2; (1, 2, 2) in 3-d, so time is not pooled) and become
``nn.Sequential``s (keys ``phi.0.*``, ``g.0.*``); f = softmax over the keys of
theta(x)^T phi(x); y = f g(x); ``W`` (1x1 conv back to in_channels, followed by a BN when
``bn_layer``) is zero-initialised, so the block is the identity at init; z = W(y) + x.
"""

import torch
from torch import nn


class NonLocalBlockND(nn.Module):
    def __init__(
        self,
        in_channels,
        inter_channels=None,
        dimension=2,
        sub_sample=True,
        bn_layer=True,
    ):
        super().__init__()
        assert dimension in [1, 2, 3]
        self.dimension = dimension
        self.sub_sample = sub_sample
        self.in_channels = in_channels
        self.inter_channels = inter_channels
        if self.inter_channels is None:
            self.inter_channels = max(in_channels // 2, 1)
        conv_nd, pool, bn = {
            1: (nn.Conv1d, nn.MaxPool1d(kernel_size=2), nn.BatchNorm1d),
            2: (nn.Conv2d, nn.MaxPool2d(kernel_size=(2, 2)), nn.BatchNorm2d),
            3: (nn.Conv3d, nn.MaxPool3d(kernel_size=(1, 2, 2)), nn.BatchNorm3d),
        }[dimension]
        inter = self.inter_channels

        # registration order as published: g, W, theta, phi
        self.g = conv_nd(in_channels, inter, kernel_size=1, stride=1, padding=0)
        if bn_layer:
            self.W = nn.Sequential(
                conv_nd(inter, in_channels, kernel_size=1, stride=1, padding=0),
                bn(in_channels),
            )
            nn.init.constant_(self.W[1].weight, 0)
            nn.init.constant_(self.W[1].bias, 0)
        else:
            self.W = conv_nd(inter, in_channels, kernel_size=1, stride=1, padding=0)
            nn.init.constant_(self.W.weight, 0)
            nn.init.constant_(self.W.bias, 0)
        self.theta = conv_nd(in_channels, inter, kernel_size=1, stride=1, padding=0)
        self.phi = conv_nd(in_channels, inter, kernel_size=1, stride=1, padding=0)
        if sub_sample:
            self.g = nn.Sequential(self.g, pool)
            self.phi = nn.Sequential(self.phi, pool)

    def forward(self, x):
        b = x.shape[0]
        g_x = self.g(x).reshape(b, self.inter_channels, -1).transpose(1, 2)  # b, N1, C1
        theta_x = (
            self.theta(x).reshape(b, self.inter_channels, -1).transpose(1, 2)
        )  # b, N, C1
        phi_x = self.phi(x).reshape(b, self.inter_channels, -1)  # b, C1, N1
        f = torch.softmax(torch.matmul(theta_x, phi_x), dim=-1)  # b, N, N1
        y = torch.matmul(f, g_x).transpose(1, 2)  # b, C1, N
        y = y.reshape(b, self.inter_channels, *x.shape[2:])
        return self.W(y) + x
