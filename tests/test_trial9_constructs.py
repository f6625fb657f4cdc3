"""The constructs porting trial 9 asked for (RWKV's computed params, the Synthesizer's frozen
one, EdgeViT's transposed convolution, ANN's and OCRNet's layer under two names, S4D's
optional comparisons and branch-declared dropout), each tested against its math and the
interpreter."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, compile_ok, first_error, generated, rand


RWKV = """\
block TimeMix(n_embd: int = 8, layer_id: int = 1, n_layer: int = 4):
    input x: [b, t, n_embd]
    require n_layer >= 2
    let ratio_0_to_1 = layer_id / (n_layer - 1)
    let ratio_1_to_almost0 = 1.0 - layer_id / n_layer
    buffer ramp = float(arange(n_embd)) / n_embd
    param time_mix_k: [1, 1, n_embd] = (ramp ** ratio_1_to_almost0)[None, None, :]
    param time_first: [n_embd] = ramp
    param time_decay: [n_embd] = -5 + 8 * (float(arange(n_embd)) / (n_embd - 1)) ** (0.7 + 1.3 * ratio_0_to_1)
    layer key = linear(n_embd, n_embd, bias=false)
    xx = pad(x, (0, 0, 1, -1))
    xk = x * time_mix_k + xx * (1 - time_mix_k)
    return key(xk) * exp(-exp(time_decay)) + time_first
"""


def test_a_param_starts_from_a_tensor_the_arguments_give():
    """RWKV-4's ramps (and Mamba's `A_log`): E0114 allowed only zeros, ones, randn and the
    initialisers, so a port started from zeros and its default initialisation differed."""
    code = compile_ok(RWKV)
    assert "self.time_first = nn.Parameter(self.ramp.clone())" in code  # not the buffer's storage
    module = generated(RWKV)(n_embd=6, layer_id=1, n_layer=4)
    ramp = torch.arange(6.0) / 6
    torch.testing.assert_close(module.time_mix_k.data, (ramp ** (1 - 1 / 4))[None, None])
    torch.testing.assert_close(module.time_decay.data, -5 + 8 * (torch.arange(6.0) / 5) ** (0.7 + 1.3 / 3))
    assert [name for name, _ in module.named_parameters()] == ["time_mix_k", "time_first", "time_decay", "key.weight"]
    with torch.no_grad():
        module.time_first.add_(1)
    torch.testing.assert_close(module.ramp, ramp)
    # the interpreter starts them the same (compared before the weights are randomised)
    assert agree(RWKV, {"n_embd": 5, "layer_id": 2, "n_layer": 3}, {"x": (2, 4, 5)}) == "agree"


@pytest.mark.parametrize("value, code", [("float(arange(n_embd)) / n_embd", "E0202"),
                                         ("arange(n_embd)[None, None, :]", "E0209"),
                                         ("x[:1, :1, :]", "E0113")])
def test_a_params_first_value_has_its_shape_and_is_floating_point(value, code):
    source = RWKV.replace("(ramp ** ratio_1_to_almost0)[None, None, :]", value)
    assert first_error(source)[:2] == (code, 7)


UPSAMPLE = """\
block Up(c: int = 2, k: int = 3, s: int = 2, p: int = 1, e: int = 1, g: int = 1):
    input x: [b, c, h, w]
    example(x=[2, 2, 3, 4])
    layer up = conv_transpose2d(c, 2 * c, k, stride=s, padding=p, output_padding=e, groups=g)
    return up(x)
"""


def _transposed_by_scatter(x, weight, bias, stride, padding, output_padding, groups):
    """Each input value spreads its kernel over the output: out[i*s - p + a] += x[i] * w[a]."""
    b, c, h, w = x.shape
    k = weight.shape[-1]
    out_per_group = weight.shape[1]
    height = (h - 1) * stride - 2 * padding + k + output_padding
    width = (w - 1) * stride - 2 * padding + k + output_padding
    full = torch.zeros(b, out_per_group * groups, height + 2 * padding + k, width + 2 * padding + k,
                       dtype=x.dtype)
    per_group = c // groups
    for channel in range(c):
        group = channel // per_group
        for i in range(h):
            for j in range(w):
                patch = x[:, channel, i, j][:, None, None, None] * weight[channel][None]
                full[:, group * out_per_group:(group + 1) * out_per_group,
                     i * stride:i * stride + k, j * stride:j * stride + k] += patch
    return full[:, :, padding:padding + height, padding:padding + width] + bias[None, :, None, None]


@pytest.mark.parametrize("k, s, p, e, g", [(3, 2, 1, 1, 1), (2, 2, 0, 0, 2), (3, 1, 1, 0, 1), (4, 3, 2, 2, 2)])
def test_a_transposed_convolution_spreads_each_value_over_its_kernel(k, s, p, e, g):
    """EdgeViT's local propagation, a decoder's upsampling: `conv_transpose2d` (missing, trial 9)."""
    module = generated(UPSAMPLE)(k=k, s=s, p=p, e=e, g=g).double()
    x = rand(2, 2, 3, 4)
    expected = _transposed_by_scatter(x, module.up.weight, module.up.bias, s, p, e, g)
    torch.testing.assert_close(module(x), expected)
    assert agree(UPSAMPLE, {"k": k, "s": s, "p": p, "e": e, "g": g}, {"x": (2, 2, 3, 4)}) == "agree"


def test_a_transposed_convolutions_output_padding_is_below_its_stride():
    code, line, _, message = first_error(UPSAMPLE.replace("output_padding=e", "output_padding=2").replace(
        "stride=s", "stride=2"))
    assert (code, line) == ("E0205", 4) and "smaller than stride or dilation" in message, message
    with pytest.raises(ValueError, match="output_padding must be smaller than stride or dilation"):
        generated(UPSAMPLE)(s=1, e=1)


def test_reversing_an_axis_by_a_buffer_of_positions_as_the_help_says():
    source = """\
block A(l: int = 4):
    input x: [b, l]
    buffer rev = l - 1 - arange(l)
    return x[:, rev]
"""
    x = torch.randn(2, 4)
    assert torch.equal(generated(source)()(x), x.flip(-1))


def test_an_optional_number_compared_is_false_where_it_is_none_as_in_python():
    """`if lr == 0.0:` of `lr: float | None` was E0106 ("may be None here")."""
    source = """\
block B(d: int = 4, lr: float | None = None):
    input x: [b, d]
    example(x=[2, 4])
    if lr == 0.0:
        y = x
    elif lr != 1.0:
        y = 3 * x
    else:
        y = 2 * x
    return y
"""
    x = torch.ones(2, 4)
    for lr, factor in ((None, 3.0), (0.0, 1.0), (1.0, 2.0), (2.5, 3.0)):
        torch.testing.assert_close(generated(source)(lr=lr)(x), factor * x)
        assert agree(source, {"lr": lr}, {"x": (2, 4)}) == "agree"


def test_a_layer_named_like_its_argument_may_be_declared_on_each_branch():
    """S4D's `self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()`: E0106, the
    use after the `if` "not enclosed" by either declaration (a layer of another name was fine)."""
    source = """\
block B(d: int = 4, dropout: float = 0.0):
    input x: [b, n, d]
    example(x=[2, 3, 4])
    if dropout > 0.0:
        layer dropout = dropout(dropout)
    else:
        layer dropout = identity()
    return dropout(x)
"""
    assert type(generated(source)(dropout=0.0).dropout).__name__ == "Identity"
    module = generated(source)(dropout=0.5)
    assert type(module.dropout).__name__ == "Dropout" and module.dropout.p == 0.5
    for p in (0.0, 0.5):
        assert agree(source, {"dropout": p}, {"x": (2, 3, 4)}) == "agree"


FROZEN = """\
block S(n: int = 4, d: int = 3):
    input x: [b, n, d]
    example(x=[2, 4, 3])
    frozen param attn: [n, n] = randn
    frozen param scale: [d] = float(arange(d)) + 1.0
    param gain: [d] = ones
    return softmax(attn, dim=-1) @ x * scale * gain
"""


def test_a_frozen_param_is_in_the_state_dict_and_never_trained():
    """The Synthesizer's fixed random attention (`nn.Parameter(..., requires_grad=False)`): a
    port had to `detach` a trained param, which weight decay still reached."""
    code = compile_ok(FROZEN)
    assert "self.attn = nn.Parameter(torch.randn(n, n), requires_grad=False)" in code
    module = generated(FROZEN)()
    assert list(module.state_dict()) == ["attn", "scale", "gain"]
    assert [name for name, p in module.named_parameters() if p.requires_grad] == ["gain"]
    module(torch.randn(2, 4, 3)).sum().backward()
    assert module.attn.grad is None and module.gain.grad is not None
    interpreted = __import__("tests.differential", fromlist=["compile_both"]).compile_both(FROZEN)
    built = interpreted.program.build(interpreted.main)
    assert [name for name, p in built.named_parameters() if p.requires_grad] == ["gain"]
    assert agree(FROZEN, {"n": 3, "d": 2}, {"x": (2, 3, 2)}) == "agree"
    from attndsl.tools.fmt import format_spec

    assert format_spec(FROZEN.replace("attn: [n, n] = randn", "attn: [n,n]=randn")) == FROZEN


ALIAS = """\
block A(c: int = 3):
    input x: [b, c]
    example(x=[4, 3])
    layer f_key = sequential(linear(c, c), batch_norm1d(c))
    layer f_query = f_key
    return f_query(x) + f_key(x)
"""


def test_a_layer_may_be_registered_under_a_second_name():
    """ANN's and OCRNet's `self.f_query = self.f_key`: "a layer is built by calling a layer kind",
    and a port's state_dict lacked the `f_query.*` keys."""
    assert "self.f_query = self.f_key" in compile_ok(ALIAS)
    module = generated(ALIAS)()
    assert module.f_query is module.f_key
    assert [k for k in module.state_dict() if k.startswith("f_query.")] == [
        "f_query.0.weight", "f_query.0.bias", "f_query.1.weight", "f_query.1.bias", "f_query.1.running_mean",
        "f_query.1.running_var", "f_query.1.num_batches_tracked"]
    module.train()(torch.randn(4, 3))
    assert module.f_key[1].num_batches_tracked.item() == 2  # called twice, as published
    assert agree(ALIAS, {"c": 3}, {"x": (4, 3)}) == "agree"


def test_the_cost_of_a_layer_under_two_names_counts_its_parameters_once(tmp_path, capsys):
    from attndsl.cli import main

    path = tmp_path / "alias.attn"
    path.write_text(ALIAS, encoding="utf-8")
    assert main(["cost", str(path)]) == 0
    assert "parameters: 18" in capsys.readouterr().out


def test_a_second_name_for_a_layer_declared_on_each_branch_is_given_in_each_branch():
    """Which declaration `q` would name only a world knows; its calls would be checked as the first's."""
    source = """\
block A(c: int = 3, f: bool = true):
    input x: [b, c]
    if f:
        layer k = linear(c, c)
    else:
        layer k = identity()
    layer q = k
    return q(x)
"""
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0113", 7) and "name it again inside each branch" in message
    inside = source.replace("        layer k = linear(c, c)\n", "        layer k = linear(c, c)\n        layer q = k\n")
    inside = inside.replace("        layer k = identity()\n    layer q = k\n", "        layer k = identity()\n"
                            "        layer q = k\n")
    for f in (True, False):
        module = generated(inside)(f=f)
        assert module.q is module.k
        assert agree(inside, {"f": f}, {"x": (2, 3)}) == "agree"
