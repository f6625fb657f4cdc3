"""Regression tests of the soundness issue: an accepted spec never computes a wrong value
and never fails inside torch; anything outside its contract is refused with the module's
own `ValueError` (or, when it can never work, by the compiler).

One test (or a few) per class of hole that was found; each failed before its fix.
"""

from __future__ import annotations

import itertools
import math
import types

import pytest
import torch

import attndsl

_counter = itertools.count()


def build(source: str, name: str | None = None):
    """Compile `source` and return its classes by name (asserting it compiled)."""
    result = attndsl.compile_source(source, "soundness.attn")
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics]
    module = types.ModuleType(f"_soundness_{next(_counter)}")
    exec(compile(result.code, "soundness.py", "exec"), module.__dict__)
    return module if name is None else getattr(module, name)


def errors(source: str) -> list[tuple[str, str]]:
    result = attndsl.compile_source(source, "soundness.attn")
    return [(d.code, d.message) for d in result.diagnostics if d.is_error]


def warnings(source: str) -> list[str]:
    result = attndsl.compile_source(source, "soundness.attn")
    return [d.code for d in result.diagnostics if not d.is_error]


# ---------------------------------------------------------------------------- 1. precedence


def test_scalar_expressions_keep_their_precedence_next_to_tensors():
    source = """
block B(d: int = 5, k: int = 3):
    input x: [b, n]
    a = x * (d // 2)
    c = x / (d * k)
    e = x ** sqrt(d)
    f = sqrt(d) ** x
    g = x / (-2 * d)
    h = -x ** 2
    i = x - (d - k)
    j = x / (d / k)
    m = x * (d % k)
    return a + c + e + f + g + h + i + j + m
"""
    x = torch.rand(2, 3, dtype=torch.float64) + 0.5
    for d, k in ((5, 3), (7, 2), (4, -3)):
        got = build(source, "B")(d=d, k=k)(x)
        want = (x * (d // 2) + x / (d * k) + x ** math.sqrt(d) + math.sqrt(d) ** x + x / (-2 * d) - x ** 2
                + (x - (d - k)) + x / (d / k) + x * (d % k))
        torch.testing.assert_close(got, want, rtol=1e-12, atol=0)


def test_a_divisor_in_forward_is_checked_not_left_to_python():
    cls = build("block B(d: int = 5, k: int = 3):\n    input x: [b, n]\n    return x * (d / k)\n", "B")
    torch.testing.assert_close(cls(d=6, k=-3)(torch.ones(1, 2)), torch.full((1, 2), -2.0))  # negative is fine
    with pytest.raises(ValueError, match="`k` must not be zero, got 0"):
        cls(k=0)


# ---------------------------------------------------------------------------- 2. masked_fill


def test_masked_fill_broadcasts_the_tensor_against_the_mask():
    source = """
block B(h: int = 3):
    input x: [b, 1, n]
    input mask: bool[b, h, n]
    return masked_fill(x, mask, 0)
"""
    x, mask = torch.rand(2, 1, 4), torch.rand(2, 3, 4) > 0.5
    assert build(source, "B")()(x, mask).shape == (2, 3, 4)
    squeezed = build(source.replace("    return masked_fill(x, mask, 0)",
                                    '    return rearrange(masked_fill(x, mask, 0), "b 1 n -> b n")'), "B")
    with pytest.raises(ValueError):  # the filled tensor has h rows, not 1: refused when built
        squeezed(h=3)
    assert squeezed(h=1)(x, mask[:, :1]).shape == (2, 4)
    constant = source.replace("block B(h: int = 3)", "block B()").replace("[b, h, n]", "[b, 3, n]") \
        .replace("    return masked_fill(x, mask, 0)", '    return rearrange(masked_fill(x, mask, 0), "b 1 n -> b n")')
    assert "E0201" in [code for code, _ in errors(constant)]


def test_masked_fill_needs_a_boolean_mask():
    source = "block B():\n    input x: [b, n]\n    input m: [b, n]\n    return masked_fill(x, m, 0)\n"
    assert [code for code, _ in errors(source)] == ["E0209"]


def test_a_mask_input_must_be_boolean_at_run_time():
    cls = build("block B():\n    input x: [b, n]\n    input m: bool[b, n]\n    return masked_fill(x, m, 0)\n", "B")
    with pytest.raises(ValueError, match="boolean"):
        cls()(torch.rand(2, 3), torch.zeros(2, 3))


# ---------------------------------------------------------------------------- 3. if/else joins


def test_each_branch_of_an_if_is_checked_on_its_own():
    """A size joined from two branches is no longer opaque: the wrong branch is refused."""
    always_wrong = """
block B(flag: bool = true):
    input x: [b, 4]
    layer fc = linear(4, 4)
    if flag:
        y = x
    else:
        y = cat([x, x], dim=1)
    return fc(y)
"""
    found = errors(always_wrong)
    assert found and found[0][0] == "E0201" and "`flag` is false" in found[0][1], found
    depends_on_arguments = always_wrong.replace("x: [b, 4]", "x: [b, c]").replace("B(flag", "B(c: int = 4, flag") \
        .replace("linear(4, 4)", "linear(c, c)")
    cls = build(depends_on_arguments, "B")
    assert cls(c=4, flag=True)(torch.rand(2, 4)).shape == (2, 4)
    with pytest.raises(ValueError):
        cls(c=4, flag=False)


def test_a_value_joined_from_branches_keeps_being_checked_downstream():
    source = """
block B(flag: bool = true, g: int = 2):
    input x: [b, c]
    if flag:
        y = x
    else:
        y = cat([x, x, x], dim=1)
    return rearrange(y, "b (g k) -> b g k", g=g)
"""
    cls = build(source, "B")
    assert cls(flag=False, g=3)(torch.rand(2, 5)).shape == (2, 3, 5)
    with pytest.raises(ValueError, match="divisible"):
        cls(flag=True, g=2)(torch.rand(2, 5))


# ---------------------------------------------------------------------------- 4. facts and guards


def test_a_fact_proven_under_an_if_is_not_trusted_after_it():
    source = """
block B(flag: bool = true, g: int = 2):
    input x: [b, c]
    y = x
    if flag:
        y = rearrange(rearrange(x, "b (g k) -> b g k", g=g), "b g k -> b (g k)")
    return rearrange(y * x, "b (g k) -> b k g", g=g)
"""
    cls = build(source, "B")
    assert cls(flag=False)(torch.rand(2, 6)).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="divisible"):
        cls(flag=False)(torch.rand(2, 5))


# ---------------------------------------------------------------------------- 5. sub-blocks


def test_a_sub_block_sees_the_list_its_caller_passes():
    source = """
block Inner(c: int, ks: list[int]):
    input x: [b, c]
    layer fcs = [linear(c, c) for k in ks]
    return stack([fc(x) for fc in fcs], dim=1)

block Outer(c: int = 4, ks: list[int] = [1], other: list[int] = [1, 2, 3]):
    input x: [b, c]
    layer fcs = [linear(c, c) for k in ks]
    layer inner = Inner(c, other)
    y = inner(x)
    z = stack([fc(x) for fc in fcs], dim=1)
    return rearrange(y, "b k c -> b (k c)")
"""
    module = build(source)
    assert module.Outer()(torch.rand(2, 4)).shape == (2, 12)  # 3 = len(other), not len(ks)


def test_a_sub_block_output_is_in_the_callers_names():
    source = """
block Inner(c: int, ks: list[int]):
    input x: [b, c]
    layer fcs = [linear(c, c) for k in ks]
    return stack([fc(x) for fc in fcs], dim=1)

block Outer(c: int = 4, ks: list[int] = [1, 2], other: list[int] = [1, 2, 3]):
    input x: [b, c]
    layer inner = Inner(c, other)
    layer fcs = [linear(c, c) for k in ks]
    return inner(x) + stack([fc(x) for fc in fcs], dim=1)
"""
    cls = build(source, "Outer")
    with pytest.raises(ValueError):  # 3 stacked against 2: refused by the module, not by torch
        cls()(torch.rand(2, 4))
    assert cls(ks=[5, 6, 7])(torch.rand(2, 4)).shape == (2, 3, 4)


# ---------------------------------------------------------------------------- 6. lets and requires under if


def test_lets_and_requires_inside_if_run_only_there():
    source = """
block B(d: int = 6, k: int = 0, strict: bool = false):
    input x: [b, n]
    if k > 0:
        let q = d // k
        y = x * q
    else:
        y = x
    if strict:
        require d > 8, "d must exceed 8 when strict"
    return y
"""
    cls = build(source, "B")
    torch.testing.assert_close(cls()(torch.ones(1, 2)), torch.ones(1, 2))
    torch.testing.assert_close(cls(k=3)(torch.ones(1, 2)), torch.full((1, 2), 2.0))
    with pytest.raises(ValueError, match="d must exceed 8"):
        cls(strict=True)


def test_a_let_on_both_branches_is_usable_in_each_and_after():
    source = """
block B(wide: bool = true, d: int = 4):
    input x: [b, d]
    if wide:
        let m = 2 * d
        layer fc = linear(d, m)
        y = fc(x)
    else:
        let m = d
        layer fc = linear(d, m)
        y = fc(x)
    return y * m
"""
    cls = build(source, "B")
    assert cls(wide=True)(torch.rand(2, 4)).shape == (2, 8)
    assert cls(wide=False)(torch.rand(2, 4)).shape == (2, 4)


# ---------------------------------------------------------------------------- 7. optional inputs


def test_optional_inputs_are_checked_when_given(load_generated):
    sdpa = load_generated("sdpa").ScaledDotProductAttention(d_model=16, d_k=4, d_v=4, h=2).eval()
    q = torch.rand(2, 5, 16)
    sdpa(q, q, q, attention_weights=torch.rand(2, 2, 5, 5))
    with pytest.raises(ValueError, match="attention_weights must be a 4-d"):
        sdpa(q, q, q, attention_weights=torch.rand(1, 2, 2, 5, 5))
    with pytest.raises(ValueError, match=r"attention_mask\.shape\[1\] must be h = 2"):
        sdpa(q, q, q, attention_mask=torch.zeros(2, 3, 5, 5, dtype=torch.bool))


def test_an_emsa_mask_of_the_unreduced_size_is_refused(load_generated):
    emsa = load_generated("emsa").EMSA(d_model=16, d_k=4, d_v=4, h=2, H=4, W=4, ratio=2).eval()
    x = torch.rand(2, 16, 16)
    reduced = emsa(x, x, x, attention_mask=torch.zeros(2, 2, 16, 4, dtype=torch.bool))
    assert reduced.shape == (2, 16, 16)
    with pytest.raises(ValueError, match="broadcast dimension -1"):
        emsa(x, x, x, attention_mask=torch.zeros(2, 2, 16, 16, dtype=torch.bool))


# ---------------------------------------------------------------------------- 8. constructor values


def test_bad_constructor_values_are_refused_by_name(load_generated):
    with pytest.raises(ValueError, match="`groups` must be at least 1, got 0"):
        load_generated("sge").SpatialGroupEnhance(groups=0)
    with pytest.raises(ValueError, match="`kernels`|at least one"):
        load_generated("sk").SKAttention(channel=16, kernels=[])
    cls = build('block B(g: int = 2):\n    input x: [b, c]\n    return rearrange(x, "b (g k) -> b g k", g=g)\n', "B")
    with pytest.raises(ValueError, match="`g` must be at least 1, got -2"):
        cls(g=-2)


# ---------------------------------------------------------------------------- 9. other holes


@pytest.mark.parametrize("source, code", [
    ("block B():\n    input x: [b, n, d]\n    return sum(x, dim=[1, -2])\n", "E0204"),
    ("block B():\n    input x: [b, n, d]\n    layer s = softmax(dim=3)\n    return s(x)\n", "E0204"),
    ("block B(d: int = 4):\n    input x: [b, d]\n    example(d=4, x=[2, 5])\n    return x\n", "E0207"),
    ('block B(g: int = 4):\n    input x: [b, c]\n    example(x=[2, 6])\n'
     '    return rearrange(x, "b (g k) -> b g k", g=g)\n', "E0207"),
])
def test_other_holes_are_compile_errors(source, code):
    assert code in [c for c, _ in errors(source)]


# ---------------------------------------------------------------------------- 10. broadcasting


def test_size_one_broadcasting_is_accepted_as_torch_does():
    source = """
block B(inp: int = 4, oup: int = 4):
    input x: [b, inp, h, w]
    layer conv = conv2d(inp, oup, 1)
    return x * sigmoid(conv(x))
"""
    assert "W0006" in warnings(source)
    cls = build(source, "B")
    x = torch.rand(2, 4, 3, 3)
    model = cls(oup=1).eval()
    torch.testing.assert_close(model(x), x * torch.sigmoid(model.conv(x)))
    with pytest.raises(ValueError, match="must be equal or 1"):
        cls(oup=3)
    quiet = source.replace("    layer conv", "    require inp == oup\n    layer conv")
    assert "W0006" not in warnings(quiet)


# ---------------------------------------------------------------------------- 12. checks that simplify


def test_a_same_size_conv_is_exact_and_a_require_removes_its_checks():
    """CoTAttention's shape: a conv padded by k // 2 keeps the size only for odd k. Without a
    `require`, the checks are exact (torch broadcasts h+1 against h only when h is 1) and a
    warning says which `require` the author meant; with it, forward has no size checks."""
    source = """
block B(dim: int = 8, kernel_size: int = 3):
    input x: [b, dim, h, w]
    layer key_embed = conv2d(dim, dim, kernel_size, padding=kernel_size // 2)
    k1 = key_embed(x)
    return k1 * x + key_embed(k1 * x) * x
"""
    result = attndsl.compile_source(source)
    helps = [d.help for d in result.diagnostics if d.code == "W0006"]
    assert helps and "kernel_size" in helps[0]
    cls = build(source, "B")
    assert cls()(torch.rand(1, 8, 5, 5)).shape == (1, 8, 5, 5)
    with pytest.raises(ValueError, match="broadcast"):
        cls(kernel_size=4)(torch.rand(1, 8, 5, 5))
    with pytest.raises(ValueError, match="broadcast"):  # 2 against 3 at the end: torch fails too
        cls(kernel_size=4)(torch.rand(1, 8, 1, 1))
    single = build(source.replace("k1 * x + key_embed(k1 * x) * x", "k1 * x"), "B")
    assert single(kernel_size=4)(torch.rand(1, 8, 1, 1)).shape == (1, 8, 2, 2)  # as torch broadcasts it
    required = source.replace("    layer key", "    require kernel_size % 2 == 1\n    layer key")
    code = attndsl.compile_source(required).code
    forward = code[code.index("def forward"):]
    assert forward.count("raise ValueError") == 2  # rank and element type; dim
    assert "W0006" not in warnings(required)


def test_a_solved_size_that_reads_itself_is_not_substituted_forever():
    """`a + 47 == h'*w'` solved for `a`, where h' (unfold's windows) is `h - max(2, a - 6) + 1`:
    substituting the solution brought `a` back, and each normal form doubled (a differential
    campaign spec ran for minutes). The cyclic solution is left out; the check stays."""
    import signal

    def too_slow(signum, frame):
        raise TimeoutError("the checker looped")

    source = (
        "block B(a: int, ks: list[int] = [1, 3]):\n"
        "    input x: [b, c, h, w]\n"
        "    t = unfold(x, max(a - 6, 2))\n"
        "    layer fcs = [linear(a + 47, a + 47, bias=false) for item in ks]\n"
        "    s = max(stack([f(t) for f in fcs], dim=0), dim=0)\n"
        "    layer conv = conv2d(a + 4, a // 4, 1, stride=2, dilation=2, bias=false)\n"
        "    y = conv(x)\n"
        "    return triu(sum(s, dim=0, keepdim=true) - s, 2)\n"
    )
    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(30)
    try:
        B = build(source, "B")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    # a = 4: 2x2 windows of a 4x18 map of 8 channels, 32 features each, 51 of them (a + 47)
    assert B(a=4)(torch.randn(1, 8, 4, 18)).shape == (1, 32, 51)
    with pytest.raises(ValueError):  # 2x2 windows of a 8x8 map: 49 of them, not 51
        B(a=4)(torch.randn(1, 8, 8, 8))


def test_a_divisibility_check_by_a_size_that_is_zero_there_is_an_error_not_a_crash():
    """`k=2` pins `a` to 2, so `j = a // 4` is 0 and the check that b divides into j pieces
    divides by zero: the checker crashed (ZeroDivisionError) where it now says so."""
    source = (
        "block B(a: int):\n"
        "    input x: [b, a, d]\n"
        '    return rearrange(x, "(i j) k l -> (i l) (j k)", j=a // 4, k=2)\n'
    )
    # (since `a // 4 >= 1` teaches `a >= 4`, the group `k` is refuted first: `a` cannot be 2)
    assert [code for code, _ in errors(source)] in (["E0203"], ["E0201"])


SOLVED_ATOM_CYCLE = """\
block Sub1(d: int, m: int = 2):
    input x: [s0, s1, s2, s3, d]
    if m > 1:
        let e = d * m
        layer up = linear(d, e)
        layer down = linear(e, d)
        y = down(relu(up(x)))
    else:
        y = x * (m + 1)
    return y

block Fuzz(a: int = 6, p: float = 0.1):
    input x: [b, a, d]
    input y: [b, n, d2]
    example(a=6, p=0.1, x=[3, 6, 8], y=[4, 8, 3])
    param p1: [a + 2] = ones
    t2 = p1 * (y)
    t3 = rearrange(t2, "(i j) k l -> i j k 1 l", j=3)
    t4 = t3 * zeros([a // 6, a // 2], like=t3) + t3
    if a >= a:
        let e6 = a * 2 - 3
        require e6 >= 1, "e6 must be positive here"
        layer fc7 = linear(a // 2, e6)
        layer fc8 = linear(e6, a // 2)
        t5 = fc8(sigmoid(fc7(t4)))
    else:
        t5 = abs(t4) - (((5) ** 0.5) + (n))
    layer sub9 = Sub1(max(a - 3, 3), 0)
    t10 = sub9(t5)
    layer fc11 = linear(max(a - 3, 3), a + 2, bias=false)
    t12 = fc11(t10)
    return t12
"""


def test_a_solved_atom_whose_value_reads_it_is_not_substituted_forever():
    """`a // 2 == n` solved for the atom, where n is defined from `a // 2`: each
    normal form doubled (a campaign spec ran for minutes). The cyclic solution is left out."""
    import signal

    def too_slow(signum, frame):
        raise TimeoutError("the checker looped")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(30)
    try:
        found = errors(SOLVED_ATOM_CYCLE)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert [code for code, _ in found] == ["E0207"]  # its example breaks a broadcast: said, not hung
