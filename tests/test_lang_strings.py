"""`str` and `list[str]` arguments: a block built one way or another by name, as GCNet's
`ContextBlock(pooling_type="att", fusion_types=("channel_add",))`. Conditions on them
(`==`, `!=`, `in`, `not in`) are decided when the module is built, like bool arguments;
the checker walks each string the spec names, and the interpreter agrees on every one."""

from __future__ import annotations

import inspect
import itertools

import pytest
import torch
import torch.nn.functional as F

import attndsl

from .language_support import agree, build, compile_ok, first_error, generated, rand

CONTEXT_BLOCK = """\
block ContextBlock(inplanes: int, ratio: float, pooling_type: str = "att",
                   fusion_types: list[str] = ["channel_add"]):
    input x: [b, inplanes, h, w]
    example(inplanes=16, ratio=0.25, x=[2, 16, 5, 6])
    example(inplanes=16, ratio=0.25, pooling_type="avg", fusion_types=["channel_mul"], x=[2, 16, 5, 6])
    require pooling_type in ["avg", "att"], "pooling_type must be avg or att"
    require len(fusion_types) > 0, "at least one fusion should be used"
    require all([f in ["channel_add", "channel_mul"] for f in fusion_types]), "unknown fusion type"

    let planes = int(inplanes * ratio)
    if pooling_type == "att":
        layer conv_mask = conv2d(inplanes, 1, 1)
        layer softmax = softmax(dim=2)
    else:
        layer avg_pool = adaptive_avg_pool2d(1)
    if "channel_add" in fusion_types:
        layer channel_add_conv = sequential(
            conv2d(inplanes, planes, 1), layer_norm((planes, 1, 1)), relu(inplace=true), conv2d(planes, inplanes, 1)
        )
    if "channel_mul" in fusion_types:
        layer channel_mul_conv = sequential(
            conv2d(inplanes, planes, 1), layer_norm((planes, 1, 1)), relu(inplace=true), conv2d(planes, inplanes, 1)
        )

    if pooling_type == "att":
        weights = softmax(flatten(conv_mask(x), 2))
        context = unsqueeze(flatten(x, 2) @ transpose(weights, 1, 2), 3)
    else:
        context = avg_pool(x)
    out = x
    if "channel_mul" in fusion_types:
        out = out * sigmoid(channel_mul_conv(context))
    if "channel_add" in fusion_types:
        out = out + channel_add_conv(context)
    return out
"""

CONFIGURATIONS = list(itertools.product(["att", "avg"], [("channel_add",), ("channel_mul",),
                                                         ("channel_add", "channel_mul")]))


def _context_block_reference(module, x, pooling_type, fusion_types):
    """GCNet's block from the math, with the module's own weights."""
    if pooling_type == "att":
        weights = F.conv2d(x, module.conv_mask.weight, module.conv_mask.bias).flatten(2).softmax(dim=2)
        context = torch.einsum("bcn,bon->bc", x.flatten(2), weights)[:, :, None, None]
    else:
        context = x.mean(dim=(2, 3), keepdim=True)
    out = x
    if "channel_mul" in fusion_types:
        out = out * torch.sigmoid(module.channel_mul_conv(context))
    if "channel_add" in fusion_types:
        out = out + module.channel_add_conv(context)
    return out


@pytest.mark.parametrize("pooling_type, fusion_types", CONFIGURATIONS)
def test_each_choice_builds_its_layers_and_computes_gcnet(pooling_type, fusion_types, device):
    # a tuple, as the published default is: the module takes any sequence of strings
    module = build(CONTEXT_BLOCK, inplanes=16, ratio=0.25, pooling_type=pooling_type,
                   fusion_types=fusion_types).double().to(device)
    for parameter in module.parameters():
        torch.nn.init.normal_(parameter)  # the zero-initialised published convs would hide the branches
    keys = {key.split(".")[0] for key in module.state_dict()}
    assert keys == ({"conv_mask"} if pooling_type == "att" else set()) | {f"{f}_conv" for f in fusion_types}
    x = torch.randn(2, 16, 5, 6, dtype=torch.float64, device=device)
    expected = _context_block_reference(module, x, pooling_type, fusion_types)
    torch.testing.assert_close(module(x), expected)
    assert not torch.allclose(expected, x)  # every branch changes the input: a skipped one would show


@pytest.mark.parametrize("pooling_type, fusion_types", CONFIGURATIONS)
def test_the_interpreter_agrees_on_every_choice(pooling_type, fusion_types):
    arguments = dict(inplanes=16, ratio=0.25, pooling_type=pooling_type, fusion_types=list(fusion_types))
    assert agree(CONTEXT_BLOCK, arguments, {"x": (2, 16, 5, 6)}) == "agree"


def test_the_signature_keeps_the_published_names_and_defaults():
    code = compile_ok(CONTEXT_BLOCK)
    assert 'pooling_type: str = "att", fusion_types: list[str] = ["channel_add"]' in code
    assert 'if pooling_type == "att":' in code and 'if "channel_mul" in fusion_types:' in code
    assert 'if self.pooling_type == "att":' in code.split("def forward")[1]
    defaults = inspect.signature(generated(CONTEXT_BLOCK)).parameters
    assert defaults["pooling_type"].default == "att" and defaults["fusion_types"].default == ["channel_add"]


@pytest.mark.parametrize("arguments, message", [
    (dict(pooling_type="max"), "pooling_type must be avg or att"),
    (dict(fusion_types=[]), "at least one fusion should be used"),
    (dict(fusion_types=["channel_add", "channel_ad"]), "unknown fusion type"),
])
def test_a_string_no_branch_names_is_refused_by_the_spec_s_require(arguments, message):
    with pytest.raises(ValueError, match=message):
        generated(CONTEXT_BLOCK)(inplanes=16, ratio=0.25, **arguments)


POOL = """\
block Pool(c: int, mode: str = "avg"):
    input x: [b, c, h, w]
    if mode == "max":
        y = max(x, dim=(2, 3), keepdim=true)
    elif mode == "same":
        y = x * 2
    else:
        y = mean(x, dim=(2, 3), keepdim=true)
    return y

block Outer(c: int, mode: str = "max"):
    input x: [b, c, h, w]
    layer mine = Pool(c, mode=mode)
    layer fixed = Pool(c, "avg")
    layer same = Pool(c, mode="same")
    return mine(x) + fixed(x) + same(x)
"""


@pytest.mark.parametrize("mode", ["max", "avg", "same", "anything else"])
def test_a_block_passes_a_string_or_its_own_argument_to_a_block(mode):
    """Shapes differ by the string (the checker walks a world per string named) and the
    caller's choice reaches the callee: a literal is decided there, an argument passed on."""
    module = build(POOL, "Outer", c=3, mode=mode)
    x = rand(2, 3, 4, 5)
    pooled = {"max": x.amax(dim=(2, 3), keepdim=True), "same": x * 2}.get(mode, x.mean(dim=(2, 3), keepdim=True))
    torch.testing.assert_close(module(x), pooled + x.mean(dim=(2, 3), keepdim=True) + x * 2)
    assert agree(POOL, {"c": 3, "mode": mode}, {"x": (2, 3, 4, 5)}) == "agree"
    code = compile_ok(POOL)
    assert 'self.fixed = Pool(c=c, mode="avg")' in code and "self.mine = Pool(c=c, mode=mode)" in code
    # Pool's output is the map, or one value per channel: one case per string
    assert 'returns: [b, c, 1, 1] if mode != "same";\n                 [b, c, h, w] if mode == "same"' in code


@pytest.mark.parametrize("body, code, says", [
    ('y = x if mode < "b" else x * 2', "E0113", "`<` does not compare strings"),
    ("y = x if mode == 3 else x * 2", "E0113", "compared with a string written in the spec"),
    ("y = x if 3 in modes else x * 2", "E0113", "`in` tests a string written in the spec"),
    ('y = x if "a" in mode else x * 2', "E0113", "a list[str] argument or a list of strings"),
    ('y = x if mode in ["a", 2] else x * 2', "E0113", "against a list of strings"),
    ("y = x if x in [2] else x * 2", "E0113", "`in` tests a number in a list of numbers"),
    ("y = conv(x)", "E0113", "a str argument"),
    ('y = x if modes == ["a"] else x * 2', "E0113", "tested with `in`, not compared"),
])
def test_misused_strings_are_located_errors(body, code, says):
    layer = "    layer conv = conv1d(c, c, 1, padding_mode=mode)\n" if "conv" in body else ""
    source = f'block B(c: int, mode: str = "a", modes: list[str] = ["a"]):\n    input x: [b, c, h]\n{layer}' \
             f"    {body}\n    return y\n"
    found, line, _, message = first_error(source)
    assert (found, line) == (code, 3) and says in message, message


@pytest.mark.parametrize("signature, says", [
    ("mode: str = 3", "must be a string"),
    ("modes: list[str] = [1]", "must be a list of strings"),
])
def test_a_default_of_the_wrong_kind_is_refused(signature, says):
    code, line, _, message = first_error(f"block B(c: int, {signature}):\n    input x: [b, c]\n    return x\n")
    assert (code, line) == ("E0111", 1) and says in message


def test_an_example_gives_strings_to_str_arguments_only():
    code, line, _, message = first_error(CONTEXT_BLOCK.replace('pooling_type="avg"', "pooling_type=2"))
    assert (code, line) == ("E0113", 5) and "not a str" in message


SHAPES_BY_WORD = """\
block S(c: int, mode: str = "a", pool: str = "avg"):
    input x: [b, c, h, w]
    require mode in ["a", "b", "c"], "mode must be a, b or c"
    layer fc = conv2d(c, c, 1)
    if mode == "a":
        y = fc(x)
    elif mode == "b":
        y = mean(fc(x), dim=(2, 3), keepdim=true)
    else:
        y = fc(x) * 2
    if pool == "max":
        z = max(y, dim=(2, 3), keepdim=true)
    elif pool != "none":
        z = y * 3
    else:
        z = y
    return z
"""


def test_a_check_made_for_every_string_carries_no_condition_on_it():
    """The checker walks a world per string named (and one for any other); a check found in
    every world of a str argument is one check, not one nested under each string."""
    init = compile_ok(SHAPES_BY_WORD).split("def __init__")[1].split("def forward")[0]
    assert init.count("`c` must be at least 1") == 1
    assert 'mode != "' not in init and 'pool ==' not in init and 'pool !=' not in init
    for mode, pool in itertools.product(["a", "b", "c", "d"], ["max", "avg", "none"]):
        assert agree(SHAPES_BY_WORD, {"c": 3, "mode": mode, "pool": pool}, {"x": (2, 3, 4, 5)}) in \
            ("agree", "both refused (init)")


def test_strings_merged_into_one_guard_allow_exactly_their_values():
    """`mode == "a"` and `mode` none of the named strings merge into `mode != "b" and
    mode != "c"` (a check needed for those values only)."""
    from attndsl.ir import Cond
    from attndsl.shapes.worlds import merge_guards

    a, b, c = (Cond("text", ("mode", word)) for word in "abc")
    no = lambda atom: Cond("not", (atom,))  # noqa: E731
    merged = merge_guards([((), (a,)), ((), (no(a), no(b), no(c)))], [a, b, c])
    assert merged == [(no(b), no(c))] or merged == [(no(c), no(b))]
    assert merge_guards([((), (a,)), ((), (no(a), b)), ((), (no(a), no(b), c)), ((), (no(a), no(b), no(c)))],
                        [a, b, c]) == [()]
    assert merge_guards([((), (a,)), ((), (no(a), b))], [a, b, c]) == [(Cond("or", (a, b)),)]


def test_a_condition_that_fails_reports_once():
    """The names its branches define are not then reported unknown (one mistake, one error)."""
    source = ('block B(c: int, mode: str = "a", modes: list[str] = ["a"]):\n    input x: [b, c]\n'
              '    if mode < "b":\n        y = x\n    else:\n        y = x * 2\n'
              '    layer fcs = [linear(c, c) for m in modes]\n    return y\n')
    result = attndsl.compile_source(source, "lang.attn")
    assert [(d.code, d.span.line) for d in result.diagnostics if d.is_error] == [("E0113", 3), ("E0113", 7)]
    assert "list[str]" in [d.message for d in result.diagnostics if d.is_error][1]


def test_checks_merged_over_strings_are_written_the_same_in_every_process(tmp_path):
    """The merge of checks over a str argument's values reads no set in its hash order:
    two processes with other string hashes write the same module."""
    import os
    import subprocess
    import sys

    spec = tmp_path / "words.attn"
    spec.write_text(POOL + "\n\n" + SHAPES_BY_WORD + "\n\n" + CONTEXT_BLOCK)
    written = []
    for seed in ("0", "1"):
        out = tmp_path / f"out{seed}"
        done = subprocess.run([sys.executable, "-m", "attndsl", "compile", str(spec), "-o", str(out)],
                              env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        written.append((out / "words.py").read_text())
    assert written[0] == written[1]
    init = written[0].split("class S(")[1].split("def __init__")[1].split("def forward")[0]
    assert 'pool != "' not in init  # no check under a string
