"""The maths of the token-sequence catalogue references against an independent
formulation (torch's fused SDPA, einsum, explicit loops, another reference, a DFT written
out), in float64: attention variants, AFT, GFNet, Infini-attention, outlook, ViP."""

import math

import pytest
import torch
import torch.nn.functional as F

from .harness import assert_close_rel, randomize_
from .references.aft_full import AFT_FULL
from .references.aft_variants import AFTFull, AFTLocal, AFTSimple
from .references.gfnet import Block, GlobalFilter
from .references.infini_attention import InfiniAttention
from .references.mha import MultiHeadAttention
from .references.mobilevitv2_attention import MobileViTv2Attention
from .references.outlook import OutlookAttention
from .references.outlook_volo import OutlookAttention as VOLOOutlookAttention
from .references.simplified_sdpa import SimplifiedScaledDotProductAttention
from .references.ufo_attention import UFOAttention
from .references.vip import WeightedPermuteMLP

RTOL = 1e-10


def _rand(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def _ready(module, seed=1):
    return randomize_(module.double().eval(), seed)


def _heads(t, h):  # b, n, h*d -> b, h, n, d
    return t.unflatten(-1, (h, -1)).transpose(1, 2)


def test_simplified_sdpa_against_torch_sdpa():
    m = _ready(SimplifiedScaledDotProductAttention(d_model=32, h=4))
    q, k, v = _rand(2, 9, 32, seed=1), _rand(2, 7, 32, seed=2), _rand(2, 7, 32, seed=3)
    mask = torch.rand(2, 4, 9, 7, generator=torch.Generator().manual_seed(4)) < 0.3
    mask[..., 0] = False
    o = F.scaled_dot_product_attention(
        _heads(q, 4), _heads(k, 4), _heads(v, 4), attn_mask=~mask
    )
    with torch.no_grad():
        assert_close_rel(
            m(q, k, v, mask),
            m.fc_o(o.transpose(1, 2).flatten(2)),
            RTOL,
            "simplified sdpa",
        )


def test_mha_against_torch_sdpa_with_its_mask_convention():
    """mask == 0 is masked (-1e9, finite): a fully masked row is uniform, never NaN."""
    m = _ready(MultiHeadAttention(d_model=32, num_heads=4))
    q, k, v = _rand(2, 9, 32, seed=1), _rand(2, 7, 32, seed=2), _rand(2, 7, 32, seed=3)
    keep = (
        torch.rand(2, 1, 9, 7, generator=torch.Generator().manual_seed(4)) > 0.3
    ).long()
    keep[..., 0] = 1
    qh, kh, vh = _heads(m.Wq(q), 4), _heads(m.Wk(k), 4), _heads(m.Wv(v), 4)
    o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=keep.bool())
    with torch.no_grad():
        out, attn = m(q, k, v, keep)
        assert_close_rel(out, m.fc(o.transpose(1, 2).flatten(2)), RTOL, "mha output")
        assert torch.equal(
            attn * (keep == 0), torch.zeros_like(attn)
        )  # masked: no weight
        assert_close_rel(
            attn.sum(-1),
            torch.ones(2, 4, 9, dtype=torch.float64),
            RTOL,
            "rows sum to 1",
        )
        _, uniform = m(q, k, v, torch.zeros(2, 1, 9, 7))
        assert_close_rel(
            uniform, torch.full_like(uniform, 1 / 7), RTOL, "fully masked rows"
        )


def test_ufo_xnorm_by_hand():
    m = _ready(UFOAttention(d_model=32, d_k=8, d_v=4, h=4))
    q_in, kv_in = _rand(2, 9, 32, seed=1), _rand(2, 7, 32, seed=2)
    q, k, v = (
        _heads(m.fc_q(q_in), 4),
        _heads(m.fc_k(kv_in), 4),
        _heads(m.fc_v(kv_in), 4),
    )
    gamma = m.gamma.view(4)
    kv = torch.einsum("bhnk,bhnv->bhkv", k, v)
    kv = kv * gamma[None, :, None, None] / kv.square().sum(-1, keepdim=True).sqrt()
    qn = q * gamma[None, :, None, None] / q.square().sum(-1, keepdim=True).sqrt()
    out = torch.einsum("bhnk,bhkv->bnhv", qn, kv).flatten(2)
    with torch.no_grad():
        assert_close_rel(m(q_in, kv_in, kv_in), m.fc_o(out), RTOL, "ufo")


def test_mobilevitv2_by_hand():
    m = _ready(MobileViTv2Attention(d_model=16))
    x = _rand(2, 9, 16)
    scores = torch.einsum("bnd,d->bn", x, m.fc_i.weight[0]) + m.fc_i.bias
    w = torch.exp(scores - scores.amax(1, keepdim=True))
    w = w / w.sum(1, keepdim=True)
    context = torch.einsum("bn,bnd->bd", w, m.fc_k(x))
    with torch.no_grad():
        assert_close_rel(
            m(x), m.fc_o(m.fc_v(x) * context[:, None]), RTOL, "mobilevitv2"
        )


def test_aft_full_variant_is_upstream_aft_full_plus_a_projection():
    """With hidden = dim and an identity projection, seed 000's AFTFull is upstream's
    AFT_FULL (the existing, independently written reference)."""
    ours = _ready(AFTFull(max_seqlen=12, dim=8, hidden_dim=8))
    upstream = AFT_FULL(d_model=8, n=12).double().eval()
    with torch.no_grad():
        ours.project.weight.copy_(torch.eye(8))
        ours.project.bias.zero_()
        for a, b in (("to_q", "fc_q"), ("to_k", "fc_k"), ("to_v", "fc_v")):
            getattr(upstream, b).load_state_dict(getattr(ours, a).state_dict())
        upstream.position_biases.copy_(ours.wbias)
        x = _rand(2, 12, 8)
        assert_close_rel(ours(x), upstream(x), RTOL, "AFTFull vs AFT_FULL")


def test_aft_simple_is_aft_full_without_position_bias():
    full = _ready(AFTFull(max_seqlen=12, dim=8, hidden_dim=6))
    simple = AFTSimple(max_seqlen=12, dim=8, hidden_dim=6).double()
    with torch.no_grad():
        full.wbias.zero_()
        simple.load_state_dict(
            {k: v for k, v in full.state_dict().items() if k != "wbias"}
        )
        x = _rand(2, 10, 8)
        assert_close_rel(simple(x), full(x), RTOL, "aft simple")


def test_aft_local_by_hand():
    m = _ready(AFTLocal(max_seqlen=12, dim=8, hidden_dim=6, s=3))
    x = _rand(2, 10, 8)
    q, k, v = m.to_q(x), m.to_k(x), m.to_v(x)
    rows = []
    for t in range(10):  # sum over t' with bias w[t, t'] inside the band, 0 outside
        bias = torch.tensor(
            [m.wbias[t, u].item() if abs(t - u) < 3 else 0.0 for u in range(10)],
            dtype=torch.float64,
        )
        a = torch.softmax(k + bias[None, :, None], dim=1)
        rows.append(torch.sigmoid(q[:, t]) * (a * v).sum(dim=1))
    with torch.no_grad():
        assert_close_rel(m(x), m.project(torch.stack(rows, dim=1)), RTOL, "aft local")


def _dft(n, inverse=False):
    j = torch.arange(n, dtype=torch.float64)
    sign = 1.0 if inverse else -1.0
    return torch.exp(sign * 2j * math.pi * j[:, None] * j[None, :] / n) / math.sqrt(n)


@pytest.mark.parametrize("a,b", [(7, 7), (6, 6)])
def test_global_filter_is_a_spectral_product(a, b):
    """rfft2 -> complex filter -> irfft2, written with explicit DFT matrices: the half
    spectrum along the columns, then the real inverse that rebuilds the other half by
    Hermitian symmetry (for even b the Nyquist column's imaginary part drops, as irfft).
    """
    wdim = b // 2 + 1
    m = _ready(GlobalFilter(dim=3, h=a, w=wdim))
    x = _rand(2, a * b, 3)
    grid = x.view(2, a, b, 3).to(torch.complex128)
    spec = torch.einsum("ia,jb,nabc->nijc", _dft(a), _dft(b)[:wdim], grid)
    spec = spec * torch.complex(m.complex_weight[..., 0], m.complex_weight[..., 1])
    rows = torch.einsum(
        "ia,najc->nijc", _dft(a, inverse=True), spec
    )  # full inverse over a
    full = torch.zeros(2, a, b, 3, dtype=torch.complex128)
    full[:, :, :wdim] = rows
    for kk in range(wdim, b):  # the missing columns are conjugates of the kept ones
        full[:, :, kk] = rows[:, :, b - kk].conj()
    if b % 2 == 0:  # irfft reads only the real part of the Nyquist column
        full[:, :, b // 2] = rows[:, :, b // 2].real
    full[:, :, 0] = rows[:, :, 0].real
    out = torch.einsum("jb,najc->nabc", _dft(b, inverse=True), full).real
    with torch.no_grad():
        assert_close_rel(m(x), out.reshape(2, a * b, 3), 1e-12, "global filter")


def test_gfnet_block_is_residual_mlp_of_the_filter():
    m = _ready(Block(dim=8, h=4, w=3))
    x = _rand(2, 16, 8)
    with torch.no_grad():
        y = m.filter(F.layer_norm(x, (8,), m.norm1.weight, m.norm1.bias))
        y = F.layer_norm(y, (8,), m.norm2.weight, m.norm2.bias)
        y = m.mlp.fc2(F.gelu(m.mlp.fc1(y)))
        assert_close_rel(m(x), x + y, RTOL, "gfnet block")


def _infini_by_hand(m, x, delta):
    """Non-recurrent (linear) or per-token (delta) formulation of the memory."""
    b, n, _ = x.shape
    h, L = m.h, m.segment_len
    q, k, v = _heads(m.fc_q(x), h), _heads(m.fc_k(x), h), _heads(m.fc_v(x), h)
    sq, sk = F.elu(q) + 1, F.elu(k) + 1
    seg = torch.arange(n) // L
    pos = torch.arange(n)
    same = (seg[:, None] == seg[None, :]) & (pos[None, :] <= pos[:, None])
    logits = (q @ k.transpose(-1, -2) / math.sqrt(m.d_k)).masked_fill(~same, -math.inf)
    a_dot = logits.softmax(-1) @ v
    if not delta:  # memory of segment s = sum over the tokens of earlier segments
        earlier = (seg[None, :] < seg[:, None]).double()
        kernel = (sq @ sk.transpose(-1, -2)) * earlier  # b, h, n, n
        a_mem = (kernel @ v) / kernel.sum(-1, keepdim=True).clamp_min(1e-300)
    else:
        a_mem = torch.zeros_like(a_dot)
        M = torch.zeros(b, h, m.d_k, m.d_v, dtype=x.dtype)
        z = torch.zeros(b, h, m.d_k, dtype=x.dtype)
        for s in range(n // L):
            tokens = range(s * L, (s + 1) * L)
            if s > 0:
                for t in tokens:
                    num = torch.einsum("bhk,bhkv->bhv", sq[:, :, t], M)
                    a_mem[:, :, t] = (
                        num / torch.einsum("bhk,bhk->bh", sq[:, :, t], z)[..., None]
                    )
            update = torch.zeros_like(M)
            for t in tokens:
                stored = torch.einsum("bhk,bhkv->bhv", sk[:, :, t], M)
                if s > 0:
                    stored = (
                        stored / torch.einsum("bhk,bhk->bh", sk[:, :, t], z)[..., None]
                    )
                update += torch.einsum(
                    "bhk,bhv->bhkv", sk[:, :, t], v[:, :, t] - stored
                )
            M = M + update
            z = z + sk[:, :, tokens].sum(2)
    g = torch.sigmoid(m.beta)
    return m.fc_o((g * a_mem + (1 - g) * a_dot).transpose(1, 2).flatten(2))


@pytest.mark.parametrize("delta", [False, True])
def test_infini_attention_by_hand_and_causal(delta):
    m = _ready(
        InfiniAttention(d_model=16, d_k=4, d_v=6, h=2, segment_len=3, delta_rule=delta)
    )
    x = _rand(2, 12, 16)
    with torch.no_grad():
        out = m(x)
        assert_close_rel(
            out, _infini_by_hand(m, x, delta), RTOL, f"infini delta={delta}"
        )
        # causal across segments: the memory only holds earlier segments
        later = x.clone()
        later[:, 7:] += 1.0
        assert torch.equal(m(later)[:, :7], out[:, :7])
    with pytest.raises(ValueError, match="multiple of segment_len"):
        m(x[:, :10])


def _outlook_by_hand(m, x, k, p, s, heads, scale):
    """Every window gathers its k*k values, mixes them with its own k^2 x k^2 attention
    and scatters (adds) them back: no unfold, no fold."""
    B, H, W, C = x.shape
    hd = C // heads
    v = F.linear(
        x, getattr(m, "v_pj", None).weight if hasattr(m, "v_pj") else m.v.weight
    )
    pooled = F.avg_pool2d(x.permute(0, 3, 1, 2), s, s, ceil_mode=True).permute(
        0, 2, 3, 1
    )
    logits = m.attn(pooled)  # B, h, w, heads*k^4
    out = torch.zeros(B, H, W, C, dtype=x.dtype)
    for i in range(pooled.shape[1]):
        for j in range(pooled.shape[2]):
            cells = [(i * s - p + a, j * s - p + c) for a in range(k) for c in range(k)]
            vals = torch.stack(
                [
                    (
                        v[:, r, c]
                        if 0 <= r < H and 0 <= c < W
                        else torch.zeros(B, C, dtype=x.dtype)
                    )
                    for r, c in cells
                ],
                dim=1,
            )  # B, k*k, C
            att = (logits[:, i, j].view(B, heads, k * k, k * k) * scale).softmax(-1)
            mixed = torch.einsum(
                "bhmn,bnhd->bmhd", att, vals.view(B, k * k, heads, hd)
            ).reshape(B, k * k, C)
            for idx, (r, c) in enumerate(cells):
                if 0 <= r < H and 0 <= c < W:
                    out[:, r, c] += mixed[:, idx]
    return m.proj(out)


def test_outlook_by_hand_with_stride_2():
    m = _ready(OutlookAttention(dim=8, num_heads=2, stride=2))
    x = _rand(2, 5, 6, 8)
    with torch.no_grad():
        assert_close_rel(
            m(x), _outlook_by_hand(m, x, 3, 1, 2, 2, 4**-0.5), RTOL, "outlook"
        )


def test_volo_outlook_is_the_published_one_with_other_names():
    volo = _ready(
        VOLOOutlookAttention(
            dim=8, num_heads=2, kernel_size=5, padding=2, stride=2, qk_scale=0.3
        )
    )
    x = _rand(2, 5, 6, 8)
    with torch.no_grad():
        assert_close_rel(
            volo(x), _outlook_by_hand(volo, x, 5, 2, 2, 2, 0.3), RTOL, "volo outlook"
        )


def test_vip_permute_mixing_by_hand():
    m = _ready(WeightedPermuteMLP(dim=12, seg_dim=3))
    x = _rand(2, 3, 3, 12)
    B, H, W, C, g, S = 2, 3, 3, 12, 3, 4
    h_embed = torch.empty_like(x)
    w_embed = torch.empty_like(x)
    for seg in range(g):
        ch = slice(seg * S, (seg + 1) * S)
        for col in range(W):  # the segment's values down one column, as one vector
            h_embed[:, :, col, ch] = m.mlp_h(x[:, :, col, ch].reshape(B, H * S)).view(
                B, H, S
            )
        for row in range(H):
            w_embed[:, row, :, ch] = m.mlp_w(x[:, row, :, ch].reshape(B, W * S)).view(
                B, W, S
            )
    c_embed = m.mlp_c(x)
    a = m.reweighting.fc2(
        F.gelu(m.reweighting.fc1((c_embed + h_embed + w_embed).mean(dim=(1, 2))))
    )
    a = a.view(B, C, 3).softmax(dim=-1)
    mixed = (
        c_embed * a[:, None, None, :, 0]
        + w_embed * a[:, None, None, :, 1]
        + h_embed * a[:, None, None, :, 2]
    )
    with torch.no_grad():
        assert_close_rel(m(x), m.proj(mixed), RTOL, "vip")
