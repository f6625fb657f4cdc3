"""Realistic sizes for the rest of the catalogue (benchmarks/run.py --sizes realistic).

tests/realistic_cases.py holds the first rows (the blocks of issue 8's first round); this
module adds one row per remaining class of tests/mechanisms.py, at the sizes and with the
constructor arguments the paper or the published code uses at that stage of a network:

- feature-map blocks see a ResNet stage-2/3 map ([8, 256, 28, 28]) with the paper's
  reduction / kernel settings (SE and SK: r = 16, ECA: k = 5 for 256 channels, BAM:
  dilation 4, SKNet: 32 groups, L = 32);
- token blocks see [4, 1024, 512] (a transformer layer) or the 14 x 14 / 28 x 28 token maps
  of a vision transformer stage (GFNet-S: [4, 196, 384]; VOLO-D1/D2's outlookers: 28 x 28
  with stride 2; ViP-S/7's first stage: 32 x 32 x 192 with 32 segments; MobileViT-S's
  second stage: 96 channels at 32 x 32, patches 2 x 2);
- classifier heads (CSRA) see the last ResNet-50 stage, [8, 2048, 7, 7], and CoAtNet
  (a whole backbone) a 224 x 224 image.

Each single forward of the reference stays under about 0.5 s on the development machine
with 2 threads (at most 0.6 s of one thread's CPU time: HaloAttention); where the paper's
size is larger the row says what it shrank. No test runs these rows
(tests/test_realistic_cases.py only builds each and traces it on the meta device).
"""

from __future__ import annotations

from .cases import Case
from .references.aft_variants import AFTFull, AFTLocal, AFTSimple
from .references.bam import BAMBlock
from .references.cbam_res import CBAtten_Res, ChannelAttention, SpatialAttention
from .references.coatnet import CoAtNet
from .references.coord_attention import CoordAtt
from .references.cot import CoTAttention
from .references.eca import ECAAttention
from .references.gfnet import Block, GlobalFilter
from .references.halo import HaloAttention
from .references.infini_attention import InfiniAttention
from .references.mobilevit_attention import MobileViTAttention
from .references.mobilevitv2_attention import MobileViTv2Attention
from .references.non_local import NonLocalBlockND
from .references.outlook import OutlookAttention
from .references.outlook_volo import OutlookAttention as VOLOOutlookAttention
from .references.parnet_attention import ParNetAttention
from .references.polarized_self_attention import (
    ParallelPolarizedSelfAttention,
    SequentialPolarizedSelfAttention,
)
from .references.psa import PSA
from .references.residual_attention import ResidualAttention
from .references.s2_attention import S2Attention
from .references.se_layer import SELayer
from .references.self_attn import Self_Attn_Channel, Self_Attn_Spatial
from .references.ske_conv import SKEConv
from .references.triplet_attention import TripletAttention
from .references.ufo_attention import UFOAttention
from .references.vip import WeightedPermuteMLP

FMAP = (8, 256, 28, 28)
SEQ = (4, 1024, 512)
QKV = {"queries": SEQ, "keys": SEQ, "values": SEQ}


def _fmap(case_id: str, stem: str, cls: type, kwargs: dict, shape=FMAP, out=None, note: str = "") -> Case:
    """A block that maps one (b, c, h, w) input to an output of the same shape (or ``out``)."""
    return Case(case_id, stem, cls.__name__, cls, kwargs, {"x": shape}, shape if out is None else out, note=note)


CATALOGUE_REALISTIC_CASES: list[Case] = [
    # --- channel / spatial gates on a ResNet stage-3 map
    _fmap("bam-fmap", "bam", BAMBlock, dict(channel=256, reduction=16, dia_val=4)),
    _fmap("eca-fmap", "eca", ECAAttention, dict(kernel_size=5)),
    _fmap("se_layer-fmap", "se_layer", SELayer, dict(channel=256, reduction=16)),
    _fmap("coord_attention-fmap", "coord_attention", CoordAtt, dict(inp=256, oup=256, reduction=32)),
    _fmap("triplet_attention-fmap", "triplet_attention", TripletAttention, {}),
    _fmap("cbam_res-channel-fmap", "cbam_res", ChannelAttention, dict(in_channels=256, reduction=16)),
    _fmap("cbam_res-spatial-fmap", "cbam_res", SpatialAttention, dict(kernel_size=7)),
    # the downsampling block between stages 2 and 3: 128 channels at 56 x 56 in, 256 at 28 x 28 out
    _fmap("cbam_res-fmap", "cbam_res", CBAtten_Res,
          dict(in_channels=128, out_channels=256, kernel_size=3, stride=2, reduction=4),
          shape=(8, 128, 56, 56), out=FMAP),
    _fmap("polarized_self_attention-sequential-fmap", "polarized_self_attention",
          SequentialPolarizedSelfAttention, dict(channel=256)),
    _fmap("polarized_self_attention-parallel-fmap", "polarized_self_attention",
          ParallelPolarizedSelfAttention, dict(channel=256)),
    # --- blocks with their own convolutions
    _fmap("parnet_attention-fmap", "parnet_attention", ParNetAttention, dict(channel=256)),
    _fmap("psa-fmap", "psa", PSA, dict(channel=256, reduction=4, S=4)),
    _fmap("ske_conv-fmap", "ske_conv", SKEConv, dict(in_channels=256, M=2, G=32, L=32, reduction=16)),
    _fmap("cot-fmap", "cot", CoTAttention, dict(dim=256, kernel_size=3)),
    _fmap("s2_attention-fmap", "s2_attention", S2Attention, dict(channels=256)),
    # --- attention over the positions of a map
    # SAGAN: query/key width in_dim // 8; returns its (b, n, n) map, so n = 32 x 32
    _fmap("self_attn-spatial-fmap", "self_attn", Self_Attn_Spatial, dict(in_dim=256, out_dim=32),
          shape=(8, 256, 32, 32), out=((8, 256, 32, 32), (8, 1024, 1024))),
    _fmap("self_attn-channel-fmap", "self_attn", Self_Attn_Channel, dict(in_dim=256, out_dim=256),
          out=(FMAP, (8, 256, 256))),
    _fmap("non_local-fmap", "non_local", NonLocalBlockND, dict(in_channels=256, dimension=2)),
    _fmap("non_local-1d-seq", "non_local", NonLocalBlockND, dict(in_channels=256, dimension=1),
          shape=(8, 256, 1024)),
    # a video clip's res4 features (8 frames of 14 x 14), at 256 rather than 1024 channels
    _fmap("non_local-3d-clip", "non_local", NonLocalBlockND, dict(in_channels=256, dimension=3),
          shape=(4, 256, 8, 14, 14)),
    # HaloNet's blocks of 8 with halo 3; 32 x 32 is a multiple of the block
    _fmap("halo-fmap", "halo", HaloAttention, dict(dim=256, block_size=8, halo_size=3, dim_head=32, heads=8),
          shape=(8, 256, 32, 32)),
    # MobileViT-S, second MobileViT block: 96 channels in, d = 144, 2 x 2 patches; the
    # transformer's 8 x 64 heads and MLP 1024 are hard-coded (as published), which makes
    # it costly: 2 images, not 8
    _fmap("mobilevit_attention-fmap", "mobilevit_attention", MobileViTAttention,
          dict(in_channel=96, dim=144, kernel_size=3, patch_size=2), shape=(2, 96, 32, 32)),
    # CSRA on ResNet-50's last stage, ImageNet's 1000 classes
    _fmap("residual_attention-head", "residual_attention", ResidualAttention,
          dict(channel=2048, num_class=1000, la=0.2), shape=(8, 2048, 7, 7), out=(8, 1000)),
    # the whole published backbone on 224 x 224 images (attention at 784 and 392 tokens)
    _fmap("coatnet-224", "coatnet", CoAtNet, dict(in_ch=3, image_size=224), shape=(2, 3, 224, 224),
          out=(2, 768, 14, 14)),
    # --- channels-last token maps of vision MLPs / outlookers
    Case("outlook-volo_d2", "outlook", "OutlookAttention", OutlookAttention,
         dict(dim=256, num_heads=8, kernel_size=3, padding=1, stride=2), {"x": (8, 28, 28, 256)}, (8, 28, 28, 256)),
    Case("outlook_volo-volo_d1", "outlook_volo", "OutlookAttention", VOLOOutlookAttention,
         dict(dim=192, num_heads=6, kernel_size=3, padding=1, stride=2), {"x": (8, 28, 28, 192)},
         (8, 28, 28, 192)),
    Case("vip-s7", "vip", "WeightedPermuteMLP", WeightedPermuteMLP, dict(dim=192, seg_dim=32),
         {"x": (8, 32, 32, 192)}, (8, 32, 32, 192)),
    # --- token sequences
    Case("gfnet-filter-s", "gfnet", "GlobalFilter", GlobalFilter, dict(dim=384, h=14, w=8),
         {"x": (4, 196, 384)}, (4, 196, 384)),
    Case("gfnet-block-s", "gfnet", "Block", Block, dict(dim=384, h=14, w=8), {"x": (4, 196, 384)}, (4, 196, 384)),
    Case("mobilevitv2_attention-seq", "mobilevitv2_attention", "MobileViTv2Attention", MobileViTv2Attention,
         dict(d_model=512), {"input": SEQ}, SEQ),
    Case("ufo_attention-n1024", "ufo_attention", "UFOAttention", UFOAttention,
         dict(d_model=512, d_k=64, d_v=64, h=8), QKV, SEQ),
    # four segments of 256 tokens carry the compressive memory
    Case("infini_attention-n1024", "infini_attention", "InfiniAttention", InfiniAttention,
         dict(d_model=512, d_k=64, d_v=64, h=8, segment_len=256), {"x": SEQ}, SEQ),
    Case("aft_variants-full-n1024", "aft_variants", "AFTFull", AFTFull,
         dict(max_seqlen=1024, dim=512, hidden_dim=512), {"x": SEQ}, SEQ),
    Case("aft_variants-simple-n1024", "aft_variants", "AFTSimple", AFTSimple,
         dict(max_seqlen=1024, dim=512, hidden_dim=512), {"x": SEQ}, SEQ),
    Case("aft_variants-local-n1024", "aft_variants", "AFTLocal", AFTLocal,
         dict(max_seqlen=1024, dim=512, hidden_dim=512, s=256), {"x": SEQ}, SEQ),
]
