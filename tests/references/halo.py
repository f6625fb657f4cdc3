"""Reference: blocked local self-attention with halos, HaloNet (Vaswani et al. 2021,
arXiv:2103.12731), as in lucidrains' ``halonet-pytorch``.

Structure and names follow the published ``model/attention/HaloAttention.py`` (keyword-
only constructor; ``rel_pos_emb`` with ``rel_height`` / ``rel_width`` tables of
2 * (block + 2 * halo) - 1 rows; ``to_q``, ``to_kv``, ``to_out``), written without einops:
the map is cut into ``block_size`` x ``block_size`` query blocks; each block attends to
the (block + 2 * halo)^2 window around it (zero padding at the borders) with ``heads``
heads of ``dim_head`` channels; the queries are scaled by dim_head^-0.5 first, and the
logits get a relative-position term: for a query at (x, y) inside its block and a key at
(i, j) inside the window, ``q . rel_height[i - x + R - 1] + q . rel_width[j - y + R - 1]``
with R = block + 2 * halo. h and w must be multiples of ``block_size``.

INTENDED-MATH FIX (mask polarity): the published forward builds the mask as the unfold of
an all-ones map (1 = a real pixel, 0 = zero padding) and fills where it is True, so it
masks the *real* pixels: blocks at the border attend only to the padding and interior
blocks attend uniformly. lucidrains' current code masks ``~mask``. Here the padding
positions are masked (filled with the dtype's most negative value) and the real pixels
are attended.
"""

import torch
from torch import nn
from torch.nn import functional as F


class RelPosEmb(nn.Module):
    def __init__(self, block_size, rel_size, dim_head):
        super().__init__()
        scale = dim_head**-0.5
        self.block_size = block_size
        self.rel_size = rel_size
        self.rel_height = nn.Parameter(torch.randn(rel_size * 2 - 1, dim_head) * scale)
        self.rel_width = nn.Parameter(torch.randn(rel_size * 2 - 1, dim_head) * scale)

    def forward(self, q):
        """q: (n, block*block, d), queries row-major in their block -> logits
        (n, block*block, rel_size*rel_size), keys row-major in their window."""
        B, R = self.block_size, self.rel_size
        qx = torch.arange(B, device=q.device).repeat_interleave(B)  # query row
        qy = torch.arange(B, device=q.device).repeat(B)  # query column
        ki = torch.arange(R, device=q.device).repeat_interleave(R)  # key row
        kj = torch.arange(R, device=q.device).repeat(R)  # key column
        idx_h = ki[None, :] - qx[:, None] + R - 1  # block*block, R*R
        idx_w = kj[None, :] - qy[:, None] + R - 1
        logits_h = q @ self.rel_height.t()  # n, block*block, 2R-1
        logits_w = q @ self.rel_width.t()
        n = q.shape[0]
        return logits_h.gather(2, idx_h.expand(n, -1, -1)) + logits_w.gather(
            2, idx_w.expand(n, -1, -1)
        )


class HaloAttention(nn.Module):
    def __init__(self, *, dim, block_size, halo_size, dim_head=64, heads=8):
        super().__init__()
        assert halo_size > 0, "halo size must be greater than 0"
        self.dim = dim
        self.heads = heads
        self.scale = dim_head**-0.5
        self.block_size = block_size
        self.halo_size = halo_size
        inner_dim = dim_head * heads
        self.rel_pos_emb = RelPosEmb(
            block_size=block_size,
            rel_size=block_size + (halo_size * 2),
            dim_head=dim_head,
        )
        self.to_q = nn.Linear(dim, inner_dim, bias=False)
        self.to_kv = nn.Linear(dim, inner_dim * 2, bias=False)
        self.to_out = nn.Linear(inner_dim, dim)

    def _split_heads(self, t):  # (n, tokens, heads*d) -> (n*heads, tokens, d)
        n, tokens, _ = t.shape
        return (
            t.reshape(n, tokens, self.heads, -1)
            .transpose(1, 2)
            .reshape(n * self.heads, tokens, -1)
        )

    def forward(self, x):
        b, c, h, w = x.shape
        blk, halo = self.block_size, self.halo_size
        win = blk + 2 * halo
        nh, nw = h // blk, w // blk
        # queries: one row of blk*blk pixels per block (blocks row-major)
        q_inp = x.reshape(b, c, nh, blk, nw, blk).permute(0, 2, 4, 3, 5, 1)
        q_inp = q_inp.reshape(b * nh * nw, blk * blk, c)
        # keys/values: the win*win window around every block, zero-padded at the borders
        kv_inp = F.unfold(
            x, kernel_size=win, stride=blk, padding=halo
        )  # b, c*win*win, blocks
        kv_inp = kv_inp.reshape(b, c, win * win, nh * nw).permute(0, 3, 2, 1)
        kv_inp = kv_inp.reshape(b * nh * nw, win * win, c)

        q = self._split_heads(self.to_q(q_inp)) * self.scale
        k, v = (self._split_heads(t) for t in self.to_kv(kv_inp).chunk(2, dim=-1))
        sim = q @ k.transpose(1, 2) + self.rel_pos_emb(
            q
        )  # b*blocks*heads, blk^2, win^2

        # which window positions are real pixels (1) and which are padding (0)
        real = F.unfold(
            x.new_ones(1, 1, h, w), kernel_size=win, stride=blk, padding=halo
        )
        real = real[0].t().bool()  # blocks, win*win
        real = real[None, :, None, None, :].expand(b, -1, self.heads, 1, -1)
        real = real.reshape(b * nh * nw * self.heads, 1, win * win)
        sim = sim.masked_fill(~real, -torch.finfo(sim.dtype).max)  # mask the padding

        out = sim.softmax(dim=-1) @ v  # b*blocks*heads, blk^2, d
        out = out.reshape(b * nh * nw, self.heads, blk * blk, -1).transpose(1, 2)
        out = self.to_out(
            out.reshape(b * nh * nw, blk * blk, -1)
        )  # b*blocks, blk^2, dim
        out = out.reshape(b, nh, nw, blk, blk, self.dim).permute(0, 5, 1, 3, 2, 4)
        return out.reshape(b, self.dim, h, w)
