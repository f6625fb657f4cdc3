"""The maths of the feature-map catalogue references against an independent formulation
(einsum, explicit loops and windows, torch's fused SDPA, another reference, the seed
blocks' own algebra), in float64, eval mode (BatchNorm with its running statistics)."""

import pytest
import torch
import torch.nn.functional as F

from .harness import assert_close_rel, randomize_
from .references.bam import BAMBlock
from .references.cbam_res import ChannelAttention, SpatialAttention
from .references.coatnet import Conv2dStaticSamePadding
from .references.coord_attention import CoordAtt
from .references.cot import CoTAttention
from .references.danet import DAModule
from .references.eca import ECAAttention
from .references.halo import HaloAttention
from .references.mobilevit_attention import MobileViTAttention
from .references.non_local import NonLocalBlockND
from .references.parnet_attention import ParNetAttention
from .references.polarized_self_attention import (
    ParallelPolarizedSelfAttention,
    SequentialPolarizedSelfAttention,
)
from .references.psa import PSA
from .references.residual_attention import ResidualAttention
from .references.s2_attention import S2Attention
from .references.se import SEAttention
from .references.se_layer import SELayer
from .references.self_attn import Self_Attn_Channel, Self_Attn_Spatial
from .references.ske_conv import SKEConv
from .references.triplet_attention import TripletAttention

RTOL = 1e-10


def _rand(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def _ready(module, seed=1):
    return randomize_(module.double().eval(), seed)


def _bn(y, bn):
    """BatchNorm in eval mode, by its formula (channels on dim 1)."""
    shape = (1, -1) + (1,) * (y.dim() - 2)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return (y - bn.running_mean.view(shape)) * scale.view(shape) + bn.bias.view(shape)


def _conv1x1(conv, x):
    y = torch.einsum("oc,bc...->bo...", conv.weight.flatten(1), x)
    return (
        y if conv.bias is None else y + conv.bias.view((1, -1) + (1,) * (x.dim() - 2))
    )


def test_residual_attention_by_hand():
    m = _ready(ResidualAttention(channel=16, num_class=5, la=0.3))
    x = _rand(2, 16, 6, 5)
    s = _conv1x1(m.fc, x).flatten(2)
    with torch.no_grad():
        assert_close_rel(
            m(x), s.sum(2) / 30 + 0.3 * s.max(2).values, RTOL, "residual attention"
        )


def test_eca_is_a_conv_across_channels():
    m = _ready(ECAAttention(kernel_size=5))
    x = _rand(2, 9, 4, 3)
    d = F.pad(x.mean(dim=(2, 3)), (2, 2))  # b, c + 4, zero padded
    w = m.conv.weight.view(5)
    y = (
        torch.stack([(d[:, c : c + 5] * w).sum(1) for c in range(9)], dim=1)
        + m.conv.bias
    )
    with torch.no_grad():
        assert_close_rel(m(x), x * torch.sigmoid(y)[:, :, None, None], RTOL, "eca")


def test_bam_channel_branch_and_combination_by_hand():
    m = _ready(BAMBlock(channel=16, reduction=4, dia_val=2))
    x = _rand(2, 16, 7, 6)
    with torch.no_grad():
        z = x.mean(dim=(2, 3))
        for i in range(3):
            z = torch.relu(
                _bn(getattr(m.ca.ca, f"fc{i}")(z), getattr(m.ca.ca, f"bn{i}"))
            )
        ca = m.ca.ca.last_fc(z)[:, :, None, None]
        sa = m.sa.sa(x)  # (its dilated convs are checked in test_catalogue_fixes)
        assert_close_rel(m(x), (1 + torch.sigmoid(ca + sa)) * x, RTOL, "bam")


def test_damodule_is_two_attentions_over_positions_and_channels():
    m = _ready(DAModule(d_model=8, kernel_size=3, H=4, W=5))
    x = _rand(2, 8, 4, 5)
    with torch.no_grad():
        pam, cam = m.position_attention_module, m.channel_attention_module
        y = pam.cnn(x).flatten(2).transpose(1, 2)  # b, 20 positions, 8
        pa = pam.pa
        o = F.scaled_dot_product_attention(pa.fc_q(y), pa.fc_k(y), pa.fc_v(y))
        p_out = pa.fc_o(o).transpose(1, 2).reshape(2, 8, 4, 5)
        y = cam.cnn(x).flatten(2)  # b, 8 channels, 20
        c_out = cam.pa.fc_o(F.scaled_dot_product_attention(y, y, y)).reshape(2, 8, 4, 5)
        assert_close_rel(m(x), p_out + c_out, RTOL, "danet")


def test_psa_by_hand():
    m = _ready(PSA(channel=16, reduction=2, S=2))
    x = _rand(2, 16, 5, 4)
    with torch.no_grad():
        feats, weights = [], []
        for i in range(2):
            conv = m.convs[i]
            f = F.conv2d(x[:, 8 * i : 8 * i + 8], conv.weight, conv.bias, padding=i + 1)
            se = m.se_blocks[i]
            hidden = torch.relu(_conv1x1(se[1], f.mean(dim=(2, 3), keepdim=True)))
            feats.append(f)
            weights.append(torch.sigmoid(_conv1x1(se[3], hidden)))
        e = [torch.exp(w) for w in weights]  # softmax across the two groups
        want = torch.cat([feats[i] * e[i] / (e[0] + e[1]) for i in range(2)], dim=1)
        assert_close_rel(m(x), want, RTOL, "psa")


@pytest.mark.parametrize(
    "cls", [SequentialPolarizedSelfAttention, ParallelPolarizedSelfAttention]
)
def test_polarized_self_attention_by_hand(cls):
    m = _ready(cls(channel=8))
    x = _rand(2, 8, 5, 4)

    def channel_weight(t):
        wq = torch.softmax(
            _conv1x1(m.ch_wq, t).flatten(1), dim=1
        )  # over the 20 positions
        pooled = torch.einsum("bcn,bn->bc", _conv1x1(m.ch_wv, t).flatten(2), wq)
        z = F.layer_norm(
            _conv1x1(m.ch_wz, pooled[:, :, None, None]).flatten(1),
            (8,),
            m.ln.weight,
            m.ln.bias,
        )
        return torch.sigmoid(z)[:, :, None, None]

    def spatial_weight(t):
        wq = torch.softmax(_conv1x1(m.sp_wq, t).mean(dim=(2, 3)), dim=1)  # over the c/2
        z = torch.einsum("bc,bchw->bhw", wq, _conv1x1(m.sp_wv, t))
        return torch.sigmoid(z)[:, None]

    with torch.no_grad():
        if cls is SequentialPolarizedSelfAttention:
            c = channel_weight(x) * x
            want = spatial_weight(c) * c
        else:
            want = channel_weight(x) * x + spatial_weight(x) * x
        assert_close_rel(m(x), want, RTOL, cls.__name__)


def test_cot_by_hand():
    m = _ready(CoTAttention(dim=8, kernel_size=3))
    x = _rand(2, 8, 5, 4)
    with torch.no_grad():
        k1 = torch.relu(
            _bn(F.conv2d(x, m.key_embed[0].weight, padding=1, groups=4), m.key_embed[1])
        )
        v = _bn(_conv1x1(m.value_embed[0], x), m.value_embed[1]).flatten(2)
        a = torch.relu(
            _bn(
                _conv1x1(m.attention_embed[0], torch.cat([k1, x], 1)),
                m.attention_embed[1],
            )
        )
        a = _conv1x1(m.attention_embed[3], a).view(2, 8, 9, 20).mean(2)
        want = k1 + (torch.softmax(a, dim=-1) * v).view(2, 8, 5, 4)
        assert_close_rel(m(x), want, RTOL, "cot")


def test_s2_attention_with_copy_based_shifts():
    """The whole block against shifts written as copies from a separate source tensor
    (what the published in-place assignments mean when source and target do not overlap).
    """
    m = _ready(S2Attention(channels=8))
    x = _rand(2, 8, 4, 5)

    def shift(t, moves):
        out = t.clone()
        for q, (axis, step) in enumerate(moves):
            ch = slice(2 * q, 2 * q + 2)
            src = [slice(None)] * 3 + [ch]
            dst = [slice(None)] * 3 + [ch]
            n = t.shape[axis]
            dst[axis], src[axis] = (
                (slice(1, n), slice(0, n - 1))
                if step == 1
                else (slice(0, n - 1), slice(1, n))
            )
            out[tuple(dst)] = t[tuple(src)]
        return out

    with torch.no_grad():
        y = m.mlp1(x.permute(0, 2, 3, 1))
        x1 = shift(y[..., :8], [(1, 1), (1, -1), (2, 1), (2, -1)])
        x2 = shift(y[..., 8:16], [(2, 1), (2, -1), (1, 1), (1, -1)])
        branches = torch.stack([x1, x2, y[..., 16:]], dim=1)  # b, 3, h, w, c
        sa = m.split_attention
        a = (
            sa.mlp2(F.gelu(sa.mlp1(branches.sum(dim=(1, 2, 3)))))
            .view(2, 3, 8)
            .softmax(dim=1)
        )
        mixed = (branches * a[:, :, None, None, :]).sum(1)
        assert_close_rel(m(x), m.mlp2(mixed).permute(0, 3, 1, 2), RTOL, "s2 attention")


def test_triplet_attention_gates_by_hand():
    m = _ready(TripletAttention())
    x = _rand(2, 6, 5, 4)

    def gate(g, t):  # t: the rotated map, its leading axis pooled
        pooled = torch.stack([t.amax(1), t.mean(1)], dim=1)
        return t * torch.sigmoid(
            _bn(F.conv2d(pooled, g.conv.conv.weight, padding=3), g.conv.bn)
        )

    with torch.no_grad():
        cw = gate(m.cw, x.transpose(1, 2)).transpose(1, 2)  # channels <-> height
        hc = gate(m.hc, x.transpose(1, 3)).transpose(1, 3)  # channels <-> width
        assert_close_rel(m(x), (gate(m.hw, x) + cw + hc) / 3, RTOL, "triplet")


def test_coord_attention_by_hand():
    m = _ready(CoordAtt(inp=16, oup=16, reduction=4))
    x = _rand(2, 16, 5, 4)
    with torch.no_grad():
        strips = torch.cat([x.mean(3), x.mean(2)], dim=2)  # b, c, h + w
        y = _bn(_conv1x1(m.conv1, strips), m.bn1)
        y = y * torch.clamp(y + 3, 0, 6) / 6  # h-swish
        a_h = torch.sigmoid(_conv1x1(m.conv_h, y[:, :, :5]))[:, :, :, None]
        a_w = torch.sigmoid(_conv1x1(m.conv_w, y[:, :, 5:]))[:, :, None, :]
        assert_close_rel(m(x), x * a_h * a_w, RTOL, "coord attention")


def test_parnet_by_hand():
    m = _ready(ParNetAttention(channel=8))
    x = _rand(2, 8, 5, 4)
    with torch.no_grad():
        y = _bn(_conv1x1(m.conv1x1[0], x), m.conv1x1[1])
        y = y + _bn(
            F.conv2d(x, m.conv3x3[0].weight, m.conv3x3[0].bias, padding=1), m.conv3x3[1]
        )
        y = y + torch.sigmoid(_conv1x1(m.sse[1], x.mean(dim=(2, 3), keepdim=True))) * x
        assert_close_rel(m(x), F.silu(y), RTOL, "parnet")


def test_mobilevit_transformer_sees_one_sequence_per_patch_offset():
    """The pixels at the same offset (i, j) of every patch form one sequence, patches in
    row-major order: checked with strided slicing, no reshape."""
    m = _ready(MobileViTAttention(in_channel=3, dim=16, kernel_size=3, patch_size=2))
    x = _rand(2, 3, 4, 6)
    seen = {}
    m.trans.register_forward_hook(
        lambda mod, args, out: seen.update(inp=args[0], out=out)
    )
    with torch.no_grad():
        got = m(x)
        y = m.conv2(m.conv1(x))  # b, 16, 4, 6
        for i in range(2):
            for j in range(2):
                want = (
                    y[:, :, i::2, j::2].flatten(2).transpose(1, 2)
                )  # b, 6 patches, 16
                assert torch.equal(seen["inp"][:, 2 * i + j], want)
        back = torch.empty_like(y)
        for i in range(2):
            for j in range(2):
                back[:, :, i::2, j::2] = (
                    seen["out"][:, 2 * i + j].transpose(1, 2).reshape(2, 16, 2, 3)
                )
        want = m.conv4(torch.cat([x, m.conv3(back)], dim=1))
        assert_close_rel(got, want, RTOL, "mobilevit fusion")


def test_halo_attention_pixel_by_pixel():
    """Every query pixel attends to the real pixels of its block's window, with the
    relative-position logits q . (rel_height[key row - query row + R - 1] + rel_width[...]).
    """
    m = _ready(HaloAttention(dim=6, block_size=2, halo_size=1, dim_head=3, heads=2))
    x = _rand(2, 6, 4, 6)
    px = x.permute(0, 2, 3, 1)  # b, h, w, c
    q = F.linear(px, m.to_q.weight) * 3**-0.5
    k, v = F.linear(px, m.to_kv.weight).chunk(2, dim=-1)
    R, out = 4, torch.zeros(2, 4, 6, 6, dtype=torch.float64)
    for r in range(4):
        for c in range(6):
            r0, c0 = (r // 2) * 2 - 1, (c // 2) * 2 - 1  # the window's top-left corner
            keys = [
                (a, b)
                for a in range(r0, r0 + R)
                for b in range(c0, c0 + R)
                if 0 <= a < 4 and 0 <= b < 6
            ]
            heads = []
            for h in range(2):
                qh = q[:, r, c, 3 * h : 3 * h + 3]
                logits = torch.stack(
                    [
                        (
                            qh
                            * (
                                k[:, a, b, 3 * h : 3 * h + 3]
                                + m.rel_pos_emb.rel_height[a - r0 - r % 2 + R - 1]
                                + m.rel_pos_emb.rel_width[b - c0 - c % 2 + R - 1]
                            )
                        ).sum(-1)
                        for a, b in keys
                    ],
                    dim=1,
                )
                att = torch.softmax(logits, dim=1)
                heads.append(
                    sum(
                        att[:, n, None] * v[:, a, b, 3 * h : 3 * h + 3]
                        for n, (a, b) in enumerate(keys)
                    )
                )
            out[:, r, c] = torch.cat(heads, dim=-1)
    with torch.no_grad():
        assert_close_rel(m(x), m.to_out(out).permute(0, 3, 1, 2), RTOL, "halo")


def test_static_same_padding_is_same_padding():
    conv = Conv2dStaticSamePadding(4, 4, 3, image_size=7, groups=4, bias=False).double()
    x = _rand(2, 4, 7, 7)
    with torch.no_grad():
        assert_close_rel(
            conv(x),
            F.conv2d(x, conv.weight, padding="same", groups=4),
            RTOL,
            "same padding",
        )


def test_se_layer_is_se_attention():
    se = _ready(SEAttention(channel=8, reduction=2))
    layer = SELayer(channel=8, reduction=2).double().eval()
    layer.load_state_dict(se.state_dict())
    x = _rand(3, 8, 5, 4)
    with torch.no_grad():
        assert torch.equal(layer(x), se(x))


def test_seed_cbam_blocks_by_hand():
    ca, sa = _ready(ChannelAttention(8, reduction=2)), _ready(
        SpatialAttention(kernel_size=5)
    )
    x = _rand(2, 8, 5, 4)

    def mlp(t):
        return _conv1x1(ca.sharedMLP[2], torch.relu(_conv1x1(ca.sharedMLP[0], t)))

    with torch.no_grad():
        w = torch.sigmoid(
            mlp(x.mean(dim=(2, 3), keepdim=True))
            + mlp(x.amax(dim=(2, 3), keepdim=True))
        )
        assert_close_rel(ca(x), x * w, RTOL, "seed channel attention")
        pooled = torch.stack(
            [x.mean(1), x.amax(1)], dim=1
        )  # [avg, max], the seed's order
        assert_close_rel(
            sa(x),
            x * torch.sigmoid(F.conv2d(pooled, sa.conv.weight, padding=2)),
            RTOL,
            "seed spatial",
        )


def test_ske_conv_by_hand():
    m = _ready(SKEConv(8, M=2, G=2, L=4, reduction=2))
    x = _rand(2, 8, 5, 4)
    with torch.no_grad():
        feats = []
        for i, branch in enumerate(m.convs):
            y = F.conv2d(x, branch[0].weight, branch[0].bias, padding=1 + i, groups=2)
            feats.append(torch.relu(_bn(y, branch[1])))
        z = m.fc(sum(f.mean(dim=(2, 3)) for f in feats))
        a = torch.softmax(
            torch.stack([fc(z) for fc in m.fcs], dim=0), dim=0
        )  # over branches
        assert_close_rel(
            m(x), sum(a[i][:, :, None, None] * feats[i] for i in range(2)), RTOL, "ske"
        )


def test_self_attention_layers_by_hand():
    sp, ch = _ready(Self_Attn_Spatial(8, 2)), _ready(Self_Attn_Channel(8, 4))
    x = _rand(2, 8, 3, 4)
    with torch.no_grad():
        q, k, v = (
            _conv1x1(c, x).flatten(2)
            for c in (sp.query_conv, sp.key_conv, sp.value_conv)
        )
        attn = torch.softmax(
            torch.einsum("bcn,bcm->bnm", q, k), dim=-1
        )  # over the keys m
        out, got_attn = sp(x)
        assert_close_rel(got_attn, attn, RTOL, "spatial attention map")
        assert_close_rel(
            out,
            sp.gamma * torch.einsum("bnm,bcm->bcn", attn, v).view_as(x) + x,
            RTOL,
            "spatial",
        )
        q, k, v = (
            _conv1x1(c, x).flatten(2)
            for c in (ch.query_conv, ch.key_conv, ch.value_conv)
        )
        attn = torch.softmax(torch.einsum("bcn,bdn->bcd", q, k), dim=-1)
        out, got_attn = ch(x)
        assert_close_rel(got_attn, attn, RTOL, "channel attention map")
        want = ch.gamma * torch.einsum("bcd,bdn->bcn", attn, v).view(
            2, 4, 3, 4
        ) + _conv1x1(ch.x_conv, x)
        assert_close_rel(out, want, RTOL, "channel")


@pytest.mark.parametrize(
    "dimension,shape", [(1, (2, 8, 6)), (2, (2, 8, 4, 6)), (3, (2, 8, 3, 4, 6))]
)
def test_non_local_by_hand(dimension, shape):
    m = _ready(NonLocalBlockND(8, inter_channels=4, dimension=dimension))
    x = _rand(*shape)
    pool = {
        1: lambda t: F.max_pool1d(t, 2),
        2: lambda t: F.max_pool2d(t, 2),
        3: lambda t: F.max_pool3d(t, (1, 2, 2)),
    }[dimension]
    with torch.no_grad():
        theta = _conv1x1(m.theta, x).flatten(2)  # b, 4, N
        phi = pool(_conv1x1(m.phi[0], x)).flatten(2)  # b, 4, N/2 or N/4
        g = pool(_conv1x1(m.g[0], x)).flatten(2)
        f = torch.softmax(torch.einsum("bcn,bcm->bnm", theta, phi), dim=-1)
        y = torch.einsum("bnm,bcm->bcn", f, g).reshape(2, 4, *shape[2:])
        assert_close_rel(
            m(x), _bn(_conv1x1(m.W[0], y), m.W[1]) + x, RTOL, f"non-local {dimension}d"
        )
        fresh = (
            NonLocalBlockND(8, inter_channels=4, dimension=dimension).double().eval()
        )
        assert torch.equal(
            fresh(x), x
        )  # W's BN is zero-initialised: the identity at init
