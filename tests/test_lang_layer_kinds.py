"""Arguments that are layer kinds: `act_layer: layer = relu`, `norm_layer: layer | None =
batch_norm2d`, so that one block is built with ReLU or SiLU, BatchNorm or none, as the
published blocks take `act_layer=nn.ReLU`; any class the checker did not check is refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import attndsl

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
    assert "if norm_layer is not None and getattr(norm_layer, \"func\", norm_layer) not in (nn.BatchNorm2d,):" in code


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
    assert code == "E0111" and "needs a layer kind, its default or in its type" in message
    problem = attndsl.compile_source(CONV_ACT.replace("| None = batch_norm2d", "| None = None"), "lang.attn")
    assert "`norm_layer: layer[batch_norm2d] | None = None`" in problem.diagnostics[0].help
    code, _, _, message = first_error(NORM_NONE.replace("layer[batch_norm2d]", "layer[batch_norm]"))
    assert code == "E0111" and "no layer kind" in message
    code, _, _, message = first_error(NORM_NONE.replace("| None = None", "| None = layer_norm"))
    assert code == "E0111" and "not of batch_norm2d's family" in message


NORM_NONE = CONV_ACT.replace("norm_layer: layer | None = batch_norm2d", "norm_layer: layer[batch_norm2d] | None = None")


def test_a_layer_argument_defaulting_to_none_names_its_family_in_its_type():
    """timm's `norm_layer=None`: `layer[batch_norm2d] | None = None` may be None (the
    default) or a kind of batch_norm2d's family, checked as that kind."""
    code = compile_ok(NORM_NONE)
    assert "norm_layer: type[nn.Module] | None = None" in code
    assert "if norm_layer is not None and getattr(norm_layer, \"func\", norm_layer) not in (nn.BatchNorm2d,):" in code
    plain = build(NORM_NONE)
    assert not hasattr(plain, "norm") and not any(k.startswith("norm.") for k in plain.state_dict())
    normed = build(NORM_NONE, norm_layer=torch.nn.BatchNorm2d)
    assert "norm.weight" in normed.state_dict()
    x = rand(2, 8, 4, 5)
    torch.testing.assert_close(plain(x), plain.act(F.conv2d(x, plain.conv.weight, plain.conv.bias, padding=1)))
    with pytest.raises(ValueError, match="`norm_layer` must be one of nn.BatchNorm2d"):
        generated(NORM_NONE)(norm_layer=torch.nn.LayerNorm)
    for choice in (dict(), dict(norm_layer=torch.nn.BatchNorm2d)):
        assert agree(NORM_NONE, choice, {"x": (2, 8, 4, 5)}) == "agree"


def test_a_block_passes_a_kind_to_a_layer_argument_that_defaults_to_none():
    source = NORM_NONE + """
block Outer(c: int = 8):
    input x: [b, c, h, w]
    layer plain = ConvAct(c)
    layer normed = ConvAct(c, norm_layer=batch_norm2d)
    return plain(x) + normed(x)
"""
    module = build(source, "Outer")
    assert not hasattr(module.plain, "norm") and isinstance(module.normed.norm, torch.nn.BatchNorm2d)
    assert module(rand(2, 8, 4, 5)).shape == (2, 8, 4, 5)


def test_the_branches_on_a_layer_argument_read_as_if_and_else():
    """`if norm_layer is not None:` ... `else:`, not a second `if norm_layer is None:`."""
    forward = compile_ok(CONV_ACT).split("def forward")[1]
    assert "if self.norm_layer is not None:" in forward and "else:" in forward
    assert "if self.norm_layer is None" not in forward


def test_a_call_its_family_does_not_take_says_what_the_argument_is():
    """`norm_layer: layer[relu] | None` called with a channel count: the message is the
    activation's (`inplace` takes a bool), and the help says the argument is an activation."""
    source = NORM_NONE.replace("layer[batch_norm2d]", "layer[relu]")
    problem = attndsl.compile_source(source, "lang.attn").diagnostics[0]
    assert problem.code == "E0113" and "`norm_layer` is one of relu's family" in problem.help


# ------------------------------------------------------ layer kinds and None in examples

KIND_EXAMPLES = '''
block A(norm_layer: layer[layer_norm] | None = None, act: layer = relu, c: int | None = None):
    input x: [b, 8]
    example(norm_layer=layer_norm, act=silu, x=[2, 8])
    example(norm_layer=None, c=None, x=[2, 8])
    if norm_layer is not None:
        layer norm = norm_layer(8)
        y = norm(x)
    else:
        y = x
    layer a = act()
    return a(y)
'''


def test_an_example_gives_a_layer_kind_and_none():
    from .differential import check_examples, compile_both

    compiled = compile_both(KIND_EXAMPLES)
    assert compiled.ir.examples[0]["norm_layer"] == "layer_norm" and compiled.ir.examples[1]["c"] is None
    check_examples(compiled)  # each example builds (kinds as classes) and runs, generated and interpreted
    assert "norm_layer=nn.LayerNorm, act=nn.SiLU, x=[2, 8]" in compile_ok(KIND_EXAMPLES)


@pytest.mark.parametrize("example, says", [
    ("norm_layer=batch_norm2d", "not one of its layer kinds"),
    ("act=None", "`act` None, but it is not optional"),
    ("c=relu", "not an int"),
    ("c=foo", "example values are"),
])
def test_an_example_value_of_the_wrong_kind_is_located(example, says):
    source = KIND_EXAMPLES.replace("example(norm_layer=None, c=None, x=[2, 8])", f"example({example}, x=[2, 8])")
    code, line, _, message = first_error(source)
    assert code == "E0113" and says in message and line == 5


GATE_BY_NAME = """\
block SqueezeExcite(c: int = 8, act_layer: layer = relu, gate_layer: layer = "sigmoid"):
    input x: [b, c, h, w]
    layer fc = conv2d(c, c // 2, 1)
    layer act = act_layer(inplace=true)
    layer expand = conv2d(c // 2, c, 1)
    layer gate = gate_layer()
    return x * gate(expand(act(fc(mean(x, dim=[2, 3], keepdim=true)))))
"""

OUTER = """\
block Outer(c: int = 8, gate_layer: layer = "hard_sigmoid"):
    input x: [b, c, h, w]
    layer se = SqueezeExcite(c, gate_layer=gate_layer)
    return se(x)
"""


def _gated(module, x, gate):
    return x * gate(module.expand(torch.relu(module.fc(x.mean(dim=(2, 3), keepdim=True)))))


@pytest.mark.parametrize("given, gate", [(None, torch.sigmoid), ("hard_sigmoid", F.hardsigmoid),
                                         ("hardsigmoid", F.hardsigmoid), (torch.nn.Hardsigmoid, F.hardsigmoid),
                                         ("swish", F.silu), ("tanh", torch.tanh)])
def test_a_layer_argument_written_as_a_name_takes_names_and_classes(given, gate):
    """timm's `gate_layer="sigmoid"`: the signature keeps the string, and the module takes a
    kind's name (ours, or timm's spelling) or its class."""
    code = compile_ok(GATE_BY_NAME)
    assert 'gate_layer: type[nn.Module] | str = "sigmoid"' in code
    arguments = {} if given is None else {"gate_layer": given}
    module = generated(GATE_BY_NAME)(**arguments).double().eval()
    x = rand(2, 8, 3, 3)
    torch.testing.assert_close(module(x), _gated(module, x, gate))
    assert agree(GATE_BY_NAME, arguments, {"x": (2, 8, 3, 3)}) == "agree"


def test_a_name_the_argument_cannot_be_is_refused_with_the_names_it_can():
    module = generated(GATE_BY_NAME)
    with pytest.raises(ValueError, match=r"`gate_layer` must be one of nn\.Sigmoid.* or their names \(sigmoid, .*"
                                         r"hard_sigmoid.*got mish"):
        module(gate_layer="mish")
    with pytest.raises(ValueError, match="`act_layer` must be one of"):  # a class-only argument takes no name
        module(act_layer="relu")


def test_a_name_passed_on_reaches_the_inner_block_as_its_class():
    source = GATE_BY_NAME + "\n\n" + OUTER
    module = generated(source, "Outer")().double().eval()
    x = rand(2, 8, 3, 3)
    torch.testing.assert_close(module(x), _gated(module.se, x, F.hardsigmoid))
    assert isinstance(module.se.gate, torch.nn.Hardsigmoid)


@pytest.mark.parametrize("default, says", [('"mish"', "is a layer kind, e.g. relu, or its name"),
                                           ('"batch_norm2d"', "is not of sigmoid's family")])
def test_a_default_name_that_is_no_kind_of_its_family_is_located(default, says):
    source = GATE_BY_NAME.replace('gate_layer: layer = "sigmoid"', f"gate_layer: layer[sigmoid] = {default}")
    code, line, column, message = first_error(source)
    assert (code, line) == ("E0111", 1) and says in message, message
