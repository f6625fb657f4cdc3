"""Self-tests of the hand-written references (no compiler needed).

For every reference: it runs at its example configuration with the right output shape,
its state_dict keys and shapes are exactly those of INTERFACES.md (in order), and at
least one independent check of its math (a second formulation written differently:
einsum / loops / torch's SDPA / known permutations / invariances).

The generic tests run over every row, compared (``CASES``) or waiting for its spec
(``PENDING_CASES``); the pending references' own math and bug-fix tests are in
tests/test_catalogue_*.py.
"""

import inspect
import math

import pytest
import torch
import torch.nn.functional as F

from .expected_state import PENDING_STATE
from .harness import assert_close_rel, outputs_of, randomize_
from .interface import check_batch_independence
from .mechanisms import ALL_CASES, CASES, CASES_BY_ID, example_cases
from .references.aft_full import AFT_FULL
from .references.emsa import EMSA
from .references.sdpa import ScaledDotProductAttention
from .references.sge import SpatialGroupEnhance
from .references.shuffle_attention import ShuffleAttention
from .references.sk import SKAttention

RTOL = 1e-10  # float64, relative to the largest magnitude


def _sk_keys(kernels, c=64, d=32, group=1):
    keys = {}
    for i, k in enumerate(kernels):
        keys[f"convs.{i}.conv.weight"] = (c, c // group, k, k)
        keys[f"convs.{i}.conv.bias"] = (c,)
        for n in ("weight", "bias", "running_mean", "running_var"):
            keys[f"convs.{i}.bn.{n}"] = (c,)
        keys[f"convs.{i}.bn.num_batches_tracked"] = ()
    keys["fc.weight"] = (d, c)
    keys["fc.bias"] = (d,)
    for i in range(len(kernels)):
        keys[f"fcs.{i}.weight"] = (c, d)
        keys[f"fcs.{i}.bias"] = (c,)
    return keys


_LIN = lambda name, o, i: {f"{name}.weight": (o, i), f"{name}.bias": (o,)}  # noqa: E731
_EMSA_BASE = {
    **_LIN("fc_q", 64, 64),
    **_LIN("fc_k", 64, 64),
    **_LIN("fc_v", 64, 64),
    **_LIN("fc_o", 64, 64),
}
_EMSA_SR = {
    "sr_conv.weight": (64, 1, 3, 3),
    "sr_conv.bias": (64,),
    "sr_ln.weight": (64,),
    "sr_ln.bias": (64,),
}
_EMSA_T = {"transform.conv.weight": (4, 4, 1, 1), "transform.conv.bias": (4,)}

# From /work/shared/INTERFACES.md (examples), plus the branch variants of the table.
EXPECTED_STATE = {
    "sge": {"weight": (1, 8, 1, 1), "bias": (1, 8, 1, 1)},
    "shuffle_attention": {
        "cweight": (1, 4, 1, 1),
        "cbias": (1, 4, 1, 1),
        "sweight": (1, 4, 1, 1),
        "sbias": (1, 4, 1, 1),
        "gn.weight": (4,),
        "gn.bias": (4,),
    },
    "sge-g4-nonsquare": {"weight": (1, 4, 1, 1), "bias": (1, 4, 1, 1)},
    "shuffle_attention-c32-g4-nonsquare": {
        "cweight": (1, 4, 1, 1),
        "cbias": (1, 4, 1, 1),
        "sweight": (1, 4, 1, 1),
        "sbias": (1, 4, 1, 1),
        "gn.weight": (4,),
        "gn.bias": (4,),
    },
    "se": {"fc.0.weight": (8, 64), "fc.2.weight": (64, 8)},
    "cbam": {
        "ca.se.0.weight": (4, 64, 1, 1),
        "ca.se.2.weight": (64, 4, 1, 1),
        "sa.conv.weight": (1, 2, 7, 7),
        "sa.conv.bias": (1,),
    },
    "cbam-k3-nonsquare": {
        "ca.se.0.weight": (4, 32, 1, 1),
        "ca.se.2.weight": (32, 4, 1, 1),
        "sa.conv.weight": (1, 2, 3, 3),
        "sa.conv.bias": (1,),
    },
    "sdpa": {
        "fc_q.weight": (64, 64),
        "fc_q.bias": (64,),
        "fc_k.weight": (64, 64),
        "fc_k.bias": (64,),
        "fc_v.weight": (32, 64),
        "fc_v.bias": (32,),
        "fc_o.weight": (64, 32),
        "fc_o.bias": (64,),
    },
    "emsa-r2-t1": {**_EMSA_BASE, **_EMSA_SR, **_EMSA_T},
    "emsa-r2-t0": {**_EMSA_BASE, **_EMSA_SR},
    "emsa-r1-t1": {**_EMSA_BASE, **_EMSA_T},
    "emsa-r1-t0": dict(_EMSA_BASE),
    "emsa-r2-h1": {
        **_LIN("fc_q", 16, 64),
        **_LIN("fc_k", 16, 64),
        **_LIN("fc_v", 8, 64),
        **_LIN("fc_o", 64, 8),
        **_EMSA_SR,
    },
    "double_attention": {
        "convA.weight": (16, 64, 1, 1),
        "convA.bias": (16,),
        "convB.weight": (8, 64, 1, 1),
        "convB.bias": (8,),
        "convV.weight": (8, 64, 1, 1),
        "convV.bias": (8,),
        "conv_reconstruct.weight": (64, 16, 1, 1),
        "conv_reconstruct.bias": (64,),
    },
    "double_attention-noreconstruct": {
        "convA.weight": (16, 64, 1, 1),
        "convA.bias": (16,),
        "convB.weight": (8, 64, 1, 1),
        "convB.bias": (8,),
        "convV.weight": (8, 64, 1, 1),
        "convV.bias": (8,),
    },
    "external_attention": {"mk.weight": (8, 64), "mv.weight": (64, 8)},
    "aft_full": {
        "position_biases": (49, 49),
        "fc_q.weight": (64, 64),
        "fc_q.bias": (64,),
        "fc_k.weight": (64, 64),
        "fc_k.bias": (64,),
        "fc_v.weight": (64, 64),
        "fc_v.bias": (64,),
    },
    "aft_full-simple": {
        **_LIN("fc_q", 64, 64),
        **_LIN("fc_k", 64, 64),
        **_LIN("fc_v", 64, 64),
    },
    "sk": _sk_keys([1, 3, 5, 7]),
    "sk-k35-g2": _sk_keys([3, 5], group=2),
    "efficient_attention": {
        "keys.weight": (16, 64, 1, 1),
        "keys.bias": (16,),
        "queries.weight": (16, 64, 1, 1),
        "queries.bias": (16,),
        "values.weight": (16, 64, 1, 1),
        "values.bias": (16,),
        "reprojection.weight": (64, 16, 1, 1),
        "reprojection.bias": (64,),
    },
}
# the mask/weights variants share the state of their base configuration
for _c in CASES:
    _base = _c.id.replace("-mask-weights", "")
    if _c.id not in EXPECTED_STATE and _base in EXPECTED_STATE:
        EXPECTED_STATE[_c.id] = EXPECTED_STATE[_base]
for _sdpa in ("sdpa-mask", "sdpa-weights", "sdpa-mask-weights"):
    EXPECTED_STATE[_sdpa] = EXPECTED_STATE["sdpa"]
EXPECTED_STATE["emsa-r1-t1-nk40"] = EXPECTED_STATE["emsa-r1-t1"]
EXPECTED_STATE.update(PENDING_STATE)
ALL_EXAMPLES = example_cases(ALL_CASES)


def _ready(case, seed=None):
    """The reference of ``case``, float64, eval, randomised."""
    torch.manual_seed(0)
    m = case.build_reference().double().eval()
    return randomize_(m, case.seed if seed is None else seed)


def _ready_ex(module, seed=1):
    return randomize_(module.double().eval(), seed)


def _rand(*shape, seed=0):
    return torch.randn(
        shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


# ----------------------------------------------------------------------------- generic


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_forward_shape_and_finite(case):
    m = _ready(case)
    args, kwargs = case.make_inputs()
    with torch.no_grad():
        outs = outputs_of(m(*args, **kwargs))
    assert [tuple(o.shape) for _, o in outs] == case.output_shapes
    for name, out in outs:
        assert out.dtype == torch.float64, name
        assert torch.isfinite(out).all(), name
        # not degenerate after randomisation (otherwise comparisons prove little)
        assert out.abs().max() > 1e-2, name


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_state_dict_matches_interfaces(case):
    m = case.build_reference()
    got = [(k, tuple(v.shape)) for k, v in m.state_dict().items()]
    want = list(EXPECTED_STATE[case.id].items())
    assert sorted(got) == sorted(want)
    assert got == want, "state_dict order differs from INTERFACES.md"


@pytest.mark.parametrize("case", ALL_EXAMPLES, ids=lambda c: c.id)
def test_signature_names_inputs(case):
    """The case table's input names are the forward's leading parameters."""
    params = [
        p for p in inspect.signature(case.reference.forward).parameters if p != "self"
    ]
    assert params[: len(case.inputs)] == list(case.inputs)
    for name in case.extras:
        assert name in params


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_batch_independence(case):
    check_batch_independence(_ready(case), case)


@pytest.mark.parametrize("case", ALL_EXAMPLES, ids=lambda c: c.id)
def test_float32_close_to_float64(case):
    """Calibrates the float32 tolerance of the harness: the reference in float32 is within
    a small fraction of ``rtol32`` of itself in float64."""
    m64 = _ready(case)
    m32 = _ready(case).float()
    args, kwargs = case.make_inputs()
    with torch.no_grad():
        out64 = m64(*args, **kwargs)
        out32 = m32(
            *[a.float() for a in args],
            **{
                k: (v.float() if v.is_floating_point() else v)
                for k, v in kwargs.items()
            },
        )
    for (name, o32), (_, o64) in zip(outputs_of(out32), outputs_of(out64)):
        assert_close_rel(
            o32.double(), o64, case.rtol32 / 10, f"{case.id} float32 vs float64 {name}"
        )


# ----------------------------------------------------------------------------- per-mechanism math


def test_sge_math():
    m = _ready_ex(SpatialGroupEnhance(groups=4))
    x = _rand(3, 32, 6, 5)
    b, c, h, w = x.shape
    g = 4
    out = torch.empty_like(x)
    for i in range(b):
        for j in range(g):
            xs = x[i, j * c // g : (j + 1) * c // g]  # c/g, h, w
            desc = xs.mean(dim=(1, 2))  # c/g
            sim = torch.einsum("chw,c->hw", xs, desc).flatten()
            n = sim.numel()
            mu = sim.sum() / n
            sd = math.sqrt(((sim - mu) ** 2).sum().item() / (n - 1))  # unbiased
            t = (sim - mu) / (sd + 1e-5) * m.weight[0, j, 0, 0] + m.bias[0, j, 0, 0]
            out[i, j * c // g : (j + 1) * c // g] = xs * torch.sigmoid(t.view(h, w))
    with torch.no_grad():
        assert_close_rel(m(x), out, RTOL, "sge")
    # at the default init (weight = bias = 0) the block is 0.5 * x
    m0 = SpatialGroupEnhance(groups=4).double()
    with torch.no_grad():
        assert_close_rel(m0(x), 0.5 * x, RTOL, "sge at init")


def test_shuffle_attention_channel_permutation():
    x = _rand(2, 32, 3, 4)
    out = ShuffleAttention.channel_shuffle(x, 2)
    # output channel 2*i + j comes from input channel j*(c/2) + i
    perm = [j * 16 + i for i in range(16) for j in range(2)]
    assert torch.equal(out, x[:, perm])
    # a saturated gate turns the whole block into the shuffle of its (group-laid) input
    m = ShuffleAttention(channel=32, G=4).double()
    with torch.no_grad():
        m.cweight.zero_()
        m.sweight.zero_()
        m.cbias.fill_(60.0)
        m.sbias.fill_(60.0)
        assert torch.equal(m(x), x[:, perm])


def test_shuffle_attention_math():
    c, G = 32, 4
    m = _ready_ex(ShuffleAttention(channel=c, reduction=4, G=G))
    x = _rand(3, c, 6, 5)
    b, _, h, w = x.shape
    cg = c // (2 * G)
    pieces = []
    for gi in range(G):
        xg = x[:, gi * c // G : (gi + 1) * c // G]
        x0, x1 = xg[:, :cg], xg[:, cg:]
        cw, cb = m.cweight.view(1, cg, 1, 1), m.cbias.view(1, cg, 1, 1)
        sw, sb = m.sweight.view(1, cg, 1, 1), m.sbias.view(1, cg, 1, 1)
        xc = x0 * torch.sigmoid(cw * x0.mean(dim=(2, 3), keepdim=True) + cb)
        mu = x1.mean(dim=(2, 3), keepdim=True)
        var = ((x1 - mu) ** 2).mean(dim=(2, 3), keepdim=True)  # biased, as GroupNorm
        gn = (x1 - mu) / torch.sqrt(var + 1e-5) * m.gn.weight.view(
            1, cg, 1, 1
        ) + m.gn.bias.view(1, cg, 1, 1)
        xs = x1 * torch.sigmoid(sw * gn + sb)
        pieces += [xc, xs]
    y = torch.cat(pieces, dim=1)
    perm = [j * (c // 2) + i for i in range(c // 2) for j in range(2)]
    with torch.no_grad():
        assert_close_rel(m(x), y[:, perm], RTOL, "shuffle attention")


def test_se_math():
    m = _ready(CASES_BY_ID["se"])
    x = _rand(2, 64, 7, 7)
    w1, w2 = m.fc[0].weight, m.fc[2].weight
    s = torch.einsum("bchw->bc", x) / 49
    a = torch.sigmoid(
        torch.einsum("oc,bc->bo", w2, torch.relu(torch.einsum("rc,bc->br", w1, s)))
    )
    with torch.no_grad():
        assert_close_rel(m(x), x * a[:, :, None, None], RTOL, "se")


def test_cbam_math():
    m = _ready(CASES_BY_ID["cbam-k3-nonsquare"])
    x = _rand(3, 32, 8, 6)
    w1 = m.ca.se[0].weight[:, :, 0, 0]
    w2 = m.ca.se[2].weight[:, :, 0, 0]

    def mlp(v):
        return torch.einsum(
            "cr,br->bc", w2, torch.relu(torch.einsum("rc,bc->br", w1, v))
        )

    ca = torch.sigmoid(mlp(x.amax(dim=(2, 3))) + mlp(x.mean(dim=(2, 3))))
    y = x * ca[:, :, None, None]
    # spatial conv written as an explicit sum over kernel offsets (zero padding)
    k = 3
    pooled = torch.stack([y.amax(dim=1), y.mean(dim=1)], dim=1)  # b,2,h,w  (max first)
    padded = F.pad(pooled, (k // 2,) * 4)
    conv = torch.full_like(pooled[:, 0], m.sa.conv.bias.item())
    for di in range(k):
        for dj in range(k):
            patch = padded[:, :, di : di + 8, dj : dj + 6]
            conv = conv + torch.einsum(
                "bchw,c->bhw", patch, m.sa.conv.weight[0, :, di, dj]
            )
    want = y * torch.sigmoid(conv)[:, None] + x
    with torch.no_grad():
        assert_close_rel(m(x), want, RTOL, "cbam")


def _sdpa_by_hand(m, q_in, k_in, v_in, h, d_k, d_v, mask=None, weights=None):
    q = (q_in @ m.fc_q.weight.T + m.fc_q.bias).unflatten(-1, (h, d_k))
    k = (k_in @ m.fc_k.weight.T + m.fc_k.bias).unflatten(-1, (h, d_k))
    v = (v_in @ m.fc_v.weight.T + m.fc_v.bias).unflatten(-1, (h, d_v))
    logits = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d_k)
    if weights is not None:
        logits = logits * weights
    if mask is not None:
        logits = torch.where(mask, torch.full_like(logits, -1e300), logits)
    p = torch.exp(logits - logits.amax(-1, keepdim=True))
    p = p / p.sum(-1, keepdim=True)
    o = torch.einsum("bhqk,bkhd->bqhd", p, v).flatten(2)
    return o @ m.fc_o.weight.T + m.fc_o.bias


def test_sdpa_against_torch_sdpa():
    case = CASES_BY_ID["sdpa-mask"]
    m = _ready(case)
    (q_in, k_in, v_in), kw = case.make_inputs()
    mask = kw["attention_mask"]
    h, d_k, d_v = 4, 16, 8
    q = m.fc_q(q_in).view(2, 49, h, d_k).transpose(1, 2)
    k = m.fc_k(k_in).view(2, 30, h, d_k).transpose(1, 2)
    v = m.fc_v(v_in).view(2, 30, h, d_v).transpose(1, 2)
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=~mask)  # torch: True = attend
    want = m.fc_o(o.transpose(1, 2).reshape(2, 49, h * d_v))
    with torch.no_grad():
        assert_close_rel(
            m(q_in, k_in, v_in, attention_mask=mask), want, RTOL, "sdpa vs torch sdpa"
        )
        # all-ones weights and an all-False mask are no-ops
        ones = torch.ones(2, h, 49, 30, dtype=torch.float64)
        none = torch.zeros(2, h, 49, 30, dtype=torch.bool)
        assert_close_rel(
            m(q_in, k_in, v_in, none, ones),
            m(q_in, k_in, v_in),
            RTOL,
            "sdpa no-op extras",
        )


def test_sdpa_weights_by_hand():
    case = CASES_BY_ID["sdpa-mask-weights"]
    m = _ready(case)
    args, kw = case.make_inputs()
    want = _sdpa_by_hand(
        m, *args, 4, 16, 8, kw["attention_mask"], kw["attention_weights"]
    )
    with torch.no_grad():
        assert_close_rel(m(*args, **kw), want, RTOL, "sdpa with weights")


def test_emsa_without_reduction_or_transform_is_sdpa():
    case = CASES_BY_ID["emsa-r1-t0-mask-weights"]
    m = _ready(case)
    sdpa = ScaledDotProductAttention(64, 16, 16, 4).double().eval()
    sdpa.load_state_dict(m.state_dict(), strict=True)
    args, kw = case.make_inputs()
    with torch.no_grad():
        assert_close_rel(
            m(*args, **kw), sdpa(*args, **kw), RTOL, "emsa(r1, no transform) vs sdpa"
        )


def test_emsa_reduction_and_transform_by_hand():
    case = CASES_BY_ID["emsa-r2-t1-mask-weights"]
    m = _ready(case)
    (q_in, k_in, v_in), kw = case.make_inputs()
    b, n, c = q_in.shape
    h, d_k = 4, 16
    # spatial reduction: depthwise 3x3 conv, stride 2, pad 1 on the 8x8 token grid, as a loop
    grid = F.pad(q_in.transpose(1, 2).reshape(b, c, 8, 8), (1, 1, 1, 1))
    red = torch.empty(b, c, 4, 4, dtype=torch.float64)
    for i in range(4):
        for j in range(4):
            win = grid[:, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]
            red[:, :, i, j] = (win * m.sr_conv.weight[:, 0]).sum(
                dim=(2, 3)
            ) + m.sr_conv.bias
    x = red.flatten(2).transpose(1, 2)  # b,16,c
    x = F.layer_norm(x, (c,), m.sr_ln.weight, m.sr_ln.bias, 1e-5)
    q = (q_in @ m.fc_q.weight.T + m.fc_q.bias).unflatten(-1, (h, d_k))
    k = (x @ m.fc_k.weight.T + m.fc_k.bias).unflatten(-1, (h, d_k))
    v = (x @ m.fc_v.weight.T + m.fc_v.bias).unflatten(-1, (h, 16))
    logits = torch.einsum("bqhd,bkhd->bhqk", q, k) / 4.0
    logits = torch.einsum("gh,bhqk->bgqk", m.transform.conv.weight[:, :, 0, 0], logits)
    logits = logits + m.transform.conv.bias[None, :, None, None]
    logits = logits * kw["attention_weights"]
    logits = logits.masked_fill(kw["attention_mask"], -math.inf)
    p = torch.softmax(logits, dim=-1)
    mu = p.mean(dim=(2, 3), keepdim=True)
    var = p.var(dim=(2, 3), unbiased=False, keepdim=True)
    p = (p - mu) / torch.sqrt(var + 1e-5)
    o = torch.einsum("bhqk,bkhd->bqhd", p, v).flatten(2)
    want = o @ m.fc_o.weight.T + m.fc_o.bias
    with torch.no_grad():
        got = m(q_in, k_in, v_in, **kw)
        assert_close_rel(got, want, RTOL, "emsa by hand")
        # with ratio > 1 the keys/values arguments are ignored (as published)
        other = m(q_in, torch.randn_like(k_in), torch.randn_like(v_in), **kw)
        assert torch.equal(got, other)


def test_emsa_transform_off_when_single_head():
    m = EMSA(64, 16, 8, h=1, H=8, W=8, ratio=2, apply_transform=True)
    assert not m.apply_transform and not hasattr(m, "transform")


def test_double_attention_math_and_no_batch_coupling():
    m = _ready(CASES_BY_ID["double_attention"])
    x = _rand(2, 64, 7, 7)

    def conv1x1(conv, t):
        return (
            torch.einsum("oc,bchw->bohw", conv.weight[:, :, 0, 0], t)
            + conv.bias[None, :, None, None]
        )

    A = conv1x1(m.convA, x).flatten(2)
    Bm = torch.softmax(conv1x1(m.convB, x).flatten(2), dim=2)  # each map over positions
    V = torch.softmax(conv1x1(m.convV, x).flatten(2), dim=1)  # per position over c_n
    G = torch.einsum("bmp,bnp->bmn", A, Bm)
    Z = torch.einsum("bmn,bnp->bmp", G, V).view(2, 16, 7, 7)
    want = conv1x1(m.conv_reconstruct, Z)
    with torch.no_grad():
        assert_close_rel(m(x), want, RTOL, "double attention")
        # the published softmax-over-batch bug would make these differ
        assert_close_rel(m(x[:1]), m(x)[:1], RTOL, "double attention sample 0 alone")


def test_external_attention_math():
    m = _ready(CASES_BY_ID["external_attention"])
    x = _rand(2, 49, 64)
    logits = torch.einsum("bnd,sd->bns", x, m.mk.weight)
    a = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)  # over tokens
    a = a / a.sum(dim=2, keepdim=True)  # over slots
    with torch.no_grad():
        got = m(x)
        assert_close_rel(
            got, torch.einsum("bns,ds->bnd", a, m.mv.weight), RTOL, "external attention"
        )


@pytest.mark.parametrize("simple", [False, True])
def test_aft_full_math(simple):
    m = _ready_ex(AFT_FULL(64, n=49, simple=simple))
    assert ("position_biases" in m.state_dict()) is not simple
    x = _rand(2, 49, 64)
    q = x @ m.fc_q.weight.T + m.fc_q.bias
    k = x @ m.fc_k.weight.T + m.fc_k.bias
    v = x @ m.fc_v.weight.T + m.fc_v.bias
    w = torch.zeros(49, 49, dtype=torch.float64) if simple else m.position_biases
    rows = []
    for t in range(
        49
    ):  # out[t] = sigmoid(q_t) * sum_t' softmax_t'(k_t' + w[t, t']) v_t'
        a = torch.softmax(k + w[t][None, :, None], dim=1)  # b, t', d
        rows.append(torch.sigmoid(q[:, t]) * (a * v).sum(dim=1))
    want = torch.stack(rows, dim=1)
    with torch.no_grad():
        assert_close_rel(m(x), want, RTOL, f"aft_full simple={simple}")


def test_sk_single_kernel_is_its_branch():
    m = _ready_ex(SKAttention(channel=32, kernels=[3], reduction=8, L=8))
    x = _rand(2, 32, 5, 6)
    with torch.no_grad():
        assert_close_rel(m(x), m.convs[0](x), RTOL, "sk with one branch")


def test_sk_math():
    m = _ready(CASES_BY_ID["sk-k35-g2"])
    x = _rand(2, 64, 7, 7)
    with torch.no_grad():
        feats = []
        for branch in m.convs:
            conv, bn = branch.conv, branch.bn
            y = F.conv2d(
                x, conv.weight, conv.bias, padding=conv.padding, groups=conv.groups
            )
            y = (y - bn.running_mean[:, None, None]) / torch.sqrt(
                bn.running_var[:, None, None] + bn.eps
            )
            feats.append(
                torch.relu(y * bn.weight[:, None, None] + bn.bias[:, None, None])
            )
        s = sum(f.mean(dim=(2, 3)) for f in feats)  # b,c
        z = s @ m.fc.weight.T + m.fc.bias
        logits = torch.stack([z @ fc.weight.T + fc.bias for fc in m.fcs])  # k,b,c
        a = torch.softmax(logits, dim=0)
        want = sum(a[i][:, :, None, None] * feats[i] for i in range(len(feats)))
        assert_close_rel(m(x), want, RTOL, "sk")


def test_efficient_attention_vectorised():
    m = _ready(CASES_BY_ID["efficient_attention"])
    x = _rand(2, 64, 9, 9)
    heads, hk, hv = 4, 4, 4

    def conv1x1(conv, t):
        return (
            torch.einsum("oc,bcp->bop", conv.weight[:, :, 0, 0], t.flatten(2))
            + conv.bias[None, :, None]
        )

    K = torch.softmax(conv1x1(m.keys, x).view(2, heads, hk, 81), dim=3)
    Q = torch.softmax(conv1x1(m.queries, x).view(2, heads, hk, 81), dim=2)
    V = conv1x1(m.values, x).view(2, heads, hv, 81)
    ctx = torch.einsum("bhkp,bhvp->bhkv", K, V)
    att = torch.einsum("bhkv,bhkp->bhvp", ctx, Q).reshape(2, heads * hv, 9, 9)
    want = conv1x1(m.reprojection, att).view(2, 64, 9, 9) + x
    with torch.no_grad():
        assert_close_rel(m(x), want, RTOL, "efficient attention")
