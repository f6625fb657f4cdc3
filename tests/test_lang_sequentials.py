"""A sequential written child by child, with children named in loops, as BAM builds its
gates (`add_module("conv_%d" % i, ...)`): `state_dict` keys `sa.conv_0.weight`, ...; every
pass of a loop keeps the shape it is given."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, build, compile_ok, first_error, generated, rand

SPATIAL = """\
block SpatialGate(channel: int = 64, reduction: int = 16, num_layers: int = 3, dia_val: int = 2):
    input x: [b, channel, h, w]
    let mid = channel // reduction
    layer sa = sequential:
        conv_reduce1 = conv2d(channel, mid, 1)
        bn_reduce1 = batch_norm2d(mid)
        relu_reduce1 = relu()
        # padding=dia_val keeps the map's size (the published padding=1 shrinks it)
        for i in range(num_layers):
            conv_{i} = conv2d(mid, mid, 3, padding=dia_val, dilation=dia_val)
            bn_{i} = batch_norm2d(mid)
            relu_{i} = relu()
        last_conv = conv2d(mid, 1, 1)
    return expand_as(sa(x), x)
"""

CHANNEL = """\
block ChannelGate(channel: int = 64, reduction: int = 16, num_layers: int = 3):
    input x: [b, channel, h, w]
    require num_layers >= 1, "the first layer reduces the channels"
    let mid = channel // reduction
    layer ca = sequential:
        fc0 = linear(channel, mid)
        bn0 = batch_norm1d(mid)
        relu0 = relu()
        for i in range(1, num_layers):
            fc{i} = linear(mid, mid)
            bn{i} = batch_norm1d(mid)
            relu{i} = relu()
        last_fc = linear(mid, channel)
    return ca(mean(x, dim=[2, 3]))
"""


def test_children_named_in_a_loop_are_added_as_the_published_code_adds_them():
    code = compile_ok(SPATIAL)
    assert ('self.sa = nn.Sequential()\n        self.sa.add_module("conv_reduce1", nn.Conv2d(channel, mid, 1))' in code)
    assert ('        for i in range(num_layers):\n'
            '            self.sa.add_module(f"conv_{i}", nn.Conv2d(mid, mid, 3, padding=dia_val, dilation=dia_val))'
            in code)
    assert "for i in range(1, num_layers):\n            self.ca.add_module(f\"fc{i}\"" in compile_ok(CHANNEL)


@pytest.mark.parametrize("layers", [3, 1])
def test_state_dict_keys_are_those_of_bam(layers):
    keys = list(build(SPATIAL, num_layers=layers).state_dict())
    for i in range(layers):
        assert f"sa.conv_{i}.weight" in keys and f"sa.bn_{i}.running_var" in keys
    assert f"sa.conv_{layers}.weight" not in keys and keys[-1] == "sa.last_conv.bias"
    keys = list(build(CHANNEL, num_layers=layers).state_dict())
    assert [k for k in keys if k.endswith(".weight")] == \
        ["ca.fc0.weight", "ca.bn0.weight"] + [k for i in range(1, layers) for k in (f"ca.fc{i}.weight",
                                                                                    f"ca.bn{i}.weight")] + \
        ["ca.last_fc.weight"]


def test_the_gates_compute_what_their_layers_compute():
    x = rand(3, 64, 5, 6)
    module = build(SPATIAL, num_layers=2)
    y = module.sa.conv_reduce1(x)
    y = module.sa.relu_reduce1(module.sa.bn_reduce1(y))
    for i in range(2):
        y = getattr(module.sa, f"relu_{i}")(getattr(module.sa, f"bn_{i}")(getattr(module.sa, f"conv_{i}")(y)))
    torch.testing.assert_close(module(x), module.sa.last_conv(y).expand_as(x))
    assert agree(SPATIAL, {"num_layers": 2}, {"x": (3, 64, 5, 6)}) == "agree"
    assert agree(SPATIAL, {"num_layers": 0}, {"x": (3, 64, 5, 6)}) == "agree"
    assert agree(CHANNEL, {}, {"x": (3, 64, 2, 2)}) == "agree"


def test_a_pass_that_may_change_the_shape_is_checked_when_the_module_is_built():
    published = SPATIAL.replace("padding=dia_val, dilation", "padding=1, dilation")  # BAM's own padding
    build(published, dia_val=1)
    with pytest.raises(ValueError, match="^SpatialGate: "):
        build(published, dia_val=2)


def test_a_loop_of_children_traces_under_torch_compile():
    module = generated(SPATIAL)(num_layers=2).eval()
    x = torch.randn(2, 64, 5, 6)
    torch.testing.assert_close(torch.compile(module, fullgraph=True, backend="aot_eager")(x), module(x))


def test_misused_loops_of_children_are_located_errors():
    shrinking = SPATIAL.replace("padding=dia_val, dilation=dia_val", "padding=0")
    code, line, column, message = first_error(shrinking)
    assert (code, line, column) == ("E0201", 14, 22) and "a pass of the loop" in message
    code, line, column, message = first_error(SPATIAL.replace("conv2d(mid, mid, 3,", "conv2d(mid * i, mid, 3,"))
    assert (code, line, column) == ("E0113", 10, 37) and "names children" in message
    collide = CHANNEL.replace("range(1, num_layers)", "range(num_layers)")
    code, line, column, message = first_error(collide)
    assert (code, line, column) == ("E0103", 10, 13) and "`fc0`" in message
    assert first_error(SPATIAL.replace("conv_{i} =", "conv_{2 * i} ="))[:3] == ("E0113", 10, 19)
    assert first_error(SPATIAL.replace("conv_reduce1 =", "conv_{i} ="))[:3] == ("E0113", 5, 9)
    assert first_error(SPATIAL.replace("layer sa = sequential:", "layer sa = module:"))[:3] == ("E0113", 4, 16)
    assert first_error(SPATIAL.replace("range(num_layers)", "kernels"))[:3] == ("E0113", 9, 18)


DROP_PATH_SCHEDULE = """\
block Blk(d: int, drop_path: float = 0.0):
    input x: [b, n, d]
    layer fc = linear(d, d)
    return x + stochastic_depth(fc(x), drop_path)


block Stack(d: int = 8, depth: int = 3, drop_path_rate: float = 0.1):
    input x: [b, n, d]
    require depth >= 2
    layer blocks = [Blk(d, drop_path_rate * i / (depth - 1)) for i in range(depth)]
    for blk in blocks:
        x = blk(x)
    return x
"""


def test_a_linear_drop_path_schedule_is_a_formula_of_the_index():
    """timm's `dpr = torch.linspace(0, rate, depth)`, written as the README says (no
    list[float] argument needed): each block gets its own rate, as the published stack."""
    module = generated(DROP_PATH_SCHEDULE, "Stack")(d=8, depth=5, drop_path_rate=0.2)
    rates = [blk.drop_path for blk in module.blocks]
    assert rates == pytest.approx(torch.linspace(0, 0.2, 5).tolist())
    assert agree(DROP_PATH_SCHEDULE, {"d": 8, "depth": 3, "drop_path_rate": 0.1}, {"x": [2, 4, 8]})
    with pytest.raises(ValueError, match=r"`depth >= 2` must hold, with depth = 1$"):
        generated(DROP_PATH_SCHEDULE, "Stack")(d=8, depth=1)


def test_a_loop_of_a_constant_number_of_passes_guards_its_checks_with_nothing():
    source = """\
block Stack(c: int = 8, r: int = 2):
    input x: [b, c]
    let mid = c // r
    layer mlp = sequential:
        fc = linear(c, mid)
        for i in range(2):
            bn{i} = batch_norm1d(mid)
    return mlp(x)
"""
    code = compile_ok(source)
    assert "if 2 > 0:" not in code and "if mid < 1:" in code, code  # the loop makes a pass: no `if`
    with pytest.raises(ValueError, match="at least one channel"):
        build(source, c=8, r=16)
