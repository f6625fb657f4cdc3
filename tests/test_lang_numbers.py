"""What the constructor computes with numbers: `int`, `round`, `ceil`, `floor`, `abs`, `log`,
`log2`; conditional values in `let`; exponents such as `d ** -0.5`; and optional
arguments (`x: int | None = None`) tested with `is None`."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

import attndsl

from .language_support import agree, build, compile_ok, first_error, generated, rand

ECA = """\
block ECA(channels: int = 64, gamma: int = 2, b: int = 1):
    input x: [n, channels, h, w]
    # the paper's adaptive kernel size: |log2(C) + b| / gamma, made odd
    let t = int(abs((log2(channels) + b) / gamma))
    let k = t if t % 2 == 1 else t + 1
    require k % 2 == 1, "the kernel size is odd"
    layer conv = conv1d(1, 1, k, padding=(k - 1) // 2, bias=false)
    y = rearrange(mean(x, dim=[2, 3]), "n c -> n 1 c")
    return x * sigmoid(rearrange(conv(y), "n 1 c -> n c 1 1"))
"""


def _eca_kernel(channels, gamma=2, b=1):
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


@pytest.mark.parametrize("channels", [64, 16, 512, 3])
def test_the_adaptive_kernel_size_is_computed_as_python_computes_it(channels):
    module = build(ECA, channels=channels)
    assert module.conv.kernel_size == (_eca_kernel(channels),)
    x = rand(2, channels, 3, 4)
    y = torch.nn.functional.conv1d(x.mean(dim=(2, 3))[:, None], module.conv.weight, padding=module.conv.padding)
    torch.testing.assert_close(module(x), x * y[:, 0, :, None, None].sigmoid())


def test_functions_of_numbers_are_written_as_python_writes_them():
    code = compile_ok(ECA)
    assert "import math\n" in code
    assert "t = int(abs((math.log2(channels) + b) / gamma))" in code
    assert "k = t if t % 2 == 1 else t + 1" in code
    assert agree(ECA, {"channels": 32}, {"x": (2, 32, 3, 3)}) == "agree"
    code = compile_ok("block B(c: int = 10):\n    input x: [b, c]\n"
                      "    let m = ceil(c / 3) + floor(c / 4) + round(c / 4) + int(log(c))\n"
                      "    layer fc = linear(c, m)\n    return fc(x)\n")
    assert "m = math.ceil(c / 3) + math.floor(c / 4) + round(c / 4) + int(math.log(c))" in code
    module = build("block B(c: int = 10):\n    input x: [b, c]\n"
                   "    let m = ceil(c / 3) + floor(c / 4) + round(c / 4) + int(log(c))\n"
                   "    layer fc = linear(c, m)\n    return fc(x)\n", c=10)
    assert module.fc.out_features == 4 + 2 + 2 + 2  # round(2.5) is 2, as in Python


VOLO = """\
block Scaled(dim: int = 64, num_heads: int = 4, qk_scale: float | None = None, inter: int | None = None):
    input x: [b, n, dim]
    let head_dim = dim // num_heads
    let scale = qk_scale if qk_scale is not None else head_dim ** -0.5
    let width = dim // 2 if inter is None else inter
    layer fc = linear(dim, width)
    if inter is not None:
        layer extra = linear(inter, inter)
        y = extra(fc(x))
    else:
        y = fc(x)
    return y * scale
"""


def test_optional_arguments_keep_their_published_signature():
    parameters = inspect.signature(generated(VOLO).__init__).parameters
    assert parameters["qk_scale"].default is None and parameters["inter"].default is None
    code = compile_ok(VOLO)
    assert "qk_scale: float | None = None, inter: int | None = None" in code
    assert "scale = qk_scale if qk_scale is not None else head_dim**-0.5" in code
    assert "if inter is not None:\n            self.extra = nn.Linear(inter, inter)" in code


def test_none_picks_the_default_value_and_a_number_replaces_it():
    x = rand(2, 3, 64)
    module = build(VOLO)
    assert module.fc.out_features == 32 and not hasattr(module, "extra")
    torch.testing.assert_close(module(x), module.fc(x) * 16 ** -0.5)
    module = build(VOLO, qk_scale=0.5, inter=8)
    torch.testing.assert_close(module(x), module.extra(module.fc(x)) * 0.5)
    assert agree(VOLO, {}, {"x": (2, 3, 64)}) == "agree"
    assert agree(VOLO, {"qk_scale": 0.5, "inter": 8}, {"x": (2, 3, 64)}) == "agree"


def test_exponents_whole_and_half_whole():
    source = ("block B(d: int = 16):\n    input x: [b, d]\n"
              "    return x * d ** -0.5 + x * d ** -1 + x * d ** 1.5 + x * 2 ** -2\n")
    module = build(source, d=16)
    x = rand(2, 16)
    torch.testing.assert_close(module(x), x * 0.25 + x / 16 + x * 64 + x * 0.25)
    assert first_error(source.replace("** 1.5", "** 0.125"))[:2] == ("E0119", 3)


def test_misused_numbers_are_located_errors():
    head = "block B(c: int = 4, o: int | None = None):\n    input x: [b, c]\n"
    code, line, column, message = first_error(head + "    layer fc = linear(c, o)\n    return fc(x)\n")
    assert (code, line, column) == ("E0106", 3, 26) and "may be None here" in message
    assert first_error(head + "    let m = c if c is None else 1\n    return x\n")[:3] == ("E0113", 3, 18)
    code, line, column, message = first_error(head + "    layer fc = linear(c, c if c > 2 else 2)\n    return fc(x)\n")
    assert (code, line, column) == ("E0113", 3, 26) and "let" in message
    assert first_error(head + "    return int(x)\n")[:3] == ("E0113", 3, 12)
    assert first_error(head + "    let m = log(c - c)\n    return x\n")[:2] == ("E0119", 3)
    code, line, column, message = first_error("block B(g: float = 2.0):\n    input x: [b, 4]\n"
                                              "    layer fc = linear(4, 4 * g)\n    return fc(x)\n")
    assert code == "E0113" and "`g` is a float argument" in message
    assert first_error("block B(flag: bool | None = None):\n    input x: [b, 4]\n    return x\n")[:2] == \
        ("E0111", 1)


KEYWORD_ONLY = """\
block Inner(*, dim: int, heads: int = 2):
    input x: [b, dim]
    layer fc = linear(dim, dim * heads)
    return fc(x)


block Outer(c: int, *, k: int = 3):
    input x: [b, c]
    layer inner = Inner(dim=c, heads=k)
    return inner(x)
"""


def test_arguments_after_a_star_are_keyword_only():
    """HaloAttention(*, dim, block_size, ...): the published signature, parameter kinds included."""
    import attndsl
    from attndsl.tools.fmt import format_spec

    outer, inner = generated(KEYWORD_ONLY, "Outer"), generated(KEYWORD_ONLY, "Inner")
    kinds = {name: p.kind for name, p in inspect.signature(outer).parameters.items()}
    assert kinds == {"c": inspect.Parameter.POSITIONAL_OR_KEYWORD, "k": inspect.Parameter.KEYWORD_ONLY}
    assert all(p.kind == inspect.Parameter.KEYWORD_ONLY for p in inspect.signature(inner).parameters.values())
    with pytest.raises(TypeError):
        inner(4)
    module = outer(4, k=2).double()
    assert module.inner.fc.out_features == 8 and module(rand(3, 4)).shape == (3, 8)
    assert format_spec(KEYWORD_ONLY).count("(*, ") == 1 and format_spec(KEYWORD_ONLY).count(", *, ") == 1
    # a required keyword-only argument may follow one with a default, as in Python
    assert compile_ok("block B(a: int = 1, *, c: int):\n    input x: [b, c]\n    return x * a\n")
    # given by position, it is an error that says to name it
    assert first_error(KEYWORD_ONLY.replace("Inner(dim=c, heads=k)", "Inner(c, heads=k)"))[0] == "E0112"
    result = attndsl.compile_source(KEYWORD_ONLY.replace("Inner(dim=c, heads=k)", "Inner(c, heads=k)"), "k.attn")
    assert "keyword-only" in result.diagnostics[0].help


def test_argument_defaults_may_be_arithmetic_of_numbers():
    """timm writes `rd_ratio=1/16`: a default is computed as Python computes it."""
    source = """\
block SE(c: int = 2 ** 5, rd_ratio: float = 1 / 16, k: int = 7 // 2 * 2 + 1, low: float = -1e-3 * 2):
    input x: [b, c]
    return x * rd_ratio * k * low
"""
    defaults = {name: p.default for name, p in inspect.signature(generated(source)).parameters.items()}
    assert defaults == {"c": 32, "rd_ratio": 0.0625, "k": 7, "low": -0.002}
    assert type(defaults["c"]) is int and type(defaults["k"]) is int
    torch.testing.assert_close(build(source)(rand(2, 32)), rand(2, 32) * 0.0625 * 7 * -0.002)


@pytest.mark.parametrize("default, says", [
    ("k: int = 1 / 2", "must be an int, got 0.5"),
    ("k: float = 1 / 0", "divides by zero"),
    ("k: float = 1e308 * 10", "too large for a number"),
    ("k: int = 2 ** 100", "at most 64"),
    ("k: float = (0 - 8) ** (1 / 3)", "not a real number"),
    ("k: float = c / 2", "must be a number, or arithmetic of numbers"),
])
def test_a_default_that_cannot_be_computed_is_one_located_error(default, says):
    source = f"block B(c: int = 4, {default}):\n    input x: [b, c]\n    return x * k\n"
    code, line, column, message = first_error(source)
    assert (code, line, column) == ("E0111", 1, source.index(default.split("= ", 1)[1]) + 1) and says in message
    result = attndsl.compile_source(source, "lang.attn")
    assert [d.code for d in result.diagnostics if d.is_error] == ["E0111"]  # no "unknown name `k`" after it


def test_a_branch_of_a_conditional_let_needs_only_what_it_computes():
    """timm's `rd_channels or make_divisible(...)`: the divisor is checked only where the
    branch that divides by it is taken, as Python evaluates one branch."""
    source = """\
block B(c: int, rd_channels: int | None = None, rd_divisor: int = 8):
    input x: [b, c]
    let rd = rd_channels if rd_channels is not None else max(rd_divisor, (c + rd_divisor // 2) // rd_divisor * rd_divisor)
    layer fc = linear(c, rd)
    return fc(x)
"""
    assert build(source, c=16, rd_channels=4, rd_divisor=0).fc.out_features == 4
    assert build(source, c=16).fc.out_features == 16
    with pytest.raises(ValueError, match="`rd_divisor` must not be zero"):
        generated(source)(c=16, rd_divisor=0)


@pytest.mark.parametrize("declaration", ["layer fc = linear(r, e)", "param p: [e, r] = zeros()", "let f = e + 1",
                                         "require e > 0", "buffer i = arange(e)"])
def test_a_declaration_does_not_read_a_number_the_dataflow_assigns(declaration):
    # __init__ rendered `nn.Linear(r, e)` with `e` defined only in forward: a NameError when built
    source = (f"block T(r: int = 2, a: int = 6):\n    input x: [b, r]\n    e = 12 // a\n    {declaration}\n"
              "    return x * e\n")
    code, line, column, message = first_error(source)
    assert (code, line) == ("E0113", 4) and declaration[column - 5:column - 4] == "e", (column, message)
    assert "`e` is a number the dataflow assigns" in message
    # the same with `let` compiles, and is the number it says
    module = generated(source.replace("    e = 12", "    let e = 12").replace("x * e", "x * e + 0"))()
    assert module(torch.ones(1, 2)).tolist() == [[2.0, 2.0]]


NESTED_CHOICE = """\
block A(c: int | None = None, k: int = 3):
    input x: [b, 4]
    let t = c if c is not None else 0
    let kk = max(t if t % 2 == 1 else t + 1, 3) if c is not None else k
    layer fc = linear(4, kk)
    return fc(x)
"""


@pytest.mark.parametrize("arguments, width", [({}, 3), ({"k": 6}, 6), ({"c": 4}, 5), ({"c": 1}, 3), ({"c": 7}, 7)])
def test_a_choice_inside_a_call_in_a_let(arguments, width):
    """`max(t if t % 2 == 1 else t + 1, 3)`: the let splits into one value per side of the
    inner choice, each checked under its condition, and is rendered as written."""
    code = compile_ok(NESTED_CHOICE)
    assert "kk = max(t if t % 2 == 1 else t + 1, 3) if c is not None else k" in code
    module = generated(NESTED_CHOICE)(**arguments)
    assert module.fc.out_features == width
    assert agree(NESTED_CHOICE, arguments, {"x": (2, 4)}) == "agree"


NARROWED = """\
block B(c: int = 8, r: int | None = None):
    input x: [b, c]
    let k = r if r is not None and r != 0 else c
    if r is not None and r > 0:
        layer fc = linear(c, r)
    else:
        layer fc = linear(c, k)
    return fc(x)
"""


@pytest.mark.parametrize("r, width", [(None, 8), (0, 8), (3, 3)])
def test_the_right_of_an_and_reads_what_its_left_makes_sure_of(r, width):
    """`r is not None and r != 0`: `r` is a number on the right of the `and`, as Python
    evaluates it (only when the left holds); was E0106 "may be None"."""
    module = generated(NARROWED)(r=r)
    assert module.fc.out_features == width
    assert agree(NARROWED, {"r": r}, {"x": (2, 8)}) == "agree"


@pytest.mark.parametrize("expression, rendered", [("masked_fill(x, x > 0, -1e30)", "x.masked_fill(x > 0, -1e30)"),
                                                  ("x * 1e20", "x * 1e20"), ("where(x > 0, x, -1e30)", "-1e30)")])
def test_floats_beyond_64_bit_integers_stay_floats(expression, rendered):
    """A float literal is written as a float: `-1e30` was written as a 31-digit int, which
    torch refuses (OverflowError), or refused (E0119) as if it were one."""
    source = f"block B():\n    input x: [b, n]\n    return {expression}\n"
    assert rendered in compile_ok(source)
    assert agree(source, {}, {"x": (2, 3)}) == "agree"
    code, _, _, message = first_error("block B():\n    input x: [b, n]\n    return x * 100000000000000000000\n")
    assert code == "E0119" and "whole number is too large" in message


def test_clamp_log2_and_sign():
    """Swin V2 clamps its logit scale (`clamp(s, max=log(100))`); log2 and sign are
    pointwise ops as torch's. clamp needs a bound."""
    source = ("block B():\n    input x: [b, n]\n"
              "    return clamp(x, max=log(100)) + clamp(x * 3, min=-1, max=1) + log2(abs(x) + 1) * sign(x)\n")
    assert "x.clamp(max=math.log(100)) + (x * 3).clamp(min=-1, max=1)" in compile_ok(source)
    x = rand(4, 5) * 3
    expected = x.clamp(max=torch.tensor(100.0).log().item()) + (x * 3).clamp(-1, 1) + (x.abs() + 1).log2() * x.sign()
    torch.testing.assert_close(build(source)(x), expected)
    assert agree(source, {}, {"x": (4, 5)}) == "agree"
    code, line, _, message = first_error("block B():\n    input x: [b, n]\n    return clamp(x)\n")
    assert (code, line) == ("E0112", 3) and "needs `min`, `max` or both" in message


def test_a_square_root_divides_where_its_radicand_is_known_nonzero_without_a_second_check():
    source = """\
block Scaled(d: int = 4):
    input x: [b, n, d]
    let s = 1 / sqrt(d)
    let t = 8 // d
    return x * s * t
"""
    code = compile_ok(source)
    # sqrt(d) is zero exactly where d is: one check, `d != 0`, serves both divisions; and as
    # `d >= 0` is checked first (its square root is taken), the two are one: `d >= 1`
    assert "must not be zero" not in code and code.count("if d < 1:") == 1 and "if d < 0:" not in code, code
    for d in (0, -1):
        with pytest.raises(ValueError, match="`d` must be at least 1"):
            build(source, d=d)
    torch.testing.assert_close(build(source, d=4)(torch.ones(2, 3, 4)), torch.full((2, 3, 4), 1.0))


def test_a_bound_on_twice_a_size_answers_for_the_size():
    source = """\
block Gated(dim: int = 8, expansion: float = 2.0):
    input x: [b, n, dim]
    let hidden = int(expansion * dim)
    layer to_hidden = linear(dim, hidden * 2)
    layer to_out = linear(hidden, dim)
    v, gate = chunk(to_hidden(x), 2, dim=-1)
    return to_out(v * gate)
"""
    code = compile_ok(source)
    assert "if 2 * hidden < 0:" in code and "if hidden < 0:" not in code, code  # 2*hidden >= 0 says hidden >= 0
    with pytest.raises(ValueError, match="out_features"):
        build(source, dim=8, expansion=-1.0)


OR_DEFAULT = """\
block Scale(dim: int = 8, num_heads: int = 2, qk_scale: float | None = None, dim_out: int | None = None,
            hidden: int | None = None):
    input x: [b, n, dim]
    let head_dim = dim // num_heads
    let scale = qk_scale or head_dim ** -0.5
    let width = hidden or dim_out or dim
    let wide = max(dim_out or dim, 2 * dim)
    layer fc = linear(dim, width)
    layer up = linear(dim, wide)
    if qk_scale:
        let gain = qk_scale * 2
    else:
        let gain = 1
    return fc(x * scale) * gain, up(x)
"""


@pytest.mark.parametrize("arguments, scale, width, wide, gain", [
    ({}, 0.5, 8, 16, 1),
    ({"qk_scale": 0.0, "dim_out": 0}, 0.5, 8, 16, 1),  # 0 is false, as in Python (timm's `qk_scale or ...`)
    ({"qk_scale": 0.25, "dim_out": 20}, 0.25, 20, 20, 0.5),
    ({"dim_out": 6, "hidden": 3}, 0.5, 3, 16, 1),
])
def test_or_chooses_the_first_true_number(arguments, scale, width, wide, gain):
    """`qk_scale or head_dim ** -0.5` (timm's Attention, Swin): the first value that is neither
    None nor 0, as Python computes it, written as the spec writes it; `if qk_scale:` tests the
    same (both were E0106 "argument `qk_scale` may be None here", at the test of None)."""
    code = compile_ok(OR_DEFAULT)
    assert "scale = qk_scale or head_dim**-0.5" in code and "width = hidden or dim_out or dim" in code
    assert "wide = max(dim_out or dim, 2 * dim)" in code
    assert "if qk_scale is not None and qk_scale != 0:" in code
    module = generated(OR_DEFAULT)(**arguments)
    assert module.scale == scale and module.fc.out_features == width and module.up.out_features == wide
    assert module.gain == gain
    assert agree(OR_DEFAULT, arguments, {"x": (2, 3, 8)}) == "agree"


def test_or_of_conditions_is_no_number_and_a_bare_choice_in_a_call_is_one():
    head = "block B(c: int = 4, r: int | None = None):\n    input x: [b, c]\n"
    assert first_error(head + "    let f = c > 1 or c < 0\n    return x\n") == (
        "E0113", 3, 13, "`let` binds a number computed from the arguments")
    code = compile_ok(head + "    let k = max(c if c % 2 == 1 else c + 1, 3)\n    return x * k\n")
    assert "k = max(c if c % 2 == 1 else c + 1, 3)" in code  # was E0113 "a number chosen by a condition ..."
