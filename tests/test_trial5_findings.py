"""What porting trial 5 (PVT, Restormer, XCiT, MaxViT, FocalNet, Linformer, PoolFormer, scSE)
found, each fixed and kept here: the failing spec, reduced."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import attndsl

from .language_support import agree, build, compile_ok, first_error, rand

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------- checks that check

def test_no_generated_check_tests_a_remainder_by_one():
    """`a // p % 1 != 0` is never true: a divisibility check of a quotient is written in
    whole numbers (`a % p != 0`). HaloAttention's module had one."""
    for module in sorted((ROOT / "generated").glob("*.py")):
        assert "% 1 != 0" not in module.read_text(encoding="utf-8"), module.name


QUOTIENT = """\
block Pairs(g: int = 2):
    input x: [b, n]
    y = rearrange(x, "b (g m) -> b g m", g=g)
    return rearrange(y, "b g (p two) -> b g p two", two=2)
"""


def test_a_quotient_divisible_by_a_number_is_checked_in_whole_numbers():
    code = compile_ok(QUOTIENT)
    assert "if n % (2 * self.g) != 0:" in code
    module = build(QUOTIENT)
    assert module(rand(3, 8)).shape == (3, 2, 2, 2)
    with pytest.raises(ValueError, match="Pairs: splitting \\(p two\\) needs n = 6 to be divisible by 2\\*g = 4"):
        module(rand(3, 6))


# ---------------------------------------------------------------------------- `all` over a range

RANGE = """\
block B(c: int = 4, n: int = 2):
    input x: [b, c]
    require all([c % (k + 1) == 0 for k in range(n)]), "c must be divisible by 1..n"
    return x
"""


def test_a_require_over_a_range_is_checked_for_each_index():
    code = compile_ok(RANGE)
    assert "if not all(c % (k + 1) == 0 for k in range(n)):" in code
    assert "must not be zero" not in code  # k + 1 >= 1 for k in range(n): proven, not checked
    build(RANGE, c=6, n=3)
    with pytest.raises(ValueError, match="B: c must be divisible by 1..n"):
        build(RANGE, c=4, n=3)


def test_what_the_condition_of_each_element_needs_is_checked_for_each():
    source = """\
block B(c: int = 4, kernels: list[int] = [1, 2]):
    input x: [b, c]
    require all([c % k == 0 for k in kernels]), "c divisible by every kernel"
    return x
"""
    code = compile_ok(source)
    assert code.index("if not all(k != 0 for k in kernels):") < code.index("if not all(c % k == 0 for k in kernels):")
    with pytest.raises(ValueError, match="B: `k` must not be zero, for every k in kernels"):
        build(source, kernels=[2, 0])


def test_all_takes_a_list_argument_or_a_range():
    source = """\
block B(c: int = 4):
    input x: [b, c]
    require all([k > 0 for k in [1, 2]])
    return x
"""
    assert first_error(source)[0] == "E0113"
    assert "all() loops over a list[int] argument or a `range(n)`" in first_error(source)[3]


KERNELS = """\
block B(c: int = 4, w: int = 3, f: int = 2, n: int = 2):
    input x: [b, c, hh, ww]
    layer convs = [conv2d(c, c, f * k + w, padding=(f * k + w) // 2, groups=c) for k in range(n)]
    acc = x
    for conv in convs:
        x = conv(x)
        acc = acc + x
    return acc
"""


def test_the_help_for_sizes_of_each_element_suggests_a_require_that_works():
    """FocalNet's kernels `f*k + w`: the help names the loop variable inside an `all` over
    its range, and that `require` makes the spec compile."""
    result = attndsl.compile_source(KERNELS, "kernels.attn")
    helps = [d.help for d in result.diagnostics if d.code == "W0006"]
    suggestion = "require all([(f * k + w) % 2 == 1 for k in range(n)])"
    assert helps and all(suggestion in h for h in helps)
    errors = [d for d in result.diagnostics if d.code == "E0208"]  # the checks it cannot write say so too
    assert errors and all("say what holds for every element with `require all([... for k in range(n)])`" in d.help
                          for d in errors)
    fixed = KERNELS.replace("    layer convs", f"    {suggestion}\n    layer convs")
    module = build(fixed)
    assert module(rand(2, 4, 5, 5)).shape == (2, 4, 5, 5)
    with pytest.raises(ValueError):
        build(fixed, w=2)


# ---------------------------------------------------------------------------- warnings and readability

def test_a_sizes_input_read_by_its_sizes_is_used():
    source = """\
block T(dim: int):
    input x: [b, n, dim]
    input H: sizes[hh]
    input W: sizes[ww]
    return rearrange(x, "b (p q) d -> b d p q", p=hh, q=ww)
"""
    result = attndsl.compile_source(source, "t.attn")
    assert result.ok and not [d for d in result.diagnostics if d.code == "W0002"]


HOISTED = """\
block B(d: int = 8, n: int = 4, flag: bool = true):
    input q: [b, h, n, d]
    input k: [b, h, n, d]
    input v: [b, h, n, d]
    param t: [n, n] = zeros
    attn = q @ transpose(k, -2, -1) * 0.5
    if flag:
        attn = attn * t
    return softmax(attn, dim=-1) @ v
"""


@pytest.mark.parametrize("flag", [True, False])
def test_a_value_read_in_one_branch_is_computed_there(flag):
    """The fused branch does not need `q @ kᵀ`: it is computed in the branch that reads it,
    written as the spec wrote it, not as a temporary above the `if`."""
    code = compile_ok(HOISTED)
    assert "transpose = " not in code
    assert "        if self.flag:\n            attn = q @ k.transpose(-2, -1) * 0.5" in code
    optimized, plain = build(HOISTED, flag=flag), None
    plain_code = attndsl.compile_source(HOISTED, "b.attn", optimize=False).code
    namespace: dict = {}
    exec(compile(plain_code, "plain.py", "exec"), namespace)
    plain = namespace["B"](flag=flag).double()
    optimized = optimized.double()
    with torch.no_grad():
        optimized.t.copy_(rand(4, 4, seed=5))
    plain.load_state_dict(optimized.state_dict())
    q, k, v = (rand(2, 3, 4, 8, seed=s) for s in range(3))
    torch.testing.assert_close(optimized(q, k, v), plain(q, k, v), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- lists passed to blocks

WINDOWS = """\
block Inner(window_size: list[int]):
    input x: [b, n]
    param t: [window_size[0] * window_size[1]] = zeros
    y = rearrange(x, "b (p q) -> b p q", p=window_size[0])
    return y * window_size[1] + rearrange(t, "(p q) -> p q", p=window_size[0])

block Outer(a: int = 2, c: int = 3):
    input x: [b, n]
    example(x=[2, 6])
    layer inner = Inner(window_size=[a, c])
    return inner(x)
"""


@pytest.mark.parametrize("a, c", [(2, 3), (3, 1), (1, 4)])
def test_a_list_written_in_the_call_is_the_blocks_list_argument(a, c):
    """MaxViT passes its partition size as a tuple it builds: `Inner(window_size=[a, c])`."""
    code = compile_ok(WINDOWS)
    assert "self.inner = Inner(window_size=[a, c])" in code
    assert "return self.inner(x)  # [b, a, max(c, n/a)*min(1, c, n/a)]" in code
    module = build(WINDOWS, a=a, c=c)
    assert module.inner.t.shape == (a * c,)
    assert module(rand(2, a * c)).shape == (2, a, c)
    assert agree(WINDOWS, {"a": a, "c": c}, {"x": (2, a * c)}) == "agree"


def test_the_cost_of_a_block_reads_the_callers_list_items():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "attndsl", "cost", str(ROOT / "tests" / "differential_regressions" /
                                                                     "sub-block-list-argument-items-are-the-callers.attn")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '[mode != "a"]*b*g[0]*g[1] + [mode == "a"]*b*ws[0]*ws[1]' in done.stdout


def test_an_item_of_a_list_written_in_the_call_is_a_whole_number():
    source = WINDOWS.replace("Inner(window_size=[a, c])", "Inner(window_size=[a, c / 2])")
    assert first_error(source)[:2] == ("E0113", 10)
    assert "an item of `window_size` must be a whole number" in first_error(source)[3]
