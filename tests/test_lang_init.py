"""Initialisation, as the published `init_weights` methods do it: `param w: [..] =
trunc_normal(std=0.02)`, `init fc.weight = normal(std=0.001)`, `init linear.bias = zeros()`
(every module of a kind, sub-blocks included). Deterministic initialisers are compared
exactly; random ones by their moments against the distribution torch's own nn.init draws."""

from __future__ import annotations

import math

import pytest
import torch

from .language_support import agree, compile_ok, first_error, generated

EXTERNAL = """\
block Inner(d: int = 512):
    input x: [b, n, d]
    layer fc = linear(d, d)
    return fc(x)

block External(d_model: int = 512, S: int = 256, c: int = 64, ks: list[int] = [1, 3]):
    input queries: [b, n, d_model]
    input x: [b, c, h, w]
    require all([k % 2 == 1 for k in ks]), "odd kernels keep the map's size"
    param pos: [S, d_model] = trunc_normal(std=0.02)
    param alpha: [1] = constant(0.5)
    layer mk = linear(d_model, S, bias=false)
    layer mv = linear(S, d_model)
    layer inner = Inner(d_model)
    layer conv = conv2d(c, 32, 3, padding=1)
    layer bn = batch_norm2d(32)
    layer mlp = sequential(fc1=linear(d_model, d_model), act=relu())
    layer convs = [conv2d(c, c, k, padding=k // 2) for k in ks]
    init linear.weight = normal(std=0.001)
    init linear.bias = zeros()
    init conv2d.weight = kaiming_normal(mode="fan_out", nonlinearity="relu")
    init batch_norm2d.weight = constant(1)
    init conv.bias = constant(0.25)
    init mlp.fc1.bias = uniform(-0.1, 0.1)
    init convs.weight = xavier_uniform(gain=2.0)
    y = mlp(inner(mv(mk(queries)))) * alpha
    return y + sum(pos), bn(conv(x)) + stack([f(x) for f in convs], dim=0)[0][:, :32]
"""


@pytest.fixture(scope="module")
def module():
    torch.manual_seed(0)
    return generated(EXTERNAL)()


def _close(value: float, want: float, tolerance: float = 0.05) -> None:
    assert abs(value - want) <= tolerance * abs(want), (value, want)


def test_the_published_init_weights_loop_is_what_the_module_writes():
    code = compile_ok(EXTERNAL)
    assert "self.pos = nn.Parameter(torch.empty(S, d_model))\n        nn.init.trunc_normal_(self.pos, std=0.02)" in code
    assert ("for module in self.modules():\n            if isinstance(module, nn.Linear):\n"
            "                nn.init.normal_(module.weight, std=0.001)\n"
            "                if module.bias is not None:\n                    nn.init.zeros_(module.bias)\n"
            "            elif isinstance(module, nn.Conv2d):\n"
            '                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")') in code
    assert "for module in self.convs:\n            nn.init.xavier_uniform_(module.weight, gain=2.0)" in code


def test_deterministic_initialisers_are_exact(module):
    assert torch.equal(module.alpha.data, torch.tensor([0.5]))
    assert torch.equal(module.mv.bias.data, torch.zeros(512))
    assert torch.equal(module.conv.bias.data, torch.full((32,), 0.25))
    assert torch.equal(module.bn.weight.data, torch.ones(32))
    assert torch.equal(module.inner.fc.bias.data, torch.zeros(512))  # a sub-block's layers too


def test_random_initialisers_draw_from_the_published_distributions(module):
    for weight in (module.mk.weight, module.mv.weight, module.inner.fc.weight, module.mlp.fc1.weight):
        _close(weight.std().item(), 0.001)
        assert abs(weight.mean().item()) < 1e-4
    fan_out = 32 * 3 * 3
    _close(module.conv.weight.std().item(), math.sqrt(2.0 / fan_out))
    _close(module.pos.std().item(), 0.02)
    assert module.pos.abs().max() <= 2.0
    bias = module.mlp.fc1.bias
    assert -0.1 <= bias.min() and bias.max() <= 0.1
    _close(bias.std().item(), 0.2 / math.sqrt(12), 0.15)
    for conv, k in zip(module.convs, (1, 3)):
        bound = 2.0 * math.sqrt(6.0 / (64 * k * k + 64 * k * k))
        assert conv.weight.abs().max() <= bound
        _close(conv.weight.std().item(), bound / math.sqrt(3), 0.1)


def test_the_interpreter_initialises_alike():
    assert agree(EXTERNAL.replace("512", "16").replace("256", "8").replace("c: int = 64", "c: int = 4")
                 .replace("conv2d(c, 32, 3", "conv2d(c, 4, 3").replace("batch_norm2d(32)", "batch_norm2d(4)")
                 .replace(":32]", ":4]"), {}, {"queries": (2, 3, 16), "x": (2, 4, 5, 5)}) == "agree"


def _error(body: str):
    head = ("block B(d: int = 8, gate: bool = true):\n    input x: [b, d]\n    layer fc = linear(d, d, bias=false)\n"
            "    layer mlp = sequential(fc1=linear(d, d))\n    param w: [d] = zeros\n")
    return first_error(head + body + "    return mlp(fc(x)) * w\n")


def test_misused_initialisation_is_a_located_error():
    code, line, column, message = _error("    init fc.bias = zeros()\n")
    assert (code, line, column) == ("E0120", 6, 13) and "switches it off" in message
    code, line, column, message = _error("    init fc.weights = zeros()\n")
    assert (code, line, column) == ("E0120", 6, 13) and "no parameter `weights`" in message
    code, line, column, message = _error("    init w = kaiming_normal()\n")
    assert (code, line, column) == ("E0120", 6, 14) and "fan-in" in message
    assert _error("    init linear.weight = normel(std=1)\n")[:3] == ("E0120", 6, 26)
    assert _error("    init mlp.fc2.weight = zeros()\n")[:3] == ("E0120", 6, 14)
    assert _error("    init mlp.weight = zeros()\n")[:3] == ("E0120", 6, 14)
    assert _error("    init conv2d.weight = kaiming_normal(mode=\"fan\")\n")[:3] == ("E0120", 6, 46)
    assert _error("    init linear.weight = normal(std=-1.0)\n")[:2] == ("E0120", 6)
    assert _error("    init linear.weight = uniform(1.0, 0.0)\n")[:2] == ("E0120", 6)
    assert _error("    init relu.weight = zeros()\n")[:3] == ("E0120", 6, 15)
    assert first_error("block B():\n    input x: [b, 4]\n    param w: [4] = ones(2)\n    return x * w\n")[0] == "E0112"


# PVT v2's Mlp re-initialises the conv of its DWConv, a block it uses as a layer.
INTO_BLOCK = """\
block DWConv(dim: int = 8, bias: bool = true):
    input x: [b, dim, h, w]
    layer dwconv = conv2d(dim, dim, 3, padding=1, groups=dim, bias=bias)
    return dwconv(x)

block Mlp(dim: int = 8, bias: bool = true):
    input x: [b, dim, h, w]
    layer dw = DWConv(dim, bias)
    layer stack = sequential(inner=DWConv(dim), act=relu())
    init dw.dwconv.weight = constant(0.5)
    init dw.dwconv.bias = constant(-1)
    init stack.inner.dwconv.weight = normal(std=0.25)
    return stack(dw(x))
"""


def test_init_reaches_the_layers_of_a_block_used_as_a_layer():
    code = compile_ok(INTO_BLOCK)
    assert "nn.init.constant_(self.dw.dwconv.weight, 0.5)" in code
    # the caller's `bias` reaches DWConv only through the call: tested where it is used
    assert "if self.dw.dwconv.bias is not None:\n            nn.init.constant_(self.dw.dwconv.bias, -1)" in code
    torch.manual_seed(0)
    mlp = generated(INTO_BLOCK)(dim=64)
    assert torch.equal(mlp.dw.dwconv.weight.data, torch.full((64, 1, 3, 3), 0.5))
    assert torch.equal(mlp.dw.dwconv.bias.data, torch.full((64,), -1.0))
    _close(mlp.stack.inner.dwconv.weight.std().item(), 0.25)
    assert generated(INTO_BLOCK)(dim=8, bias=False).dw.dwconv.bias is None
    assert agree(INTO_BLOCK, {}, {"x": (2, 8, 5, 5)}) == "agree"


def test_init_into_a_block_names_what_it_cannot_reach():
    def error(target: str, inner: str = "    layer dwconv = conv2d(dim, dim, 3, padding=1, groups=dim)\n"):
        return first_error("block Inner(dim: int = 8, many: bool = false, act: layer = relu):\n"
                           "    input x: [b, dim, h, w]\n" + inner + "    return x\n\n"
                           "block Outer(dim: int = 8):\n    input x: [b, dim, h, w]\n"
                           "    layer inner = Inner(dim)\n"
                           f"    init {target} = zeros()\n    return inner(x)\n")

    code, line, column, message = error("inner.conv.weight")
    assert (code, line, column) == ("E0120", 9, 16) and "block Inner) has no layer `conv`" in message
    code, line, column, message = error("inner.dwconv.weights")
    assert (code, line, column) == ("E0120", 9, 23) and "no parameter `weights`" in message
    code, _, _, message = error("inner.dwconv.weight", "    if many:\n        layer dwconv = conv2d(dim, dim, 1)\n")
    assert code == "E0120" and "only under a condition" in message
    code, _, _, message = error("inner.fcs.weight", "    layer fcs = [linear(dim, dim) for i in range(2)]\n")
    assert code == "E0120" and "is a layer list" in message
    code, _, _, message = error("inner.gate.weight", "    layer gate = act()\n")
    assert code == "E0120" and "chosen by its argument `act`" in message
    code, _, _, message = error("inner.weight")
    assert code == "E0120" and "`inner` (block Inner) has no param `weight`" in message


TALKING_HEADS = """\
block TalkingHeads(dim: int = 8, heads: int = 2):
    input x: [b, n, dim]
    input mask: bool[b, n] = None
    layer to_qkv = linear(dim, 3 * dim, bias=false)
    param pre_softmax: [heads, heads] = eye()
    q, k, v = [rearrange(t, "b n (h d) -> b h n d", h=heads) for t in chunk(to_qkv(x), 3, dim=-1)]
    logits = einsum("b h i j, h g -> b g i j", q @ transpose(k, -1, -2), pre_softmax)
    if mask:
        logits = masked_fill(logits, rearrange(mask, "b j -> b 1 1 j"), -finfo(logits).max)
    return rearrange(softmax(logits, dim=-1) @ v, "b h n d -> b n (h d)")
"""


def test_eye_starts_a_mixing_matrix_as_the_identity():
    """Talking-heads attention mixes the heads' logits by a learnt matrix that starts as no
    mixing: `eye()` fills a matrix's diagonal with ones, and only a matrix."""
    code = compile_ok(TALKING_HEADS)
    assert "nn.init.eye_(self.pre_softmax)" in code
    # the mask is read once, inline; the filled logits are named (their dtype is read too)
    assert "mask.reshape(b, 1, 1, n), -torch.finfo(logits.dtype).max" in code and "rearrange = " not in code
    module = generated(TALKING_HEADS)().double()
    torch.testing.assert_close(module.pre_softmax, torch.eye(2, dtype=torch.float64), rtol=0, atol=0)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    q, k, v = (t.reshape(2, 5, 2, 4).transpose(1, 2) for t in module.to_qkv(x).chunk(3, dim=-1))
    expected = ((q @ k.transpose(-1, -2)).softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 8)
    torch.testing.assert_close(module(x), expected)  # the identity mixes nothing
    assert agree(TALKING_HEADS, {}, {"x": (2, 5, 8)}) == "agree"
    assert agree(TALKING_HEADS, {}, {"x": (2, 5, 8), "mask": (2, 5)}, masks=("mask",)) == "agree"
    code, line, _, message = first_error("block B(c: int = 4):\n    input x: [b, c]\n    param w: [c, c, 2] = eye()\n"
                                         "    return x\n")
    assert line == 3 and "rank 2" in message, message
