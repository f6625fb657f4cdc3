"""What porting trial 10 found (RoPE, GQA, ALiBi, RetNet, Fastformer; CaiT, FocalNet, CLIP's
pool, PVTv2, neighbourhood attention; GAT, Perceiver, MIL pooling, a decoder layer, Luna;
and an adversarial probe of the checker), each fixed and pinned here.

Soundness: a 1-d input's size unpacked as a torch.Size; a `let` of input sizes computed
before the check that guards it (a ZeroDivisionError, a math domain error); a pool's
padding from an argument unchecked (torch refused it in forward); two stochastic-depth
calls merged into one draw. Language: `arange(start, end, step)`; a param named like a
bool argument (`bias=True` → `self.bias`); an even size's halves (`x[..., ::2]`,
`x[..., 1::2]`) known equal under `require d % 2 == 0`; W0006's suggested `require` in
the spec's own names.
"""

from __future__ import annotations

import math

import pytest
import torch

import attndsl

from .language_support import agree, build, compile_ok, first_error, rand


def _warnings(source: str) -> list[str]:
    return [f"{d.code} {d.message}" for d in attndsl.compile_source(source, "lang.attn").diagnostics
            if not d.is_error]


# ---------------------------------------------------------------------------- soundness


def test_a_one_dimensional_input_unpacks_its_size():
    source = "block P():\n    input x: [n]\n    return x[1:n - 1]\n"
    assert "(n,) = x.shape" in compile_ok(source)
    x = rand(5)
    torch.testing.assert_close(build(source)(x), x[1:4])
    assert agree(source, {}, {"x": (5,)}) == "agree"
    assert agree(source, {}, {"x": (2,)}).startswith("both refused")


@pytest.mark.parametrize("let, message", [
    ("c // (n - 2)", "n - 2 must not be zero"),
    ("int(sqrt(n - 3))", "n - 3 must not be negative"),
    ("int(log2(n - 2))", "n - 2 must be positive"),
])
def test_a_let_of_input_sizes_comes_after_the_check_that_guards_it(let, message):
    source = f"block P():\n    input x: [b, n, c]\n    let a = {let}\n    return x[:, :, :a]\n"
    code = compile_ok(source)
    assert code.index("raise ValueError(f\"P: " + message) < code.index("a = ")
    with pytest.raises(ValueError, match=f"^P: {message}"):
        build(source)(rand(1, 2, 6))
    assert agree(source, {}, {"x": (1, 2, 6)}).startswith("both refused")
    assert agree(source, {}, {"x": (1, 7, 6)}) == "agree"


@pytest.mark.parametrize("layer, shape", [
    ("max_pool1d(k, stride=1, padding=p)", (1, 2, 8)),
    ("avg_pool1d(k, stride=1, padding=p, ceil_mode=true)", (1, 2, 8)),
    ("avg_pool2d((k, 3), stride=1, padding=(1, p))", (1, 2, 8, 8)),
])
def test_a_pools_padding_from_an_argument_is_at_most_half_its_kernel(layer, shape):
    dims = "[b, c, n]" if len(shape) == 3 else "[b, c, h, w]"
    source = f"block P(k: int = 2, p: int = 0):\n    input x: {dims}\n    layer pool = {layer}\n    return pool(x)\n"
    with pytest.raises(ValueError, match="^P: .* `pool`: padding must be at most half of kernel_size"):
        build(source, k=2, p=2)
    assert agree(source, {"k": 2, "p": 2}, {"x": shape}).startswith("both refused")
    assert agree(source, {"k": 4, "p": 1}, {"x": shape}) == "agree"


def test_two_stochastic_depth_calls_draw_two_masks():
    source = "block P(p: float = 0.5):\n    input x: [b, n]\n    return stochastic_depth(x, p) - stochastic_depth(x, p)\n"
    assert compile_ok(source).count("torch.bernoulli") == 2
    module = build(source).train()
    torch.manual_seed(0)
    assert module(torch.ones(1000, 1, dtype=torch.float64)).abs().max() == 2.0  # kept once, dropped once
    assert compile_ok(source, optimize=False).count("torch.bernoulli") == 2


# ---------------------------------------------------------------------------- language


def test_arange_counts_by_a_step():
    source = """\
block Rope(d: int = 8, base: float = 10000.0, max_len: int = 16):
    input x: [b, n, d]
    require d % 2 == 0
    require n <= max_len
    buffer inv_freq = 1.0 / base ** (float(arange(0, d, 2)) / d)
    buffer angles = float(arange(max_len))[:, None] * inv_freq[None, :]
    c = cos(angles[:n])
    s = sin(angles[:n])
    x1 = x[..., 0::2]
    x2 = x[..., 1::2]
    return cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1) + float(arange(1, n + 3, 3))[None, :1, None]
"""
    code = compile_ok(source)
    assert "torch.arange(0, d, 2)" in code and "torch.arange(max_len)" in code
    assert "torch.arange(1, n + 3, 3, device=x.device)" in code
    assert "x2 = x[..., 1::2]  # [b, n, d/2]" in code and "broadcast" not in code  # the halves are known equal
    assert not [w for w in _warnings(source) if w.startswith("W0006")]
    x = rand(2, 5, 8)
    inv_freq = 1.0 / 10000.0 ** (torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    angles = torch.arange(16, dtype=torch.float64)[:, None] * inv_freq[None, :]
    c, s = angles[:5].cos(), angles[:5].sin()
    x1, x2 = x[..., 0::2], x[..., 1::2]
    want = torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1) + 1.0
    module = attndsl_module(source)
    torch.testing.assert_close(module(x), want)
    assert agree(source, {"d": 6}, {"x": (2, 16, 6)}) == "agree"
    assert first_error("block B():\n    input x: [b, n]\n    return x + arange(0, n, 0)[None, :]\n")[0] == "E0205"


def attndsl_module(source: str):
    module = build(source)
    for name, buffer in module.named_buffers():  # built in the default dtype: compared in float64
        setattr(module, name, buffer.double())
    return module


def test_the_halves_of_an_even_size_are_known_equal():
    """`x[:, 1::2]` has `(e - 1) // 2 + 1` elements, `x[:, ::2]` `ceil(e / 2)`: under `require e %
    2 == 0` both are `e/2` (no broadcast check, no warning, the comment `[b, e]`)."""
    source = ("block Pairs(e: int):\n    input x: [b, e]\n    require e % 2 == 0\n"
              "    return x * rearrange(stack([-x[:, 1::2], x[:, ::2]], dim=-1), \"b e two -> b (e two)\")\n")
    code = compile_ok(source)
    assert "# [b, e]" in code and "broadcast" not in code and not _warnings(source)


def test_a_suggested_require_is_written_in_the_specs_names():
    source = """\
block Rotary(hidden: int, heads: int, factor: float = 1.0):
    input q: [b, n, hidden]
    let head_dim = hidden // heads
    let rot = int(head_dim * factor)
    buffer freq = float(arange(rot // 2))
    return q[..., :rot] * cat([freq, freq])
"""
    helps = [d.help for d in attndsl.compile_source(source, "lang.attn").diagnostics if d.code == "W0006"]
    assert helps and all(h == "if they must be equal, say so: `require rot % 2 == 0`" for h in helps)
    required = source.replace("    let rot = int(head_dim * factor)\n",
                              "    let rot = int(head_dim * factor)\n    require rot % 2 == 0\n")
    assert not [w for w in _warnings(required) if w.startswith("W0006")]
    # 90 // 3 * 0.7 is 21 in Python (the `let`), 90 * 0.7 // 3 is 20: the suggestion reads the let
    with pytest.raises(ValueError, match=r"^Rotary: `rot % 2 == 0` must hold, with rot = 21"):
        build(required, hidden=90, heads=3, factor=0.7)


BIAS = """\
block Dense(d: int = 4, c: int = 3, bias: bool = true):
    input x: [b, n, d]
    layer lin = linear(d, c, bias=false)
    if bias:
        param bias: [c] = zeros
        init bias = constant(0.5)
    y = lin(x)
    return y + bias if bias else y
"""


def test_a_param_may_be_named_like_the_bool_argument_that_declares_it():
    """PyG's DenseGATConv: `bias=True` registers `self.bias`, else `register_parameter("bias", None)`."""
    code = compile_ok(BIAS)
    assert 'self.register_parameter("bias", None)' in code and "if self.bias is not None" in code
    assert "self.bias = bias" not in code
    with_bias, without = build(BIAS), build(BIAS, bias=False)
    assert set(with_bias.state_dict()) == {"lin.weight", "bias"} and set(without.state_dict()) == {"lin.weight"}
    assert without.bias is None
    x = rand(2, 5, 4)
    torch.testing.assert_close(with_bias(x), with_bias.lin(x) + 0.5)
    torch.testing.assert_close(without(x), without.lin(x))
    for flag in (True, False):
        assert agree(BIAS, {"bias": flag}, {"x": (2, 5, 4)}) == "agree"


@pytest.mark.parametrize("body, code, message", [
    ("    param bias: [d] = zeros\n    return x + bias\n", "E0103", "`bias` is already defined"),
    ("    if not bias:\n        param bias: [d] = zeros\n    return x\n", "E0103", "`bias` is already defined"),
    ("    if bias:\n        param bias: [d] = zeros\n    return x + bias\n", "E0113",
     "`bias` is a bool argument here, not a number"),
])
def test_a_param_named_like_an_argument_elsewhere_is_refused_with_the_way_out(body, code, message):
    source = f"block B(d: int = 4, bias: bool = true):\n    input x: [b, n, d]\n{body}"
    result = attndsl.compile_source(source, "lang.attn")
    error = next(d for d in result.diagnostics if d.is_error)
    assert (error.code, error.message) == (code, message)
    assert "if bias:" in (error.help or "")


ALIBI = """\
block Alibi(heads: int = 8):
    input s: [b, heads, n, n]
    let closest = 2 ** floor(log2(heads))
    buffer i = float(arange(heads))
    buffer slopes = where(i < closest, 2.0 ** (-8.0 * (i + 1) / closest), 2.0 ** (-4.0 * (2 * (i - closest) + 1) / closest))
    distance = float(arange(n)[None, :] - arange(n)[:, None])
    return s + slopes[:, None, None] * distance
"""


def _alibi_slopes(heads: int) -> list[float]:
    """The published recursion: a power of two's geometric slopes, then every other slope of
    the next power of two for the rest."""
    def power_of_two(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]

    if math.log2(heads).is_integer():
        return power_of_two(heads)
    closest = 2 ** math.floor(math.log2(heads))
    return power_of_two(closest) + _alibi_slopes(2 * closest)[0::2][: heads - closest]


@pytest.mark.parametrize("heads", [1, 5, 6, 8, 12])
def test_a_whole_exponent_the_arguments_give_alibis_slopes(heads):
    code = compile_ok(ALIBI)
    assert "closest = 2 ** math.floor(math.log2(heads))" in code
    assert "must not be negative" not in code and "must not be zero" not in code  # heads >= 1 proves both
    module = build(ALIBI, heads=heads)
    torch.testing.assert_close(module.slopes.double(), torch.tensor(_alibi_slopes(heads), dtype=torch.float64),
                               rtol=1e-6, atol=0)  # the buffer is built in float32
    assert agree(ALIBI, {"heads": heads}, {"s": (1, heads, 3, 3)}) == "agree"


def test_an_exponent_that_may_be_negative_is_checked_and_a_float_one_refused():
    source = "block P(a: int = 4):\n    input x: [b, n]\n    let m = 2 ** (a - 3)\n    return x * m\n"
    with pytest.raises(ValueError, match=r"^P: `a` must be at least 3, got 2"):  # the exponent's sign
        build(source, a=2)
    torch.testing.assert_close(build(source, a=5)(rand(2, 3)), rand(2, 3) * 4)
    assert agree(source, {"a": 2}, {"x": (2, 3)}).startswith("both refused")
    floating = "block P(p: float = 2.0):\n    input x: [b, n]\n    let m = 2 ** p\n    return x * m\n"
    assert first_error(floating)[:3] == ("E0119", 3, 18)


def test_a_param_declared_on_each_branch_has_each_branchs_shape():
    """Soundness: both branches' reads of `bias` took the first declaration's shape, so the
    `else` branch was checked as `[h * c]` (and refused h = 2, where it works)."""
    source = """\
block P(c: int = 3, h: int = 2, concat: bool = true):
    input x: [b, n, c]
    if concat:
        param bias: [h * c] = zeros
        out = x + bias[:c]
    else:
        param bias: [c] = ones
        out = x + bias
    return out
"""
    for concat in (True, False):
        assert agree(source, {"concat": concat}, {"x": (2, 3, 3)}) == "agree"
    torch.testing.assert_close(build(source, concat=False)(rand(2, 3, 3)), rand(2, 3, 3) + 1)


GAT_BIAS = """\
block Gat(c: int = 3, heads: int = 2, concat: bool = true):
    input x: [b, n, heads, c]
    if concat:
        param bias: [heads * c] = zeros
        out = rearrange(x, "b n h c -> b n (h c)")
    else:
        param bias: [c] = ones
        out = mean(x, dim=2)
    return out + bias
"""


def test_a_param_declared_on_each_branch_is_read_after_the_if():
    """PyG's GAT: `bias` is `[heads * out]` when the heads are concatenated, else `[out]`."""
    code = compile_ok(GAT_BIAS)
    assert "return out + self.bias  # [b, n, c*heads|c]" in code
    x = rand(2, 3, 2, 3)
    torch.testing.assert_close(build(GAT_BIAS, concat=False)(x), x.mean(dim=2) + 1)
    torch.testing.assert_close(build(GAT_BIAS)(x), x.flatten(2))
    for concat in (True, False):
        assert agree(GAT_BIAS, {"concat": concat}, {"x": (2, 3, 2, 3)}) == "agree"
    wrong = GAT_BIAS.replace("param bias: [c] = ones", "param bias: [c + 1] = ones")
    warning = next(d for d in attndsl.compile_source(wrong, "lang.attn").diagnostics if d.code == "W0006")
    assert "never equal" in warning.message and "require" not in warning.help
    with pytest.raises(ValueError, match="^Gat: broadcast dimension -1: c and c \\+ 1 must be equal or 1"):
        build(wrong, concat=False, c=3)


@pytest.mark.parametrize("let", ["n if k is None else k", "k or n", "n if flag else 2 * n"])
def test_a_choice_between_input_sizes_in_a_let_says_it_is_not_in_the_language(let):
    source = (f"block A(k: int | None = None, flag: bool = false):\n    input x: [b, n, d]\n    let m = {let}\n"
              "    return x[:, :m]\n")
    code, line, column, message = first_error(source)
    assert (code, line, column) == ("E0113", 3, 13)
    assert message.startswith("a `let` of input sizes is one expression: a choice")


# ---------------------------------------------------------------------------- messages


def _errors(source: str):
    return [d for d in attndsl.compile_source(source, "lang.attn").diagnostics if d.is_error]


def test_messages_trial_10_found_lacking():
    # `o or d` as a layer's argument: the choice goes into a let (not "a condition must be ...")
    (error,) = _errors("block A(d: int, o: int | None = None):\n    input x: [b, d]\n    layer fc = linear(d, o or d)\n"
                       "    return fc(x)\n")
    assert (error.span.line, error.span.column) == (3, 26) and "written in a `let`" in error.message
    # an argument named like a Module attribute: one error, not one more per use
    assert [e.code for e in _errors("block A(training: bool = false):\n    input x: [b, d]\n    if training:\n"
                                    "        x = x * 2\n    return x\n")] == ["E0105"]
    # a str argument called as a layer kind
    (error,) = _errors('block A(d: int = 4, activation: str = "relu"):\n    input x: [b, d]\n'
                       "    layer act = activation()\n    return act(x)\n")
    assert "is a str argument" in error.help and "activation: layer = relu" in error.help
    # a buffer read between its steps: the step before and the reader are shown
    (error,) = _errors("block P(h: int = 2):\n    input x: [b, h]\n    buffer s = float(arange(h))\n"
                       "    buffer s = s * 2\n    buffer t = s + 1\n    buffer s = s * 3\n    return x * s * t\n")
    assert [(label.span.line, label.message) for label in error.labels] == [(4, "the step before"), (5, "read here")]


def test_a_required_size_of_an_optional_input_is_shown_in_its_message():
    source = ('block B():\n    input x: [b, n, d]\n    input m: bool[tb, tn] = None\n    if m:\n'
              '        require tb == b, "mask batch"\n        x = masked_fill(x, m[:, :, None], 0.0)\n    return x\n')
    assert 'raise ValueError(f"B: mask batch, with b = {b}, tb = {tb}")' in compile_ok(source)


def test_a_broadcast_check_shows_its_sizes_factored_with_their_values():
    source = ("block A(k: int = 3):\n    input x: [b, c, hh, ww]\n    keys = unfold(x, k, padding=k // 2)\n"
              "    real = unfold(ones([1, 1, hh, ww]), k, padding=0)\n    return masked_fill(keys, real == 0.0, -inf)\n")
    code = compile_ok(source)
    assert "hh'*ww' and (hh - k + 1)*(ww - k + 1) must be equal or 1, with hh = {hh}" in code


def test_joined_sizes_split_at_their_top_level_bars_only():
    """A join of joins (`s1|s0|(max(s1|s0, tb))`, a decoder's optional masks) is split into the
    sizes it joins at its top-level `|`: splitting inside `max(...)` left `)` unbalanced in
    shape comments."""
    from attndsl.shapes.walk import _alternatives

    assert _alternatives("s1|s0|(max(s1|s0, tb))") == ["s1", "s0", "(max(s1|s0, tb))"]
    assert _alternatives("c") == ["c"]
