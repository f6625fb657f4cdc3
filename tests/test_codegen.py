"""Code generation: names survive reassignment, aliasing and branches without changing
what is computed; output is black-stable and deterministic; forward lines carry shapes."""

from __future__ import annotations

import itertools
import sys
import types

import pytest
import torch

import attndsl
from attndsl.formatting import FormatterError, format_many, format_python

_counter = itertools.count()


def build(source: str):
    result = attndsl.compile_source(source, "t.attn")
    assert result.ok, [d.message for d in result.diagnostics]
    module = types.ModuleType(f"_codegen_test_{next(_counter)}")
    sys.modules[module.__name__] = module
    exec(compile(result.code, module.__name__, "exec"), module.__dict__)
    return module, result.code


HEAD = "block T(flag: bool = true, other: bool = false):\n    input x: [b, n]\n"

CASES = {
    "alias survives a reassignment": (
        "    t = sigmoid(x)\n    s = t\n    t = t * 2\n    return s + t\n",
        lambda x, flag, other: torch.sigmoid(x) + torch.sigmoid(x) * 2,
    ),
    "old value read after an if": (
        "    y = sigmoid(x)\n    z = y\n    if flag:\n        z = exp(y)\n    return z + y\n",
        lambda x, flag, other: (torch.exp(torch.sigmoid(x)) if flag else torch.sigmoid(x)) + torch.sigmoid(x),
    ),
    "input reassigned in a branch": (
        "    if flag:\n        x = x * 2\n    return x + 1\n",
        lambda x, flag, other: (x * 2 if flag else x) + 1,
    ),
    "input copied in the else branch": (
        "    if flag:\n        z = x * 2\n    else:\n        z = x\n    return z + x\n",
        lambda x, flag, other: (x * 2 if flag else x) + x,
    ),
    "nested ifs": (
        "    z = x\n    if flag:\n        if other:\n            z = z * 3\n        else:\n            z = z + 1\n"
        "    return z * x\n",
        lambda x, flag, other: ((x * 3 if other else x + 1) if flag else x) * x,
    ),
    "input reassigned while an alias still reads it": (
        "    y = x\n    x = sigmoid(x)\n    if flag:\n        x = x * y\n    return x + y\n",
        lambda x, flag, other: (torch.sigmoid(x) * x if flag else torch.sigmoid(x)) + x,
    ),
    "input read after a branch reassigned it": (
        "    z = exp(x)\n    if flag:\n        x = relu(z)\n    return x + z\n",
        lambda x, flag, other: (torch.relu(torch.exp(x)) if flag else x) + torch.exp(x),
    ),
    "both branches rewrite a name from its old value": (
        "    y = sigmoid(x)\n    if flag:\n        y = y * 2\n    else:\n        y = y + 1\n    return y * x\n",
        lambda x, flag, other: (torch.sigmoid(x) * 2 if flag else torch.sigmoid(x) + 1) * x,
    ),
    "an alias read in the else branch after it rewrote the name": (
        "    y = sigmoid(x)\n    y0 = y\n    if flag:\n        y = y * 2\n        z = x\n    else:\n"
        "        y = y + 1\n        z = y0 * y\n    return y + z\n",
        lambda x, flag, other: (torch.sigmoid(x) * 2 + x if flag
                                else torch.sigmoid(x) + 1 + torch.sigmoid(x) * (torch.sigmoid(x) + 1)),
    ),
    "the old value read in the else branch after its new value is computed": (
        "    y = sigmoid(x)\n    z = x\n    if flag:\n        y = exp(y)\n    else:\n        t = relu(x)\n"
        "        z = y * 2\n        y = t\n    return y + z\n",
        lambda x, flag, other: torch.exp(torch.sigmoid(x)) + x if flag else torch.relu(x) + torch.sigmoid(x) * 2,
    ),
    "chained reassignment under two ifs": (
        "    att = x * 2\n    if flag:\n        att = att + 1\n    if other:\n        att = att * att\n    return att\n",
        lambda x, flag, other: (lambda a: a * a if other else a)(x * 2 + 1 if flag else x * 2),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("flag,other", [(True, False), (False, True), (True, True), (False, False)])
def test_names_keep_the_math(name, flag, other):
    body, expected = CASES[name]
    module, _ = build(HEAD + body)
    x = torch.randn(2, 3, dtype=torch.float64)
    got = module.T(flag=flag, other=other)(x.clone())
    torch.testing.assert_close(got, expected(x, flag, other))


def test_output_is_formatter_stable():
    """On the committed modules, which tests/test_generated_current.py holds equal to what
    compiling gives (and tests/test_cli.py equal under any hash seed)."""
    from tests.mechanisms import REPO_ROOT

    paths = sorted((REPO_ROOT / "generated").glob("*.py"))
    codes = [path.read_text(encoding="utf-8") for path in paths]
    for path, code, again in zip(paths, codes, format_many(codes)):
        assert again == code, f"{path.name}: the formatter would still change the output"


def test_one_module_and_many_format_alike():
    """`attndsl compile a.attn b.attn` formats in one ruff process, a single spec through its
    standard input: the same text either way, in the black style (long calls split one
    argument a line, with the trailing comma)."""
    long_call = "x = f(" + ", ".join(f"argument_{i}" for i in range(12)) + ")\n"
    messy = "def f( a,b ):\n  return a+b\n"
    one = [format_python(long_call), format_python(messy)]
    assert format_many([long_call, messy]) == one
    assert one[1] == "def f(a, b):\n    return a + b\n"
    assert one[0].startswith("x = f(\n    argument_0,\n") and one[0].endswith("    argument_11,\n)\n")


def test_invalid_python_is_a_formatter_error_not_silence():
    with pytest.raises(FormatterError, match="parse"):
        format_python("def f(:\n")
    with pytest.raises(FormatterError):
        format_many(["x = 1\n", "def f(:\n"])


def test_every_forward_line_carries_its_shape_and_spec_line():
    _, code = build(HEAD + "    t = sigmoid(x)\n    u = t * t\n    return u + t\n")
    body = code.split("def forward", 1)[1]
    assignments = [line for line in body.splitlines() if " = " in line and "raise" not in line and "shape" not in line]
    assert assignments and all("# [b, n]  t.attn:" in line for line in assignments), assignments


def test_a_dead_input_gives_its_name_to_what_replaces_it():
    """`x = self.conv(x)`, as written by hand, not `x_2 = self.conv(x)`; an optional input
    keeps its name to itself, since `if mask is not None:` may be written anywhere."""
    _, code = build("block T(c: int):\n    input x: [b, c]\n    input mask: [b, c] = None\n"
                    "    layer fc = linear(c, c)\n    x = fc(x)\n    if mask:\n        x = x * mask\n"
                    "    return relu(x)\n")
    forward = code.split("def forward", 1)[1]
    assert "x = self.fc(x)" in forward
    assert "x = x * mask" in forward
    assert "return x.relu()" in forward


def test_both_branches_of_an_if_write_the_name_they_rewrite():
    """`keys = f(keys)` in one branch and `keys = g(keys)` in the other: the else branch's
    read of the old `keys` never follows the then branch's write, so both write `keys`
    (not `keys_2`), a second such `if` too; an alias read later in a branch still keeps
    the old value under its own name."""
    _, code = build(HEAD + "    keys = sigmoid(x)\n    if flag:\n        keys = keys * 2\n    else:\n"
                    "        keys = keys + 1\n    if other:\n        keys = exp(keys)\n    else:\n"
                    "        keys = relu(keys)\n    return keys\n")
    forward = code.split("def forward", 1)[1]
    assert "keys_2" not in forward
    for line in ("keys = keys * 2", "keys = keys + 1", "keys = keys.exp()", "keys = keys.relu()"):
        assert line in forward, line
    _, code = build(HEAD + "    y = sigmoid(x)\n    y0 = y\n    if flag:\n        y = y * 2\n        z = x\n    else:\n"
                    "        y = y + 1\n        z = y0 * y\n    return y + z\n")
    assert "y_2" in code.split("def forward", 1)[1]


def test_single_use_temporaries_are_inlined_and_names_kept():
    _, code = build(HEAD + "    gate = sigmoid(x * 2 + 1)\n    return x * gate\n")
    forward = code.split("def forward", 1)[1]
    assert "gate = (x * 2 + 1).sigmoid()" in forward
    assert "return x * gate" in forward


def test_a_later_loop_writes_the_names_an_earlier_loop_let_go():
    """Two loops that each name a value `h` both write `h`: the first loop's `h` is dead
    once it ends (what it leaves behind is its carried `x` and its list), so the second
    need not call its own `h_2`. Values are checked against the loops written by hand."""
    module, code = build(
        "block T(c: int, depth: int = 2):\n    input x: [b, c]\n"
        "    layer fcs = [linear(c, c) for i in range(depth)]\n    layer gs = [linear(c, c) for i in range(depth)]\n"
        "    hs = []\n    for fc in fcs:\n        h = relu(fc(x))\n        x = x + h\n        hs.append(h)\n"
        "    for fc, h0 in zip(gs, stack(hs, dim=0)):\n        h = sigmoid(fc(x)) * h0\n        x = x * h\n"
        "    return x\n")
    forward = code.split("def forward", 1)[1]
    assert "h = fc(x).sigmoid() * h0" in forward and "h_2" not in forward
    block = module.T(c=3, depth=2).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    expected, hs = x, []
    for fc in block.fcs:
        h = torch.relu(fc(expected))
        expected = expected + h
        hs.append(h)
    for fc, h0 in zip(block.gs, hs):
        expected = expected * (torch.sigmoid(fc(expected)) * h0)
    torch.testing.assert_close(block(x), expected, rtol=0, atol=0)


def test_checks_under_the_same_if_are_grouped_only_past_checks_no_call_makes_with_them():
    from types import SimpleNamespace

    from attndsl.codegen.checks import _grouped_by_guard
    from attndsl.guards import Cond, negate
    from attndsl.symbolic import Expr

    def dim_is(k):
        return Cond("cmp", ("==", Expr.symbol("dimension"), Expr.const(k)))

    sub = Cond("arg", ("sub_sample",))
    pool_1, pool_2 = SimpleNamespace(guard=(dim_is(1), sub)), SimpleNamespace(guard=(dim_is(2), sub))
    norm_1 = SimpleNamespace(guard=(dim_is(1), negate(sub)))
    assert _grouped_by_guard([pool_1, pool_2, norm_1]) == [pool_1, norm_1, pool_2]
    # an unguarded check between may be what makes the later one safe to evaluate: no move
    first, between, later = SimpleNamespace(guard=(sub,)), SimpleNamespace(guard=()), SimpleNamespace(guard=(sub,))
    assert _grouped_by_guard([first, between, later]) == [first, between, later]


def test_non_local_opens_forward_with_one_if_per_dimension():
    from pathlib import Path

    source = (Path(__file__).resolve().parent.parent / "specs" / "non_local.attn").read_text()
    module, code = build(source)
    forward = code[code.index("    def forward"):]
    for dimension in (1, 2, 3):
        assert forward.count(f"if self.dimension == {dimension}:") == 1
    block = module.NonLocalBlockND(4, dimension=1, sub_sample=False).train()
    with pytest.raises(ValueError, match=r"more than one value per channel, with b = 1, spatial_0 = 1"):
        block(torch.randn(1, 4, 1))
    block(torch.randn(2, 4, 1))
