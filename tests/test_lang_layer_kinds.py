"""Arguments that are layer kinds: `act_layer: layer = relu`, `norm_layer: layer | None =
batch_norm2d`, so that one block is built with ReLU or SiLU, BatchNorm or none, as the
published blocks take `act_layer=nn.ReLU`; any class the checker did not check is refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from .language_support import agree, build, compile_ok, first_error, generated, rand

CONV_ACT = """\
block ConvAct(c: int = 8, act_layer: layer = relu, norm_layer: layer | None = batch_norm2d):
    input x: [b, c, h, w]
    layer conv = conv2d(c, c, 3, padding=1)
    layer act = act_layer()
    if norm_layer is not None:
        layer norm = norm_layer(c)
        y = act(norm(conv(x)))
    else:
        y = act(conv(x))
    return y
"""


def test_the_signature_takes_classes_and_the_layers_call_them():
    code = compile_ok(CONV_ACT)
    assert "act_layer: type[nn.Module] = nn.ReLU, norm_layer: type[nn.Module] | None = nn.BatchNorm2d" in code
    assert "self.act = act_layer()" in code and "self.norm = norm_layer(c)" in code
    assert "if norm_layer is not None and norm_layer not in (nn.BatchNorm2d,):" in code


@pytest.mark.parametrize("choice", [dict(), dict(act_layer=torch.nn.SiLU, norm_layer=None),
                                    dict(act_layer=torch.nn.GELU)])
def test_each_choice_builds_and_computes_what_it_names(choice):
    module = build(CONV_ACT, **choice)
    assert type(module.act) is choice.get("act_layer", torch.nn.ReLU)
    assert ("norm.weight" in module.state_dict()) == (choice.get("norm_layer", 1) is not None)
    x = rand(2, 8, 4, 5)
    y = F.conv2d(x, module.conv.weight, module.conv.bias, padding=1)
    if hasattr(module, "norm"):
        y = module.norm(y)
    torch.testing.assert_close(module(x), module.act(y))
    assert agree(CONV_ACT, choice, {"x": (2, 8, 4, 5)}) == "agree"


def test_a_class_the_block_was_not_checked_with_is_refused():
    with pytest.raises(ValueError, match="^ConvAct: `act_layer` must be one of nn.ReLU, .*got <class"):
        generated(CONV_ACT)(act_layer=torch.nn.Softmax)
    with pytest.raises(ValueError, match="^ConvAct: `norm_layer` must be one of nn.BatchNorm2d"):
        generated(CONV_ACT)(norm_layer=torch.nn.LayerNorm)


def test_a_chosen_layer_traces_under_torch_compile():
    module = generated(CONV_ACT)(act_layer=torch.nn.Hardswish).eval()
    x = torch.randn(2, 8, 4, 5)
    torch.testing.assert_close(torch.compile(module, fullgraph=True, backend="aot_eager")(x), module(x))


def test_misused_layer_arguments_are_located_errors():
    assert first_error(CONV_ACT.replace("act_layer: layer = relu", "act_layer: layer = 3"))[:3] == ("E0111", 1, 46)
    assert first_error(CONV_ACT.replace("act_layer()", "act_layer(c)"))[:3] == ("E0113", 4, 27)  # inplace=c
    code, line, column, message = first_error(CONV_ACT.replace("        y = act(conv(x))", "        y = act(conv(x))\n"
                                                                 "    layer other = norm_layer(c)"))
    assert (code, line, column) == ("E0106", 10, 19) and "may be None" in message
    code, _, _, message = first_error(CONV_ACT.replace("| None = batch_norm2d", "| None = None"))
    assert code == "E0111" and "needs a layer kind as its default" in message
