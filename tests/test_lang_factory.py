"""torch's factory arguments: `device: device = None`, `dtype: dtype = None` build every
layer that holds parameters, every param and every block used as a layer on that device,
in that dtype (as nn.Linear(..., device=, dtype=) and nn.MultiheadAttention take them)."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, compile_ok, first_error, generated

FACTORY = """\
block Mlp(d: int, hidden: int = 8, *, device: device = None, dtype: dtype = None):
    input x: [b, n, d]
    layer fc1 = linear(d, hidden)
    layer act = gelu()
    layer fc2 = linear(hidden, d)
    return fc2(act(fc1(x)))

block Attn(dim: int = 16, heads: int = 4, *, device: device = None, dtype: dtype = None):
    input x: [b, n, dim]
    require dim % heads == 0, "dim must be divisible by heads"
    layer qkv = linear(dim, 3 * dim)
    layer norm = layer_norm(dim)
    layer mlp = Mlp(dim, 2 * dim)
    param scale: [heads, 1, 1] = ones
    q, k, v = chunk(rearrange(qkv(norm(x)), "b n (h d) -> b h n d", h=heads), 3, dim=-1)
    att = softmax(q @ transpose(k, -1, -2) * scale, dim=-1)
    return mlp(rearrange(att @ v, "b h n d -> b n (h d)")) + x
"""


def test_layers_params_and_blocks_take_them():
    code = compile_ok(FACTORY)
    assert "device: torch.device | str | None = None," in code and "dtype: torch.dtype | None = None," in code
    assert "nn.Linear(dim, 3 * dim, device=device, dtype=dtype)" in code
    assert "nn.LayerNorm(dim, device=device, dtype=dtype)" in code
    assert "Mlp(d=dim, hidden=2 * dim, device=device, dtype=dtype)" in code
    assert "torch.ones(heads, 1, 1, device=device, dtype=dtype)" in code
    assert "nn.GELU()" in code  # no parameters: no factory arguments


@pytest.mark.parametrize("factory", [dict(dtype=torch.float64), dict(device="meta"), dict()])
def test_every_parameter_is_made_where_asked(factory):
    module = generated(FACTORY)(**factory)
    dtypes = {p.dtype for p in module.parameters()}
    devices = {p.device.type for p in module.parameters()}
    assert dtypes == {factory.get("dtype", torch.float32)}
    assert devices == {factory.get("device", "cpu")}
    plain = generated(FACTORY)()
    assert list(module.state_dict()) == list(plain.state_dict())  # the same keys, the same order


def test_the_interpreter_agrees():
    assert agree(FACTORY, {"dtype": torch.float64}, {"x": (2, 5, 16)}) == "agree"


def test_factory_arguments_are_not_values():
    source = FACTORY.replace("    layer qkv = linear(dim, 3 * dim)", "    layer qkv = linear(dim, 3 * dim)\n    y = x * device")
    assert first_error(source)[0] == "E0113"
    assert first_error("block B(device: device = 1):\n    input x: [b]\n    return x\n")[0] == "E0111"
    assert first_error("block B(a: device = None, b: device = None):\n    input x: [b]\n    return x\n")[0] == "E0111"


BUFFERS = """\
block Alibi(heads: int = 6, *, device: device = None, dtype: dtype = None):
    input x: [b, heads, n, n]
    buffer slopes = 2 ** (-8 * float(arange(heads) + 1) / heads)
    buffer scale = eye(heads) + ones([heads, heads])
    buffer index = arange(heads)
    return x * slopes[:, None, None] + sum(scale, dim=-1)[:, None, None] + float(index)[:, None, None]
"""


@pytest.mark.parametrize("factory", [dict(dtype=torch.float64), dict(device="meta"), dict()])
def test_buffers_are_made_where_asked_and_computed_in_the_dtype_asked(factory):
    """ALiBi's slopes in float64 are 2 ** (-8 h / heads) in float64, not float32's rounding of
    it; an integer buffer keeps its dtype and moves to the device."""
    module = generated(BUFFERS)(**factory)
    dtype, device = factory.get("dtype", torch.float32), factory.get("device", "cpu")
    assert (module.slopes.dtype, module.scale.dtype, module.index.dtype) == (dtype, dtype, torch.int64)
    assert {b.device.type for b in module.buffers()} == {device}
    if device == "cpu":
        exact = 2 ** (-8 * torch.arange(1, 7, dtype=dtype) / 6)
        assert torch.equal(module.slopes, exact)
        assert agree(BUFFERS, factory, {"x": (2, 6, 3, 3)}) == "agree"
