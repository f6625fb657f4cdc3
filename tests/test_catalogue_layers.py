"""The layer kinds and arguments added for the catalogue (conv3d, padding_mode, sizes per
dim, batch_norm3d, the 1d/3d pools, ceil_mode, count_include_pad, adaptive pools with
None, layer_norm over several dims, prelu/elu/leaky_relu/hardswish..., inplace=):

- the generated module against the layer's math written here (float64), with weights
  randomised, and its constructor line reads as torch prints it;
- the generated module against the interpreter (random weights, eval and training mode);
- a misuse is a located diagnostic; an in-place layer where the overwrite could be seen
  is E0211, and one that a pass made shared gets a copy.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import attndsl

from .language_support import agree, build, compile_ok, first_error, rand


def _spec(args: str, body: str) -> str:
    return f"block T({args}):\n" + "".join(f"    {line}\n" for line in body.strip("\n").split("\n"))


def _randomised(module):
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if tensor.dtype.is_floating_point:
                value = 0.1 + torch.rand(tensor.shape, generator=generator, dtype=torch.float64)
                tensor.copy_(value if name.endswith("running_var") else value * (2 * (value > 0.5) - 1))
    return module


def _windows(x, kernel, stride, padding=0, fill=0.0):
    """[b, c, *spatial] padded by `fill`, as windows: [b, c, *out, *kernel] (kernel, stride per dim)."""
    spatial = x.dim() - 2
    if padding:
        x = F.pad(x, (padding,) * (2 * spatial), value=fill)
    for axis in range(spatial):
        x = x.unfold(2 + axis, kernel[axis], stride[axis])
    return x


# name -> (arguments, body, input shape, the math (module, x), a line the module has)
CASES = {
    "conv3d": ("c: int = 2", "input x: [b, c, t, h, w]\nlayer conv = conv3d(c, 3, [1, 2, 2], stride=[1, 2, 1])\n"
               "return conv(x)", (2, 2, 3, 4, 5),
               lambda m, x: torch.einsum("bcthwijk,ocijk->bothw",
                                         _windows(x, (1, 2, 2), (1, 2, 1)), m.conv.weight)
               + m.conv.bias[None, :, None, None, None],
               "nn.Conv3d(c, 3, (1, 2, 2), stride=(1, 2, 1))"),
    "conv2d_reflect": ("c: int = 2", "input x: [b, c, h, w]\n"
                       "layer conv = conv2d(c, c, [1, 3], padding=[0, 1], padding_mode=\"reflect\", bias=false)\n"
                       "return conv(x)", (2, 2, 3, 5),
                       lambda m, x: torch.einsum("bchwij,ocij->bohw",
                                                 _windows(x[..., [1, 0, 1, 2, 3, 4, 3]], (1, 3), (1, 1)),
                                                 m.conv.weight),
                       'nn.Conv2d(c, c, (1, 3), padding=(0, 1), bias=False, padding_mode="reflect")'),
    "conv1d_circular": ("c: int = 2", "input x: [b, c, n]\nlayer conv = conv1d(c, c, 3, padding=1, "
                        "padding_mode=\"circular\", groups=c)\nreturn conv(x)", (2, 2, 5),
                        lambda m, x: (_windows(x[..., [4, 0, 1, 2, 3, 4, 0]], (3,), (1,))
                                      * m.conv.weight[None, :, :, :]).sum(-1) + m.conv.bias[None, :, None],
                        'nn.Conv1d(c, c, 3, padding=1, groups=c, padding_mode="circular")'),
    "conv2d_same_even": ("c: int = 2", "input x: [b, c, h, w]\nlayer conv = conv2d(c, 1, 4, padding=\"same\", "
                         "padding_mode=\"replicate\")\nreturn conv(x)", (2, 2, 5, 6),
                         lambda m, x: torch.einsum(
                             "bchwij,ocij->bohw",
                             _windows(x[:, :, [0, 0, 1, 2, 3, 4, 4, 4]][..., [0, 0, 1, 2, 3, 4, 5, 5, 5]], (4, 4),
                                      (1, 1)), m.conv.weight) + m.conv.bias[None, :, None, None],
                         'nn.Conv2d(c, 1, 4, padding="same", padding_mode="replicate")'),
    "batch_norm3d": ("c: int = 3", "input x: [b, c, t, h, w]\nlayer bn = batch_norm3d(c)\nreturn bn(x)",
                     (2, 3, 2, 2, 2),
                     lambda m, x: (x - m.bn.running_mean[:, None, None, None])
                     / (m.bn.running_var[:, None, None, None] + 1e-5).sqrt() * m.bn.weight[:, None, None, None]
                     + m.bn.bias[:, None, None, None], "nn.BatchNorm3d(c)"),
    "max_pool1d": ("", "input x: [b, c, n]\nlayer pool = max_pool1d(3, stride=2, padding=1)\nreturn pool(x)",
                   (2, 3, 7), lambda m, x: _windows(x, (3,), (2,), 1, float("-inf")).amax(-1),
                   "nn.MaxPool1d(3, stride=2, padding=1)"),
    "max_pool3d": ("", "input x: [b, c, t, h, w]\nlayer pool = max_pool3d([1, 2, 2])\nreturn pool(x)",
                   (2, 2, 3, 4, 5), lambda m, x: _windows(x, (1, 2, 2), (1, 2, 2)).amax((-3, -2, -1)),
                   "nn.MaxPool3d((1, 2, 2))"),
    "max_pool2d_ceil": ("", "input x: [b, c, h, w]\nlayer pool = max_pool2d(2, stride=3, ceil_mode=true)\n"
                        "return pool(x)", (2, 2, 5, 7),
                        lambda m, x: _windows(F.pad(x, (0, 1, 0, 0), value=float("-inf")), (2, 2), (3, 3)).amax(
                            (-2, -1)), "nn.MaxPool2d(2, stride=3, ceil_mode=True)"),
    "max_pool3d_tuple": ("", "input x: [b, c, t, h, w]\nlayer pool = max_pool3d((1, 2, 2), stride=(1, 1, 2))\n"
                         "return pool(x)", (2, 2, 3, 4, 5),
                         lambda m, x: _windows(x, (1, 2, 2), (1, 1, 2)).amax((-3, -2, -1)),
                         "nn.MaxPool3d((1, 2, 2), stride=(1, 1, 2))"),
    "avg_pool1d": ("", "input x: [b, c, n]\nlayer pool = avg_pool1d(2)\nreturn pool(x)", (2, 3, 7),
                   lambda m, x: _windows(x, (2,), (2,)).mean(-1), "nn.AvgPool1d(2)"),
    "avg_pool3d": ("", "input x: [b, c, t, h, w]\nlayer pool = avg_pool3d(2, divisor_override=2)\n"
                   "return pool(x)", (2, 2, 2, 4, 4),
                   lambda m, x: _windows(x, (2, 2, 2), (2, 2, 2)).sum((-3, -2, -1)) / 2,
                   "nn.AvgPool3d(2, divisor_override=2)"),
    "avg_pool2d_exclude_pad": ("", "input x: [b, c, h, w]\nlayer pool = avg_pool2d(3, stride=2, padding=1, "
                               "ceil_mode=true, count_include_pad=false)\nreturn pool(x)", (2, 2, 6, 6),
                               lambda m, x: _windows(F.pad(x, (1, 2, 1, 2)), (3, 3), (2, 2)).sum((-2, -1))
                               / _windows(F.pad(torch.ones_like(x), (1, 2, 1, 2)), (3, 3), (2, 2)).sum((-2, -1)),
                               "nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)"),
    "adaptive_avg_pool2d_none": ("", "input x: [b, c, h, w]\nlayer pool = adaptive_avg_pool2d([None, 1])\n"
                                 "return pool(x)", (2, 3, 4, 5), lambda m, x: x.mean(3, keepdim=True),
                                 "nn.AdaptiveAvgPool2d((None, 1))"),
    "adaptive_max_pool1d": ("", "input x: [b, c, n]\nlayer pool = adaptive_max_pool1d(1)\nreturn pool(x)",
                            (2, 3, 5), lambda m, x: x.amax(-1, keepdim=True), "nn.AdaptiveMaxPool1d(1)"),
    "adaptive_avg_pool3d": ("", "input x: [b, c, t, h, w]\nlayer pool = adaptive_avg_pool3d([1, 2, 2])\n"
                            "return pool(x)", (2, 2, 3, 4, 6),
                            lambda m, x: _windows(x, (3, 2, 3), (3, 2, 3)).mean((-3, -2, -1)),
                            "nn.AdaptiveAvgPool3d((1, 2, 2))"),
    "layer_norm_2d": ("h: int = 3, w: int = 4", "input x: [b, c, h, w]\nlayer ln = layer_norm([h, w])\n"
                      "return ln(x)", (2, 2, 3, 4),
                      lambda m, x: (x - x.mean((2, 3), keepdim=True))
                      / (x.var((2, 3), keepdim=True, correction=0) + 1e-5).sqrt() * m.ln.weight + m.ln.bias,
                      "nn.LayerNorm((h, w))"),
    "prelu": ("c: int = 3", "input x: [b, c, n]\nlayer act = prelu(c)\nreturn act(x)", (2, 3, 4),
              lambda m, x: torch.where(x > 0, x, m.act.weight[:, None] * x), "nn.PReLU(c)"),
    "elu": ("", "input x: [b, n]\nlayer act = elu(alpha=0.5)\nreturn act(x)", (2, 6),
            lambda m, x: torch.where(x > 0, x, 0.5 * (x.exp() - 1)), "nn.ELU(alpha=0.5)"),
    "leaky_relu_inplace": ("c: int = 3", "input x: [b, c, n]\nlayer fc = conv1d(c, c, 1)\n"
                           "layer act = leaky_relu(0.2, inplace=true)\nreturn act(fc(x))", (2, 3, 4),
                           lambda m, x: F.leaky_relu(torch.einsum("bcn,oc->bon", x, m.fc.weight[..., 0])
                                                     + m.fc.bias[:, None], 0.2),
                           "nn.LeakyReLU(0.2, inplace=True)"),
    "hardswish_sequential": ("c: int = 3", "input x: [b, c, h, w]\n"
                             "layer block = sequential(conv2d(c, c, 1), batch_norm2d(c), hardswish(inplace=true))\n"
                             "return block(x)", (2, 3, 2, 2),
                             lambda m, x: _hardswish(F.batch_norm(F.conv2d(x, m.block[0].weight, m.block[0].bias),
                                                                  m.block[1].running_mean, m.block[1].running_var,
                                                                  m.block[1].weight, m.block[1].bias, eps=1e-5)),
                             "nn.Hardswish(inplace=True)"),
    "hardsigmoid": ("", "input x: [b, n]\nlayer gate = hardsigmoid()\nreturn gate(x * 4)", (2, 6),
                    lambda m, x: (4 * x + 3).clamp(0, 6) / 6, "nn.Hardsigmoid()"),
    "gelu_tanh": ("", "input x: [b, n]\nlayer act = gelu(approximate=\"tanh\")\nreturn act(x)", (2, 6),
                  lambda m, x: F.gelu(x, approximate="tanh"), 'nn.GELU(approximate="tanh")'),
    "softplus": ("", "input x: [b, n]\nlayer act = softplus(beta=2)\nreturn act(x)", (2, 6),
                 lambda m, x: torch.log1p(torch.exp(2 * x)) / 2, "nn.Softplus(beta=2)"),
    "relu_inplace_after_linear": ("d: int = 4", "input x: [b, d]\nlayer fc = linear(d, d)\n"
                                  "layer act = relu(inplace=true)\nreturn act(fc(x)) + x", (2, 4),
                                  lambda m, x: (x @ m.fc.weight.T + m.fc.bias).clamp(min=0) + x,
                                  "nn.ReLU(inplace=True)"),
    "dropout2d_eval": ("c: int = 3", "input x: [b, c, h, w]\nlayer conv = conv2d(c, c, 1)\n"
                       "layer drop = dropout2d(0.5, inplace=true)\nreturn drop(conv(x))", (2, 3, 4, 5),
                       lambda m, x: torch.einsum("bchw,oc->bohw", x, m.conv.weight[:, :, 0, 0])
                       + m.conv.bias[None, :, None, None],  # eval: the identity
                       "nn.Dropout2d(0.5, inplace=True)"),
}


def _hardswish(x):
    return x * (x + 3).clamp(0, 6) / 6


@pytest.mark.parametrize("name", list(CASES))
def test_layer_computes_its_math(name):
    args, body, shape, math_of, line = CASES[name]
    source = _spec(args, body)
    module = _randomised(build(source))
    x = rand(*shape)
    want = math_of(module, x)
    got = module(x.clone())
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    assert line in compile_ok(source)


@pytest.mark.parametrize("name", list(CASES))
def test_layer_agrees_with_the_interpreter(name):
    args, body, shape, _, _ = CASES[name]
    assert agree(_spec(args, body), {}, {"x": shape}) == "agree"


def test_reprs_are_the_published_modules():
    """CoordAtt's pool, a strip conv, ReLU(inplace=True): the generated module prints as torch does."""
    module = build(_spec("c: int = 4", "input x: [b, c, h, w]\nlayer pool_h = adaptive_avg_pool2d([None, 1])\n"
                         "layer conv = conv2d(c, c, [1, 7], padding=[0, 3])\nlayer bn = batch_norm2d(c)\n"
                         "layer act = relu(inplace=true)\nreturn act(bn(conv(x))) * pool_h(x)"))
    assert repr(module.pool_h) == repr(torch.nn.AdaptiveAvgPool2d((None, 1)))
    assert repr(module.conv) == repr(torch.nn.Conv2d(4, 4, (1, 7), padding=(0, 3)))
    assert repr(module.act) == repr(torch.nn.ReLU(inplace=True))


def test_an_inplace_layer_never_changes_what_another_use_sees():
    """Attention-free CSE merges the two conv(x): the in-place layer gets a copy."""
    source = _spec("c: int = 3", "input x: [b, c, n]\nlayer conv = conv1d(c, c, 1)\n"
                   "layer act = relu(inplace=true)\nreturn act(conv(x)) + conv(x)")
    code = compile_ok(source)
    assert "self.act(y.clone())" in code or ".clone())" in code
    module = _randomised(build(source))
    x = rand(2, 3, 4)
    y = F.conv1d(x, module.conv.weight, module.conv.bias)
    torch.testing.assert_close(module(x), y.clamp(min=0) + y)
    assert agree(source, {}, {"x": (2, 3, 4)}) == "agree"


def test_the_inputs_of_a_module_are_left_alone():
    source = _spec("c: int = 3", "input x: [b, c, n]\nlayer conv = conv1d(c, c, 1)\n"
                   "layer act = relu(inplace=true)\nreturn act(conv(x))")
    module = build(source)
    x = rand(2, 3, 4)
    before = x.clone()
    module(x)
    assert torch.equal(x, before)


MISUSES = {
    "kernel_entries": ("c: int = 2", "input x: [b, c, h, w]\nlayer conv = conv2d(c, c, [1, 3, 3])\n"
                       "return conv(x)", "E0112", 3, 31),
    "padding_mode": ("c: int = 2", "input x: [b, c, h, w]\nlayer conv = conv2d(c, c, 3, padding_mode=\"reflekt\")\n"
                     "return conv(x)", "E0112", 3, 47),
    "reflect_too_wide": ("c: int = 2", "input x: [b, c, 3, 3]\n"
                         "layer conv = conv2d(c, c, 3, padding=3, padding_mode=\"reflect\")\nreturn conv(x)",
                         "E0205", 4, 12),
    "same_stride": ("c: int = 2", "input x: [b, c, h, w]\nlayer conv = conv2d(c, c, 3, stride=[1, 2], "
                    "padding=\"same\")\nreturn conv(x)", "E0112", 3, 41),
    "return_indices": ("", "input x: [b, c, h, w]\nlayer pool = max_pool2d(2, return_indices=true)\nreturn pool(x)",
                       "E0112", 3, 47),
    "ceil_mode_argument": ("flag: bool = true", "input x: [b, c, h, w]\n"
                           "layer pool = max_pool2d(2, ceil_mode=flag)\nreturn pool(x)", "E0115", 4, 12),
    "pool_padding": ("", "input x: [b, c, h, w]\nlayer pool = avg_pool2d([3, 2], padding=[1, 2])\nreturn pool(x)",
                     "E0112", 3, 45),
    "adaptive_entries": ("", "input x: [b, c, h, w]\nlayer pool = adaptive_avg_pool2d([1, 1, 1])\nreturn pool(x)",
                         "E0112", 3, 38),
    "prelu_channels": ("", "input x: [b, 3, n]\nlayer act = prelu(4)\nreturn act(x)", "E0201", 4, 12),
    "layer_norm_dims": ("", "input x: [b, c, 3, 4]\nlayer ln = layer_norm([4, 3])\nreturn ln(x)", "E0201", 4, 12),
    "dropout2d_rank": ("", "input x: [b, n, d]\nlayer drop = dropout2d(0.1)\nreturn drop(x)", "E0202", 4, 12),
    "dropout2d_p": ("", "input x: [b, c, h, w]\nlayer drop = dropout2d(1.5)\nreturn drop(x)", "E0112", 3, 28),
    "dropout2d_inplace_on_input": ("", "input x: [b, c, h, w]\nlayer drop = dropout2d(0.1, inplace=true)\n"
                                   "return drop(x)", "E0211", 4, 12),
    "conv3d_rank": ("", "input x: [b, 2, h, w]\nlayer conv = conv3d(2, 2, 1)\nreturn conv(x)", "E0202", 4, 12),
    "gelu_word": ("", "input x: [b, n]\nlayer act = gelu(approximate=\"fast\")\nreturn act(x)", "E0112", 3, 34),
    "inplace_on_input": ("", "input x: [b, n]\nlayer act = relu(inplace=true)\nreturn act(x)", "E0211", 4, 12),
    "inplace_on_shared": ("d: int = 4", "input x: [b, d]\nlayer fc = linear(d, d)\nlayer act = relu(inplace=true)\n"
                          "y = fc(x)\nreturn act(y) + y", "E0211", 6, 12),
    "inplace_after_sigmoid": ("", "input x: [b, n]\nlayer act = relu(inplace=true)\nreturn act(sigmoid(x))",
                              "E0211", 4, 12),
    "inplace_in_sequential": ("d: int = 4", "input x: [b, d]\n"
                              "layer mlp = sequential(linear(d, d), tanh(), relu(inplace=true))\nreturn mlp(x)",
                              "E0211", 3, 5),
    "inplace_flag_on_input": ("flag: bool = false", "input x: [b, n]\nlayer act = silu(inplace=flag)\n"
                              "return act(x)", "E0211", 4, 12),
    # after an `if`: the value of either branch may be overwritten where that branch is taken,
    # unless another reader sees it there
    "inplace_after_if_seen": ("d: int = 4, flag: bool = true", "input x: [b, d]\nlayer fc = linear(d, d)\n"
                              "layer bn = batch_norm1d(d)\nlayer act = relu(inplace=true)\ny = fc(x)\nz = y * 2\n"
                              "if flag:\n    y = bn(y)\nreturn act(y) + z", "E0211", 10, 12),
}


def test_an_inplace_layer_after_an_if_writes_over_the_branch_taken():
    """timm's `act(bn(fc1(x)))` with an optional norm: fc1's output is read by the norm only
    on the other branch, so the in-place activation may overwrite it (the interpreter, which
    copies nothing, agrees on values and gradients)."""
    source = _spec("d: int = 4, flag: bool = true", "input x: [b, d]\nlayer fc = linear(d, d)\n"
                   "layer bn = batch_norm1d(d)\nlayer act = relu(inplace=true)\ny = fc(x)\nif flag:\n"
                   "    y = bn(y)\nreturn act(y)")
    assert "clone()" not in compile_ok(source)
    for flag in (True, False):
        assert agree(source, {"flag": flag}, {"x": (3, 4)}) == "agree"


@pytest.mark.parametrize("name", list(MISUSES))
def test_misuse_is_a_located_diagnostic(name):
    args, body, code, line, column = MISUSES[name]
    assert first_error(_spec(args, body))[:3] == (code, line, column), first_error(_spec(args, body))


def test_an_inplace_layer_is_refused_through_the_cli(tmp_path, capsys):
    from attndsl.cli import main

    path = tmp_path / "inplace.attn"
    path.write_text(_spec("", "input x: [b, n]\nlayer act = relu(inplace=true)\nreturn act(x)"))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path.as_posix()}:4:12: error[E0211]" in err and "Traceback" not in err


def test_every_layer_kind_builds_as_torch_builds_it():
    """The registry's class names exist in torch.nn (a typo would only fail when used)."""
    from attndsl.layers import LAYERS

    for definition in LAYERS.values():
        assert hasattr(torch.nn, definition.torch_class), definition.name
    assert attndsl  # the package imports without torch on the compile path (tests/test_packaging.py)


@pytest.mark.parametrize("layer_text", [
    "max_pool2d(1, stride=3, ceil_mode=true)",  # a last window that would start past the input: dropped
    "max_pool2d(3, stride=2, padding=1, ceil_mode=true)",
    "avg_pool2d(2, stride=3, padding=1, ceil_mode=true)",
    "max_pool2d([2, 3], stride=[3, 1], dilation=[2, 1], ceil_mode=true)",
])
def test_window_counts_are_torchs_at_every_size(layer_text):
    """ceil_mode's rule (torch drops a last window that starts in the padding), symbolically."""
    source = _spec("", f"input x: [b, c, h, w]\nlayer pool = {layer_text}\nreturn pool(x)")
    module = build(source)
    reference = eval("torch.nn." + layer_text.replace("max_pool2d", "MaxPool2d").replace("avg_pool2d", "AvgPool2d")
                     .replace("[", "(").replace("]", ")").replace("true", "True"))
    for h in range(1, 9):
        for w in range(3, 6):
            x = rand(1, 1, h, w)
            try:
                want = reference(x).shape
            except RuntimeError:
                with pytest.raises(ValueError):
                    module(x)
                continue
            assert module(x).shape == want, (h, w)


@pytest.mark.parametrize("layer_text, torch_layer", [
    ('conv2d(1, 1, 3, padding=2, padding_mode="reflect")', lambda: torch.nn.Conv2d(1, 1, 3, padding=2,
                                                                                   padding_mode="reflect")),
    ('conv2d(1, 1, 4, padding="same", padding_mode="circular")',
     lambda: torch.nn.Conv2d(1, 1, 4, padding="same", padding_mode="circular")),
    ('conv2d(1, 1, [1, 5], padding=[0, 3], padding_mode="replicate")',
     lambda: torch.nn.Conv2d(1, 1, (1, 5), padding=(0, 3), padding_mode="replicate")),
])
def test_padding_modes_refuse_what_torch_refuses(layer_text, torch_layer):
    source = _spec("", f"input x: [b, 1, h, w]\nlayer conv = {layer_text}\nreturn conv(x)")
    module = build(source)
    reference = torch_layer().double()
    for h in range(1, 6):
        x = rand(1, 1, h, 4)
        try:
            want = reference(x).shape
        except RuntimeError:
            with pytest.raises(ValueError):
                module(x)
            continue
        assert module(x).shape == want, h


@pytest.mark.parametrize("inplace", [False, True])
def test_dropout2d_zeroes_whole_channels_in_training(inplace):
    """In training each [h, w] map is kept (scaled by 1 / (1 - p)) or zeroed as a whole, the
    very draw nn.Dropout2d makes with the same seed; in eval the layer returns its input."""
    source = _spec("c: int = 6, p: float = 0.5", "input x: [b, c, h, w]\nlayer conv = conv2d(c, c, 1)\n"
                   f"layer drop = dropout2d(p, inplace={str(inplace).lower()})\nreturn drop(conv(x))")
    module = _randomised(build(source)).train()
    x = rand(4, 6, 3, 5)
    y = module.conv(x).detach()
    torch.manual_seed(7)
    got = module(x)
    torch.manual_seed(7)
    want = torch.nn.Dropout2d(0.5)(y)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    kept = got.abs().sum(dim=(2, 3)) > 0
    assert 0 < kept.sum() < kept.numel()  # some channels dropped, some kept
    torch.testing.assert_close(got[kept], 2 * y[kept])
    assert (got[~kept] == 0).all()
    module.eval()
    torch.testing.assert_close(module(x), y)
    assert agree(source, {}, {"x": (2, 6, 3, 5)}) == "agree"  # the interpreter (dropout off in training)
