"""The table of test cases shared by the equivalence tests and the benchmark.

One :class:`Case` per (mechanism, configuration): the spec stem (``specs/{stem}.attn``),
the class name the spec must generate, the hand-written reference class, constructor
kwargs, input shapes (in forward-argument order, keyed by the forward parameter name),
optional extra forward kwargs (attention masks / weights) and the expected output shape.

The first case of every stem is the INTERFACES.md example; the others cover every
branch of the constructor (EMSA's ``ratio > 1`` and ``apply_transform and h > 1``,
AFT's ``simple``, A2's ``reconstruct``, SK's kernel list and groups, masks and weights)
plus a few non-square / odd-batch variants that catch h/w and batch mix-ups.

``PENDING_CASES`` (``tests/pending_cases.py``) holds the rows of the mechanisms that
have a hand-written reference but no spec yet. Their references are tested on their own
(``tests/test_references.py``, ``tests/test_catalogue_*.py``); the equivalence tests
(``tests/test_equivalence.py``) run over ``CASES`` only. When ``specs/<stem>.attn``
lands, switch its comparison on by MOVING its rows from ``PENDING_CASES`` into
``CASES`` below (and the reference's import with them).
``tests/test_catalogue_references.py::test_pending_rows_have_no_spec`` fails while a
stem has a spec but its rows are still pending.
"""

from __future__ import annotations

from .cases import REPO_ROOT, SPECS_DIR, Case, Extra, mask_weights  # noqa: F401 (re-exports)
from .pending_cases import PENDING_CASES, QKV30, QKV49, X64  # noqa: F401 (shared shapes)
from .references.aft_full import AFT_FULL
from .references.cbam import CBAMBlock
from .references.double_attention import DoubleAttention
from .references.efficient_attention import EfficientAttention
from .references.emsa import EMSA
from .references.external_attention import ExternalAttention
from .references.sdpa import ScaledDotProductAttention
from .references.se import SEAttention
from .references.sge import SpatialGroupEnhance
from .references.shuffle_attention import ShuffleAttention
from .references.sk import SKAttention
from .references.cot import CoTAttention
from .references.self_attn import Self_Attn_Channel, Self_Attn_Spatial
from .references.bam import BAMBlock
from .references.muse import MUSEAttention
from .references.aft_variants import AFTFull, AFTLocal, AFTSimple
from .references.polarized_self_attention import (
    ParallelPolarizedSelfAttention,
    SequentialPolarizedSelfAttention,
)
from .references.coord_attention import CoordAtt
from .references.triplet_attention import TripletAttention
from .references.cbam_res import CBAtten_Res, ChannelAttention, SpatialAttention
from .references.danet import DAModule
from .references.mha import MultiHeadAttention
from .references.ufo_attention import UFOAttention
from .references.mobilevitv2_attention import MobileViTv2Attention
from .references.parnet_attention import ParNetAttention
from .references.se_layer import SELayer
from .references.eca import ECAAttention
from .references.simplified_sdpa import SimplifiedScaledDotProductAttention
from .references.residual_attention import ResidualAttention
from .references.mobilevit_attention import MobileViTAttention
from .references.infini_attention import InfiniAttention
from .references.non_local import NonLocalBlockND
from .references.outlook import OutlookAttention
from .references.outlook_volo import OutlookAttention as VOLOOutlookAttention
from .references.s2_attention import S2Attention
from .references.coatnet import CoAtNet
from .references.halo import HaloAttention
from .references.vip import WeightedPermuteMLP
from .references.ske_conv import SKEConv
from .references.psa import PSA
from .references.gfnet import Block, GlobalFilter

def _emsa_cases() -> list[Case]:
    cases = []
    b, n, d, h = 2, 64, 64, 4
    for ratio in (2, 1):
        # ratio=2: depthwise conv k=3, s=2, p=1 on 8x8 -> 4x4 = 16 reduced tokens
        nk = 16 if ratio == 2 else n
        for transform in (True, False):
            base = dict(
                d_model=d,
                d_k=16,
                d_v=16,
                h=h,
                H=8,
                W=8,
                ratio=ratio,
                apply_transform=transform,
            )
            tag = f"emsa-r{ratio}-t{int(transform)}"
            inputs = {"queries": (b, n, d), "keys": (b, n, d), "values": (b, n, d)}
            cases.append(Case(tag, "emsa", "EMSA", EMSA, base, inputs, (b, n, d)))
            cases.append(
                Case(
                    tag + "-mask-weights",
                    "emsa",
                    "EMSA",
                    EMSA,
                    base,
                    inputs,
                    (b, n, d),
                    extras=mask_weights((b, h, n, nk)),
                )
            )
    # ratio=1: keys/values may have a different length than the queries (published allows it)
    cases.append(
        Case(
            "emsa-r1-t1-nk40",
            "emsa",
            "EMSA",
            EMSA,
            dict(
                d_model=d, d_k=16, d_v=16, h=h, H=8, W=8, ratio=1, apply_transform=True
            ),
            {"queries": (b, n, d), "keys": (b, 40, d), "values": (b, 40, d)},
            (b, n, d),
            extras=mask_weights((b, h, n, 40)),
        )
    )
    # h=1: the transform is silently off even though apply_transform=True (as published)
    cases.append(
        Case(
            "emsa-r2-h1",
            "emsa",
            "EMSA",
            EMSA,
            dict(
                d_model=d, d_k=16, d_v=8, h=1, H=8, W=8, ratio=2, apply_transform=True
            ),
            {"queries": (b, n, d), "keys": (b, n, d), "values": (b, n, d)},
            (b, n, d),
        )
    )
    return cases


def _sdpa_cases() -> list[Case]:
    kw = dict(d_model=64, d_k=16, d_v=8, h=4)
    inputs = {"queries": (2, 49, 64), "keys": (2, 30, 64), "values": (2, 30, 64)}
    out = (2, 49, 64)
    cases = [
        Case(
            "sdpa",
            "sdpa",
            "ScaledDotProductAttention",
            ScaledDotProductAttention,
            kw,
            inputs,
            out,
        )
    ]
    for which in ("mask", "weights", "mask+weights"):
        cases.append(
            Case(
                "sdpa-" + which.replace("+", "-"),
                "sdpa",
                "ScaledDotProductAttention",
                ScaledDotProductAttention,
                kw,
                inputs,
                out,
                extras=mask_weights((2, 4, 49, 30), which),
            )
        )
    return cases


CASES: list[Case] = [
    # --- SGE
    Case(
        "sge",
        "sge",
        "SpatialGroupEnhance",
        SpatialGroupEnhance,
        dict(groups=8),
        {"x": (2, 64, 7, 7)},
        (2, 64, 7, 7),
    ),
    Case(
        "sge-g4-nonsquare",
        "sge",
        "SpatialGroupEnhance",
        SpatialGroupEnhance,
        dict(groups=4),
        {"x": (3, 32, 6, 5)},
        (3, 32, 6, 5),
    ),
    # --- ShuffleAttention
    Case(
        "shuffle_attention",
        "shuffle_attention",
        "ShuffleAttention",
        ShuffleAttention,
        dict(channel=64, G=8),
        {"x": (2, 64, 7, 7)},
        (2, 64, 7, 7),
    ),
    Case(
        "shuffle_attention-c32-g4-nonsquare",
        "shuffle_attention",
        "ShuffleAttention",
        ShuffleAttention,
        dict(channel=32, reduction=4, G=4),
        {"x": (3, 32, 6, 5)},
        (3, 32, 6, 5),
    ),
    # --- SE
    Case(
        "se",
        "se",
        "SEAttention",
        SEAttention,
        dict(channel=64, reduction=8),
        {"x": (2, 64, 7, 7)},
        (2, 64, 7, 7),
    ),
    # --- CBAM
    Case(
        "cbam",
        "cbam",
        "CBAMBlock",
        CBAMBlock,
        dict(channel=64, reduction=16, kernel_size=7),
        {"x": (2, 64, 9, 9)},
        (2, 64, 9, 9),
    ),
    Case(
        "cbam-k3-nonsquare",
        "cbam",
        "CBAMBlock",
        CBAMBlock,
        dict(channel=32, reduction=8, kernel_size=3),
        {"x": (3, 32, 8, 6)},
        (3, 32, 8, 6),
    ),
    # --- SDPA
    *_sdpa_cases(),
    # --- EMSA
    *_emsa_cases(),
    # --- A2 double attention
    Case(
        "double_attention",
        "double_attention",
        "DoubleAttention",
        DoubleAttention,
        dict(in_channels=64, c_m=16, c_n=8, reconstruct=True),
        {"x": (2, 64, 7, 7)},
        (2, 64, 7, 7),
    ),
    Case(
        "double_attention-noreconstruct",
        "double_attention",
        "DoubleAttention",
        DoubleAttention,
        dict(in_channels=64, c_m=16, c_n=8, reconstruct=False),
        {"x": (2, 64, 7, 7)},
        (2, 16, 7, 7),
    ),
    # --- External attention
    Case(
        "external_attention",
        "external_attention",
        "ExternalAttention",
        ExternalAttention,
        dict(d_model=64, S=8),
        {"queries": (2, 49, 64)},
        (2, 49, 64),
    ),
    # --- AFT-full
    Case(
        "aft_full",
        "aft_full",
        "AFT_FULL",
        AFT_FULL,
        dict(d_model=64, n=49),
        {"input": (2, 49, 64)},
        (2, 49, 64),
    ),
    Case(
        "aft_full-simple",
        "aft_full",
        "AFT_FULL",
        AFT_FULL,
        dict(d_model=64, n=49, simple=True),
        {"input": (2, 49, 64)},
        (2, 49, 64),
    ),
    # --- SK
    Case(
        "sk",
        "sk",
        "SKAttention",
        SKAttention,
        dict(channel=64, reduction=8),
        {"x": (2, 64, 7, 7)},
        (2, 64, 7, 7),
    ),
    Case(
        "sk-k35-g2",
        "sk",
        "SKAttention",
        SKAttention,
        dict(channel=64, kernels=[3, 5], reduction=8, group=2),
        {"x": (2, 64, 7, 7)},
        (2, 64, 7, 7),
    ),
    # --- Efficient attention
    Case(
        "efficient_attention",
        "efficient_attention",
        "EfficientAttention",
        EfficientAttention,
        dict(in_channels=64, key_channels=16, head_count=4, value_channels=16),
        {"input_": (2, 64, 9, 9)},
        (2, 64, 9, 9),
    ),
    # --- residual_attention (issue 7)
    # fmt: off
    Case("residual_attention", "residual_attention", "ResidualAttention", ResidualAttention,
         dict(channel=64, num_class=10, la=0.2), X64, (2, 10)),
    Case("residual_attention-nonsquare", "residual_attention", "ResidualAttention", ResidualAttention,
         dict(channel=32, num_class=5, la=0.5), {"x": (3, 32, 6, 5)}, (3, 5)),
    # fmt: on
    # --- simplified_sdpa (issue 7)
    # fmt: off
    Case("simplified_sdpa", "simplified_sdpa", "SimplifiedScaledDotProductAttention",
         SimplifiedScaledDotProductAttention, dict(d_model=64, h=4), QKV49, (2, 49, 64)),
    Case("simplified_sdpa-nk30-mask-weights", "simplified_sdpa", "SimplifiedScaledDotProductAttention",
         SimplifiedScaledDotProductAttention, dict(d_model=64, h=4), QKV30, (2, 49, 64),
         extras=mask_weights((2, 4, 49, 30))),
    # fmt: on
    # --- eca (issue 7)
    # fmt: off
    Case("eca", "eca", "ECAAttention", ECAAttention, dict(kernel_size=3), X64, (2, 64, 7, 7)),
    Case("eca-k5-nonsquare", "eca", "ECAAttention", ECAAttention, dict(kernel_size=5),
         {"x": (3, 32, 6, 5)}, (3, 32, 6, 5)),
    # fmt: on
    # --- se_layer (issue 7)
    # fmt: off
    Case("se_layer", "se_layer", "SELayer", SELayer, dict(channel=8, reduction=2), {"x": (4, 8, 20, 20)},
         (4, 8, 20, 20)),
    Case("se_layer-channel-first", "se_layer", "SELayer", SELayer,
         dict(channel=8, reduction=4, batch_first=False), {"x": (8, 3, 6, 5)}, (8, 3, 6, 5), batch_dim=1),
    # fmt: on
    # --- parnet_attention (issue 7)
    # fmt: off
    Case("parnet_attention", "parnet_attention", "ParNetAttention", ParNetAttention, dict(channel=64), X64,
         (2, 64, 7, 7)),
    # fmt: on
    # --- mobilevitv2_attention (issue 7)
    # fmt: off
    Case("mobilevitv2_attention", "mobilevitv2_attention", "MobileViTv2Attention", MobileViTv2Attention,
         dict(d_model=64), {"input": (2, 49, 64)}, (2, 49, 64)),
    # fmt: on
    # --- ufo_attention (issue 7)
    # fmt: off
    Case("ufo_attention", "ufo_attention", "UFOAttention", UFOAttention,
         dict(d_model=64, d_k=16, d_v=16, h=4), QKV49, (2, 49, 64)),
    Case("ufo_attention-nk30-dv8", "ufo_attention", "UFOAttention", UFOAttention,
         dict(d_model=64, d_k=16, d_v=8, h=4), QKV30, (2, 49, 64)),
    # fmt: on
    # --- mha (issue 7)
    # fmt: off
    Case("mha", "mha", "MultiHeadAttention", MultiHeadAttention, dict(d_model=64, num_heads=4),
         {"Q": (2, 49, 64), "K": (2, 30, 64), "V": (2, 30, 64)}, ((2, 49, 64), (2, 4, 49, 30))),
    Case("mha-mask", "mha", "MultiHeadAttention", MultiHeadAttention, dict(d_model=64, num_heads=4),
         {"Q": (2, 49, 64), "K": (2, 30, 64), "V": (2, 30, 64)}, ((2, 49, 64), (2, 4, 49, 30)),
         extras={"mask": Extra("keep", (2, 1, 49, 30))}),
    # fmt: on
    # --- danet (issue 7)
    # fmt: off
    Case("danet", "danet", "DAModule", DAModule, dict(d_model=64, kernel_size=3, H=7, W=7),
         {"input": (2, 64, 7, 7)}, (2, 64, 7, 7)),
    Case("danet-k5-nonsquare", "danet", "DAModule", DAModule, dict(d_model=32, kernel_size=5, H=6, W=5),
         {"input": (3, 32, 6, 5)}, (3, 32, 6, 5)),
    # fmt: on
    # --- cbam_res (issue 7)
    # fmt: off
    Case("cbam_res", "cbam_res", "CBAtten_Res", CBAtten_Res,
         dict(in_channels=8, out_channels=16, reduction=2, stride=1), {"x": (4, 8, 20, 20)},
         (4, 16, 20, 20)),
    # kernel 5: the seed's pool padding fails
    Case("cbam_res-k5-s2", "cbam_res", "CBAtten_Res", CBAtten_Res,
         dict(in_channels=8, out_channels=16, kernel_size=5, stride=2, reduction=2), {"x": (3, 8, 12, 9)},
         (3, 16, 6, 5)),
    # batch_first=False: the seed's inner blocks attend over the wrong axis
    Case("cbam_res-k7-channel-first", "cbam_res", "CBAtten_Res", CBAtten_Res,
         dict(in_channels=8, out_channels=16, kernel_size=7, stride=2, reduction=2, batch_first=False,),
         {"x": (8, 3, 11, 10)}, (16, 3, 6, 5), batch_dim=1),
    Case("cbam_res-channel", "cbam_res", "ChannelAttention", ChannelAttention,
         dict(in_channels=8, reduction=4), {"x": (3, 8, 6, 5)}, (3, 8, 6, 5)),
    Case("cbam_res-spatial", "cbam_res", "SpatialAttention", SpatialAttention, dict(kernel_size=7),
         {"x": (3, 8, 6, 5)}, (3, 8, 6, 5)),
    # fmt: on
    # --- triplet_attention (issue 7)
    # fmt: off
    Case("triplet_attention", "triplet_attention", "TripletAttention", TripletAttention, dict(), X64,
         (2, 64, 7, 7)),
    Case("triplet_attention-nospatial", "triplet_attention", "TripletAttention", TripletAttention,
         dict(no_spatial=True), {"x": (3, 16, 6, 5)}, (3, 16, 6, 5)),
    # fmt: on
    # --- coord_attention (issue 7)
    # fmt: off
    Case("coord_attention", "coord_attention", "CoordAtt", CoordAtt, dict(inp=64, oup=64, reduction=32),
         {"x": (2, 64, 12, 10)}, (2, 64, 12, 10)),
    # fmt: on
    # --- polarized_self_attention (issue 7)
    # fmt: off
    Case("polarized_self_attention-sequential", "polarized_self_attention",
         "SequentialPolarizedSelfAttention", SequentialPolarizedSelfAttention, dict(channel=64), X64,
         (2, 64, 7, 7)),
    Case("polarized_self_attention-parallel", "polarized_self_attention", "ParallelPolarizedSelfAttention",
         ParallelPolarizedSelfAttention, dict(channel=64), X64, (2, 64, 7, 7)),
    Case("polarized_self_attention-parallel-nonsquare", "polarized_self_attention",
         "ParallelPolarizedSelfAttention", ParallelPolarizedSelfAttention, dict(channel=32),
         {"x": (3, 32, 6, 5)}, (3, 32, 6, 5)),
    # fmt: on
    # --- aft_variants (issue 7)
    # fmt: off
    Case("aft_variants-full", "aft_variants", "AFTFull", AFTFull,
         dict(max_seqlen=49, dim=64, hidden_dim=32), {"x": (2, 49, 64)}, (2, 49, 64)),
    Case("aft_variants-full-short", "aft_variants", "AFTFull", AFTFull,
         dict(max_seqlen=49, dim=64, hidden_dim=32), {"x": (3, 30, 64)}, (3, 30, 64)),
    Case("aft_variants-simple", "aft_variants", "AFTSimple", AFTSimple,
         dict(max_seqlen=49, dim=64, hidden_dim=32), {"x": (2, 49, 64)}, (2, 49, 64)),
    Case("aft_variants-local", "aft_variants", "AFTLocal", AFTLocal,
         dict(max_seqlen=49, dim=64, hidden_dim=32, s=8), {"x": (2, 40, 64)}, (2, 40, 64)),
    # fmt: on
    # --- muse (issue 7)
    # fmt: off
    Case("muse", "muse", "MUSEAttention", MUSEAttention, dict(d_model=64, d_k=16, d_v=16, h=4), QKV49,
         (2, 49, 64)),
    Case("muse-dk8-mask-weights", "muse", "MUSEAttention", MUSEAttention,
         dict(d_model=64, d_k=8, d_v=16, h=4), QKV49, (2, 49, 64), extras=mask_weights((2, 4, 49, 49))),
    # fmt: on
    # --- bam (issue 7)
    # fmt: off
    Case("bam", "bam", "BAMBlock", BAMBlock, dict(channel=64, reduction=16, dia_val=1),
         {"x": (2, 64, 9, 9)}, (2, 64, 9, 9)),
    # dia_val=2 at 9x9: the published padding shrinks the map to 3x3 and fails
    Case("bam-dia2", "bam", "BAMBlock", BAMBlock, dict(channel=32, reduction=8, dia_val=2),
         {"x": (3, 32, 9, 8)}, (3, 32, 9, 8)),
    # fmt: on
    # --- self_attn (issue 7)
    # fmt: off
    Case("self_attn-spatial", "self_attn", "Self_Attn_Spatial", Self_Attn_Spatial,
         dict(in_dim=16, out_dim=4), {"x": (4, 16, 8, 8)}, ((4, 16, 8, 8), (4, 64, 64))),
    Case("self_attn-channel", "self_attn", "Self_Attn_Channel", Self_Attn_Channel,
         dict(in_dim=8, out_dim=8), {"x": (4, 8, 8, 8)}, ((4, 8, 8, 8), (4, 8, 8))),
    Case("self_attn-channel-narrow", "self_attn", "Self_Attn_Channel", Self_Attn_Channel,
         dict(in_dim=8, out_dim=4), {"x": (3, 8, 6, 5)}, ((3, 4, 6, 5), (3, 4, 4))),
    # fmt: on
    # --- cot (issue 7)
    # fmt: off
    Case("cot", "cot", "CoTAttention", CoTAttention, dict(dim=64, kernel_size=3), X64, (2, 64, 7, 7)),
    Case("cot-k5-nonsquare", "cot", "CoTAttention", CoTAttention, dict(dim=32, kernel_size=5),
         {"x": (3, 32, 6, 5)}, (3, 32, 6, 5)),
    # fmt: on
    # --- mobilevit_attention (issue 7: layer lists built `depth` times, loops in forward)
    # fmt: off
    Case("mobilevit_attention", "mobilevit_attention", "MobileViTAttention", MobileViTAttention,
         dict(in_channel=3, dim=64, kernel_size=3, patch_size=7), {"x": (2, 3, 14, 14)}, (2, 3, 14, 14)),
    Case("mobilevit_attention-p2-nonsquare", "mobilevit_attention", "MobileViTAttention", MobileViTAttention,
         dict(in_channel=3, dim=16, kernel_size=3, patch_size=2), {"x": (3, 3, 4, 6)}, (3, 3, 4, 6)),
    # fmt: on
    # --- infini_attention (issue 7: a loop over segments carrying the memory)
    # fmt: off
    Case("infini_attention", "infini_attention", "InfiniAttention", InfiniAttention,
         dict(d_model=64, d_k=16, d_v=16, h=4, segment_len=8), {"x": (2, 32, 64)}, (2, 32, 64)),
    Case("infini_attention-delta", "infini_attention", "InfiniAttention", InfiniAttention,
         dict(d_model=64, d_k=8, d_v=16, h=4, segment_len=6, delta_rule=True), {"x": (3, 24, 64)},
         (3, 24, 64)),
    # fmt: on
    # --- coatnet (issue 7: items of a list argument as sizes, `out_chs[2]`)
    # fmt: off
    # image_size only sets MBConv's static padding (same state_dict as INTERFACES.md's
    # image_size=64); 32 keeps the row cheap. The 64 example runs in test_catalogue_references.
    Case("coatnet", "coatnet", "CoAtNet", CoAtNet, dict(in_ch=3, image_size=32), {"x": (2, 3, 32, 32)},
         (2, 768, 2, 2)),
    Case("coatnet-small", "coatnet", "CoAtNet", CoAtNet,
         dict(in_ch=3, image_size=32, out_chs=[16, 24, 32, 48, 64]), {"x": (3, 3, 32, 32)}, (3, 64, 2, 2)),
    # fmt: on
    # --- outlook (unfold/fold, pooled sizes with ceil_mode)
    # fmt: off
    Case("outlook", "outlook", "OutlookAttention", OutlookAttention, dict(dim=64), {"x": (2, 14, 14, 64)},
         (2, 14, 14, 64)),
    # stride 2 and kernel 5: both crash with the published positional Unfold
    Case("outlook-s2-h2", "outlook", "OutlookAttention", OutlookAttention,
         dict(dim=64, num_heads=2, stride=2), {"x": (2, 14, 13, 64)}, (2, 14, 13, 64)),
    Case("outlook-k5", "outlook", "OutlookAttention", OutlookAttention,
         dict(dim=32, kernel_size=5, padding=2), {"x": (2, 7, 9, 32)}, (2, 7, 9, 32)),
    # fmt: on
    # --- outlook_volo (the official VOLO names, qk_scale)
    # fmt: off
    Case("outlook_volo", "outlook_volo", "OutlookAttention", VOLOOutlookAttention,
         dict(dim=64, num_heads=2), {"x": (2, 14, 14, 64)}, (2, 14, 14, 64)),
    Case("outlook_volo-s2-scale", "outlook_volo", "OutlookAttention", VOLOOutlookAttention,
         dict(dim=32, num_heads=4, stride=2, qk_scale=0.3), {"x": (2, 9, 8, 32)}, (2, 9, 8, 32)),
    # fmt: on
    # --- s2_attention (spatial shifts out of place, split attention at `channels`)
    # fmt: off
    Case("s2_attention", "s2_attention", "S2Attention", S2Attention, dict(channels=64), X64,
         (2, 64, 7, 7)),
    Case("s2_attention-nonsquare", "s2_attention", "S2Attention", S2Attention, dict(channels=32),
         {"x": (3, 32, 6, 5)}, (3, 32, 6, 5)),
    # fmt: on
    # --- vip (channels last; h == w == seg_dim, as published)
    # fmt: off
    Case("vip", "vip", "WeightedPermuteMLP", WeightedPermuteMLP, dict(dim=64, seg_dim=8),
         {"x": (2, 8, 8, 64)}, (2, 8, 8, 64)),
    Case("vip-bias", "vip", "WeightedPermuteMLP", WeightedPermuteMLP,
         dict(dim=48, seg_dim=4, qkv_bias=True), {"x": (3, 4, 4, 48)}, (3, 4, 4, 48)),
    # fmt: on
    # --- halo (issue 7: keyword-only constructor arguments; the corrected mask polarity)
    # fmt: off
    Case("halo", "halo", "HaloAttention", HaloAttention,
         dict(dim=64, block_size=2, halo_size=1, dim_head=16, heads=4), {"x": (2, 64, 8, 8)},
         (2, 64, 8, 8)),
    Case("halo-b4-h2-nonsquare", "halo", "HaloAttention", HaloAttention,
         dict(dim=32, block_size=4, halo_size=2, dim_head=8, heads=2), {"x": (2, 32, 8, 12)},
         (2, 32, 8, 12)),
    # fmt: on
    # --- gfnet (issue 7: a size computed in forward, `let a = int(sqrt(n))`; stochastic depth)
    # fmt: off
    Case("gfnet-filter", "gfnet", "GlobalFilter", GlobalFilter, dict(dim=64, h=7, w=4), {"x": (2, 49, 64)},
         (2, 49, 64)),
    Case("gfnet-filter-even", "gfnet", "GlobalFilter", GlobalFilter, dict(dim=32, h=8, w=5),
         {"x": (3, 64, 32)}, (3, 64, 32)),
    Case("gfnet-block", "gfnet", "Block", Block, dict(dim=64, h=7, w=4), {"x": (2, 49, 64)}, (2, 49, 64)),
    # fmt: on
    # --- psa (issue 7: per-group kernels 2i + 3; a layer list zipped with the groups)
    # fmt: off
    Case("psa", "psa", "PSA", PSA, dict(channel=64, reduction=4), X64, (2, 64, 7, 7)),
    Case("psa-s2-nonsquare", "psa", "PSA", PSA, dict(channel=32, reduction=2, S=2), {"x": (3, 32, 6, 5)},
         (3, 32, 6, 5)),
    # fmt: on
    # --- ske_conv (issue 7: a layer list told apart by its index, kernel 3 + 2i)
    # fmt: off
    Case("ske_conv", "ske_conv", "SKEConv", SKEConv, dict(in_channels=8, stride=2), {"x": (4, 8, 20, 20)},
         (4, 8, 10, 10)),
    Case("ske_conv-m3-channel-first", "ske_conv", "SKEConv", SKEConv,
         dict(in_channels=16, M=3, G=4, L=8, batch_first=False), {"x": (16, 3, 9, 8)}, (16, 3, 9, 8),
         batch_dim=1),
    # fmt: on
    # --- non_local (issue 7: the input's rank chosen by an argument, `*spatial[dimension]`, `conv{dimension}d`)
    # fmt: off
    Case("non_local", "non_local", "NonLocalBlockND", NonLocalBlockND,
         dict(in_channels=16, inter_channels=8, dimension=2), {"x": (4, 16, 20, 20)}, (4, 16, 20, 20)),
    Case("non_local-1d", "non_local", "NonLocalBlockND", NonLocalBlockND,
         dict(in_channels=16, inter_channels=8, dimension=1), {"x": (3, 16, 20)}, (3, 16, 20)),
    Case("non_local-3d", "non_local", "NonLocalBlockND", NonLocalBlockND,
         dict(in_channels=16, inter_channels=8, dimension=3), {"x": (2, 16, 4, 6, 6)}, (2, 16, 4, 6, 6)),
    Case("non_local-plain", "non_local", "NonLocalBlockND", NonLocalBlockND,
         dict(in_channels=16, sub_sample=False, bn_layer=False), {"x": (3, 16, 6, 5)}, (3, 16, 6, 5)),
    Case("non_local-3d-odd", "non_local", "NonLocalBlockND", NonLocalBlockND,
         dict(in_channels=6, dimension=3, bn_layer=False), {"x": (3, 6, 3, 5, 7)}, (3, 6, 3, 5, 7)),
    # fmt: on
]

CASES_BY_ID: dict[str, Case] = {c.id: c for c in CASES}
assert len(CASES_BY_ID) == len(CASES), "duplicate case ids"

STEMS: list[str] = sorted({c.stem for c in CASES})

# Every row with a reference, compared or pending: what the reference self-tests run over.
ALL_CASES: list[Case] = CASES + PENDING_CASES
ALL_CASES_BY_ID: dict[str, Case] = {c.id: c for c in ALL_CASES}
assert len(ALL_CASES_BY_ID) == len(ALL_CASES), "duplicate case ids"


def example_cases(cases: list[Case] | None = None) -> list[Case]:
    """The first case of every (stem, class) of ``cases`` (default ``CASES``): the
    INTERFACES.md example configuration."""
    seen: dict[tuple[str, str], Case] = {}
    for c in CASES if cases is None else cases:
        seen.setdefault((c.stem, c.class_name), c)
    return list(seen.values())
