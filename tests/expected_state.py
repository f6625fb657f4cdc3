"""The expected ``state_dict`` (key -> shape, in order) of every ``PENDING_CASES`` row.

For the mechanisms INTERFACES.md lists, the builders below reproduce its listing at its
example configuration, key for key and in its order, except where the reference fixes a
published bug that INTERFACES.md records (each said where it happens):
- DAModule: INTERFACES.md lists the published 512-wide shapes at d_model=64 (the published
  module ignores its arguments); here the shapes follow the arguments. At d_model=512 the
  two agree (test_catalogue_references.py checks that literal listing);
- PSA: INTERFACES.md lists an empty state_dict (the published layers are unregistered);
  here they are registered;
- S2Attention: INTERFACES.md lists ``split_attention`` at 512 channels next to a 64-channel
  ``mlp1`` (the published SplitAttention ignores ``channels``); here it follows ``channels``.
The rest (seed 000 / 003 modules, GFNet, Infini-attention, the VOLO outlook) are not in
INTERFACES.md; their keys follow the seed's structure (Infini-attention: ours).
"""

from __future__ import annotations

Keys = dict[str, tuple[int, ...]]


def lin(name: str, o: int, i: int, bias: bool = True) -> Keys:
    keys = {f"{name}.weight": (o, i)}
    if bias:
        keys[f"{name}.bias"] = (o,)
    return keys


def conv(name: str, o: int, i: int, *kernel: int, bias: bool = True) -> Keys:
    keys = {f"{name}.weight": (o, i, *kernel)}
    if bias:
        keys[f"{name}.bias"] = (o,)
    return keys


def bn(name: str, c: int) -> Keys:
    keys = {
        f"{name}.{p}": (c,) for p in ("weight", "bias", "running_mean", "running_var")
    }
    keys[f"{name}.num_batches_tracked"] = ()
    return keys


def ln(name: str, c: int) -> Keys:
    return {f"{name}.weight": (c,), f"{name}.bias": (c,)}


def qkvo(
    d_model: int, dq: int, dv: int, names=("fc_q", "fc_k", "fc_v", "fc_o")
) -> Keys:
    q, k, v, o = names
    return {
        **lin(q, dq, d_model),
        **lin(k, dq, d_model),
        **lin(v, dv, d_model),
        **lin(o, d_model, dv),
    }


def bam(c: int, r: int) -> Keys:
    m = c // r
    keys: Keys = {}
    for i, width in enumerate([c, m, m]):
        keys.update({**lin(f"ca.ca.fc{i}", m, width), **bn(f"ca.ca.bn{i}", m)})
    keys.update(lin("ca.ca.last_fc", c, m))
    keys.update({**conv("sa.sa.conv_reduce1", m, c, 1, 1), **bn("sa.sa.bn_reduce1", m)})
    for i in range(3):
        keys.update({**conv(f"sa.sa.conv_{i}", m, m, 3, 3), **bn(f"sa.sa.bn_{i}", m)})
    return {**keys, **conv("sa.sa.last_conv", 1, m, 1, 1)}


def danet(c: int, k: int, hw: int) -> Keys:
    p, ch = "position_attention_module", "channel_attention_module"
    return {
        **conv(f"{p}.cnn", c, c, k, k),
        **qkvo(c, c, c, tuple(f"{p}.pa.{n}" for n in ("fc_q", "fc_k", "fc_v", "fc_o"))),
        **conv(f"{ch}.cnn", c, c, k, k),
        **lin(f"{ch}.pa.fc_o", hw, hw),
    }


def psa(c: int, r: int, S: int) -> Keys:
    w = c // S
    keys = {}
    for i in range(S):
        keys.update(conv(f"convs.{i}", w, w, 2 * i + 3, 2 * i + 3))
    for i in range(S):
        keys.update({f"se_blocks.{i}.1.weight": (c // (S * r), w, 1, 1)})
        keys.update({f"se_blocks.{i}.3.weight": (w, c // (S * r), 1, 1)})
    return keys


def polarized(c: int) -> Keys:
    return {
        **conv("ch_wv", c // 2, c, 1, 1),
        **conv("ch_wq", 1, c, 1, 1),
        **conv("ch_wz", c, c // 2, 1, 1),
        **ln("ln", c),
        **conv("sp_wv", c // 2, c, 1, 1),
        **conv("sp_wq", c // 2, c, 1, 1),
    }


def cot(c: int, k: int) -> Keys:
    return {
        "key_embed.0.weight": (c, c // 4, k, k),
        **bn("key_embed.1", c),
        "value_embed.0.weight": (c, c, 1, 1),
        **bn("value_embed.1", c),
        "attention_embed.0.weight": (c // 2, 2 * c, 1, 1),
        **bn("attention_embed.1", c // 2),
        **conv("attention_embed.3", k * k * c, c // 2, 1, 1),
    }


def s2(c: int) -> Keys:
    return {
        **lin("mlp1", 3 * c, c),
        **lin("mlp2", c, c),
        **lin("split_attention.mlp1", c, c, bias=False),
        **lin("split_attention.mlp2", 3 * c, c, bias=False),
    }


def triplet(spatial: bool = True) -> Keys:
    keys = {}
    for gate in ("cw", "hc", "hw") if spatial else ("cw", "hc"):
        keys.update(
            {f"{gate}.conv.conv.weight": (1, 2, 7, 7), **bn(f"{gate}.conv.bn", 1)}
        )
    return keys


def coord(c: int, mip: int) -> Keys:
    return {
        **conv("conv1", mip, c, 1, 1),
        **bn("bn1", mip),
        **conv("conv_h", c, mip, 1, 1),
        **conv("conv_w", c, mip, 1, 1),
    }


def mobilevit(cin: int, dim: int, k: int) -> Keys:
    keys = {**conv("conv1", cin, cin, k, k), **conv("conv2", dim, cin, 1, 1)}
    for i in range(3):
        a, f = f"trans.layers.{i}.0", f"trans.layers.{i}.1"
        keys.update(
            {
                **ln(f"{a}.ln", dim),
                **lin(f"{a}.fn.to_qkv", 1536, dim, bias=False),
                **lin(f"{a}.fn.to_out.0", dim, 512),
            }
        )
        keys.update(
            {
                **ln(f"{f}.ln", dim),
                **lin(f"{f}.fn.net.0", 1024, dim),
                **lin(f"{f}.fn.net.3", dim, 1024),
            }
        )
    return {
        **keys,
        **conv("conv3", cin, dim, 1, 1),
        **conv("conv4", cin, 2 * cin, k, k),
    }


def parnet(c: int) -> Keys:
    return {
        **conv("sse.1", c, c, 1, 1),
        **conv("conv1x1.0", c, c, 1, 1),
        **bn("conv1x1.1", c),
        **conv("conv3x3.0", c, c, 3, 3),
        **bn("conv3x3.1", c),
    }


def halo(dim: int, block: int, halo_: int, dim_head: int, heads: int) -> Keys:
    rel = 2 * (block + 2 * halo_) - 1
    inner = dim_head * heads
    return {
        "rel_pos_emb.rel_height": (rel, dim_head),
        "rel_pos_emb.rel_width": (rel, dim_head),
        **lin("to_q", inner, dim, bias=False),
        **lin("to_kv", 2 * inner, dim, bias=False),
        **lin("to_out", dim, inner),
    }


def coatnet(cin: int, chs: list[int]) -> Keys:
    keys = {
        **conv("s0.0", cin, cin, 3, 3),
        **conv("s0.2", cin, cin, 3, 3),
        **conv("mlp0.0", chs[0], cin, 1, 1),
        **conv("mlp0.2", chs[0], chs[0], 1, 1),
    }
    for s, c in ((1, chs[0]), (2, chs[1])):
        keys.update(
            {
                f"s{s}._depthwise_conv.weight": (c, 1, 3, 3),
                **bn(f"s{s}._bn1", c),
                **conv(f"s{s}._se_reduce", c // 4, c, 1, 1),
                **conv(f"s{s}._se_expand", c, c // 4, 1, 1),
                f"s{s}._project_conv.weight": (c, c, 1, 1),
                **bn(f"s{s}._bn2", c),
            }
        )
        keys.update(
            {
                **conv(f"mlp{s}.0", chs[s], c, 1, 1),
                **conv(f"mlp{s}.2", chs[s], chs[s], 1, 1),
            }
        )
    for s in (3, 4):
        c = chs[s - 1]
        keys.update(
            qkvo(c, c, c, tuple(f"s{s}.{n}" for n in ("fc_q", "fc_k", "fc_v", "fc_o")))
        )
        keys.update({**lin(f"mlp{s}.0", chs[s], c), **lin(f"mlp{s}.2", chs[s], chs[s])})
    return keys


def outlook(dim: int, heads: int, k: int, v_name: str = "v_pj") -> Keys:
    return {
        **lin(v_name, dim, dim, bias=False),
        **lin("attn", k**4 * heads, dim),
        **lin("proj", dim, dim),
    }


def vip(dim: int, bias: bool = False) -> Keys:
    return {
        **lin("mlp_c", dim, dim, bias),
        **lin("mlp_h", dim, dim, bias),
        **lin("mlp_w", dim, dim, bias),
        **lin("reweighting.fc1", dim // 4, dim),
        **lin("reweighting.fc2", 3 * dim, dim // 4),
        **lin("proj", dim, dim),
    }


def muse(d: int, dk: int, dv: int, h: int) -> Keys:
    hv = h * dv
    keys = {
        "dy_paras": (3,),
        **qkvo(d, h * dk, hv),
        **conv("conv1.pointwise_conv", d, hv, 1),
    }
    for k in (3, 5):
        keys.update(
            {
                **conv(f"conv{k}.depth_conv", hv, 1, k),
                **conv(f"conv{k}.pointwise_conv", d, hv, 1),
            }
        )
    return keys


def aft(dim: int, hidden: int, T: int | None) -> Keys:
    keys = {"wbias": (T, T)} if T else {}
    return {
        **keys,
        **lin("to_q", hidden, dim),
        **lin("to_k", hidden, dim),
        **lin("to_v", hidden, dim),
        **lin("project", dim, hidden),
    }


def gfnet_block(dim: int, h: int, w: int, ratio: int = 4) -> Keys:
    return {
        **ln("norm1", dim),
        "filter.complex_weight": (h, w, dim, 2),
        **ln("norm2", dim),
        **lin("mlp.fc1", ratio * dim, dim),
        **lin("mlp.fc2", dim, ratio * dim),
    }


def cbam_res(cin: int, cout: int, k: int, r: int) -> Keys:
    return {
        **conv("conv_res", cout, cin, 1, 1),
        **conv("conv1", cout, cin, k, k),
        **bn("bn1", cout),
        "ca.sharedMLP.0.weight": (cout // r, cout, 1, 1),
        "ca.sharedMLP.2.weight": (cout, cout // r, 1, 1),
        "sa.conv.weight": (1, 2, k, k),
    }


def ske(c: int, M: int, G: int, d: int) -> Keys:
    keys = {}
    for i in range(M):
        k = 3 + 2 * i
        keys.update({**conv(f"convs.{i}.0", c, c // G, k, k), **bn(f"convs.{i}.1", c)})
    keys.update(lin("fc", d, c))
    for i in range(M):
        keys.update(lin(f"fcs.{i}", c, d))
    return keys


def self_attn(cin: int, cout: int, channel: bool) -> Keys:
    keys = {
        "gamma": (1,),
        **conv("query_conv", cout, cin, 1, 1),
        **conv("key_conv", cout, cin, 1, 1),
    }
    if not channel:
        return {**keys, **conv("value_conv", cin, cin, 1, 1)}
    return {
        **keys,
        **conv("value_conv", cout, cin, 1, 1),
        **conv("x_conv", cout, cin, 1, 1),
    }


def non_local(
    c: int, inter: int, dim: int, sub: bool = True, use_bn: bool = True
) -> Keys:
    k = (1,) * dim
    sub_name = lambda n: f"{n}.0" if sub else n  # noqa: E731
    w = (
        {**conv("W.0", c, inter, *k), **bn("W.1", c)}
        if use_bn
        else conv("W", c, inter, *k)
    )
    return {
        **conv(sub_name("g"), inter, c, *k),
        **w,
        **conv("theta", inter, c, *k),
        **conv(sub_name("phi"), inter, c, *k),
    }


# fmt: off
PENDING_STATE: dict[str, Keys] = {
    "residual_attention": {"fc.weight": (10, 64, 1, 1)},
    "residual_attention-nonsquare": {"fc.weight": (5, 32, 1, 1)},
    "bam": bam(64, 16),
    "bam-dia2": bam(32, 8),
    "eca": {"conv.weight": (1, 1, 3), "conv.bias": (1,)},
    "eca-k5-nonsquare": {"conv.weight": (1, 1, 5), "conv.bias": (1,)},
    "danet": danet(64, 3, 49),
    "danet-k5-nonsquare": danet(32, 5, 30),
    "psa": psa(64, 4, 4),
    "psa-s2-nonsquare": psa(32, 2, 2),
    "polarized_self_attention-sequential": polarized(64),
    "polarized_self_attention-parallel": polarized(64),
    "polarized_self_attention-parallel-nonsquare": polarized(32),
    "cot": cot(64, 3),
    "cot-k5-nonsquare": cot(32, 5),
    "s2_attention": s2(64),
    "s2_attention-nonsquare": s2(32),
    "triplet_attention": triplet(),
    "triplet_attention-nospatial": triplet(spatial=False),
    "coord_attention": coord(64, 8),
    "mobilevit_attention": mobilevit(3, 64, 3),
    "mobilevit_attention-p2-nonsquare": mobilevit(3, 16, 3),
    "parnet_attention": parnet(64),
    "halo": halo(64, 2, 1, 16, 4),
    "halo-b4-h2-nonsquare": halo(32, 4, 2, 8, 2),
    "coatnet": coatnet(3, [64, 96, 192, 384, 768]),
    "coatnet-small": coatnet(3, [16, 24, 32, 48, 64]),
    "outlook": outlook(64, 1, 3),
    "outlook-s2-h2": outlook(64, 2, 3),
    "outlook-k5": outlook(32, 1, 5),
    "outlook_volo": outlook(64, 2, 3, v_name="v"),
    "outlook_volo-s2-scale": outlook(32, 4, 3, v_name="v"),
    "vip": vip(64),
    "vip-bias": vip(48, bias=True),
    "simplified_sdpa": lin("fc_o", 64, 64),
    "simplified_sdpa-nk30-mask-weights": lin("fc_o", 64, 64),
    "muse": muse(64, 16, 16, 4),
    "muse-dk8-mask-weights": muse(64, 8, 16, 4),
    "ufo_attention": {"gamma": (1, 4, 1, 1), **qkvo(64, 64, 64)},
    "ufo_attention-nk30-dv8": {"gamma": (1, 4, 1, 1), **qkvo(64, 64, 32)},
    "mobilevitv2_attention": {
        **lin("fc_i", 1, 64),
        **lin("fc_k", 64, 64),
        **lin("fc_v", 64, 64),
        **lin("fc_o", 64, 64),
    },
    "aft_variants-full": aft(64, 32, 49),
    "aft_variants-full-short": aft(64, 32, 49),
    "aft_variants-simple": aft(64, 32, None),
    "aft_variants-local": aft(64, 32, 49),
    "gfnet-filter": {"complex_weight": (7, 4, 64, 2)},
    "gfnet-filter-even": {"complex_weight": (8, 5, 32, 2)},
    "gfnet-block": gfnet_block(64, 7, 4),
    "infini_attention": {"beta": (1, 4, 1, 1), **qkvo(64, 64, 64)},
    "infini_attention-delta": {"beta": (1, 4, 1, 1), **qkvo(64, 32, 64)},
    "mha": qkvo(64, 64, 64, ("Wq", "Wk", "Wv", "fc")),
    "mha-mask": qkvo(64, 64, 64, ("Wq", "Wk", "Wv", "fc")),
    "se_layer": {"fc.0.weight": (4, 8), "fc.2.weight": (8, 4)},
    "se_layer-channel-first": {"fc.0.weight": (2, 8), "fc.2.weight": (8, 2)},
    "cbam_res": cbam_res(8, 16, 3, 2),
    "cbam_res-k5-s2": cbam_res(8, 16, 5, 2),
    "cbam_res-k7-channel-first": cbam_res(8, 16, 7, 2),
    "cbam_res-channel": {
        "sharedMLP.0.weight": (2, 8, 1, 1),
        "sharedMLP.2.weight": (8, 2, 1, 1),
    },
    "cbam_res-spatial": {"conv.weight": (1, 2, 7, 7)},
    "ske_conv": ske(8, 2, 2, 32),
    "ske_conv-m3-channel-first": ske(16, 3, 4, 8),
    "self_attn-spatial": self_attn(16, 4, channel=False),
    "self_attn-channel": self_attn(8, 8, channel=True),
    "self_attn-channel-narrow": self_attn(8, 4, channel=True),
    "non_local": non_local(16, 8, 2),
    "non_local-1d": non_local(16, 8, 1),
    "non_local-3d": non_local(16, 8, 3),
    "non_local-plain": non_local(16, 8, 2, sub=False, use_bn=False),
    "non_local-3d-odd": non_local(6, 3, 3, use_bn=False),
}
# fmt: on
