"""Reference: Dual Attention Network module (Fu et al. 2019, arXiv:1809.02983).

Structure and names follow the published ``model/attention/DANet.py``: a position branch
(``cnn`` conv, then single-head ``ScaledDotProductAttention`` over the h*w positions with
d_k = d_v = d_model) and a channel branch (``cnn`` conv, then single-head
``SimplifiedScaledDotProductAttention`` over the channels, each channel a token of H*W
features); the two maps are added. As published there is no learned gamma residual (the
paper has one), and both attentions carry their dropout (0.1).

INTENDED-MATH FIX: the published ``DAModule`` ignores its arguments and always builds
both branches with d_model=512, kernel_size=3, H=W=7, so it only runs on (b, 512, 7, 7)
inputs and its state_dict has 512-wide keys whatever ``d_model`` is (as INTERFACES.md
lists). Here every size comes from the arguments: the convs are ``d_model`` wide with
``kernel_size`` and padding (kernel_size - 1) // 2, and the channel branch's ``fc_o`` is
(H*W, H*W). At the published sizes the two agree key for key.
"""

from torch import nn

from .sdpa import ScaledDotProductAttention
from .simplified_sdpa import SimplifiedScaledDotProductAttention


class PositionAttentionModule(nn.Module):
    def __init__(self, d_model=512, kernel_size=3, H=7, W=7):
        super().__init__()
        self.cnn = nn.Conv2d(
            d_model, d_model, kernel_size=kernel_size, padding=(kernel_size - 1) // 2
        )
        self.pa = ScaledDotProductAttention(d_model, d_k=d_model, d_v=d_model, h=1)

    def forward(self, x):
        y = self.cnn(x).flatten(2).transpose(1, 2)  # b, h*w, c: positions are tokens
        return self.pa(y, y, y)


class ChannelAttentionModule(nn.Module):
    def __init__(self, d_model=512, kernel_size=3, H=7, W=7):
        super().__init__()
        self.cnn = nn.Conv2d(
            d_model, d_model, kernel_size=kernel_size, padding=(kernel_size - 1) // 2
        )
        self.pa = SimplifiedScaledDotProductAttention(H * W, h=1)

    def forward(self, x):
        y = self.cnn(x).flatten(2)  # b, c, h*w: channels are tokens
        return self.pa(y, y, y)


class DAModule(nn.Module):
    def __init__(self, d_model=512, kernel_size=3, H=7, W=7):
        super().__init__()
        self.position_attention_module = PositionAttentionModule(
            d_model=d_model, kernel_size=kernel_size, H=H, W=W
        )
        self.channel_attention_module = ChannelAttentionModule(
            d_model=d_model, kernel_size=kernel_size, H=H, W=W
        )

    def forward(self, input):
        b, c, h, w = input.shape
        p_out = (
            self.position_attention_module(input).transpose(1, 2).reshape(b, c, h, w)
        )
        c_out = self.channel_attention_module(input).reshape(b, c, h, w)
        return p_out + c_out
