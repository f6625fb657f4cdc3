"""Reference: Efficient Attention (Shen et al. 2021, arXiv:1812.01243).

Structure and names follow cmsflash's published ``efficient_attention.py``: per head, keys
are softmaxed over the h*w positions, queries over the head's key channels; the
context (key @ value^T) is gathered per head, then redistributed by the queries; heads
are concatenated, reprojected by a 1x1 conv and added to the input (residual).
"""

import torch
from torch import nn


class EfficientAttention(nn.Module):
    def __init__(self, in_channels, key_channels, head_count, value_channels):
        super().__init__()
        self.in_channels = in_channels
        self.key_channels = key_channels
        self.head_count = head_count
        self.value_channels = value_channels

        self.keys = nn.Conv2d(in_channels, key_channels, 1)
        self.queries = nn.Conv2d(in_channels, key_channels, 1)
        self.values = nn.Conv2d(in_channels, value_channels, 1)
        self.reprojection = nn.Conv2d(value_channels, in_channels, 1)

    def forward(self, input_):
        n, _, h, w = input_.shape
        keys = self.keys(input_).reshape(n, self.key_channels, h * w)
        queries = self.queries(input_).reshape(n, self.key_channels, h * w)
        values = self.values(input_).reshape(n, self.value_channels, h * w)
        head_key_channels = self.key_channels // self.head_count
        head_value_channels = self.value_channels // self.head_count

        attended_values = []
        for i in range(self.head_count):
            ks = slice(i * head_key_channels, (i + 1) * head_key_channels)
            vs = slice(i * head_value_channels, (i + 1) * head_value_channels)
            key = torch.softmax(keys[:, ks, :], dim=2)  # over positions
            query = torch.softmax(queries[:, ks, :], dim=1)  # over the head's channels
            value = values[:, vs, :]
            context = key @ value.transpose(1, 2)  # n, hk, hv
            attended_value = (context.transpose(1, 2) @ query).reshape(
                n, head_value_channels, h, w
            )
            attended_values.append(attended_value)

        aggregated_values = torch.cat(attended_values, dim=1)
        reprojected_value = self.reprojection(aggregated_values)
        return reprojected_value + input_
