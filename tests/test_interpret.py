"""The interpreter (attndsl.interpret) on its own: it must be right before it can judge
the generated code.

- Against the hand-written references of tests/references/ (the same cases and the same
  comparisons as the generated modules in test_equivalence.py: randomised weights loaded
  with strict=True, float64 outputs and gradients): an independent check, sharing no
  code with the compiler's back end.
- Op by op, against results computed here by hand (index arithmetic, explicit loops),
  and refusals: inputs that break their declared shapes, splits that do not divide,
  masks that are not boolean, configurations a `require` forbids.
"""

from __future__ import annotations

import pytest
import torch

import attndsl
from attndsl import interpret

from .fuzzing import load_module
from .harness import check_forward, check_gradients
from .mechanisms import CASES, example_cases

ids = lambda c: c.id  # noqa: E731


def interpreted(case):
    return lambda **kwargs: interpret.build(case.spec_path, case.class_name, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_interpreter_matches_the_reference(case):
    check_forward(case, interpreted(case), "cpu", torch.float64)


@pytest.mark.parametrize("case", example_cases(), ids=ids)
def test_interpreter_gradients_match_the_reference(case):
    check_gradients(case, interpreted(case), "cpu")


# ----------------------------------------------------------------------------- op by op


def run(source: str, *inputs, **arguments):
    return interpret.build(source, **arguments).eval()(*inputs)


def test_rearrange_split_and_permute_by_index():
    x = torch.arange(2 * 6 * 5, dtype=torch.float64).reshape(2, 6, 5)
    source = 'block B(h: int):\n    input x: [b, n, c]\n    return rearrange(x, "b (h d) n -> b n h d", h=h)\n'
    y = run(source, x, h=3)
    assert y.shape == (2, 5, 3, 2)
    for b in range(2):
        for n in range(5):
            for h in range(3):
                for d in range(2):
                    assert y[b, n, h, d] == x[b, h * 2 + d, n]


def test_rearrange_refuses_what_does_not_divide():
    source = 'block B(g: int):\n    input x: [b, c]\n    return rearrange(x, "b (g k) -> b g k", g=g)\n'
    with pytest.raises(ValueError, match="not divisible"):
        run(source, torch.zeros(2, 7), g=2)


def test_channel_shuffle_by_index():
    x = torch.arange(12, dtype=torch.float64).reshape(1, 12, 1, 1)
    y = run("block B():\n    input x: [b, c, h, w]\n    return shuffle(x, 3)\n", x)
    # groups=3 of 4 channels: output channel i*3 + g is input channel g*4 + i
    assert [int(v) for v in y.flatten()] == [g * 4 + i for i in range(4) for g in range(3)]


def test_chunk_refuses_uneven_pieces():
    source = "block B():\n    input x: [b, c]\n    p, q = chunk(x, 2, dim=1)\n    return p + q\n"
    assert torch.equal(run(source, torch.ones(2, 4)), torch.full((2, 2), 2.0))
    with pytest.raises(ValueError, match="equal pieces"):
        run(source, torch.ones(2, 5))


def test_masked_fill_takes_a_boolean_mask():
    source = "block B():\n    input x: [b, n]\n    input m: bool[b, n]\n    return masked_fill(x, m, -1)\n"
    mask = torch.tensor([[True, False], [False, True]])
    assert torch.equal(run(source, torch.zeros(2, 2), mask), torch.tensor([[-1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(ValueError, match="boolean"):
        run(source, torch.zeros(2, 2), mask.double())


def test_reductions_over_several_axes():
    source = "block B():\n    input x: [b, c, n]\n    return std(x, dim=[2, -3], keepdim=true) + mean(x, [1, 2], true)\n"
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    assert torch.allclose(run(source, x), x.std(dim=(0, 2), keepdim=True) + x.mean(dim=(1, 2), keepdim=True))


def test_inputs_are_checked_against_their_declared_shapes():
    source = "block B(d: int):\n    input x: [b, n, d]\n    input y: [b, 2 * n]\n    return x\n"
    module = interpret.build(source, d=4)
    module(torch.zeros(2, 3, 4), torch.zeros(2, 6))
    for x, y, problem in [((2, 3), (2, 6), "rank"), ((2, 3, 5), (2, 6), "d = 4"), ((2, 3, 4), (2, 7), "6"),
                          ((2, 3, 4), (3, 6), "b = 2")]:
        with pytest.raises(ValueError, match=problem):
            module(torch.zeros(x), torch.zeros(y))


def test_if_on_arguments_picks_the_branch_and_builds_only_its_layers():
    source = ("block B(d: int, deep: bool = true):\n    input x: [b, d]\n    if deep:\n"
              "        layer fc = linear(d, d)\n        y = fc(x)\n    else:\n        y = -x\n    return y\n")
    assert set(interpret.build(source, d=3).state_dict()) == {"fc.weight", "fc.bias"}
    shallow = interpret.build(source, d=3, deep=False)
    assert not shallow.state_dict()
    x = torch.randn(2, 3)
    assert torch.equal(shallow(x), -x)


def test_optional_input_is_used_only_when_given():
    source = ("block B():\n    input x: [b, n]\n    input w: [b, n] = None\n    y = x * 2\n    if w:\n"
              "        y = y * w\n    return y\n")
    module = interpret.build(source)
    x, w = torch.randn(2, 3), torch.randn(2, 3)
    assert torch.equal(module(x), x * 2)
    assert torch.equal(module(x, w), x * 2 * w)
    with pytest.raises(ValueError, match=r"w.shape\[1\]"):
        module(x, torch.randn(2, 4))


def test_lets_and_requires_run_in_order_under_their_guards():
    source = ("block B(a: int, wide: bool = false):\n    input x: [b, a]\n    if wide:\n        let m = a * 2\n"
              "        require m < 10, \"too wide\"\n        layer fc = linear(a, m)\n        y = fc(x)\n"
              "    else:\n        y = x\n    return y\n")
    assert interpret.build(source, a=4, wide=True).fc.out_features == 8
    interpret.build(source, a=8)  # the require is under `if wide:`
    with pytest.raises(ValueError, match="too wide"):
        interpret.build(source, a=8, wide=True)


def test_scalars_mean_what_the_spec_wrote():
    """`1 / (a - 4)` is one half at a = 6, whatever canonical form the checker keeps."""
    source = "block B(a: int):\n    input x: [b, n]\n    return x * (1 / (a - 4)) + x * (a // 4) - x ** 2\n"
    x = torch.randn(2, 3, dtype=torch.float64)
    assert torch.allclose(run(source, x, a=6), x * 0.5 + x * 1 - x**2)


def test_sizes_of_inputs_are_numbers_in_the_dataflow():
    source = "block B():\n    input x: [b, n]\n    return x / n + sqrt(b)\n"
    x = torch.randn(4, 5, dtype=torch.float64)
    assert torch.allclose(run(source, x), x / 5 + 2.0)


def test_layer_lists_and_sub_blocks_have_the_generated_state_dict_keys():
    source = ("block Inner(d: int, ks: list[int] = [1, 2]):\n    input x: [b, d]\n"
              "    layer fcs = [linear(d, d, bias=false) for k in ks]\n    return sum(stack([f(x) for f in fcs], dim=0), dim=0)\n"
              "block Outer(d: int, ks: list[int] = [1, 2, 3]):\n    input x: [b, d]\n    layer inner = Inner(d, ks)\n"
              "    layer mlp = sequential(fc=linear(d, d), act=relu())\n    return mlp(inner(x))\n")
    generated = load_module(attndsl.compile_source(source, "keys.attn").code)["Outer"](d=4)
    module = interpret.build(source, d=4)
    assert list(module.state_dict()) == list(generated.state_dict())
    assert len(module.inner.fcs) == 3  # the caller's list reached the sub-block


def test_the_comparison_can_fail(monkeypatch):
    """The differential oracle notices a wrong meaning of one op."""
    from .differential import Case, Disagreement, compile_both, run_case

    source = "block B():\n    input x: [b, n]\n    return sigmoid(x) * 2\n"
    compiled = compile_both(source)
    case = Case({}, {"x": [2, 3]})
    assert run_case(compiled, case) == "agree"
    monkeypatch.setitem(interpret.TENSOR_OPS, "sigmoid", lambda call, x: torch.tanh(x))
    with pytest.raises(Disagreement, match="values differ"):
        run_case(compiled, case)


def test_inputs_are_checked_for_their_element_type():
    source = "block B():\n    input x: [b, n]\n    input m: bool[b, n]\n    return masked_fill(x, m, 0)\n"
    module = interpret.build(source)
    module(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean"):
        module(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="floating-point"):
        module(torch.zeros(2, 3, dtype=torch.bool), torch.zeros(2, 3, dtype=torch.bool))


def test_layers_take_the_inputs_the_language_says_not_what_torch_lets_through():
    """torch runs a conv on an unbatched (rank-3) map, an InstanceNorm2d without affine
    weights on any number of channels, and most layers on an empty input."""
    conv = interpret.build("block B():\n    input x: [b, c, h, w]\n    layer conv = conv2d(3, 2, 1)\n"
                           "    return conv(x)\n")
    with pytest.raises(ValueError, match="in_channels"):
        conv(torch.zeros(2, 4, 1, 5))
    with pytest.raises(ValueError, match="empty dimension"):  # sizes of at least 1: the language's contract
        conv(torch.zeros(2, 3, 0, 5))
    norm = interpret.build("block B():\n    input x: [b, c, h, w]\n    layer norm = instance_norm2d(3)\n"
                           "    return norm(x)\n")
    with pytest.raises(ValueError, match="num_features"):
        norm(torch.zeros(2, 4, 5, 5))
    norm(torch.zeros(2, 3, 5, 5))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_norm_overflows_where_torchs_does(dtype):
    """torch's 2-norm squares without scaling: [finfo.max, 0.5] has norm inf, though the
    true norm is finite; over a single entry it gives the entry's magnitude. The
    interpreter says the same, so a spec's `finfo` fill followed by `norm` agrees with the
    generated module (campaign 20700001 found the earlier scaled norm finite where torch's
    was inf)."""
    top = torch.finfo(dtype).max
    rows = torch.tensor([[top, 0.5, 0.1], [top / 2, top / 2, 0.0], [0.3, -0.4, 0.0], [-top, 0.0, 0.0]], dtype=dtype)
    for dim, source in ((1, "norm(x, 1)"), (0, "norm(x, 0)")):
        module = interpret.build(f"block B():\n    input x: [n, d]\n    return {source}\n")
        torch.testing.assert_close(module(rows), rows.norm(dim=dim), equal_nan=True)
    single = interpret.build("block B():\n    input x: [n, d]\n    return norm(x, 0)\n")
    torch.testing.assert_close(single(rows[:1]), rows[:1].norm(dim=0))
    assert single(rows[:1])[0] == top  # one entry: its magnitude, never squared
