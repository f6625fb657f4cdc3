"""Masks: tensor comparisons, `and`/`or`/`not` on masks, `where`, tensors made from sizes
(arange, eye, ones, zeros, tril, triu), and `buffer`s built once in `__init__`."""

from __future__ import annotations

import torch

from .language_support import agree, build, compile_ok, first_error, generated, rand

CAUSAL = """\
block Causal(n: int = 5, s: int = 2):
    input x: [b, n, d]
    buffer causal = tril(ones([n, n])) == 0
    buffer band = abs(unsqueeze(arange(n), 1) - unsqueeze(arange(n), 0)) < s
    att = masked_fill(x @ transpose(x, 1, 2), causal or not band, -inf)
    return softmax(att, dim=-1) @ x
"""


def test_buffers_are_built_once_and_stay_out_of_the_state_dict():
    code = compile_ok(CAUSAL)
    assert 'self.register_buffer("causal", torch.ones(n, n).tril() == 0, persistent=False)' in code
    module = build(CAUSAL, n=5, s=2)
    assert list(module.state_dict()) == []
    assert module.causal.dtype == torch.bool and module.causal.shape == (5, 5)
    want_band = torch.tensor([[abs(i - j) < 2 for j in range(5)] for i in range(5)])
    assert torch.equal(module.band, want_band)
    assert torch.equal(module.causal, torch.tensor([[j > i for j in range(5)] for i in range(5)]))


def test_a_buffered_mask_masks_what_a_direct_computation_masks():
    module = build(CAUSAL, n=5, s=2)
    x = rand(3, 5, 4)
    i, j = torch.arange(5)[:, None], torch.arange(5)[None, :]
    allowed = (j <= i) & ((i - j).abs() < 2)
    att = (x @ x.transpose(1, 2)).masked_fill(~allowed, float("-inf"))
    torch.testing.assert_close(module(x), att.softmax(dim=-1) @ x)
    assert agree(CAUSAL, {"n": 5, "s": 2}, {"x": (3, 5, 4)}) == "agree"


LOGIC = """\
block Logic():
    input x: [b, n]
    near = abs(x) < 1 and not x > 0.5 or x == 0
    return where(near, x, 0.1 * x) + where(x > 0, 1.0, x)
"""


def test_and_binds_tighter_than_or_and_both_looser_than_comparisons():
    code = compile_ok(LOGIC)
    assert "near = (x.abs() < 1) & ~(x > 0.5) | (x == 0)" in code
    module = build(LOGIC)
    x = rand(4, 6) * 2
    x[0, 0] = 0.0
    near = ((x.abs() < 1) & ~(x > 0.5)) | (x == 0)
    want = torch.where(near, x, 0.1 * x) + torch.where(x > 0, torch.ones_like(x), x)
    torch.testing.assert_close(module(x), want)
    assert agree(LOGIC, {}, {"x": (4, 6)}) == "agree"


DIAGONAL = """\
block CrissCrossDiagonal():
    input x: [b, c, h, w]
    # -inf on the diagonal: a pixel does not attend to itself twice (CrissCross)
    diagonal = masked_fill(zeros([h, h]), eye(h) == 1, -inf)
    energy = rearrange(x, "b c h w -> (b w) h c") @ rearrange(x, "b c h w -> (b w) c h") + diagonal
    return softmax(energy, dim=-1)
"""


def test_tensors_made_in_forward_take_the_inputs_device_and_dtype():
    code = compile_ok(DIAGONAL)
    assert "torch.zeros(h, h, device=x.device, dtype=x.dtype)" in code
    assert "torch.eye(h, device=x.device, dtype=x.dtype)" in code
    module = build(DIAGONAL)
    x = rand(2, 3, 4, 5)
    rows = x.permute(0, 3, 2, 1).reshape(10, 4, 3)
    energy = rows @ rows.transpose(1, 2) + torch.diag(torch.full((4,), float("-inf"), dtype=torch.float64)).nan_to_num(
        nan=0.0, posinf=0.0, neginf=float("-inf"))
    got = module(x)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, energy.softmax(dim=-1))
    assert torch.all(got.diagonal(dim1=1, dim2=2) == 0)
    assert agree(DIAGONAL, {}, {"x": (2, 3, 4, 5)}) == "agree"


def test_buffers_follow_the_module_to_another_dtype():
    """A float buffer moves with `.double()`; an integer one (positions) stays int64, as
    torch keeps integer buffers."""
    source = ("block B(n: int = 3):\n    input x: [b, n]\n    buffer scale = float(arange(n)) + 1\n"
              "    buffer count = arange(n) + 1\n    return x * scale + count\n")
    module = generated(source)(n=3)
    assert module.scale.dtype == torch.get_default_dtype() and module.count.dtype == torch.int64
    module = module.double()
    assert module.scale.dtype == torch.float64 and module.count.dtype == torch.int64
    x = rand(2, 3)
    positions = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(module(x), x * positions + positions)


def test_masks_trace_under_torch_compile_and_export():
    module = generated(CAUSAL)(n=5, s=2).eval()
    x = torch.randn(2, 5, 4)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), module(x))
    exported = torch.export.export(generated(DIAGONAL)().eval(), (torch.randn(2, 3, 4, 5),))
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(exported.module()(x), generated(DIAGONAL)()(x))


def _error(body: str, head: str = "block B(n: int = 4, flag: bool = true):\n    input x: [b, n]\n"):
    return first_error(head + body)


def test_misused_masks_are_located_errors():
    code, line, column, message = _error("    if x > 0:\n        x = x * 2\n    return x\n")
    assert (code, line, column) == ("E0113", 3, 8) and "mask" in message
    code, line, column, message = _error("    return where(x > 0 and flag, x, 0)\n")
    assert (code, line, column) == ("E0113", 3, 28)
    assert _error("    return x + where(x > 0, 1.0, 0.0)\n")[:3] == ("E0113", 3, 16)
    assert _error("    return where(not x, x, 0)\n")[:2] == ("E0209", 3)
    code, line, column, message = _error("    buffer m = x > 0\n    return x\n")
    assert (code, line, column) == ("E0113", 3, 16) and "before any input" in message
    code, line, column, message = _error("    buffer m = arange(b)\n    return x\n")
    assert (code, line, column) == ("E0113", 3, 23)
    assert _error("    buffer m = 3\n    return x\n")[:3] == ("E0113", 3, 16)
    head = "block B():\n    input m: bool[b, n]\n"
    code, _, _, message = _error("    return where(m, eye(n), 0.0)\n", head)
    assert code == "E0113" and "device and dtype" in message
    assert _error("    return tril(arange(n))\n")[:2] == ("E0202", 3)


FINITE_FILL = """\
block A(d: int = 8):
    input q: [b, h, n, d]
    input k: [b, h, n, d]
    input v: [b, h, n, d]
    input mask: bool[b, 1, n, n]
    att = q @ transpose(k, -2, -1) * d ** -0.5
    att = masked_fill(att, mask, FILL)
    return softmax(att, dim=-1) @ v
"""


def test_the_fill_may_be_the_limit_of_the_filled_tensors_dtype():
    """`attn.masked_fill(mask, -torch.finfo(attn.dtype).max)` (timm, Hugging Face): finite in
    every dtype, so a fully masked row is uniform where -inf gives NaN."""
    source = FINITE_FILL.replace("FILL", "-finfo(att).max")
    code = compile_ok(source)
    assert "att = att.masked_fill(mask, -torch.finfo(att.dtype).max)" in code  # the filled tensor is named
    assert "scaled_dot_product_attention" not in code  # not -inf: SDPA would differ on a fully masked row
    module = build(source)
    q, k, v = rand(1, 2, 3, 8), rand(1, 2, 3, 8, seed=1), rand(1, 2, 3, 8, seed=2)
    mask = torch.zeros(1, 1, 3, 3, dtype=torch.bool)
    mask[..., 0, :] = True  # the first query sees no key
    out = module(q, k, v, mask)
    assert torch.allclose(out[:, :, 0], v.mean(dim=2), atol=1e-12)  # uniform weights, not NaN
    assert not torch.isnan(out).any()
    half = generated(source)().eval()(q.half(), k.half(), v.half(), mask)
    assert not torch.isnan(half).any()  # torch.finfo(float16).max, where float32's would overflow
    for fill in ("-finfo(att).max", "finfo(att).min"):
        assert agree(FINITE_FILL.replace("FILL", fill), {}, {"q": (2, 2, 3, 8), "k": (2, 2, 3, 8),
                                                               "v": (2, 2, 3, 8), "mask": (2, 1, 3, 3)},
                     masks={"mask"}) == "agree"


def test_a_dtype_limit_is_only_a_fill_value_of_its_own_tensor():
    def error(fill):
        return first_error(FINITE_FILL.replace("FILL", fill))[0::3]

    assert error("-finfo(q).max") == ("E0113", "finfo() gives the fill value of masked_fill, of the tensor it fills")
    assert error("finfo(att).eps")[0] == "E0113"
    assert error("finfo(d).max") == ("E0113", "finfo() takes a tensor, whose floating dtype it describes")
    assert first_error(FINITE_FILL.replace("masked_fill(att, mask, FILL)", "att + finfo(att).min"))[0::3] == (
        "E0113", "finfo() gives the fill value of masked_fill, not a number to compute with")


def test_a_dtype_name_says_that_masks_come_from_comparisons():
    source = """\
block M():
    input x: [b, n, n]
    return masked_fill(x, triu(ones([n, n], dtype=bool), 1), -inf)
"""
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0101", 3) and "names no dtypes" in message, message
