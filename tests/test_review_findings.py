"""Diagnostics and generated code that a reviewer flagged, each fixed and kept fixed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import attndsl

from .language_support import generated

ROOT = Path(__file__).resolve().parent.parent


def compiled(source: str):
    return attndsl.compile_source(source, "review.attn")


def error_codes(source: str) -> list[str]:
    return [d.code for d in compiled(source).diagnostics if d.is_error]


def caret(source: str) -> str:
    """The text under the first diagnostic's span."""
    diagnostic = compiled(source).diagnostics[0]
    line = source.split("\n")[diagnostic.span.line - 1]
    return line[diagnostic.span.column - 1:diagnostic.span.end_column - 1]


# ---------------------------------------------------------------------------- diagnostics


def test_docs_show_messages_whole():
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert "more..." not in text
    shortened = [line for line in text.splitlines() if "characters ...]" in line]
    assert len(shortened) == 1  # only E0008's thousands of parentheses


def test_an_argument_to_a_layer_without_arguments_says_so():
    from attndsl.layers import LAYERS
    from attndsl.lower.layer_specs import _arguments_help

    assert _arguments_help([]) == "it takes no arguments"
    bare = sorted(name for name, layer in LAYERS.items() if not layer.params)
    if bare:
        result = compiled(f"block B():\n    input x: [b, n]\n    layer a = {bare[0]}(bogus=true)\n    return a(x)\n")
        assert result.diagnostics[0].help == "it takes no arguments"


@pytest.mark.parametrize("source", [
    # a layer named like an input; an assignment to a param's name; a let named like a value;
    # an unknown function in one branch
    "block B(d: int = 4, flag: bool = true):\n    input x: [b, d]\n    layer x = linear(d, d)\n    if flag:\n"
    "        y = x\n    else:\n        y = x * 2\n    return y\n",
    "block B(d: int = 4, flag: bool = true):\n    input x: [b, d]\n    y = x\n    if flag:\n        let y = 2\n"
    "        z = x * y\n    else:\n        z = x\n    return z + y\n",
    "block B(d: int = 4, flag: bool = true):\n    input x: [b, d]\n    y = x\n    if flag:\n        y = foo(x)\n"
    "    return y\n",
])
def test_one_mistake_gives_one_error(source):
    assert len(error_codes(source)) == 1, compiled(source).diagnostics


def test_a_name_that_hides_a_function_is_pointed_out():
    source = "block B():\n    input x: [b, n]\n    mean = x * 2\n    return mean\n"
    warnings = [d for d in compiled(source).diagnostics if d.code == "W0007"]
    assert warnings and warnings[0].span.line == 3
    layer = "block B():\n    input x: [b, n]\n    layer softmax = softmax(dim=-1)\n    return softmax(x, dim=1)\n"
    error = compiled(layer).diagnostics[0]
    assert error.code == "E0112" and error.labels and "hides the function softmax()" in error.labels[0].message
    assert not [d for d in compiled(layer.replace("x, dim=1", "x")).diagnostics if d.code == "W0007"]


@pytest.mark.parametrize("pattern, under", [
    ('"b dd d -> b dd"', "d"),          # not the `d` inside `dd`
    ('"b d dd -> b dd d d"', "d"),      # the second `d` of the right side
    ('"b\\tn d -> b d m"', "n"),        # an escape earlier in the string does not shift the caret
])
def test_rearrange_carets_point_at_the_axis(pattern, under):
    source = f"block B():\n    input x: [b, n, d]\n    return rearrange(x, {pattern})\n"
    diagnostic = compiled(source).diagnostics[0]
    line = source.split("\n")[2]
    assert line[diagnostic.span.column - 1:diagnostic.span.end_column - 1] == under
    if under == "d" and "dd d d" in pattern:
        assert diagnostic.span.column - 1 == line.index("d d\"") + 2


def test_arithmetic_with_infinity():
    source = "block B():\n    input x: [b, n]\n    input m: bool[b, n]\n    return masked_fill(x, m, {})\n"
    assert 'float("-inf")' in compiled(source.format("-inf * 2")).code
    assert error_codes(source.format("inf - inf")) == ["E0119"]


# ---------------------------------------------------------------------------- generated code


def test_generated_code_reads_as_written_by_hand():
    source = """
block B(d: int = 4, k: int = 2, g: int = 2):
    input x: [b, c, h]
    input y: [b, 1, h]
    if k == 1:
        z = -(-x) * 3
    elif k == 2:
        z = x * (2 - d)
    else:
        z = shuffle(x, g)
    return z + y
"""
    code = compiled(source).code
    assert "elif self.k == 2:" in code
    assert "--" not in code.replace("# --", "")
    assert "-(-x)" in code or "-x" not in code  # kept as written, or folded by the optimiser
    assert "(2 - self.d)" in code
    assert ", )" not in code
    assert not re.search(r"must be 1 = \{", code)


def test_a_branch_copy_stays_in_its_branch():
    source = """
block B(flag: bool = true, d: int = 4):
    input x: [b, d]
    layer fc = linear(d, d)
    if flag:
        y = fc(x)
        z = x
    else:
        z = fc(x)
        y = x * 2
    return y + z
"""
    forward = compiled(source).code.split("def forward")[1]
    assert forward.count("if self.flag") == 1


def test_a_guarded_check_opens_its_guarded_block():
    source = """
block B(flag: bool = true, g: int = 2):
    input x: [b, c]
    if flag:
        y = rearrange(x, "b (g k) -> b g k", g=g)
        z = sum(y, dim=1)
    else:
        z = x
    return z
"""
    forward = compiled(source).code.split("def forward")[1]
    assert forward.count("self.flag") == 1  # one `if`/`else`, as the spec reads, the check inside the flag's branch
    assert forward.index("if self.flag:") < forward.index("divisible") < forward.index("y = ") < \
        forward.index("else:") < forward.index("z = x")


def test_the_return_comment_cites_the_return():
    source = "block B(flag: bool = true):\n    input x: [b, n]\n    if flag:\n        y = x * 2\n    else:\n" \
             "        y = x\n\n    return y\n"
    assert compiled(source).code.rstrip().endswith("review.attn:8")


def test_a_bound_learned_on_a_let_covers_later_checks_of_it():
    """`p >= 1` (a conv's out_channels) makes a later `p >= 0` (a layer norm's size) idle:
    the bound is kept on the let's value, as later checks ask about it."""
    source = """
block B(c: int, r: int = 2):
    input x: [b, c, h, w]
    let p = c // r
    layer s = sequential(conv2d(c, p, 1), layer_norm((p, 1, 1)), conv2d(p, c, 1))
    return s(x)
"""
    code = compiled(source).code
    assert "`out_channels` (`p`) must be at least 1" in code
    assert "`normalized_shape` must be at least 0" not in code


def test_a_stronger_constructor_check_replaces_an_earlier_weaker_one():
    """`mid >= 0` (a linear's out_features) and then `mid >= 1` (its batch norm's channels)
    are one check in `__init__`, `if mid < 1:`, not two: nothing but arithmetic runs
    between them, so the earlier place asks for the stronger bound. Both a 0 and a
    negative `mid` are still refused."""
    source = """
block B(c: int, r: int = 2):
    input x: [b, c]
    let mid = c // r
    layer s = sequential(linear(c, mid), batch_norm1d(mid), relu())
    return s(x)
"""
    result = compiled(source)
    init = result.code.split("def __init__", 1)[1].split("def forward", 1)[0]
    assert "if mid < 1:" in init and "if mid < 0:" not in init
    block = generated(source)
    assert block(c=4, r=2).s[0].out_features == 2
    for c, r in ((1, 2), (4, -3)):  # mid = 0, then mid = -2
        with pytest.raises(ValueError, match="needs at least one channel"):
            block(c=c, r=r)


def test_a_let_divided_by_its_square_root_is_checked_once():
    """`q / sqrt(d)` for a `let d` that may be negative asks `d >= 0` (its square root) and
    `d != 0` (it divides): one check, `d < 1`, and the later `heads * d >= 0` (a linear's
    size) follows from it and `heads >= 1`, so it is not asked again."""
    source = """
block B(dim: int, heads: int = 2, dim_head: int = 0):
    input x: [b, n, dim]
    let d = dim_head if dim_head > 0 else dim // heads
    layer to_q = linear(dim, d * heads, bias=false)
    q = rearrange(to_q(x), "b n (h d) -> b h n d", h=heads)
    return q / sqrt(d)
"""
    result = compiled(source)
    init = result.code.split("def __init__", 1)[1].split("def forward", 1)[0]
    assert init.count("if d < 1:") == 1 and "if d < 0:" not in init and "d == 0" not in init, init
    assert "heads * d" not in init, init
    block = generated(source)
    assert block(dim=8, heads=2).to_q.out_features == 8
    assert block(dim=8, heads=2, dim_head=3).to_q.out_features == 6
    with pytest.raises(ValueError, match="nor zero"):
        block(dim=1, heads=2)  # d = 1 // 2 = 0


@pytest.mark.parametrize("written,code,helped", [
    ("torch.softmax(x, dim=-1)", "E0101", "write `softmax(x, ...)`"),
    ("F.softmax(x, dim=-1)", "E0101", "write `softmax(x, ...)`"),
    ("torch.nn.functional.gelu(x)", "E0101", "write `gelu(x, ...)`"),
    ("x.softmax(dim=-1)", "E0113", "write `softmax(x, ...)`"),
    ("x.view(b, -1)", "E0113", "rearrange"),
    ("reshape(x, [b, -1])", "E0102", "rearrange"),
    ("permute(x, 0, 2, 1)", "E0102", "rearrange"),
    ("bmm(x, x)", "E0102", "`a @ b`"),
    ("repeat(x, 2)", "E0102", "`expand(x, ...)`"),
    ("unbind(x, dim=0)", "E0113", "`[f(t) for t in x]`"),
    ("masked_fill_(x, x > 0, 0)", "E0102", "`masked_fill(...)` makes a new one"),
    ("clone(x)", "E0102", "needs no copy"),
    ("x.detach()", "E0113", "write `detach(x, ...)`"),
    ("torch.cumsum(x, dim=1)", "E0101", "write `cumsum(x, ...)`"),
])
def test_a_pytorch_spelling_is_answered_with_the_specs(written, code, helped):
    """What someone porting a module writes first, from PyTorch's habits: the error says how
    a spec writes it, not only that the name is unknown."""
    diagnostic = compiled(f"block B():\n    input x: [b, n, d]\n    return {written}\n").diagnostics[0]
    assert diagnostic.code == code and helped in (diagnostic.help or ""), (diagnostic.message, diagnostic.help)


@pytest.mark.parametrize("written,kind", [("nn.Linear(d, d)", "linear"), ("LayerNorm(d)", "layer_norm"),
                                          ("nn.Conv2d(d, d, 1)", "conv2d"), ("nn.ReLU()", "relu")])
def test_a_pytorch_module_class_is_answered_with_its_layer_kind(written, kind):
    diagnostic = compiled(f"block B(d: int):\n    input x: [b, n, d]\n    layer fc = {written}\n"
                          "    return fc(x)\n").diagnostics[0]
    assert diagnostic.is_error and f"the layer kind `{kind}`" in (diagnostic.help or ""), diagnostic.help
