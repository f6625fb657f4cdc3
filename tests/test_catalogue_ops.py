"""The ops added for the catalogue (attndsl/ops: views, padding, windows, resampling,
spectra, the functional activations, norm/normalize), each checked three ways:

- the generated module against the op's math written here with plain torch (float64,
  values, not just shapes), and the line it generates reads like hand-written code;
- the generated module against the interpreter (tests/differential.run_case: random
  weights, eval and training mode), including a case that both must refuse;
- a misuse is a located diagnostic (code, line, column), never a failure left to torch.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from .language_support import agree, build, compile_ok, first_error, rand

# name -> (spec, constructor arguments, input shapes, the math, a line the module has)
CASES = {
    "gelu_tanh": ("input x: [b, n, d]\nreturn gelu(x, approximate=\"tanh\")", {}, {"x": (2, 3, 4)},
                  lambda m, x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
                  'return F.gelu(x, approximate="tanh")'),
    "silu": ("input x: [b, n]\nreturn silu(x)", {}, {"x": (2, 5)}, lambda m, x: x / (1 + torch.exp(-x)),
             "return F.silu(x)"),
    "relu6": ("input x: [b, n]\nreturn relu6(x * 4)", {}, {"x": (2, 9)}, lambda m, x: (4 * x).clamp(0, 6),
              "return F.relu6(x * 4)"),
    "hardsigmoid": ("input x: [b, n]\nreturn hardsigmoid(x * 4)", {}, {"x": (2, 9)},
                    lambda m, x: ((4 * x + 3).clamp(0, 6)) / 6, "return F.hardsigmoid(x * 4)"),
    "hardswish": ("input x: [b, n]\nreturn hardswish(x * 4)", {}, {"x": (2, 9)},
                  lambda m, x: 4 * x * (4 * x + 3).clamp(0, 6) / 6, "return F.hardswish(x * 4)"),
    "elu": ("input x: [b, n]\nreturn elu(x, alpha=0.5)", {}, {"x": (2, 9)},
            lambda m, x: torch.where(x > 0, x, 0.5 * (torch.exp(x) - 1)), "return F.elu(x, alpha=0.5)"),
    "leaky_relu": ("input x: [b, n]\nreturn leaky_relu(x, negative_slope=0.2)", {}, {"x": (2, 9)},
                   lambda m, x: torch.where(x > 0, x, 0.2 * x), "return F.leaky_relu(x, negative_slope=0.2)"),
    "softplus": ("input x: [b, n]\nreturn softplus(x, beta=2, threshold=1)", {}, {"x": (2, 9)},
                 lambda m, x: torch.where(2 * x > 1, x, torch.log(1 + torch.exp(2 * x)) / 2),
                 "return F.softplus(x, beta=2, threshold=1)"),
    "norm": ("input x: [b, h, n, d]\nreturn x / norm(x, dim=-1, keepdim=true)", {}, {"x": (2, 2, 3, 4)},
             lambda m, x: x / (x * x).sum(dim=-1, keepdim=True).sqrt(), "return x / x.norm(dim=-1, keepdim=True)"),
    "norm_all": ("input x: [b, n]\nreturn norm(x)", {}, {"x": (2, 3)}, lambda m, x: (x * x).sum().sqrt(),
                 "return x.norm()"),
    # ConvNeXt-V2's GRN: torch.norm(x, p=2, dim=(1, 2), keepdim=True) over the [h, w] of [b, h, w, c]
    "norm_p2_grn": ("input x: [b, h, w, c]\ngx = norm(x, p=2, dim=(1, 2), keepdim=true)\n"
                    "return x * (gx / (mean(gx, dim=-1, keepdim=true) + 1e-6))", {}, {"x": (2, 3, 4, 5)},
                    lambda m, x: x * (lambda g: g / (g.mean(-1, keepdim=True) + 1e-6))(
                        (x * x).sum(dim=(1, 2), keepdim=True).sqrt()),
                    "gx = x.norm(dim=(1, 2), keepdim=True)"),
    "norm_p1": ("input x: [b, n, d]\nreturn norm(x, dim=-1, p=1)", {}, {"x": (2, 3, 4)},
                lambda m, x: x.abs().sum(-1), "return x.norm(dim=-1, p=1)"),
    "norm_p3": ("input x: [b, n, d]\nreturn norm(x, dim=(1, 2), p=3)", {}, {"x": (2, 3, 4)},
                lambda m, x: (x.abs() ** 3).sum((1, 2)) ** (1 / 3), "return x.norm(dim=(1, 2), p=3)"),
    "norm_inf": ("input x: [b, n, d]\nreturn norm(x, dim=1, keepdim=true, p=inf)", {}, {"x": (2, 3, 4)},
                 lambda m, x: x.abs().amax(1, keepdim=True), 'return x.norm(dim=1, keepdim=True, p=float("inf"))'),
    "norm_p_argument": ("(q: float = 1.5)\ninput x: [b, n, d]\nreturn norm(x, dim=-1, p=q)", {"q": 1.5},
                        {"x": (2, 3, 4)}, lambda m, x: (x.abs() ** 1.5).sum(-1) ** (1 / 1.5),
                        "return x.norm(dim=-1, p=self.q)"),
    "normalize": ("input x: [b, c, n]\nreturn normalize(x, dim=1)", {}, {"x": (2, 3, 4)},
                  lambda m, x: x / (x * x).sum(dim=1, keepdim=True).sqrt(), "return F.normalize(x, dim=1)"),
    "flatten": ("input x: [b, c, h, w]\nreturn flatten(x, 1, 2)", {}, {"x": (2, 3, 4, 5)},
                lambda m, x: x.reshape(2, 12, 5), "return x.flatten(1, 2)"),
    "flatten_tail": ("input x: [b, c, h, w]\nreturn flatten(x, 2)", {}, {"x": (2, 3, 4, 5)},
                     lambda m, x: x.reshape(2, 3, 20), "return x.flatten(2)"),
    "squeeze": ("input x: [b, c, h, w]\nreturn squeeze(mean(x, dim=[2, 3], keepdim=true), dim=[2, 3])", {},
                {"x": (2, 3, 4, 5)}, lambda m, x: x.mean(dim=(2, 3)), ".squeeze((2, 3))"),
    "unsqueeze": ("input x: [b, n]\nreturn unsqueeze(x, -1)", {}, {"x": (2, 3)}, lambda m, x: x[:, :, None],
                  "return x.unsqueeze(-1)"),
    "expand": ("input x: [b, c, h, w]\nreturn expand(mean(x, dim=1, keepdim=true), [-1, c, -1, -1])", {},
               {"x": (2, 3, 4, 5)}, lambda m, x: x.mean(dim=1, keepdim=True).repeat(1, 3, 1, 1),
               ".expand(-1, c, -1, -1)"),
    "expand_as": ("input x: [b, c, h, w]\nreturn x * expand_as(avg_pool(x), x)", {}, {"x": (2, 3, 4, 5)},
                  lambda m, x: x * x.mean(dim=(2, 3), keepdim=True), ".expand_as(x)"),
    "pad_constant": ("input x: [b, c, h, w]\nreturn pad(x, [1, -1, 2, 0], value=0.5)", {}, {"x": (2, 3, 4, 5)},
                     lambda m, x: torch.cat([torch.full((2, 3, 2, 5), 0.5, dtype=x.dtype),
                                             torch.cat([torch.full((2, 3, 4, 1), 0.5, dtype=x.dtype), x[..., :-1]],
                                                       dim=3)], dim=2),
                     "return F.pad(x, (1, -1, 2, 0), value=0.5)"),
    "pad_reflect": ("input x: [b, c, n]\nreturn pad(x, [2, 1], mode=\"reflect\")", {}, {"x": (2, 3, 5)},
                    lambda m, x: x[..., [2, 1, 0, 1, 2, 3, 4, 3]], 'return F.pad(x, (2, 1), mode="reflect")'),
    "pad_replicate": ("input x: [b, c, h, w]\nreturn pad(x, [0, 2, 1, 0], mode=\"replicate\")", {},
                      {"x": (2, 3, 4, 5)}, lambda m, x: x[:, :, [0, 0, 1, 2, 3]][..., [0, 1, 2, 3, 4, 4, 4]],
                      'mode="replicate"'),
    "pad_circular": ("input x: [b, c, n]\nreturn pad(x, [1, 2], mode=\"circular\")", {}, {"x": (2, 3, 5)},
                     lambda m, x: x[..., [4, 0, 1, 2, 3, 4, 0, 1]], 'mode="circular"'),
    "roll": ("input x: [b, h, w, c]\nreturn roll(x, [1, -2], dims=[1, 2])", {}, {"x": (2, 4, 5, 3)},
             lambda m, x: x[:, [3, 0, 1, 2]][:, :, [2, 3, 4, 0, 1]], "return x.roll((1, -2), dims=(1, 2))"),
    "roll_flat": ("input x: [b, n]\nreturn roll(x, 1)", {}, {"x": (2, 3)},
                  lambda m, x: x.flatten()[[5, 0, 1, 2, 3, 4]].reshape(2, 3), "return x.roll(1)"),
    "unfold": ("input x: [b, c, h, w]\nreturn unfold(x, [2, 3], padding=1, stride=2)", {}, {"x": (2, 3, 5, 6)},
               lambda m, x: _im2col(x, (2, 3), 1, 2), "F.unfold(x, kernel_size=(2, 3), padding=1, stride=2)"),
    "unfold_tuples": ("input x: [b, c, h, w]\nreturn unfold(x, (2, 3), padding=(1, 1), stride=(2, 1))", {},
                      {"x": (2, 2, 4, 5)}, lambda m, x: _im2col_strided(x, (2, 3), 1, (2, 1)),
                      "F.unfold(x, kernel_size=(2, 3), padding=(1, 1), stride=(2, 1))"),
    "pad_tuple": ("input x: [b, c, n]\nreturn pad(x, (1, 0), mode=\"replicate\")", {}, {"x": (2, 3, 4)},
                  lambda m, x: x[..., [0, 0, 1, 2, 3]], 'return F.pad(x, (1, 0), mode="replicate")'),
    "unfold_dilated": ("input x: [b, c, h, w]\nreturn unfold(x, 2, dilation=2)", {}, {"x": (2, 2, 5, 5)},
                       lambda m, x: _im2col(x, (2, 2), 0, 1, dilation=2), "F.unfold(x, kernel_size=2, dilation=2)"),
    "fold": ("input x: [b, c, h, w]\nreturn fold(unfold(x, 3, padding=1), [h, w], 3, padding=1)", {},
             {"x": (2, 3, 4, 5)}, lambda m, x: x * _coverage(4, 5, 3, 1),
             "F.unfold(x, kernel_size=3, padding=1), output_size=(h, w), kernel_size=3, padding=1"),
    "interpolate_nearest": ("input x: [b, c, h, w]\nreturn interpolate(x, scale_factor=2)", {}, {"x": (2, 3, 3, 4)},
                            lambda m, x: x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3),
                            "F.interpolate(x, scale_factor=2)"),
    "interpolate_area": ("input x: [b, c, h, w]\nreturn interpolate(x, scale_factor=0.5, mode=\"area\")", {},
                         {"x": (2, 3, 4, 6)}, lambda m, x: x.unflatten(3, (3, 2)).unflatten(2, (2, 2)).mean((3, 5)),
                         'F.interpolate(x, scale_factor=0.5, mode="area")'),
    "interpolate_linear": ("input x: [b, c, n]\nreturn interpolate(x, size=5, mode=\"linear\", align_corners=true)",
                           {}, {"x": (2, 3, 3)},
                           lambda m, x: torch.stack([x[..., 0], (x[..., 0] + x[..., 1]) / 2, x[..., 1],
                                                     (x[..., 1] + x[..., 2]) / 2, x[..., 2]], dim=-1),
                           'F.interpolate(x, size=5, mode="linear", align_corners=True)'),
    "global_filter": ("(h: int = 4, w: int = 6, d: int = 3)\ninput x: [b, h, w, d]\n"
                      "param complex_weight: [h, w // 2 + 1, d, 2] = randn\n"
                      "spectrum = rfft2(x, dim=[1, 2], norm=\"ortho\") * view_as_complex(complex_weight)\n"
                      "return irfft2(spectrum, s=[h, w], dim=[1, 2], norm=\"ortho\")",
                      {}, {"x": (2, 4, 6, 3)}, lambda m, x: _global_filter(x, m.complex_weight),
                      'return torch.fft.irfft2(spectrum, s=(self.h, self.w), dim=(1, 2), norm="ortho")'),
    "view_as_real": ("input x: [b, h, w]\nreturn view_as_real(rfft2(x))", {}, {"x": (2, 3, 4)},
                     lambda m, x: _dft_real(x), "return torch.view_as_real(torch.fft.rfft2(x))"),
    "cumsum": ("input x: [b, n, d]\nreturn cumsum(x, dim=1)", {}, {"x": (2, 4, 3)},
               lambda m, x: torch.stack([x[:, : i + 1].sum(1) for i in range(4)], dim=1), "return x.cumsum(dim=1)"),
    "detach": ("input x: [b, h, n, n]\nreturn softmax(x - detach(max(x, dim=-1, keepdim=true)), dim=-1)", {},
               {"x": (2, 2, 3, 3)}, lambda m, x: x.exp() / x.exp().sum(-1, keepdim=True),
               "return (x - x.amax(dim=-1, keepdim=True).detach()).softmax(dim=-1)"),
    "zeros_like": ("input x: [b, n, d]\nreturn x + zeros_like(x) * x", {}, {"x": (2, 3, 4)}, lambda m, x: x,
                   "return x + torch.zeros_like(x) * x"),
    "ones_like": ("input x: [b, n, d]\nreturn x * ones_like(x) + ones_like(x)", {}, {"x": (2, 3, 4)},
                  lambda m, x: x + 1, "return x * ones + ones"),  # one tensor of ones, made once
    # the spectrum of the signal zero-padded to 6 points, by the DFT's matrix
    "rfft": ("input x: [b, c, n]\nreturn view_as_real(rfft(x, n=6))", {}, {"x": (2, 3, 4)},
             lambda m, x: _dft_real_1d(torch.nn.functional.pad(x, (0, 2))), "torch.fft.rfft(x, n=6)"),
    # a causal convolution of each channel with a learned kernel, by FFTs of twice the length
    "irfft": ("(c: int = 3)\nparam k: [c, 4] = randn\ninput x: [b, c, 4]\n"
              "return irfft(rfft(x, n=8) * rfft(k, n=8), n=8)[:, :, :4]", {}, {"x": (2, 3, 4)},
              lambda m, x: _causal_conv(x, m.k), "torch.fft.irfft("),
    "irfft2_even": ("input x: [b, h, w]\nreturn irfft2(rfft2(x))", {}, {"x": (2, 3, 4)}, lambda m, x: x,
                    "return torch.fft.irfft2(torch.fft.rfft2(x))"),
}


def _spec(body: str) -> str:
    lines = body.split("\n")
    arguments = lines.pop(0) if lines[0].startswith("(") else "()"
    return f"block T{arguments}:\n" + "".join(f"    {line}\n" for line in lines)


def _im2col(x, kernel, padding, stride, dilation=1):
    """Every window, written out: columns (c, ki, kj) by windows in row-major order."""
    xp = torch.zeros(x.shape[0], x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding, dtype=x.dtype)
    xp[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]] = x
    span = [dilation * (k - 1) + 1 for k in kernel]
    rows = range(0, xp.shape[2] - span[0] + 1, stride)
    cols = range(0, xp.shape[3] - span[1] + 1, stride)
    windows = []
    for i in rows:
        for j in cols:
            patch = xp[:, :, i:i + span[0]:dilation, j:j + span[1]:dilation]
            windows.append(patch.reshape(x.shape[0], -1))
    return torch.stack(windows, dim=-1)


def _im2col_strided(x, kernel, padding, stride):
    """_im2col with a stride per dim: every window of the padded map, rows then columns."""
    xp = F.pad(x, (padding,) * 4)
    windows = xp.unfold(2, kernel[0], stride[0]).unfold(3, kernel[1], stride[1])  # b c i j ki kj
    return windows.permute(0, 1, 4, 5, 2, 3).reshape(x.shape[0], -1, windows.shape[2] * windows.shape[3])


def _coverage(h, w, k, p):
    """How many k x k windows (stride 1, padding p) cover each pixel."""
    count = torch.zeros(h + 2 * p, w + 2 * p, dtype=torch.float64)
    for i in range(h + 2 * p - k + 1):
        for j in range(w + 2 * p - k + 1):
            count[i:i + k, j:j + k] += 1
    return count[p:p + h, p:p + w]


def _dft2(x, h_axis, w_axis):
    """The 2-d DFT by matrices (not torch.fft): e^{-2 pi i jk/n} along both axes."""
    def matrix(n):
        k = torch.arange(n, dtype=torch.float64)
        return torch.exp(-2j * math.pi * torch.outer(k, k) / n)

    x = x.to(torch.complex128)
    x = torch.movedim(torch.movedim(x, h_axis, -1) @ matrix(x.shape[h_axis]), -1, h_axis)
    return torch.movedim(torch.movedim(x, w_axis, -1) @ matrix(x.shape[w_axis]), -1, w_axis)


def _dft_real(x):
    spectrum = _dft2(x, 1, 2)[..., : x.shape[2] // 2 + 1]
    return torch.stack([spectrum.real, spectrum.imag], dim=-1)


def _dft_real_1d(x):
    n = x.shape[-1]
    k = torch.arange(n, dtype=torch.float64)
    spectrum = (x.to(torch.complex128) @ torch.exp(-2j * math.pi * torch.outer(k, k) / n))[..., : n // 2 + 1]
    return torch.stack([spectrum.real, spectrum.imag], dim=-1)


def _causal_conv(x, kernel):
    """y[t] = sum over s <= t of x[s] * kernel[t - s], channel by channel."""
    n = x.shape[-1]
    return torch.stack([sum(x[..., s] * kernel[:, t - s] for s in range(t + 1)) for t in range(n)], dim=-1)


def _global_filter(x, weight):
    h, w = x.shape[1], x.shape[2]
    spectrum = _dft2(x, 1, 2) / math.sqrt(h * w)
    full = torch.zeros(*spectrum.shape, dtype=torch.complex128)
    half = torch.complex(weight[..., 0].double(), weight[..., 1].double())
    full[:, :, : w // 2 + 1] = spectrum[:, :, : w // 2 + 1] * half
    # The filtered half-spectrum, completed by Hermitian symmetry (what irfft2 assumes).
    for j in range(w // 2 + 1, w):
        full[:, :, j] = torch.conj(full[:, (-torch.arange(h)) % h, w - j])
    full[:, :, 0] = (full[:, :, 0] + torch.conj(full[:, (-torch.arange(h)) % h, 0])) / 2
    if w % 2 == 0:
        full[:, :, w // 2] = (full[:, :, w // 2] + torch.conj(full[:, (-torch.arange(h)) % h, w // 2])) / 2
    inverse = torch.conj(_dft2(torch.conj(full), 1, 2)) / math.sqrt(h * w)
    return inverse.real


@pytest.mark.parametrize("name", list(CASES))
def test_op_computes_its_math(name):
    body, args, inputs, math_of, line = CASES[name]
    source = _spec(body)
    module = build(source, **args)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(rand(*param.shape, seed=3))
    x = rand(*inputs["x"])
    want = math_of(module, x)
    got = module(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    assert line in compile_ok(source), compile_ok(source)


@pytest.mark.parametrize("name", list(CASES))
def test_op_agrees_with_the_interpreter(name):
    body, args, inputs, _, _ = CASES[name]
    assert agree(_spec(body), args, inputs) == "agree"


# Sizes only the call knows: the module refuses with its own ValueError, the interpreter too.
REFUSED = {
    "pad_reflect_too_wide": ("input x: [b, c, n]\nreturn pad(x, [3, 0], mode=\"reflect\")", {"x": (2, 3, 3)}),
    "pad_crop_too_much": ("input x: [b, n]\nreturn pad(x, [-2, -2])", {"x": (2, 3)}),
    "squeeze_not_one": ("input x: [b, c, h]\nreturn squeeze(x, dim=2)", {"x": (2, 3, 2)}),
    "expand_not_one": ("input x: [b, c, h]\ninput y: [b, c, k]\nreturn expand_as(x, y)", {"x": (2, 3, 2),
                                                                                         "y": (2, 3, 4)}),
    "unfold_too_small": ("input x: [b, c, h, w]\nreturn unfold(x, 3)", {"x": (2, 3, 2, 5)}),
    "irfft2_one_frequency": ("input x: [b, h, w]\nreturn irfft2(rfft2(x, dim=[2, 1]))", {"x": (2, 3, 1)}),
    "interpolate_to_nothing": ("input x: [b, c, n]\nreturn interpolate(x, scale_factor=0.5)", {"x": (2, 3, 1)}),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_both_refuse_what_the_sizes_forbid(name):
    body, inputs = REFUSED[name]
    assert agree(_spec(body), {}, inputs).startswith("both refused"), name


MISUSES = {
    "pad_odd": ("input x: [b, c, n]\nreturn pad(x, [1, 1, 1])", "E0112", 3, 12),
    "pad_mode": ("input x: [b, c, n]\nreturn pad(x, [1, 1], mode=\"reflct\")", "E0112", 3, 32),
    "pad_value_reflect": ("input x: [b, c, n]\nreturn pad(x, [1, 1], mode=\"reflect\", value=1)", "E0112", 3, 12),
    "pad_reflect_rank": ("input x: [b, c, h, w]\nreturn pad(x, [1, 1], mode=\"reflect\")", "E0202", 3, 12),
    "pad_reflect_wide": ("input x: [b, c, 4]\nreturn pad(x, [4, 0], mode=\"reflect\")", "E0205", 3, 12),
    "pad_int": ("input x: [b, c, n]\nreturn pad(x, 1)", "E0112", 3, 12),
    "roll_counts": ("input x: [b, h, w]\nreturn roll(x, [1, 2], dims=1)", "E0112", 3, 12),
    "roll_no_dims": ("input x: [b, h, w]\nreturn roll(x, [1, 2])", "E0112", 3, 12),
    "unfold_rank": ("input x: [b, n]\nreturn unfold(x, 3)", "E0202", 3, 12),
    "unfold_window": ("input x: [b, c, 2, 2]\nreturn unfold(x, 3)", "E0205", 3, 12),
    "unfold_kernel_entries": ("input x: [b, c, h, w]\nreturn unfold(x, [1, 2, 3])", "E0112", 3, 12),
    "fold_blocks": ("input x: [b, c, 4, 4]\nreturn fold(unfold(x, 3, padding=1), [4, 4], 3)", "E0201", 3, 12),
    "fold_columns": ("input x: [b, 10, n]\nreturn fold(x, [4, 4], 3)", "E0203", 3, 12),
    "interpolate_both": ("input x: [b, c, n]\nreturn interpolate(x, size=4, scale_factor=2)", "E0112", 3, 12),
    "interpolate_third": ("input x: [b, c, n]\nreturn interpolate(x, scale_factor=0.3)", "E0112", 3, 12),
    "interpolate_rank": ("input x: [b, c, n]\nreturn interpolate(x, size=4, mode=\"bilinear\")", "E0202", 3, 12),
    "interpolate_corners": ("input x: [b, c, n]\nreturn interpolate(x, size=4, align_corners=true)", "E0112", 3, 12),
    "squeeze_three": ("input x: [b, 3, n]\nreturn squeeze(x, dim=1)", "E0201", 3, 12),
    "squeeze_unknown": ("input x: [b, 1, n]\nreturn squeeze(x)", "E0112", 3, 12),
    "expand_size": ("input x: [b, 3]\nreturn expand(x, [-1, 4])", "E0201", 3, 12),
    "expand_new_keep": ("input x: [b, 3]\nreturn expand(x, [-1, -1, 3])", "E0112", 3, 12),
    "flatten_order": ("input x: [b, c, h]\nreturn flatten(x, 2, 1)", "E0204", 3, 12),
    "irfft2_float": ("input x: [b, h, w]\nreturn irfft2(x)", "E0209", 3, 12),
    "sigmoid_complex": ("input x: [b, h, w]\nreturn sigmoid(rfft2(x))", "E0209", 3, 12),
    "layer_of_complex": ("(d: int = 4)\ninput x: [b, h, d]\nlayer fc = linear(d, d)\nreturn fc(rfft2(x))",
                         "E0209", 4, 12),
    "view_as_complex_three": ("input x: [b, n, 3]\nreturn view_as_complex(x)", "E0201", 3, 12),
    "rfft2_one_axis": ("input x: [b, h, w]\nreturn rfft2(x, dim=1)", "E0112", 3, 12),
    "rfft2_same_axis": ("input x: [b, h, w]\nreturn rfft2(x, dim=[1, -2])", "E0204", 3, 12),
    "gelu_approximate": ("input x: [b, n]\nreturn gelu(x, approximate=\"tan\")", "E0112", 3, 32),
    "sigmoid_of_a_number": ("(channels: int = 4)\ninput x: [b, channels]\nreturn x * sigmoid(channels)", "E0113", 3,
                            24),
    "norm_p_below_one": ("input x: [b, n]\nreturn norm(x, dim=1, p=0.5)", "E0205", 3, 12),
    "norm_p_zero": ("input x: [b, n]\nreturn norm(x, p=0)", "E0205", 3, 12),
    "norm_p_minus_inf": ("input x: [b, n]\nreturn norm(x, p=-inf)", "E0205", 3, 12),
    "norm_p_word": ("input x: [b, n]\nreturn norm(x, p=\"fro\")", "E0113", 3, 22),
    "norm_inf_of_nothing": ("input x: [b, 0]\nreturn norm(x, dim=1, p=inf)", "E0205", 3, 12),
    "cumsum_dim_out_of_range": ("input x: [b, n, d]\nreturn cumsum(x, dim=3)", "E0204", 3, 12),
    "cumsum_without_dim": ("input x: [b, n, d]\nreturn cumsum(x)", "E0112", 3, 12),
    "cumsum_of_a_mask": ("input x: [b, n, d]\nreturn cumsum(x > 0, dim=1)", "E0209", 3, 12),
    "operator_by_name": ("input x: [b, n]\nreturn add(x, x)", "E0102", 3, 12),
    "internal_op": ("input x: [b, n, d]\nreturn scaled_dot_product_attention(x, x, x)", "E0102", 3, 12),
}


@pytest.mark.parametrize("name", list(MISUSES))
def test_misuse_is_a_located_diagnostic(name):
    body, code, line, column = MISUSES[name]
    assert first_error(_spec(body))[:3] == (code, line, column), first_error(_spec(body))


def test_messages_speak_the_users_terms():
    """Seen while porting: `pad` suggested `add`, an unknown function suggested a tensor,
    and an op on a number named the op's internal parameter (`x` of log(); log of a number is
    now computed when the module is built, sigmoid is not)."""
    assert "did you mean `pad`" in _help("input x: [b, n]\ny = padd(x, [1, 1])\nreturn y")
    suggestion = _help("input x: [b, n]\nscores = x * 2\nreturn scorez(x)")
    assert "scores" not in (suggestion or "")
    _, _, _, message = first_error(_spec("(channels: int = 4)\ninput x: [b, channels]\nreturn x * sigmoid(channels)"))
    assert message == "sigmoid() takes a tensor, and this is a number"
    assert "`x`" not in message
    _, _, _, message = first_error(_spec("input x: [b, n]\nreturn add(x, x)"))
    assert "x + y" in message


def _help(body: str):
    import attndsl

    result = attndsl.compile_source(_spec(body), "t.attn")
    return next(d.help for d in result.diagnostics if d.is_error)


def test_the_view_of_a_computed_tensor_is_made_contiguous():
    """view_as_complex needs contiguous memory: a transposed value is copied first (a param is not)."""
    source = _spec("input x: [b, n, 2]\nreturn view_as_complex(transpose(transpose(x, 0, 1) * 2, 0, 1))")
    code = compile_ok(source, optimize=False)
    assert ".contiguous())" in code
    module = build(source)
    x = rand(3, 4, 2)
    torch.testing.assert_close(module(x), torch.complex(2 * x[..., 0], 2 * x[..., 1]))


def test_interpolate_sizes_match_torch_for_dyadic_scales():
    source = _spec("input x: [b, c, h, w]\nreturn interpolate(x, scale_factor=1.5, mode=\"bilinear\")")
    module = build(source)
    for h, w in ((3, 5), (4, 7), (1, 2)):
        x = rand(1, 2, h, w)
        assert module(x).shape == F.interpolate(x, scale_factor=1.5, mode="bilinear").shape


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_refuses_what_torch_refuses(mode):
    module = build(_spec(f"input x: [b, c, n]\nreturn pad(x, [3, 1], mode=\"{mode}\")"))
    for n in range(1, 6):
        x = rand(2, 3, n)
        try:
            want = F.pad(x, (3, 1), mode=mode)
        except RuntimeError:
            with pytest.raises(ValueError):
                module(x)
            continue
        torch.testing.assert_close(module(x), want)


# ---------------------------------------------------------------------------- cumsum and detach


def _prefix_sums(x, axis):
    """Slice i along `axis` is the sum of slices 0..i, written out (not torch.cumsum)."""
    return torch.stack([x.narrow(axis, 0, i + 1).sum(axis) for i in range(x.shape[axis])], dim=axis)


CAUSAL_LINEAR = """\
block CausalLinearAttention(eps: float = 1e-6):
    input q: [b, h, n, d]
    input k: [b, h, n, d]
    input v: [b, h, n, e]
    q = elu(q) + 1
    k = elu(k) + 1
    kv = cumsum(einsum("b h n d, b h n e -> b h n d e", k, v), dim=2)
    k_cum = cumsum(k, dim=2)
    num = einsum("b h n d, b h n d e -> b h n e", q, kv)
    den = einsum("b h n d, b h n d -> b h n", q, k_cum)
    return num / (unsqueeze(den, -1) + eps)
"""


def test_cumsum_gives_causal_linear_attention():
    """Katharopoulos et al. 2020, causal: position i attends to 0..i through running sums of
    k vᵀ and of k; against the quadratic form under a causal mask (float64), and the interpreter."""
    code = compile_ok(CAUSAL_LINEAR)
    assert 'kv = torch.einsum("bhnd,bhne->bhnde", k, v).cumsum(dim=2)' in code and "k_cum = k.cumsum(dim=2)" in code
    module = build(CAUSAL_LINEAR)
    q, k, v = rand(2, 3, 5, 4, seed=1), rand(2, 3, 5, 4, seed=2), rand(2, 3, 5, 6, seed=3)
    weights = ((F.elu(q) + 1) @ (F.elu(k) + 1).transpose(-1, -2)).tril()
    torch.testing.assert_close(module(q, k, v), weights @ v / (weights.sum(-1, keepdim=True) + 1e-6))
    assert agree(CAUSAL_LINEAR, {}, {"q": (2, 3, 5, 4), "k": (2, 3, 5, 4), "v": (2, 3, 5, 6)}) == "agree"


@pytest.mark.parametrize("dim, axis", [(0, 0), (1, 1), (2, 2), (-1, 3), (-3, 1)])
def test_cumsum_runs_along_its_own_axis(dim, axis):
    """Every axis of size 4, so that a running sum along another axis has the same shape: only
    the values tell them apart."""
    source = _spec(f"input x: [b, n, m, d]\nreturn cumsum(x, dim={dim})")
    x = rand(4, 4, 4, 4)
    got = build(source)(x)
    torch.testing.assert_close(got, _prefix_sums(x, axis))
    for other in set(range(4)) - {axis}:
        assert not torch.allclose(got, _prefix_sums(x, other)), other
    assert agree(source, {}, {"x": (4, 4, 4, 4)}) == "agree"


def test_cumsum_out_of_range_says_which_axes_there_are():
    code, line, column, message = first_error(_spec("input x: [b, n, d]\nreturn x + cumsum(x, dim=-4)"))
    assert (code, line, column) == ("E0204", 3, 16) and message == "dim=-4 is out of range for a tensor of rank 3"
    assert _help("input x: [b, n, d]\nreturn cumsum(x, dim=3)") == "valid values are -3..2"


def test_cumsum_of_positions_stays_integer():
    source = _spec("(n: int = 5)\ninput x: [b, n]\nbuffer running = cumsum(arange(n) % 3, dim=0)\n"
                   "return x + running")
    module = build(source)
    assert module.running.dtype == torch.int64
    assert torch.equal(module.running, torch.tensor([0, 1, 3, 3, 4]))
    x = rand(2, 5)
    torch.testing.assert_close(module(x), x + torch.tensor([0.0, 1, 3, 3, 4], dtype=torch.float64))
    assert agree(source, {}, {"x": (2, 5)}) == "agree"


DETACHED = _spec("(d: int = 4)\ninput x: [b, n, d]\nparam w: [d] = normal()\n"
                 "return x * detach(sigmoid(x * w)) + detach(x) * w")


def test_detach_keeps_the_value_and_stops_the_gradient():
    """Gradients reach x and w only along the paths not detached: against the same function
    written with .detach() and, so that a dropped detach would show, not the one without."""
    assert "return x * (x * self.w).sigmoid().detach() + x.detach() * self.w" in compile_ok(DETACHED)
    module = build(DETACHED)
    x = rand(2, 3, 4, seed=1).requires_grad_()
    got = module(x)
    grads = torch.autograd.grad(got.square().sum(), [x, module.w])
    w = module.w.detach().clone().requires_grad_()
    xr = x.detach().clone().requires_grad_()
    want = xr * torch.sigmoid(xr * w).detach() + xr.detach() * w
    torch.testing.assert_close(got, want)
    expected = torch.autograd.grad(want.square().sum(), [xr, w])
    for mine, theirs in zip(grads, expected):
        torch.testing.assert_close(mine, theirs)
    attached = xr * torch.sigmoid(xr * w) + xr * w
    for mine, other in zip(grads, torch.autograd.grad(attached.square().sum(), [xr, w])):
        assert not torch.allclose(mine, other)
    assert agree(DETACHED, {}, {"x": (2, 3, 4)}) == "agree"


@pytest.mark.parametrize("p, written", [(1, "1"), (2, "2"), (3, "3"), (1.5, "1.5"), (math.inf, "inf")])
def test_norm_p_against_torch_with_gradients(p, written):
    """norm(x, p=...) against torch.linalg.vector_norm in float64, values and gradients (the
    generated module and the interpreter), with ties for the inf norm's largest entry."""
    from attndsl import interpret

    source = _spec(f"input x: [b, h, w, c]\nreturn norm(x, p={written}, dim=(1, 2), keepdim=true) * 2")
    module = build(source)
    x = rand(2, 3, 4, 5)
    x[0, 0, 0] = x[0, 1, 1] = 7.0  # ties: the inf norm shares the gradient between them
    for candidate in (module, interpret.build(source).double().eval()):
        leaf = x.clone().requires_grad_(True)
        reference = x.clone().requires_grad_(True)
        got = candidate(leaf)
        want = torch.linalg.vector_norm(reference, ord=p, dim=(1, 2), keepdim=True) * 2
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        weights = rand(*want.shape, seed=1)
        (got * weights).sum().backward()
        (want * weights).sum().backward()
        torch.testing.assert_close(leaf.grad, reference.grad, rtol=1e-10, atol=1e-12)


def test_norm_p_below_one_given_as_an_argument_is_refused_when_built():
    source = _spec("(q: float = 2)\ninput x: [b, n]\nreturn norm(x, dim=1, p=q)")
    assert "`p` must be at least 1" in compile_ok(source)
    with pytest.raises(ValueError, match="`p` must be at least 1"):
        build(source, q=0.5)
    _, _, _, message = first_error(_spec("input x: [b, n]\nreturn norm(x, p=0.5)"))
    assert message == "norm(): `p` must be a number >= 1 or inf, got 0.5"
