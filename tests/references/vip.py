"""Reference: the weighted permute MLP of Vision Permutator (Hou et al. 2021,
arXiv:2106.12368).

Structure and names follow the published ``model/attention/ViP.py`` (channels-last input
(B, H, W, C)): ``mlp_c`` mixes the channels; ``mlp_h`` / ``mlp_w`` mix along the height /
width after splitting the channels into ``seg_dim`` segments of S = C / seg_dim and
folding the height (width) into each segment's features (H*S of them); the three branches
are averaged over the positions, the ``reweighting`` MLP (dim -> dim/4 -> 3*dim, GELU,
dropout 0.1 hard-coded, as published) gives per-channel weights softmaxed over the
three branches, and the weighted sum is projected.

As published (and as in ViP itself) ``mlp_h``/``mlp_w`` are Linear(dim, dim) applied to
H*S (W*S) features, so H == W == seg_dim is required. The published weighting pairs the
reweighting outputs with (channel, width, height) in that order.
"""

from torch import nn


class MLP(nn.Module):
    def __init__(
        self, in_features, hidden_features, out_features, act_layer=nn.GELU, drop=0.1
    ):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class WeightedPermuteMLP(nn.Module):
    def __init__(self, dim, seg_dim=8, qkv_bias=False, proj_drop=0.0):
        super().__init__()
        self.seg_dim = seg_dim
        self.mlp_c = nn.Linear(dim, dim, bias=qkv_bias)
        self.mlp_h = nn.Linear(dim, dim, bias=qkv_bias)
        self.mlp_w = nn.Linear(dim, dim, bias=qkv_bias)
        self.reweighting = MLP(dim, dim // 4, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x):
        B, H, W, C = x.shape
        g, S = self.seg_dim, C // self.seg_dim
        segs = x.reshape(B, H, W, g, S)
        c_embed = self.mlp_c(x)
        # height mixing: each (segment, column) row holds the H*S values of that column
        h_embed = self.mlp_h(segs.permute(0, 3, 2, 1, 4).reshape(B, g, W, H * S))
        h_embed = (
            h_embed.reshape(B, g, W, H, S).permute(0, 3, 2, 1, 4).reshape(B, H, W, C)
        )
        # width mixing: each (segment, row) holds the W*S values of that row
        w_embed = self.mlp_w(segs.permute(0, 3, 1, 2, 4).reshape(B, g, H, W * S))
        w_embed = (
            w_embed.reshape(B, g, H, W, S).permute(0, 2, 3, 1, 4).reshape(B, H, W, C)
        )
        pooled = (c_embed + h_embed + w_embed).mean(dim=(1, 2))  # B, C
        weight = (
            self.reweighting(pooled).reshape(B, C, 3).permute(2, 0, 1).softmax(dim=0)
        )
        weight = weight[:, :, None, None, :]  # 3, B, 1, 1, C
        out = c_embed * weight[0] + w_embed * weight[1] + h_embed * weight[2]
        return self.proj_drop(self.proj(out))
