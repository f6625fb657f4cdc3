"""`attndsl cost`: parameters, FLOPs and peak activation memory, against torch itself.

For every spec in specs/ (the directory is listed, so new specs are covered) and every
`example` of every block: the parameter count equals the generated module's
`sum(p.numel())`, the FLOPs agree with `torch.utils.flop_counter.FlopCounterMode` within
10 % (with the CPU kernel of `scaled_dot_product_attention` counted as torch counts the
GPU ones: torch 2.13 leaves it out, and generated code may fuse attention into it), and the peak activation memory agrees within 20 % with the largest total size of
live tensors measured while the module runs (a dispatch mode that follows every
storage to its release). Also: every op and layer of the registries has a cost rule.
"""

from __future__ import annotations

import json
import weakref

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from attndsl.cli import main
from attndsl.layers import LAYERS
from attndsl.ops import OPS
from attndsl.tools.cost import report
from attndsl.tools.cost_rules import LAYER_COSTS, OP_COSTS
from attndsl.tools.costmodel import block_costs
from attndsl.tools.values import Values

from .mechanisms import SPECS_DIR
from .tool_support import SPECS, analyzed, generated_class, optimized


def _flop_counter() -> FlopCounterMode:
    from torch.utils.flop_counter import sdpa_flop_count

    def cpu_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    return FlopCounterMode(display=False, custom_mapping={
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_attention})


def _examples():
    for path in SPECS:
        for ir in analyzed(path):
            for index in range(len(ir.examples)):
                yield pytest.param(path, ir.name, index, id=f"{path.stem}-{ir.name}-{index}")


EXAMPLES = list(_examples())


class LiveTensors(TorchDispatchMode):
    """The largest total size (in values) of the tensors alive at once, parameters and
    buffers excluded: each new storage counts from the op that made it until it is freed."""

    def __init__(self, exclude):
        super().__init__()
        self.exclude = {t.untyped_storage().data_ptr() for t in exclude}
        self.live = self.peak = 0
        self.seen: set[int] = set()

    def track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in self.exclude or key in self.seen:
            return
        size = storage.nbytes() // tensor.element_size() if tensor.element_size() else 0
        self.seen.add(key)
        self.live += size
        self.peak = max(self.peak, self.live)

        def freed(key=key, size=size):
            self.live -= size
            self.seen.discard(key)

        weakref.finalize(storage, freed)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in tree_flatten(out)[0]:
            if isinstance(value, torch.Tensor):
                self.track(value)
        return out


def _build(path, block, index, changes=None):
    """The generated module at a block's example (with `changes` to its arguments and
    input shapes), its inputs, and the cost report at the same sizes."""
    blocks = optimized(path)
    ir = next(b for b in blocks if b.name == block)
    example = {**ir.examples[index], **(changes or {})}
    module = generated_class(path, block)(**{a.name: example[a.name] for a in ir.args if a.name in example}).eval()
    generator = torch.Generator().manual_seed(0)
    inputs = [_input(info, example[info.name], generator) for info in ir.inputs if info.name in example]
    expected = report(ir, block_costs(blocks)[block], Values.at(ir, example, use_example=False))
    return module, inputs, expected


def _input(info, shape, generator) -> torch.Tensor:
    if getattr(info, "dtype", "float") == "sizes":
        return tuple(shape)
    if getattr(info, "dtype", "float") == "bool":
        return torch.rand(shape, generator=generator) < 0.5
    return torch.randn(shape, generator=generator)


@pytest.mark.parametrize("path, block, index", EXAMPLES)
def test_cost_agrees_with_torch(path, block, index):
    _agrees_with_torch(*_build(path, block, index))


def _agrees_with_torch(module, inputs, expected):
    assert expected.params == sum(p.numel() for p in module.parameters()), expected.params_formula
    with torch.no_grad():
        counter = _flop_counter()
        with counter:
            module(*inputs)
        measured = counter.get_total_flops()
        assert abs(expected.flops - measured) <= 0.1 * measured, (expected.flops, measured, expected.flops_formula)
        tracker = LiveTensors(list(module.parameters()) + list(module.buffers()))
        with tracker:
            for tensor in inputs:
                if isinstance(tensor, torch.Tensor):  # not a tuple of sizes (`spatial_size`)
                    tracker.track(tensor)
            out = module(*inputs)
            del out
    assert abs(expected.peak_values - tracker.peak) <= 0.2 * tracker.peak, (expected.peak_values, tracker.peak)


# Worlds the catalogue's examples do not reach: an optional input given, a branch not taken.
OTHER_WORLDS = [
    # ratio > 1 without the head-mixing transform: attention fused over the shrunk keys
    ("emsa", {"apply_transform": False}),
    # both optional inputs given: the attention is not fused
    ("emsa", {"ratio": 1, "attention_mask": [2, 4, 64, 64], "attention_weights": [2, 4, 64, 64]}),
    ("se_layer", {"batch_first": False, "x": [8, 4, 20, 20]}),
    # a boolean mask given: made additive whole, and (300 queries) a block of queries at a time
    ("sdpa", {"attention_mask": [2, 4, 49, 30]}),
    ("sdpa", {"queries": [1, 300, 64], "keys": [1, 30, 64], "values": [1, 30, 64], "attention_mask": [1, 4, 300, 30]}),
]


@pytest.mark.parametrize("stem, changes", OTHER_WORLDS, ids=lambda v: v if isinstance(v, str) else None)
def test_cost_in_other_worlds(stem, changes):
    path = SPECS_DIR / f"{stem}.attn"
    _agrees_with_torch(*_build(path, optimized(path)[-1].name, 0, changes))


def test_each_world_counts_its_own_sizes():
    """SELayer transposes its input to [b, channel, h, w] when not batch_first: the linear
    layers see s0 rows in one world and s1 in the other, and the formula says which."""
    se = _report("se_layer", {})
    assert se.flops_formula == ("[batch_first]*(4*s0*channel*(channel // reduction))"
                                " + [not batch_first]*(4*s1*channel*(channel // reduction))")
    assert (se.flops, _report("se_layer", {"batch_first": False}).flops) == (4 * 4 * 8 * 4, 4 * 8 * 8 * 4)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_formulas_name_only_the_block_s_sizes(spec):
    """No display-only size (`c|2*c`, one or the other) is left in a formula."""
    blocks = optimized(spec)
    costs = block_costs(blocks)
    for ir in blocks:
        known = {a.name for a in ir.args} | {f"len({a.name})" for a in ir.args} | set(ir.dim_origin)
        known |= {let.name for let in ir.lets} | set(ir.derived) | set(ir.optional_dim_origin)
        known |= set(ir.list_items)  # `out_chs[2]`: an item of a list argument
        cost = costs[ir.name]
        for terms in [cost.params, cost.flops] + cost.memory:
            for term in terms:
                loop = {term.loop[0]} if term.loop else set()
                assert term.value.symbols() <= known | loop, (ir.name, term)


def test_the_comparison_catches_a_wrong_rule(monkeypatch):
    """A linear layer's FLOPs counted once per multiply-add instead of twice: caught."""
    from attndsl.tools import cost_rules

    path = SPECS_DIR / "se.attn"
    right = _build(path, "SEAttention", 0)[2].flops
    wrong = cost_rules.LayerCost(flops=lambda args, operand, result: cost_rules.numel(result) * args["in_features"])
    monkeypatch.setitem(LAYER_COSTS, "linear", wrong)
    module, inputs, expected = _build(path, "SEAttention", 0)
    counter = _flop_counter()
    with counter, torch.no_grad():
        module(*inputs)
    assert expected.flops * 2 == right == counter.get_total_flops()


EVERY_KIND = """\
block Layers(c: int = 4, n: int = 9):
    input x: [b, c, d, h, w]
    input y: [b, c, n]
    input z: [b, c, h2, w2]
    example(x=[2, 4, 5, 6, 7], y=[2, 4, 9], z=[2, 4, 6, 6])
    layer c3 = conv3d(c, 2 * c, [3, 1, 3], padding=[1, 0, 1], groups=2)
    layer bn3 = batch_norm3d(2 * c, track_running_stats=false)
    layer act = prelu(num_parameters=2 * c)
    layer c1 = sequential(conv1d(c, c, 3, bias=false), batch_norm1d(c), leaky_relu())
    layer ln = layer_norm(n - 2, bias=false)
    layer inorm = instance_norm2d(c, affine=true, track_running_stats=true)
    layer gn = group_norm(2, c)
    layer pool = adaptive_avg_pool3d(2)
    layer fc = linear(16 * c, 3)
    a = pool(act(bn3(c3(x))))
    s = ln(c1(y))
    t = gn(inorm(z))
    return fc(rearrange(a, "b c x y z -> b (c x y z)")), s, t
"""


def test_layer_kinds_outside_the_catalogue(tmp_path):
    """Per-axis kernel sizes, grouped 3-d convs, norms with and without affine or running
    statistics, prelu: the state_dict and the FLOPs as torch has them."""
    import attndsl
    from attndsl.compiler import analyze
    from attndsl.tools.common import optimized as run_passes
    from attndsl.tools.state import state_entries

    path = tmp_path / "layers.attn"
    path.write_text(EVERY_KIND)
    blocks = run_passes(analyze(EVERY_KIND, "layers.attn")[0])
    expected = report(blocks[0], block_costs(blocks)["Layers"], Values.at(blocks[0], {}))
    module = attndsl.load(path)().eval()
    assert expected.params == sum(p.numel() for p in module.parameters())
    assert {e.key for e in state_entries(blocks[0], {"Layers": blocks[0]})} == set(module.state_dict())
    counter = _flop_counter()
    with counter, torch.no_grad():
        module(torch.randn(2, 4, 5, 6, 7), torch.randn(2, 4, 9), torch.randn(2, 4, 6, 6))
    assert expected.flops == counter.get_total_flops()


CONV_ACT = """\
block ConvAct(c: int = 8, act_layer: layer = relu, norm_layer: layer | None = batch_norm2d):
    input x: [b, c, h, w]
    example(x=[2, 8, 5, 6])
    layer conv = conv2d(c, c, 3, padding=1)
    layer act = act_layer()
    if norm_layer is not None:
        layer norm = norm_layer(c)
        y = act(norm(conv(x)))
    else:
        y = act(conv(x))
    return y
"""


@pytest.mark.parametrize("choice", [{}, {"act_layer": "silu", "norm_layer": None}], ids=["defaults", "silu-no-norm"])
def test_layer_kinds_given_as_arguments(tmp_path, choice):
    """`act_layer: layer = relu`: the cost of the kind chosen, `[norm_layer is not None]`."""
    import attndsl
    from attndsl.compiler import analyze
    from attndsl.tools.common import optimized as run_passes

    path = tmp_path / "conv_act.attn"
    path.write_text(CONV_ACT)
    blocks = run_passes(analyze(CONV_ACT, "conv_act.attn")[0])
    expected = report(blocks[0], block_costs(blocks)["ConvAct"], Values.at(blocks[0], choice))
    assert expected.params_formula == "c + 9*c*c + [norm_layer is not None]*2*c"
    classes = {name: None if kind is None else getattr(torch.nn, LAYERS[kind].torch_class)
               for name, kind in choice.items()}
    _agrees_with_torch(attndsl.load(path)(**classes).eval(), [torch.randn(2, 8, 5, 6)], expected)


def test_every_op_and_layer_has_a_cost_rule():
    assert set(OPS) <= set(OP_COSTS), f"ops without a rule in attndsl/tools/cost_rules.py: {set(OPS) - set(OP_COSTS)}"
    missing = set(LAYERS) - set(LAYER_COSTS)
    assert not missing, f"layers without a rule in attndsl/tools/cost_rules.py: {missing}"


def test_formulas_in_symbols(capsys):
    assert main(["cost", str(SPECS_DIR / "sdpa.attn"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"params", "flops", "params_formula", "flops_formula"} <= set(result)
    # fc_q, fc_k (d_model -> h*d_k), fc_v (-> h*d_v), fc_o (h*d_v -> d_model), with biases
    assert result["params_formula"] == "d_model + 2*d_model*d_k*h + 2*d_model*d_v*h + 2*d_k*h + d_v*h"
    assert result["params"] == 64 + 2 * 64 * 16 * 4 + 2 * 64 * 8 * 4 + 2 * 16 * 4 + 8 * 4
    assert "2*b*nq*nk*d_k*h" in result["flops_formula"]  # q @ k


def test_sizes_override_the_example(capsys):
    assert main(["cost", str(SPECS_DIR / "se.attn"), "--json", "--size", "b=8", "channel=128"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sizes"]["b"] == 8 and result["sizes"]["channel"] == 128
    assert result["params"] == 2 * 128 * (128 // 8)
    assert result["flops"] == 4 * 8 * 128 * (128 // 8)


def _report(stem: str, sizes: dict):
    blocks = optimized(SPECS_DIR / f"{stem}.attn")
    return report(blocks[-1], block_costs(blocks)[blocks[-1].name], Values.at(blocks[-1], sizes))


def test_conditional_terms_and_layer_lists():
    emsa = _report("emsa", {})
    assert "[ratio > 1]*" in emsa.params_formula and "H'" in emsa.where
    sk = _report("sk", {"kernels": [3, 5]})
    # per branch: a conv k x k (no bias... with bias), a batch norm; fc; one linear per branch
    assert sk.params_formula == ("channel*d + channel*d*len(kernels) + 4*channel*len(kernels) + d"
                                 " + sum(channel*channel*k*k/group for k in kernels)")
    assert sk.where["d"] == "max(L, channel // reduction)"
    d = max(32, 64 // 8)
    assert sk.params == 64 * d + 64 * d * 2 + 4 * 64 * 2 + d + 64 * 64 * (9 + 25)


def test_a_block_without_example_gives_formulas(capsys):
    assert main(["cost", str(SPECS_DIR / "cbam.attn"), "--block", "ChannelAttention"]) == 0
    out = capsys.readouterr().out
    assert "parameters: ?" in out and "2*channel*(channel // reduction)" in out and "--size" in out


def test_text_output(capsys):
    assert main(["cost", str(SPECS_DIR / "se.attn")]) == 0
    out = capsys.readouterr().out
    assert "parameters: 1,024" in out and "FLOPs: 4,096" in out and "peak activation memory" in out


def _spec_module_and_costs(source: str, block: str):
    """A spec written in a test: its generated module at its first example's arguments, and
    the cost report at that example."""
    from attndsl.compiler import analyze
    from attndsl.tools.common import optimized as run_passes

    from .language_support import generated

    blocks = run_passes(analyze(source, "spec.attn")[0])
    ir = next(b for b in blocks if b.name == block)
    example = ir.examples[0]
    expected = report(ir, block_costs(blocks)[block], Values.at(ir, example, use_example=False))
    module = generated(source, block)(**{a.name: example[a.name] for a in ir.args if a.name in example}).eval()
    return module, expected


NEW_OPS = """\
block NewOps(n: int = 6, d: int = 8):
    input q: [b, h, n, d]
    input k: [b, h, m, d]
    example(q=[2, 3, 6, 8], k=[2, 3, 5, 8])
    param table: [2 * n - 1, d] = zeros()
    buffer offsets = arange(n)[:, None] - arange(n)[None, :] + n - 1
    logits = einsum("b h i d, b h j d -> b h i j", q, k)
    both = einsum("b h i d, b h i d -> b h i d", q, q + table[offsets][:, 0])
    return softmax(logits, dim=-1), einsum("b h i d -> b i h d", both) + float(arange(d) // 2)
"""


def test_einsum_and_gathers_agree_with_torch():
    """A contraction counts a multiply and an add per combination of its axes, as torch's
    counter does; an elementwise einsum, a gather, integer arithmetic (and softmax) none;
    the peak memory counts the gathered copy and the integer tensors."""
    module, expected = _spec_module_and_costs(NEW_OPS, "NewOps")
    assert expected.flops == 2 * 2 * 3 * 6 * 5 * 8  # the contraction alone
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(shape, generator=generator) for shape in ([2, 3, 6, 8], [2, 3, 5, 8])]
    _agrees_with_torch(module, inputs, expected)


LIST_BUILT_BY_A_LOOP = """\
block Segments(d: int = 8, l: int = 4):
    input x: [b, n, d]
    example(d=8, l=4, x=[2, 64, 8])
    parts = rearrange(x, "b (s l) d -> s b l d", l=l)
    outs = []
    for part in parts:
        outs.append(softmax(part, dim=-1) * 2)
    return sum(stack(outs, dim=0), dim=0)
"""


def test_a_list_a_loop_appends_to_holds_every_item_after_the_loop():
    """After the loop the list holds s items of [b, l, d] (one input's worth), and `stack`
    copies them: the peak counts both, not one item."""
    module, expected = _spec_module_and_costs(LIST_BUILT_BY_A_LOOP, "Segments")
    _agrees_with_torch(module, [torch.randn(2, 64, 8)], expected)
    x_size = 2 * 64 * 8
    assert expected.peak_values >= 3 * x_size  # the input, the list, the stacked copy


TWO_LISTS_IN_ONE_STATEMENT = """\
block Two(d: int = 8, l: int = 4):
    input x: [b, n, d]
    example(d=8, l=4, x=[2, 256, 8])
    parts = rearrange(x, "b (s l) d -> s b l d", l=l)
    halves = []
    thirds = []
    for part in parts:
        halves.append(part * 2)
        thirds.append(part * 3)
    y = stack(halves, dim=0) * 0.5 + stack(thirds, dim=0) * 0.25
    return sum(y, dim=0)
"""


def test_lists_live_until_the_statement_that_reads_them_ends():
    """Python frees a loop's list at its `del`, after the whole statement that stacks it: while
    `stack(thirds)` is made, `halves` (already stacked) is still alive."""
    module, expected = _spec_module_and_costs(TWO_LISTS_IN_ONE_STATEMENT, "Two")
    _agrees_with_torch(module, [torch.randn(2, 256, 8)], expected)


OPTIONAL_WIDTH = """\
block P(dim: int, dim_out: int | None = None):
    input x: [b, dim]
    example({example})
    let d = {choice}
    layer fc = linear(dim, d)
    return fc(x)
"""


@pytest.mark.parametrize("choice", ["dim if dim_out is None else dim_out",
                                    "dim_out if dim_out is not None else dim"], ids=["is-None", "is-not-None"])
@pytest.mark.parametrize("example, sizes, dim_out", [
    ("dim=8, x=[2, 8]", [], None),  # dim_out left None: d = dim
    ("dim=8, dim_out=4, x=[2, 8]", [], 4),
    ("dim=8, x=[2, 8]", ["dim_out=3"], 3),  # --size gives it
], ids=["example-None", "example-4", "size-3"])
def test_a_let_an_optional_argument_chooses(tmp_path, capsys, choice, example, sizes, dim_out):
    """A conditional let is one let per branch of one name: the branch whose condition holds
    at the sizes gives the number, whichever of `is None` / `is not None` is written (the
    `is None` branch came first and was dropped: `parameters: ?`, `d = dim_out`)."""
    import attndsl

    path = tmp_path / "p.attn"
    path.write_text(OPTIONAL_WIDTH.format(example=example, choice=choice))
    assert main(["cost", str(path), "--json", *(["--size", *sizes] if sizes else [])]) == 0
    result = json.loads(capsys.readouterr().out)
    width = 8 if dim_out is None else dim_out
    assert result["missing"] == []
    assert result["params"] == 8 * width + width and result["flops"] == 2 * 2 * 8 * width
    assert result["peak_activation_values"] == 2 * 8 + 2 * width
    branches = {"dim if dim_out is None", "dim_out if dim_out is not None"}
    assert set(result["where"]["d"].split("; ")) == branches
    module = attndsl.load(path)(dim=8, dim_out=dim_out)
    assert sum(p.numel() for p in module.parameters()) == result["params"]


SUB_BLOCK_TWICE = """\
block Inner(c: int, norm: layer[batch_norm2d] | None = batch_norm2d):
    input x: [b, c, h, w]
    example(c=4, x=[2, 4, 3, 3])
    layer conv = conv2d(c, c, 1, bias=false)
    if norm is not None:
        layer norm = norm(c)
    y = conv(x)
    if norm is not None:
        y = norm(y)
    return y

block Outer(c: int):
    input x: [b, c, h, w]
    example(c=4, x=[2, 4, 3, 3])
    layer a = Inner(c, norm=None)
    layer p = Inner(c, norm=batch_norm2d)
    layer q = Inner(c)
    return q(p(a(x)))
"""

NUMBER_NONE_AND_GIVEN = """\
block Proj(c: int, hidden: int | None = None, out: int | None = 5):
    input x: [b, c]
    example(c=4, x=[2, 4])
    if hidden is None:
        layer fc = linear(c, c)
    else:
        layer fc = sequential(linear(c, hidden), linear(hidden, c))
    if out is not None:
        layer head = linear(c, out)
        y = head(fc(x))
    else:
        y = fc(x)
    return y

block Two(c: int):
    input x: [b, c]
    example(c=4, x=[2, 4])
    layer a = Proj(c, out=None)
    layer p = Proj(c, hidden=3 * c, out=c)
    layer q = Proj(c, hidden=None, out=None)
    return q(p(a(x)))
"""


@pytest.mark.parametrize("source, block, shape, params_formula", [
    (SUB_BLOCK_TWICE, "Outer", [2, 4, 3, 3], "4*c + 3*c*c"),
    (NUMBER_NONE_AND_GIVEN, "Two", [2, 4], "7*c + 9*c*c"),
], ids=["layer-argument", "number-argument"])
def test_each_call_of_a_sub_block_decides_its_own_none(source, block, shape, params_formula):
    """A sub-block called with an optional argument None in one call and given in another:
    each call's `is None` / `is not None` is decided by that call's arguments (`norm=None`
    against the default batch_norm2d), not left as one variable shared by the calls
    (`2*c*c + [norm is not None]*4*c`: 32 parameters where the module has 40)."""
    module, expected = _spec_module_and_costs(source, block)
    assert expected.params_formula == params_formula
    assert "None" not in expected.memory_formula and "None" not in expected.flops_formula
    _agrees_with_torch(module, [torch.randn(shape)], expected)
    children = dict(module.named_children())
    assert sum(p.numel() for p in children["a"].parameters()) == 4 * 4 + (0 if block == "Outer" else 4)


GRN = """\
block GRN(dim: int):
    input x: [b, h, w, dim]
    example(dim=8, x=[2, 7, 7, 8])
    param gamma: [1, 1, 1, dim] = zeros()
    param beta: [1, 1, 1, dim] = zeros()
    gx = norm(x, p={p}, dim=(1, 2), keepdim=true)
    nx = gx / (mean(gx, dim=-1, keepdim=true) + 1e-6)
    return gamma * (x * nx) + beta + x
"""


@pytest.mark.parametrize("p", ["1", "2", "3", "inf"])
def test_a_norm_of_any_p_costs_as_torch_runs_it(p):
    """ConvNeXt-V2's GRN (`torch.norm(x, p=2, dim=(1, 2), keepdim=True)`): no FLOPs, and the
    norm's result alone is new memory, whichever p (torch reduces without a |x| ** p copy)."""
    module, expected = _spec_module_and_costs(GRN.format(p=p), "GRN")
    assert expected.params_formula == "2*dim" and expected.flops == 0
    _agrees_with_torch(module, [torch.randn(2, 7, 7, 8)], expected)
