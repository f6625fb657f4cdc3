"""Realistic sizes for the benchmark (benchmarks/run.py --sizes realistic).

The cases of tests/mechanisms.py use each spec's small example sizes, which keep the
tests fast but say little about speed: at [2, 64, 7, 7] a forward pass is dominated by
Python overhead. These rows use the sizes the blocks meet in real networks: feature
maps of a ResNet stage ([8, 256, 28, 28]) and token sequences of a transformer layer
([4, 1024, 512], and n = 2048 for the attention that fusion changes most). The rest of
the catalogue, one row per class, is in tests/realistic_catalogue.py and is appended at
the end. No test runs them (they take seconds each); the benchmark does
(tests/test_realistic_cases.py only traces them on the meta device).

DANet also runs where it is used (n = 4096 positions of 512 channels, 2 images): each of
those forwards takes over a second, the only rows that do.

Where the published structure cannot run at the usual size the row says so: AFT_FULL's
reference broadcasts a [n, b, n, d] tensor (8 GiB at n = 1024, d = 512), so it runs at
196 tokens (14 x 14); SK's four full 3x3..7x7 convolutions at 256 channels cost tens of
GFLOPs on a CPU, so it uses SKNet's grouped form (group = 32) with kernels 3 and 5.
"""

from __future__ import annotations

from .cases import Case, mask_weights
from .references.aft_full import AFT_FULL
from .references.cbam import CBAMBlock
from .references.double_attention import DoubleAttention
from .references.efficient_attention import EfficientAttention
from .references.emsa import EMSA
from .references.external_attention import ExternalAttention
from .references.sdpa import ScaledDotProductAttention
from .references.se import SEAttention
from .references.sge import SpatialGroupEnhance
from .references.danet import DAModule, PositionAttentionModule
from .references.mha import MultiHeadAttention
from .references.muse import MUSEAttention
from .references.shuffle_attention import ShuffleAttention
from .references.simplified_sdpa import SimplifiedScaledDotProductAttention
from .references.sk import SKAttention
from .realistic_catalogue import CATALOGUE_REALISTIC_CASES

FMAP = (8, 256, 28, 28)
SEQ = (4, 1024, 512)


def _sdpa(n: int, extras: str = "") -> Case:
    shape = (4, n, 512)
    return Case(f"sdpa-n{n}" + (f"-{extras}" if extras else ""), "sdpa", "ScaledDotProductAttention",
                ScaledDotProductAttention, dict(d_model=512, d_k=64, d_v=64, h=8),
                {"queries": shape, "keys": shape, "values": shape}, shape,
                extras=mask_weights((4, 8, n, n), extras) if extras else {})


def _emsa(ratio: int, transform: bool, side: int = 32) -> Case:
    shape = (4, side * side, 512)
    return Case(f"emsa-n{side * side}-r{ratio}-t{int(transform)}", "emsa", "EMSA", EMSA,
                dict(d_model=512, d_k=64, d_v=64, h=8, H=side, W=side, ratio=ratio, apply_transform=transform),
                {"queries": shape, "keys": shape, "values": shape}, shape)


REALISTIC_CASES: list[Case] = [
    Case("sge-fmap", "sge", "SpatialGroupEnhance", SpatialGroupEnhance, dict(groups=32), {"x": FMAP}, FMAP),
    Case("shuffle_attention-fmap", "shuffle_attention", "ShuffleAttention", ShuffleAttention,
         dict(channel=256, G=8), {"x": FMAP}, FMAP),
    Case("se-fmap", "se", "SEAttention", SEAttention, dict(channel=256, reduction=16), {"x": FMAP}, FMAP),
    Case("cbam-fmap", "cbam", "CBAMBlock", CBAMBlock, dict(channel=256, reduction=16, kernel_size=7),
         {"x": FMAP}, FMAP),
    Case("sk-fmap", "sk", "SKAttention", SKAttention, dict(channel=256, kernels=[3, 5], reduction=16, group=32),
         {"x": FMAP}, FMAP),
    Case("double_attention-fmap", "double_attention", "DoubleAttention", DoubleAttention,
         dict(in_channels=256, c_m=128, c_n=64, reconstruct=True), {"x": FMAP}, FMAP),
    Case("efficient_attention-fmap", "efficient_attention", "EfficientAttention", EfficientAttention,
         dict(in_channels=256, key_channels=128, head_count=8, value_channels=128), {"input_": FMAP}, FMAP),
    Case("external_attention-seq", "external_attention", "ExternalAttention", ExternalAttention,
         dict(d_model=512, S=64), {"queries": SEQ}, SEQ),
    Case("aft_full-n196", "aft_full", "AFT_FULL", AFT_FULL, dict(d_model=256, n=196),
         {"input": (4, 196, 256)}, (4, 196, 256)),
    _sdpa(1024),
    _sdpa(1024, "mask"),
    _sdpa(2048),
    _sdpa(1024, "weights"),
    _emsa(ratio=1, transform=False),
    _emsa(ratio=2, transform=False),
    _emsa(ratio=2, transform=True),
    Case("simplified_sdpa-n1024", "simplified_sdpa", "SimplifiedScaledDotProductAttention",
         SimplifiedScaledDotProductAttention, dict(d_model=512, h=8), {"queries": SEQ, "keys": SEQ, "values": SEQ}, SEQ),
    Case("muse-n1024", "muse", "MUSEAttention", MUSEAttention, dict(d_model=512, d_k=64, d_v=64, h=8),
         {"queries": SEQ, "keys": SEQ, "values": SEQ}, SEQ),
    # position branch: 1024 positions of 256 features; channel branch: 256 channels of 1024
    Case("danet-n1024", "danet", "DAModule", DAModule, dict(d_model=256, kernel_size=3, H=32, W=32),
         {"input": (4, 256, 32, 32)}, (4, 256, 32, 32)),
    # the position branch alone, where the fusion applies
    Case("danet_position-n1024", "danet", "PositionAttentionModule", PositionAttentionModule,
         dict(d_model=256, kernel_size=3), {"x": (4, 256, 32, 32)}, (4, 1024, 256)),
    # where DANet runs: its heads see the 1/8-resolution map of a 512-768 px crop, 64 x 64
    # positions of 512 channels (b = 2 keeps the reference's [b, n, n] weights at 128 MiB)
    Case("danet-n4096", "danet", "DAModule", DAModule, dict(d_model=512, kernel_size=3, H=64, W=64),
         {"input": (2, 512, 64, 64)}, (2, 512, 64, 64)),
    Case("danet_position-n4096", "danet", "PositionAttentionModule", PositionAttentionModule,
         dict(d_model=512, kernel_size=3), {"x": (2, 512, 64, 64)}, (2, 4096, 512)),
    # returns its attention weights, as published: nothing to fuse, the plain form is kept
    Case("mha-n1024", "mha", "MultiHeadAttention", MultiHeadAttention, dict(d_model=512, num_heads=8),
         {"Q": SEQ, "K": SEQ, "V": SEQ}, (SEQ, (4, 8, 1024, 1024))),
    *CATALOGUE_REALISTIC_CASES,
]
