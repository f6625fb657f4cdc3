"""Every published bug the catalogue references fix (CATALOGUE.md), each tested on a small
case that the published code gets wrong: it would crash, mutate, drift, or give other
numbers. The docstring of each reference says what the published code does and why the
reference differs.
"""

import pytest
import torch
import torch.nn.functional as F

from .harness import assert_close_rel, randomize_
from .references.aft_variants import AFTFull, AFTLocal
from .references.bam import BAMBlock
from .references.cbam_res import CBAtten_Res
from .references.danet import DAModule
from .references.gfnet import GlobalFilter
from .references.halo import HaloAttention
from .references.muse import MUSEAttention
from .references.outlook import OutlookAttention
from .references.psa import PSA
from .references.s2_attention import S2Attention, spatial_shift1, spatial_shift2
from .references.ske_conv import SKEConv

RTOL = 1e-10


def _rand(*shape, seed=0, grad=False):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=torch.float64).requires_grad_(grad)


def _ready(module, seed=1):
    return randomize_(module.double().eval(), seed)


# ----------------------------------------------------------------------------- BAM


def test_bam_dilated_convs_keep_the_map_size():
    """Published: padding 1 with dilation 2 shrinks 9x9 to 3x3 (and expand_as fails)."""
    m = _ready(BAMBlock(channel=32, reduction=8, dia_val=2))
    x = _rand(2, 32, 9, 8)
    with torch.no_grad():
        spatial = m.sa.sa(x)
        assert spatial.shape == (2, 1, 9, 8)
        assert spatial.std(dim=(2, 3)).min() > 1e-3  # a map, not a broadcast constant
        conv = m.sa.sa.conv_0
        assert conv.dilation == (2, 2) and conv.padding == (2, 2)
        # the first dilated layer by hand: zero padding 2, taps 2 apart
        y = m.sa.sa.relu_reduce1(m.sa.sa.bn_reduce1(m.sa.sa.conv_reduce1(x)))
        padded = F.pad(y, (2, 2, 2, 2))
        want = conv.bias[None, :, None, None].expand(2, -1, 9, 8).clone()
        for i in range(3):
            for j in range(3):
                patch = padded[:, :, 2 * i : 2 * i + 9, 2 * j : 2 * j + 8]
                want = want + torch.einsum(
                    "oc,bchw->bohw", conv.weight[:, :, i, j], patch
                )
        assert_close_rel(conv(y), want, RTOL, "bam dilated conv")


# ----------------------------------------------------------------------------- DANet


def test_damodule_sizes_come_from_the_arguments():
    """Published: always 512 channels, 3x3, H = W = 7, so this configuration crashes."""
    m = _ready(DAModule(d_model=32, kernel_size=5, H=6, W=5))
    assert m.position_attention_module.cnn.kernel_size == (5, 5)
    assert m.channel_attention_module.pa.fc_o.in_features == 30
    with torch.no_grad():
        assert m(_rand(3, 32, 6, 5)).shape == (3, 32, 6, 5)


# ----------------------------------------------------------------------------- PSA


def test_psa_layers_are_registered():
    """Published: plain lists, so no parameters, an empty state_dict, nothing moved."""
    m = PSA(channel=32, reduction=2, S=2).double()
    assert len(list(m.parameters())) == 2 * 2 + 2 * 2
    assert all(p.dtype == torch.float64 for p in m.parameters())
    assert (
        "convs.1.weight" in m.state_dict() and "se_blocks.1.3.weight" in m.state_dict()
    )


def test_psa_does_not_mutate_its_input_and_backward_works():
    """Published: writes the conv outputs into a view of the input; backward raises."""
    m = _ready(PSA(channel=32, reduction=2, S=2))
    x = _rand(2, 32, 6, 5, grad=True)
    before = x.detach().clone()
    out = m(x)
    assert torch.equal(x.detach(), before)
    out.square().sum().backward()
    assert x.grad.abs().max() > 0
    assert all(p.grad is not None for p in m.parameters())


# ----------------------------------------------------------------------------- MUSE


def test_muse_mixing_weights_are_a_function_of_the_parameter():
    """Published: dy_paras is replaced by softmax(dy_paras) on every call, so a second call
    differs (from [2, 0, -1]: [.84, .11, .04], then [.52, .25, .23]) and the registered
    parameter never gets a gradient."""
    m = _ready(MUSEAttention(d_model=32, d_k=8, d_v=8, h=4))
    with torch.no_grad():
        m.dy_paras.copy_(torch.tensor([2.0, 0.0, -1.0]))
    param = m.dy_paras
    x = _rand(2, 10, 32)
    b, n, h, d = 2, 10, 4, 8
    with torch.no_grad():
        first, second = m(x, x, x), m(x, x, x)
        assert m.dy_paras is param
        assert torch.equal(param, torch.tensor([2.0, 0.0, -1.0], dtype=torch.float64))
        assert torch.equal(first, second)
        # by hand: attention path + softmax([2, 0, -1])-weighted conv branches
        q = F.linear(x, m.fc_q.weight, m.fc_q.bias).view(b, n, h, d).transpose(1, 2)
        k = F.linear(x, m.fc_k.weight, m.fc_k.bias).view(b, n, h, d).transpose(1, 2)
        v = F.linear(x, m.fc_v.weight, m.fc_v.bias).view(b, n, h, d).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(2, 3) / d**0.5, dim=-1)
        sdpa = F.linear(
            (att @ v).transpose(1, 2).reshape(b, n, h * d), m.fc_o.weight, m.fc_o.bias
        )
        v2 = v.transpose(2, 3).reshape(b, h * d, n)

        def branch(conv, k):
            y = v2
            if k > 1:
                y = F.conv1d(
                    y,
                    conv.depth_conv.weight,
                    conv.depth_conv.bias,
                    padding=k // 2,
                    groups=h * d,
                )
            return F.conv1d(y, conv.pointwise_conv.weight, conv.pointwise_conv.bias)

        mix = [
            0.8437947344813395,
            0.11419519938459449,
            0.04201006613406605,
        ]  # softmax([2, 0, -1])
        convs = (
            mix[0] * branch(m.conv1, 1)
            + mix[1] * branch(m.conv3, 3)
            + mix[2] * branch(m.conv5, 5)
        )
        assert_close_rel(first, sdpa + convs.transpose(1, 2), RTOL, "muse by hand")
    m(x, x, x).sum().backward()
    assert m.dy_paras.grad is not None and m.dy_paras.grad.abs().max() > 0


# ----------------------------------------------------------------------------- AFT-local


def test_aft_local_keeps_its_parameter_and_masks_with_a_fixed_band():
    """Published: every forward replaces wbias by a new float32 Parameter built in a
    Python double loop (the optimizer keeps the stale one; float64 then fails)."""
    m = _ready(AFTLocal(max_seqlen=12, dim=8, hidden_dim=6, s=3))
    params_before = {n: p for n, p in m.named_parameters()}
    wbias = m.wbias.detach().clone()
    assert "band" in dict(m.named_buffers()) and "band" not in m.state_dict()
    x = _rand(2, 10, 8)
    out = m(x)  # float64 throughout
    assert out.dtype == torch.float64
    assert {n: p for n, p in m.named_parameters()} == params_before  # the same objects
    assert torch.equal(m.wbias.detach(), wbias)
    out.sum().backward()
    band = (torch.arange(12)[:, None] - torch.arange(12)[None, :]).abs() < 3
    grad = m.wbias.grad
    assert grad[:10, :10][band[:10, :10]].abs().min() > 0  # inside the band: learned
    assert torch.equal(grad[~band], torch.zeros_like(grad[~band]))  # outside: bias 0
    assert torch.equal(grad[10:], torch.zeros_like(grad[10:]))  # beyond T: unused


def test_aft_local_with_a_wide_band_is_aft_full():
    full = _ready(AFTFull(max_seqlen=12, dim=8, hidden_dim=6))
    local = AFTLocal(max_seqlen=12, dim=8, hidden_dim=6, s=12).double()
    local.load_state_dict(full.state_dict())
    x = _rand(2, 12, 8)
    with torch.no_grad():
        assert_close_rel(local(x), full(x), RTOL, "aft local, s = T")


# ----------------------------------------------------------------------------- Halo


def test_halo_masks_the_padding_not_the_pixels():
    """With zero queries and relative tables every logit is 0: the attention is uniform
    over what is NOT masked. A corner block then averages the values of the 3x3 real
    pixels of its 4x4 window (block 2, halo 1); the published mask (which masks the real
    pixels) would average the zero padding instead, giving to_out's bias."""
    m = _ready(HaloAttention(dim=8, block_size=2, halo_size=1, dim_head=4, heads=2))
    with torch.no_grad():
        m.to_q.weight.zero_()
        m.rel_pos_emb.rel_height.zero_()
        m.rel_pos_emb.rel_width.zero_()
        x = _rand(1, 8, 4, 4)
        out = m(x)
        v = F.linear(x.permute(0, 2, 3, 1), m.to_kv.weight)[
            ..., 8:
        ]  # 1, 4, 4, heads*dim_head
        corner = F.linear(v[0, :3, :3].mean(dim=(0, 1)), m.to_out.weight, m.to_out.bias)
        for i in range(2):
            for j in range(2):
                assert_close_rel(
                    out[0, :, i, j], corner, RTOL, f"halo corner pixel {i},{j}"
                )
        # a block's output does not depend on pixels outside its window
        far = x.clone()
        far[0, :, 3, 3] += 5.0
        assert torch.equal(m(far)[0, :, :2, :2], out[0, :, :2, :2])


# ----------------------------------------------------------------------------- S2


def test_s2_shift_moves_each_quarter_by_one_pixel():
    """Published: overlapping in-place copies; the "+1" shifts cascade (every row becomes
    row 0) and the caller's tensor is overwritten."""
    x = torch.arange(4 * 3 * 8, dtype=torch.float64).reshape(
        1, 4, 3, 8
    )  # b, rows, cols, c
    before = x.clone()
    one, two = spatial_shift1(x), spatial_shift2(x)
    assert torch.equal(x, before)
    rows_down = torch.cat(
        [x[:, :1], x[:, :-1]], dim=1
    )  # row r <- row r - 1, row 0 kept
    rows_up = torch.cat([x[:, 1:], x[:, -1:]], dim=1)
    cols_right = torch.cat([x[:, :, :1], x[:, :, :-1]], dim=2)
    cols_left = torch.cat([x[:, :, 1:], x[:, :, -1:]], dim=2)
    q = [slice(0, 2), slice(2, 4), slice(4, 6), slice(6, 8)]
    for got, moves in (
        (one, (rows_down, rows_up, cols_right, cols_left)),
        (two, (cols_right, cols_left, rows_down, rows_up)),
    ):
        for quarter, moved in zip(q, moves):
            assert torch.equal(got[..., quarter], moved[..., quarter])
    assert torch.equal(one[0, 2, 0, 0:2], before[0, 1, 0, 0:2])  # not row 0's (cascade)
    assert torch.equal(one[0, 3, 1, 0:2], before[0, 2, 1, 0:2])


def test_s2_split_attention_is_built_for_the_given_channels():
    """Published: SplitAttention() always has 512 channels, so channels=32 crashes."""
    m = _ready(S2Attention(channels=32))
    assert m.split_attention.mlp1.in_features == 32
    with torch.no_grad():
        assert m(_rand(2, 32, 5, 4)).shape == (2, 32, 5, 4)


# ----------------------------------------------------------------------------- Outlook


@pytest.mark.parametrize(
    "kernel_size,padding,stride", [(3, 1, 1), (3, 1, 2), (5, 2, 1), (5, 2, 3)]
)
def test_outlook_unfold_takes_its_arguments_by_name(kernel_size, padding, stride):
    """Published: nn.Unfold(k, p, s) positionally is (kernel, dilation=p, padding=s): only
    (3, 1, 1) works. Here the unfold matches the fold, for every stride and kernel."""
    m = _ready(
        OutlookAttention(
            dim=8, num_heads=2, kernel_size=kernel_size, padding=padding, stride=stride
        )
    )
    u = m.unflod
    assert (u.kernel_size, u.dilation, u.padding, u.stride) == (
        kernel_size,
        1,
        padding,
        stride,
    )
    with torch.no_grad():
        assert m(_rand(2, 7, 6, 8)).shape == (2, 7, 6, 8)


# ----------------------------------------------------------------------------- GFNet


def test_global_filter_keeps_float64():
    """Published: casts the input to float32, so a float64 module silently computes in
    float32 (relative error ~1e-7). Here float64 stays float64, and float32 stays float32.
    """
    m = _ready(GlobalFilter(dim=4, h=6, w=4))
    x = _rand(2, 36, 4)
    with torch.no_grad():
        out = m(x)
        assert out.dtype == torch.float64
        # an identity filter (1 + 0i) gives the input back to float64 precision
        m.complex_weight.zero_()
        m.complex_weight[..., 0] = 1.0
        assert_close_rel(m(x), x, 1e-13, "identity global filter, float64")
        assert m.float()(x.float()).dtype == torch.float32


# ----------------------------------------------------------------------------- seed 003


@pytest.mark.parametrize("kernel_size", [5, 7])
def test_cbam_res_larger_kernels_run(kernel_size):
    """Seed 003: the residual max-pool is padded by kernel_size // 2 > 1 and fails."""
    m = _ready(CBAtten_Res(8, 16, kernel_size=kernel_size, stride=2, reduction=2))
    assert m.max_pool.padding == 1
    with torch.no_grad():
        assert m(_rand(2, 8, 11, 10)).shape == (2, 16, 6, 5)


@pytest.mark.parametrize(
    "module",
    [
        lambda bf: CBAtten_Res(
            8, 16, kernel_size=3, stride=2, reduction=2, batch_first=bf
        ),
        lambda bf: SKEConv(16, M=3, G=4, L=8, batch_first=bf),
    ],
    ids=["CBAtten_Res", "SKEConv"],
)
def test_channel_first_layout_is_a_permutation(module):
    """Seed 003: CBAtten_Res re-permutes inside its inner blocks (the wrong axis),
    SKEConv calls x.permutation (no such method). Here (c, b, h, w) in gives exactly the
    batch-first result, permuted."""
    first = _ready(module(True))
    channel_first = module(False).double().eval()
    channel_first.load_state_dict(first.state_dict())
    x = _rand(3, 8 if isinstance(first, CBAtten_Res) else 16, 7, 6)
    with torch.no_grad():
        want = first(x).permute(1, 0, 2, 3)
        assert torch.equal(channel_first(x.permute(1, 0, 2, 3)), want)


def test_ske_conv_backward_works():
    """Seed 003: the in-place unsqueeze_ on in-place ReLU outputs breaks backward."""
    m = _ready(SKEConv(8, stride=2)).train()
    x = _rand(2, 8, 10, 10, grad=True)
    m(x).square().sum().backward()
    assert x.grad.abs().max() > 0
    assert m.M == 2 and len(SKEConv(8, M=3).convs) == 3 and SKEConv(8, M=3).M == 3
