"""Interface tests of the catalogue references (the rows issue 7 added, pending or landed).

tests/test_references.py already runs every row (forward shape, state_dict against
tests/expected_state.py, batch independence, float32 vs float64) and tests/test_harness.py
runs the whole comparison protocol on each reference against itself. Here:
- the pending table stays in step with specs/ (a landed spec switches its rows on);
- constructor and forward signatures equal the published ones (INTERFACES.md, the seeds),
  for every row whose class has a published signature listed here;
- backward reaches every input and every parameter at the example configuration (same rows);
- the INTERFACES.md listings that the bug fixes change, at the sizes where they agree.
The bug fixes and the maths are tested in tests/test_catalogue_fixes.py and
tests/test_catalogue_math_*.py.
"""

import inspect
import re

import pytest
import torch

from .expected_state import danet
from .harness import outputs_of, randomize_
from .mechanisms import ALL_CASES, PENDING_CASES, SPECS_DIR, example_cases
from .references.coatnet import CoAtNet
from .references.danet import DAModule
from .references.s2_attention import S2Attention

def test_pending_rows_have_no_spec():
    """A spec for a pending stem means its rows must move into CASES (tests/mechanisms.py)
    so that its equivalence tests run."""
    landed = sorted(
        {c.stem for c in PENDING_CASES if (SPECS_DIR / f"{c.stem}.attn").exists()}
    )
    assert not landed, (
        f"specs exist for {landed}: move their rows from PENDING_CASES (tests/pending_cases.py) "
        "into CASES (tests/mechanisms.py)"
    )


def test_pending_stems_are_snake_case():
    for case in PENDING_CASES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", case.stem), case.stem
        assert case.id.startswith(case.stem), case.id


def _signature(fn) -> str:
    """``a, b=1, *, c`` without ``self``; a class default is shown by its name."""
    parts, star = [], False
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        if p.default is inspect.Parameter.empty:
            parts.append(p.name)
        else:
            default = (
                p.default.__name__ if isinstance(p.default, type) else repr(p.default)
            )
            parts.append(f"{p.name}={default}")
    return ", ".join(parts)


SDPA_FORWARD = "queries, keys, values, attention_mask=None, attention_weights=None"
# (class name, constructor, forward), as published (INTERFACES.md, the seeds); Infini-attention
# has no published module: its signature is the reference's own (see its docstring).
PUBLISHED_SIGNATURES = {
    "ResidualAttention": ("channel=512, num_class=1000, la=0.2", "x"),
    "SimplifiedScaledDotProductAttention": ("d_model, h, dropout=0.1", SDPA_FORWARD),
    "BAMBlock": ("channel=512, reduction=16, dia_val=2", "x"),
    "ECAAttention": ("kernel_size=3", "x"),
    "DAModule": ("d_model=512, kernel_size=3, H=7, W=7", "input"),
    "PSA": ("channel=512, reduction=4, S=4", "x"),
    "MUSEAttention": ("d_model, d_k, d_v, h, dropout=0.1", SDPA_FORWARD),
    ("outlook", "OutlookAttention"): (
        "dim, num_heads=1, kernel_size=3, padding=1, stride=1, qkv_bias=False, attn_drop=0.1",
        "x",
    ),
    ("outlook_volo", "OutlookAttention"): (
        "dim, num_heads, kernel_size=3, padding=1, stride=1, qkv_bias=False, qk_scale=None, "
        "attn_drop=0.0, proj_drop=0.0",
        "x",
    ),
    "WeightedPermuteMLP": ("dim, seg_dim=8, qkv_bias=False, proj_drop=0.0", "x"),
    "CoAtNet": ("in_ch, image_size, out_chs=[64, 96, 192, 384, 768]", "x"),
    "HaloAttention": ("*, dim, block_size, halo_size, dim_head=64, heads=8", "x"),
    "SequentialPolarizedSelfAttention": ("channel=512", "x"),
    "ParallelPolarizedSelfAttention": ("channel=512", "x"),
    "CoTAttention": ("dim=512, kernel_size=3", "x"),
    "S2Attention": ("channels=512", "x"),
    "GlobalFilter": ("dim, h=14, w=8", "x, spatial_size=None"),
    "Block": (
        "dim, mlp_ratio=4.0, drop=0.0, drop_path=0.0, act_layer=GELU, norm_layer=LayerNorm, h=14, w=8",
        "x",
    ),
    "TripletAttention": ("no_spatial=False", "x"),
    "CoordAtt": ("inp, oup, reduction=32", "x"),
    "MobileViTAttention": ("in_channel=3, dim=512, kernel_size=3, patch_size=7", "x"),
    "ParNetAttention": ("channel=512", "x"),
    "UFOAttention": ("d_model, d_k, d_v, h, dropout=0.1", "queries, keys, values"),
    "MobileViTv2Attention": ("d_model", "input"),
    "AFTFull": ("max_seqlen, dim, hidden_dim=64", "x"),
    "AFTSimple": ("max_seqlen, dim, hidden_dim=64", "x"),
    "AFTLocal": ("max_seqlen, dim, hidden_dim=64, s=256", "x"),
    "InfiniAttention": ("d_model, d_k, d_v, h, segment_len, delta_rule=False", "x"),
    "MultiHeadAttention": ("d_model, num_heads", "Q, K, V, mask=None"),
    "SELayer": ("channel, reduction=2, batch_first=True", "x"),
    "ChannelAttention": ("in_channels, reduction=4, batch_first=True", "x"),
    "SpatialAttention": ("kernel_size=3, batch_first=True", "x"),
    "CBAtten_Res": (
        "in_channels, out_channels, kernel_size=3, stride=2, reduction=4, batch_first=True",
        "x",
    ),
    "SKEConv": (
        "in_channels, M=2, G=2, stride=1, L=32, reduction=2, batch_first=True",
        "x",
    ),
    "Self_Attn_Spatial": ("in_dim, out_dim", "x"),
    "Self_Attn_Channel": ("in_dim, out_dim", "x"),
    "NonLocalBlockND": (
        "in_channels, inter_channels=None, dimension=2, sub_sample=True, bn_layer=True",
        "x",
    ),
}


# The rows of this catalogue (pending or landed): their references keep the
# published signatures, and backward reaches every input and parameter.
CATALOGUE_EXAMPLES = [c for c in example_cases(ALL_CASES)
                      if (c.stem, c.class_name) in PUBLISHED_SIGNATURES or c.class_name in PUBLISHED_SIGNATURES]


@pytest.mark.parametrize("case", CATALOGUE_EXAMPLES, ids=lambda c: c.id)
def test_signatures_are_the_published_ones(case):
    key = (case.stem, case.class_name)
    ctor, forward = (
        PUBLISHED_SIGNATURES.get(key) or PUBLISHED_SIGNATURES[case.class_name]
    )
    assert case.reference.__name__ == case.class_name
    assert _signature(case.reference.__init__) == ctor
    assert _signature(case.reference.forward) == forward


@pytest.mark.parametrize("case", CATALOGUE_EXAMPLES, ids=lambda c: c.id)
def test_backward_reaches_every_input_and_parameter(case):
    """A gradient for every parameter (none unused or unregistered-and-lost) and every
    input, all finite; in training mode, where the BatchNorms use batch statistics."""
    torch.manual_seed(0)
    module = randomize_(case.build_reference().double(), case.seed).train()
    args, kwargs = case.make_inputs(requires_grad=True)
    gen = torch.Generator().manual_seed(1)
    loss = sum(
        (out * torch.randn(out.shape, generator=gen, dtype=torch.float64)).sum()
        for _, out in outputs_of(module(*args, **kwargs))
    )
    loss.backward()
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{case.id}: no gradient reaches {name}"
        assert torch.isfinite(p.grad).all(), name
    for name, a in zip(case.inputs, args):
        assert a.grad is not None and torch.isfinite(a.grad).all(), name
        assert (
            a.grad.abs().max() > 0
        ), f"{case.id}: the output does not depend on {name}"


INTERFACES_DAMODULE_512 = {
    "position_attention_module.cnn.weight": (512, 512, 3, 3),
    "position_attention_module.cnn.bias": (512,),
    "position_attention_module.pa.fc_q.weight": (512, 512),
    "position_attention_module.pa.fc_q.bias": (512,),
    "position_attention_module.pa.fc_k.weight": (512, 512),
    "position_attention_module.pa.fc_k.bias": (512,),
    "position_attention_module.pa.fc_v.weight": (512, 512),
    "position_attention_module.pa.fc_v.bias": (512,),
    "position_attention_module.pa.fc_o.weight": (512, 512),
    "position_attention_module.pa.fc_o.bias": (512,),
    "channel_attention_module.cnn.weight": (512, 512, 3, 3),
    "channel_attention_module.cnn.bias": (512,),
    "channel_attention_module.pa.fc_o.weight": (49, 49),
    "channel_attention_module.pa.fc_o.bias": (49,),
}


def test_damodule_at_the_published_sizes_is_the_interfaces_listing():
    """INTERFACES.md lists the published (hard-coded 512 / 3 / 7x7) shapes; the reference
    has them exactly when built with those sizes, and follows its arguments otherwise.
    """
    with torch.device("meta"):  # shapes only: no 3.3M-parameter allocation
        big, small = DAModule(), DAModule(d_model=64)
    got = {k: tuple(v.shape) for k, v in big.state_dict().items()}
    assert list(got.items()) == list(INTERFACES_DAMODULE_512.items())
    assert {k: tuple(v.shape) for k, v in small.state_dict().items()} == danet(
        64, 3, 49
    )


def test_s2_split_attention_follows_channels():
    """INTERFACES.md lists split_attention at 512 whatever ``channels`` is (the published
    bug); at channels=512 the reference has exactly those shapes."""
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in S2Attention(512).state_dict().items()}
        small = {k: tuple(v.shape) for k, v in S2Attention(64).state_dict().items()}
    assert shapes["split_attention.mlp1.weight"] == (512, 512)
    assert shapes["split_attention.mlp2.weight"] == (1536, 512)
    assert small["split_attention.mlp1.weight"] == (64, 64)
    assert small["split_attention.mlp2.weight"] == (192, 64)


def test_coatnet_interfaces_example():
    """The INTERFACES.md example itself, CoAtNet(in_ch=3, image_size=64) on (1, 3, 64, 64):
    same state_dict as the cheaper image_size=32 row, output (1, 768, 4, 4)."""
    torch.manual_seed(0)
    m = CoAtNet(in_ch=3, image_size=64).eval()
    small = CoAtNet(in_ch=3, image_size=32)
    assert [(k, v.shape) for k, v in m.state_dict().items()] == [
        (k, v.shape) for k, v in small.state_dict().items()
    ]
    with torch.no_grad():
        assert m(torch.randn(1, 3, 64, 64)).shape == (1, 768, 4, 4)
