"""Layer lists zipped together in a `for` loop (`for conv, norm in zip(convs, norms):`),
as published modules keep parallel `nn.ModuleList`s (their state_dict keys are
`convs.0.weight`, `norms.0.weight`, not those of one list of pairs)."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, compile_ok, first_error, generated, rand

ZIPPED = """\
block Stages(c: int = 4, n: int = 3, m: int = 3):
    input x: [b, c, h, w]
    input ys: [n, b, c, h, w]
    example(c=4, x=[2, 4, 5, 5], ys=[3, 2, 4, 5, 5])
    layer convs = [conv2d(c, c, 2 * i + 1, padding=i) for i in range(n)]
    layer norms = [batch_norm2d(c) for _ in range(m)]
    layer gates = [conv2d(c, c, 2 * j + 1, padding=j) for j in range(n)]
    for conv, norm, gate, y in zip(convs, norms, gates, ys):
        x = norm(conv(x)) * gate(y)
    return x
"""


def test_zipped_layer_lists_run_element_by_element(device):
    code = compile_ok(ZIPPED)
    assert "for conv, norm, gate, y in zip(self.convs, self.norms, self.gates, ys):" in code
    module = generated(ZIPPED)().to(device).double()
    for norm in module.norms:  # running statistics that differ from the default
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    module.eval()
    x, ys = rand(2, 4, 5, 5).to(device), rand(3, 2, 4, 5, 5, seed=1).to(device)
    expected = x
    for conv, norm, gate, y in zip(module.convs, module.norms, module.gates, ys):
        expected = norm(conv(expected)) * gate(y)
    torch.testing.assert_close(module(x, ys), expected, rtol=1e-12, atol=1e-12)
    # the order of the lists matters: the norms' statistics are not interchangeable
    swapped = x
    for conv, norm, gate, y in zip(module.convs, reversed(module.norms), module.gates, ys):
        swapped = norm(conv(swapped)) * gate(y)
    assert not torch.allclose(swapped, expected)
    assert list(module.state_dict())[:4] == ["convs.0.weight", "convs.0.bias", "convs.1.weight", "convs.1.bias"]


def test_zipped_layer_lists_agree_with_the_interpreter():
    assert agree(ZIPPED, {"c": 3, "n": 2, "m": 2}, {"x": (2, 3, 4, 5), "ys": (2, 2, 3, 4, 5)}) == "agree"


def test_zipped_lists_of_different_lengths_are_refused_when_the_module_is_built():
    """Python's zip stops at the shorter list, silently: the lengths must agree."""
    code = compile_ok(ZIPPED)
    assert "if m != n:" in code
    with pytest.raises(ValueError, match="the lengths of `convs` and `norms`"):
        generated(ZIPPED)(n=3, m=2)


def test_lists_whose_lengths_differ_for_every_call_are_refused():
    source = ZIPPED.replace("for _ in range(m)", "for _ in range(n + 1)")
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0201", 8) and "`convs` and `norms`" in message, message


def test_a_layer_list_after_a_tensor_in_zip_is_refused_with_the_order_to_write():
    source = ZIPPED.replace("zip(convs, norms, gates, ys)", "zip(convs, ys, norms, gates)").replace(
        "for conv, norm, gate, y in", "for conv, y, norm, gate in")
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0113", 8) and "come first" in message, message


def test_each_zipped_list_needs_its_own_name():
    source = ZIPPED.replace("for conv, norm, gate, y in", "for conv, norm, y in")
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0118", 8) and "3 layer list(s) and 1 tensor(s)" in message, message


def test_the_cost_tool_counts_the_elements_of_every_zipped_list(tmp_path, capsys):
    from attndsl.cli import main

    path = tmp_path / "stages.attn"
    path.write_text(ZIPPED, encoding="utf-8")
    assert main(["cost", str(path)]) == 0
    out = capsys.readouterr().out
    flops = out.split("FLOPs:")[1].split("\n")[1]
    # conv i and gate j, both (2i+1)^2 taps: summed over one index, j renamed to i
    assert "for i in range(n)" in flops and "j" not in flops, flops
