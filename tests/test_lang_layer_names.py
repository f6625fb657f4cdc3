"""Layers named like an argument, as the published modules name them: `self.dropout =
nn.Dropout(dropout)`, and TripletAttention's `BasicConv(relu=True, bn=True)` whose
`self.bn` is a BatchNorm2d or None. Called, the name is the layer; elsewhere, the value."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from .language_support import agree, build, compile_ok, first_error, generated, rand

BASIC = """\
block BasicConv(in_planes: int, out_planes: int, kernel_size: int, padding: int = 0, relu: bool = true,
                bn: bool = true, bias: bool = false):
    input x: [b, in_planes, h, w]
    layer conv = conv2d(in_planes, out_planes, kernel_size, padding=padding, bias=bias)
    if bn:
        layer bn = batch_norm2d(out_planes, eps=1e-5, momentum=0.01)
    if relu:
        layer relu = relu()
    x = conv(x)
    if bn:
        x = bn(x)
    if relu:
        x = relu(x)
    return x
"""
ARGS = dict(in_planes=2, out_planes=1, kernel_size=3, padding=1)


def test_the_layer_takes_the_attribute_and_forward_tests_it():
    code = compile_ok(BASIC)
    assert "if bn:\n            self.bn = nn.BatchNorm2d(out_planes, momentum=0.01)\n        else:\n" \
           "            self.bn = None" in code
    assert "if self.bn is not None:" in code and "if self.relu is not None:" in code


@pytest.mark.parametrize("flags", [dict(), dict(bn=False), dict(relu=False, bn=False)])
def test_state_dict_keys_and_values_are_those_of_the_published_module(flags):
    module = build(BASIC, **ARGS, **flags)
    keys = ["conv.weight"] + ([] if flags.get("bn") is False else
                              ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"])
    assert list(module.state_dict()) == keys
    assert (module.bn is None) == (flags.get("bn") is False)
    x = rand(2, 2, 5, 4)
    y = F.conv2d(x, module.conv.weight, padding=1)
    if module.bn is not None:
        y = module.bn(y)
    if flags.get("relu", True):
        y = y.relu()
    torch.testing.assert_close(module(x), y)
    assert agree(BASIC, {**ARGS, **flags}, {"x": (2, 2, 5, 4)}) == "agree"


DROP = """\
block Drop(d: int = 8, dropout: float = 0.1):
    input x: [b, d]
    layer fc = linear(d, d)
    layer dropout = dropout(dropout)
    return dropout(fc(x)) * dropout
"""


def test_the_argument_keeps_its_value_where_it_is_not_called():
    code = compile_ok(DROP)
    assert "self.dropout = nn.Dropout(dropout)" in code
    assert "return self.dropout(self.fc(x)) * self.dropout_value" in code
    module = build(DROP, dropout=0.25)
    assert isinstance(module.dropout, torch.nn.Dropout) and module.dropout.p == 0.25
    x = rand(3, 8)
    torch.testing.assert_close(module(x), module.fc(x) * 0.25)
    assert agree(DROP, {"dropout": 0.25}, {"x": (3, 8)}) == "agree"


def test_a_missing_layer_traces_under_torch_compile():
    module = generated(BASIC)(**ARGS, bn=False).eval()
    x = torch.randn(2, 2, 5, 4)
    torch.testing.assert_close(torch.compile(module, fullgraph=True, backend="aot_eager")(x), module(x))


def test_calling_the_layer_outside_its_if_is_a_located_error():
    bad = BASIC.replace("    if relu:\n        x = relu(x)\n", "    x = relu(x)\n")
    code, line, column, message = first_error(bad)
    assert (code, line, column) == ("E0106", 12, 9) and "layer `relu`" in message
