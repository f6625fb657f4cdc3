"""Focused tests that catch small slips in the compiler (see scripts/mutate.py).

Each test pins down one behaviour a plausible edit of the compiler would break: the value
a generated module computes, the check it makes (with its own `ValueError`), or the
diagnostic the compiler reports. The comment above each test names the mutants of
scripts/mutants.py it was written for.
"""

from __future__ import annotations

import itertools
import types
from pathlib import Path

import pytest
import torch

import attndsl
from attndsl import symbolic as sym
from attndsl.symbolic import Expr

_counter = itertools.count()


def build(source: str, name: str = "B", **options):
    """Compile `source` (asserting it compiled) and return the class `name`."""
    result = attndsl.compile_source(source, "mutants.attn", **options)
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics]
    module = types.ModuleType(f"_mutants_{next(_counter)}")
    exec(compile(result.code, "mutants.py", "exec"), module.__dict__)
    return getattr(module, name)


def codes(source: str) -> list[str]:
    """The error codes of compiling `source` (the compiler must not raise)."""
    result = attndsl.compile_source(source, "mutants.attn")
    return [d.code for d in result.diagnostics if d.is_error]


def both_builds(source: str, name: str = "B"):
    """The optimised and the plain build of `source`."""
    return build(source, name), build(source, name, optimize=False)


def rand(*shape):
    return torch.rand(*shape, dtype=torch.float64) + 0.25


# ---------------------------------------------------------------------------- parsing


# elif_order
def test_elif_clauses_are_tried_in_the_order_written():
    source = """
block B(k: int = 1):
    input x: [b, n]
    if k > 3:
        y = x * 4
    elif k > 2:
        y = x * 3
    elif k > 1:
        y = x * 2
    else:
        y = x
    return y
"""
    cls, x = build(source), rand(2, 3)
    for k in (1, 2, 3, 4, 5):
        torch.testing.assert_close(cls(k=k)(x), x * min(k, 4))


# unary_minus_over_power, negation_binds_like_atom
def test_unary_minus_binds_looser_than_power_on_tensors():
    source = """
block B():
    input x: [b, n]
    return (-x ** 2) + 10 * ((-x) ** 2)
"""
    x = rand(2, 3)
    torch.testing.assert_close(build(source)()(x), -(x ** 2) + 10 * x ** 2)


# unary_minus_over_power, unary_minus_render
def test_unary_minus_binds_looser_than_power_in_the_constructor():
    source = """
block B(k: int = 2):
    let up = (-k) ** 2
    let down = 8 - k ** 2
    param w: [up] = ones
    param v: [down] = ones
    input x: [b, n]
    return x
"""
    module = build(source)(k=2)
    assert module.w.shape == (4,) and module.v.shape == (4,)


# positional_after_keyword
def test_a_positional_argument_after_a_keyword_is_an_error():
    assert codes("block B():\n    input x: [b, n]\n    return softmax(x, dim=1, 0)\n") == ["E0005"]


# ---------------------------------------------------------------------------- rearrange patterns


# rearrange_right_only_axis, rearrange_duplicate_axis, two_arrows
@pytest.mark.parametrize("pattern", ["b n d -> b n d e", "b n d -> b n d n", "b n d -> b -> n d",
                                     "b n d -> b (n n) d"])
def test_a_pattern_that_is_not_a_rearrangement_is_an_error(pattern):
    assert codes(f'block B():\n    input x: [b, n, d]\n    return rearrange(x, "{pattern}")\n') == ["E0117"]


# rearrange_literal_one_unchecked
def test_an_axis_written_as_one_must_be_one():
    cls = build('block B(k: int = 1):\n    input x: [b, k, n]\n    return rearrange(x, "b 1 n -> b n")\n')
    assert cls(k=1)(rand(2, 1, 3)).shape == (2, 3)
    with pytest.raises(ValueError):
        cls(k=2)


# ---------------------------------------------------------------------------- symbolic sizes


# rsub_swapped, floordiv_truncates, max_keeps_smaller
def test_symbolic_arithmetic_values():
    a = Expr.symbol("a")
    assert sym.evaluate(5 - a, {"a": 2}) == 3
    assert sym.floordiv(Expr.const(-7), Expr.const(2)) == Expr.const(-4)
    assert sym.evaluate(sym.maximum(a, a + 1), {"a": 3}) == 4
    assert sym.evaluate(sym.minimum(a, a + 1), {"a": 3}) == 3


# quotient_not_proportional
def test_a_split_by_a_sum_that_does_not_divide_is_checked():
    cls = build('block B(m: int = 2, n: int = 1):\n    input x: [b, m + 2 * n]\n'
                '    return rearrange(x, "b (g c) -> b g c", g=m + n)\n')
    # m + 2n is never a multiple of m + n (for m, n >= 1): the module must refuse, not torch
    for m, n in ((2, 1), (1, 1), (1, 3)):
        with pytest.raises(ValueError, match="divisible"):
            cls(m=m, n=n)


# fraction_is_integer
def test_an_odd_size_split_in_two_is_refused():
    cls = build('block B():\n    input x: [b, c]\n    return rearrange(x, "b (g d) -> b g d", g=2)\n')
    assert cls()(rand(2, 4)).shape == (2, 2, 2)
    with pytest.raises(ValueError):
        cls()(rand(2, 5))


# product_precedence
def test_a_scaled_argument_stays_together_as_an_exponent():
    cls = build("block B(k: int = 2):\n    input x: [b, n]\n    return x ** (2 * k)\n")
    x = rand(2, 3)
    torch.testing.assert_close(cls(k=2)(x), x ** 4)


# ---------------------------------------------------------------------------- facts and proofs


# lower_bound_negative_coefficient, sizes_at_least_two, proof_off_by_one
@pytest.mark.parametrize("kernel, given", [(2, "k"), (3, "k"), (2, "2")])
def test_a_kernel_larger_than_the_input_is_refused_by_the_module(kernel, given):
    cls = build(f"block B(c: int = 2, k: int = {kernel}):\n    input x: [b, c, h, w]\n"
                f"    layer conv = conv2d(c, c, {given})\n    return conv(x)\n")
    assert cls()(torch.rand(1, 2, kernel, kernel)).shape == (1, 2, 1, 1)
    with pytest.raises(ValueError, match="kernel must fit"):
        cls()(torch.rand(1, 2, kernel - 1, kernel - 1))


# mirrored_comparison
def test_an_upper_bound_written_number_first_teaches_no_lower_bound():
    cls = build('block B(k: int = 2):\n    require 4 >= k, "k is at most 4"\n    input x: [b, c]\n'
                '    return shuffle(rearrange(x, "b c -> b c 1 1"), k)\n')
    assert cls(k=2)(rand(2, 4)).shape == (2, 4, 1, 1)
    with pytest.raises(ValueError, match="at least 1"):
        cls(k=0)


# nonzero_from_nonnegative
def test_a_divisor_known_only_to_be_nonnegative_is_checked():
    cls = build('block B(c: int = 4, k: int = 2):\n    require k >= 0, "k is not negative"\n'
                "    let q = c // k\n    input x: [b, n]\n    return x * q\n")
    torch.testing.assert_close(cls(c=4, k=2)(torch.ones(1, 2)), torch.full((1, 2), 2.0))
    with pytest.raises(ValueError, match="zero"):
        cls(c=4, k=0)


# fact_outside_its_guard, check_dedup_ignores_guard: with other shapes on the two branches
# the checker walks each world; with the same shapes, one walk makes the check twice.
@pytest.mark.parametrize("otherwise", ['rearrange(x, "b (g d) -> b d g", g=k)', 'rearrange(x * 2, "b (g d) -> b g d", g=k)'])
def test_a_check_made_on_one_branch_is_made_on_the_other_too(otherwise):
    source = f"""
block B(k: int = 2, flag: bool = true):
    input x: [b, c]
    if flag:
        y = rearrange(x, "b (g d) -> b g d", g=k)
    else:
        y = {otherwise}
    return y
"""
    cls = build(source)
    for flag in (True, False):
        assert cls(k=2, flag=flag)(rand(2, 4)).shape == (2, 2, 2)
        with pytest.raises(ValueError):
            cls(k=2, flag=flag)(rand(2, 5))


# require_learned_unguarded, require_guard_dropped
def test_a_require_inside_if_holds_only_there():
    source = """
block B(c: int = 4, flag: bool = true):
    if flag:
        require c % 4 == 0, "c is a multiple of 4 when flag"
    input x: [b, c]
    return rearrange(x, "b (g d) -> b g d", g=4)
"""
    cls = build(source)
    assert cls(c=8, flag=True)(rand(2, 8)).shape == (2, 4, 2)
    assert cls(c=8, flag=False)(rand(2, 8)).shape == (2, 4, 2)
    with pytest.raises(ValueError, match="multiple of 4 when flag"):
        cls(c=6, flag=True)
    with pytest.raises(ValueError, match="divisible"):
        cls(c=6, flag=False)  # the require does not hold here, the module's own check does


# presence_check_in_init
def test_a_check_under_an_optional_input_is_made_when_it_is_given():
    source = """
block B(k: int = 2):
    input x: [b, c]
    input m: [b, c] = None
    y = x
    if m:
        y = rearrange(x + m, "b (g d) -> b (d g)", g=k)
    return y
"""
    cls = build(source)
    module = cls(k=2)
    x, m = rand(2, 4), rand(2, 4)
    torch.testing.assert_close(module(x), x)
    torch.testing.assert_close(module(x, m), (x + m).reshape(2, 2, 2).transpose(1, 2).reshape(2, 4))
    with pytest.raises(ValueError):
        cls(k=3)(rand(2, 4), rand(2, 4))


# expression_bound_scaled_up
def test_a_bound_learnt_on_a_multiple_bounds_the_size_by_its_share():
    source = """
block B():
    input x: [b, c, h, w]
    layer wide = max_pool2d(7)
    layer narrow = max_pool2d(5)
    return wide(cat([x, x], dim=2)), narrow(x)
"""
    module = build(source)()
    # 2*h >= 7 says h >= 3.5, not more: h = 4 passes it, and narrow's own check refuses it
    with pytest.raises(ValueError, match="kernel must fit"):
        module(rand(1, 2, 4, 7))
    wide, narrow = module(rand(1, 2, 5, 7))
    assert wide.shape == (1, 2, 1, 1) and narrow.shape == (1, 2, 1, 1)


# comprehension_names_leak
def test_the_names_of_a_comprehension_over_zip_end_with_it():
    source = """
block B():
    input x: [s, n, d]
    y = stack([u * v for u, v in zip(x, x)], dim=0)
    return y + {after}
"""
    module = build(source.format(after="x"))()
    x = rand(2, 3, 4)
    torch.testing.assert_close(module(x), x * x + x)
    assert codes(source.format(after="u")) == ["E0101"]  # unknown after it, as in Python


# forward_require_before_init
def test_a_require_of_input_sizes_is_no_fact_for_init():
    source = """
block B(k: int = 2):
    input x: [b, n]
    require n % (k - 1) == 0, "n must be a multiple of k - 1"
    let q = 8 // (k - 1)
    return x * q
"""
    cls = build(source)
    with pytest.raises(ValueError):  # k - 1 == 0: refused when built, not a ZeroDivisionError
        cls(k=1)
    x = rand(2, 4)
    torch.testing.assert_close(cls(k=3)(x), x * 4)


# symbol_divisor_unchecked
def test_dividing_by_an_argument_in_a_let_is_checked():
    cls = build("block B(c: int = 4, k: int = 2):\n    let q = c / k\n    input x: [b, n]\n    return x * q\n")
    torch.testing.assert_close(cls(c=4, k=2)(torch.ones(1, 2)), torch.full((1, 2), 2.0))
    with pytest.raises(ValueError, match="zero"):
        cls(c=4, k=0)


# let_divisor_unchecked, init_checks_after_lets
def test_a_let_dividing_by_an_argument_is_preceded_by_its_check():
    cls = build("block B(c: int = 4, k: int = 2):\n    let q = c // k\n    param w: [q] = ones\n"
                "    input x: [b, n]\n    return x\n")
    assert cls(c=6, k=3).w.shape == (2,)
    with pytest.raises(ValueError, match="zero|at least 1"):
        cls(c=4, k=0)


# ---------------------------------------------------------------------------- worlds


# phi_branches_swapped_in_world, world_contradiction_flipped
def test_an_error_on_one_branch_names_that_branch():
    source = """
block B(flag: bool = true):
    input x: [b, 4]
    layer fc = linear(8, 4)
    if flag:
        y = cat([x, x], dim=1)
    else:
        y = x
    return fc(y)
"""
    result = attndsl.compile_source(source, "mutants.attn")
    errors = [d.message for d in result.diagnostics if d.is_error]
    assert len(errors) == 1 and "`flag` is false" in errors[0], errors


# witness_ignores_requires
def test_a_branch_the_requires_rule_out_is_not_an_error():
    source = """
block B(flag: bool = true):
    require flag, "flag must be set"
    input x: [b, 4]
    layer fc = linear(8, 4)
    if flag:
        y = cat([x, x], dim=1)
    else:
        y = x
    return fc(y)
"""
    assert build(source)()(torch.rand(2, 4)).shape == (2, 4)


# ---------------------------------------------------------------------------- shapes of ops


# stack_axis_rank
@pytest.mark.parametrize("dim, shape", [(2, (2, 3, 2)), (-1, (2, 3, 2)), (0, (2, 2, 3)), (-3, (2, 2, 3))])
def test_stack_takes_an_axis_of_its_result(dim, shape):
    cls = build(f"block B():\n    input x: [b, n]\n    input y: [b, n]\n    return stack([x, y], dim={dim})\n")
    x, y = rand(2, 3), rand(2, 3)
    torch.testing.assert_close(cls()(x, y), torch.stack([x, y], dim=dim))
    assert cls()(x, y).shape == shape


# axis_upper_bound, duplicate_axes_accepted
@pytest.mark.parametrize("call", ["softmax(x, dim=3)", "sum(x, dim=[1, -2])", "unsqueeze(x, 4)"])
def test_an_axis_out_of_range_or_named_twice_is_an_error(call):
    assert codes(f"block B():\n    input x: [b, n, d]\n    return {call}\n") == ["E0204"]


# cat_checks_its_axis
def test_cat_joins_tensors_of_different_sizes_on_its_axis():
    cls = build("block B():\n    input x: [b, n]\n    input y: [b, m]\n    return cat([x, y], dim=1)\n")
    assert cls()(rand(2, 3), rand(2, 5)).shape == (2, 8)


# shuffle_unchecked
def test_a_channel_shuffle_needs_groups_that_divide_the_channels():
    cls = build("block B(g: int = 2):\n    input x: [b, c, h, w]\n    return shuffle(x, g)\n")
    assert cls(g=2)(rand(1, 4, 2, 2)).shape == (1, 4, 2, 2)
    with pytest.raises(ValueError):
        cls(g=3)(rand(1, 4, 2, 2))


# flatten_off_by_one, squeeze_unchecked
def test_flatten_and_squeeze_shapes():
    flat = build('block B():\n    input x: [b, c, h, w]\n    return rearrange(flatten(x, 1, 2), "b m w -> b (m w)")\n')
    assert flat()(rand(2, 3, 4, 5)).shape == (2, 60)
    squeeze = build("block B(k: int = 1):\n    input x: [b, k, n]\n    return squeeze(x, dim=1)\n")
    assert squeeze(k=1)(rand(2, 1, 3)).shape == (2, 3)
    with pytest.raises(ValueError):
        squeeze(k=2)


# broadcast_one_dropped, masked_fill_no_broadcast
def test_a_size_one_broadcasts_on_either_side():
    cls = build("block B():\n    input x: [b, n]\n    input y: [b, m]\n    return x + y\n")
    assert cls()(rand(2, 3), rand(2, 1)).shape == (2, 3)
    assert cls()(rand(2, 1), rand(2, 3)).shape == (2, 3)
    fill = build('block B():\n    input x: [b, 1, n]\n    input m: bool[b, h, n]\n'
                 '    return rearrange(masked_fill(x, m, 0), "b h n -> b (h n)")\n')
    assert fill()(rand(2, 1, 4), torch.rand(2, 3, 4) > 0.5).shape == (2, 12)


# reflect_pad_width_equal_size
def test_reflect_padding_as_wide_as_the_axis_is_refused():
    cls = build('block B(k: int = 1):\n    input x: [b, c, n]\n    return pad(x, [k, k], mode="reflect")\n')
    assert cls(k=2)(rand(1, 2, 3)).shape == (1, 2, 7)
    with pytest.raises(ValueError):
        cls(k=3)(rand(1, 2, 3))


# window_off_by_one
def test_unfold_counts_its_windows_as_torch_does():
    cls = build("block B():\n    input x: [b, c, h, w]\n    return unfold(x, 3)\n")
    x = rand(1, 2, 5, 6)
    torch.testing.assert_close(cls()(x), torch.nn.functional.unfold(x, 3))


# scale_factor_inverted
def test_interpolate_by_a_scale_factor_gives_the_scaled_size():
    cls = build('block B():\n    input x: [b, c, h, w]\n'
                '    return rearrange(interpolate(x, scale_factor=2), "b c h w -> b (c h w)")\n')
    assert cls()(rand(1, 2, 3, 4)).shape == (1, 2 * 6 * 8)


# rfft_keeps_half, complex_not_promoted
def test_a_global_filter_over_a_spectrum():
    source = """
block B(h: int = 4, w: int = 6, c: int = 2):
    input x: [b, h, w, c]
    param weight: [h, w // 2 + 1, c] = randn
    spectrum = rfft2(x, dim=[1, 2])
    return irfft2(weight * spectrum, s=[h, w], dim=[1, 2])
"""
    module = build(source)()
    x = rand(2, 4, 6, 2)
    want = torch.fft.irfft2(module.weight * torch.fft.rfft2(x, dim=(1, 2)), s=(4, 6), dim=(1, 2))
    torch.testing.assert_close(module(x), want)


# ---------------------------------------------------------------------------- rendering of ops


# power_base_unparenthesised, product_precedence
def test_a_power_of_a_power_keeps_its_parentheses():
    x = rand(2, 3)
    torch.testing.assert_close(build("block B():\n    input x: [b, n]\n    return (x ** 2) ** 3\n")()(x), x ** 6)


# std_correction_flipped
def test_std_computes_the_estimate_asked_for():
    cls = build("block B():\n    input x: [b, n]\n    return std(x, dim=1) + 10 * std(x, dim=1, unbiased=false)\n")
    x = rand(2, 5)
    torch.testing.assert_close(cls()(x), x.std(dim=1) + 10 * x.std(dim=1, correction=0))


# gelu_default_tanh, default_test_inverted
def test_keyword_arguments_of_functions_are_passed_on():
    cls = build('block B():\n    input x: [b, n]\n'
                '    return gelu(x, approximate="tanh") + elu(x - 1, alpha=2.0) + gelu(x - 1) + elu(x - 2)\n')
    F = torch.nn.functional
    x = rand(2, 5)
    torch.testing.assert_close(cls()(x), F.gelu(x, approximate="tanh") + F.elu(x - 1, alpha=2.0) + F.gelu(x - 1)
                               + F.elu(x - 2))


# minus_infinity_positive, infinity_sign
def test_minus_infinity_fills_with_minus_infinity():
    cls = build("block B():\n    input x: [b, n]\n    input m: bool[b, n]\n    return masked_fill(x, m, -inf)\n")
    x, m = rand(2, 3), torch.tensor([[True, False, False], [False, False, True]])
    torch.testing.assert_close(cls()(x, m), x.masked_fill(m, float("-inf")))


# sdpa_dropout_in_eval
def test_fused_attention_does_not_drop_out_in_eval():
    source = """
block B(d: int = 4):
    input q: [b, n, d]
    input k: [b, m, d]
    input v: [b, m, d]
    layer drop = dropout(0.5)
    att = softmax(q @ transpose(k, 1, 2), dim=-1)
    return drop(att) @ v
"""
    fused, plain = both_builds(source)
    q, k, v = rand(2, 3, 4), rand(2, 5, 4), rand(2, 5, 4)
    torch.testing.assert_close(fused().eval()(q, k, v), plain().eval()(q, k, v))


# ---------------------------------------------------------------------------- lowering


# fold_less_equal, constant_if_takes_else, not_constant
def test_constant_conditions_pick_their_branch():
    source = """
block B():
    input x: [b, n]
    if 2 <= 2:
        y = x * 2
    else:
        y = x * 3
    if not false:
        z = y + 1
    else:
        z = y
    return z
"""
    x = rand(2, 3)
    torch.testing.assert_close(build(source)()(x), x * 2 + 1)


# chunk_zero_pieces
def test_chunk_into_no_pieces_is_an_error():
    assert codes("block B():\n    input x: [b, n]\n    a = chunk(x, 0, dim=1)\n    return x\n") == ["E0115"]


# single_chunk_not_unpacked
def test_a_single_chunk_is_the_tensor():
    cls = build("block B():\n    input x: [b, n]\n    a = chunk(x, 1, dim=1)\n    return a * 2\n")
    x = rand(2, 3)
    torch.testing.assert_close(cls()(x), x * 2)


# input_dim_in_layer, float_division_whole, keyword_twice, F_not_reserved
@pytest.mark.parametrize("body, code", [
    ("    input x: [b, n]\n    layer fc = linear(n, n)\n    return fc(x)\n", "E0113"),
    ("    input x: [b, c]\n    layer fc = linear(c, 2 * c / 2)\n    return fc(x)\n", "E0113"),  # a float in Python
    ("    input x: [b, c]\n    layer fc = linear(c, c, in_features=c)\n    return fc(x)\n", "E0112"),
    ("    input x: [b, c]\n    F = x * 2\n    return gelu(F)\n", "E0105"),
])
def test_what_cannot_be_built_is_an_error(body, code):
    assert codes("block B(c: int = 4):\n" + body) == [code]


# negative_default
def test_a_negative_default_stays_negative():
    cls = build("block B(k: int = -2):\n    input x: [b, n]\n    return x * k\n")
    x = rand(2, 3)
    torch.testing.assert_close(cls()(x), -2 * x)


# ---------------------------------------------------------------------------- layers


# layer_max_rank_unchecked
def test_a_layer_refuses_an_input_of_too_high_a_rank():
    assert codes("block B(c: int = 2):\n    input x: [b, c, t, h, w]\n    layer conv = conv2d(c, c, 1)\n"
                 "    return conv(x)\n") == ["E0202"]


# pool_stride_default, pool_padding_half_kernel
def test_pools_stride_by_their_kernel_and_take_half_a_kernel_of_padding():
    cls = build("block B():\n    input x: [b, c, h, w]\n    layer pool = max_pool2d(2)\n"
                "    layer padded = avg_pool2d(2, stride=1, padding=1)\n"
                '    return rearrange(pool(x), "b c h w -> b (c h w)"), padded(x)\n')
    x = rand(1, 2, 4, 6)
    pooled, padded = cls()(x)
    assert pooled.shape == (1, 2 * 2 * 3)
    torch.testing.assert_close(padded, torch.nn.functional.avg_pool2d(x, 2, stride=1, padding=1))


# linear_bias_default
def test_a_linear_without_bias_has_no_bias():
    cls = build("block B(c: int = 3):\n    input x: [b, c]\n    layer fc = linear(c, c, bias=false)\n"
                "    layer fb = linear(c, c)\n    return fb(fc(x))\n")
    assert sorted(cls().state_dict()) == ["fb.bias", "fb.weight", "fc.weight"]


# layer_norm_unchecked
def test_layer_norm_checks_the_last_dimension():
    cls = build("block B(c: int = 4, d: int = 4):\n    input x: [b, c]\n    layer norm = layer_norm(d)\n"
                "    return norm(x)\n")
    assert cls()(torch.rand(2, 4)).shape == (2, 4)
    with pytest.raises(ValueError):
        cls(c=4, d=3)


# dropout_one_refused, negation_keeps_and
def test_a_dropout_probability_is_checked_by_the_module():
    cls = build("block B(p: float = 0.5):\n    input x: [b, n]\n    layer drop = dropout(p)\n    return drop(x)\n")
    assert cls(p=1.0).eval()(rand(2, 3)).shape == (2, 3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        cls(p=2.0)
    assert codes("block B():\n    input x: [b, n]\n    layer drop = dropout(1.0)\n    return drop(x)\n") == []


# groups_divisibility_swapped, modulo_divisor_unparenthesised
def test_grouped_conv_channels_are_checked_as_torch_needs():
    cls = build("block B(c: int = 4, g: int = 2):\n    input x: [b, c, h, w]\n"
                "    layer conv = conv2d(c, 2 * c, 1, groups=g)\n    return conv(x)\n")
    assert cls(c=4, g=2)(torch.rand(1, 4, 2, 2)).shape == (1, 8, 2, 2)
    with pytest.raises(ValueError, match="divisible"):
        cls(c=4, g=3)
    split = build('block B(k: int = 2):\n    input x: [b, c]\n    return rearrange(x, "b (g d) -> b g d", g=2 * k)\n')
    assert split(k=2)(rand(2, 8)).shape == (2, 4, 2)
    with pytest.raises(ValueError):
        split(k=2)(rand(2, 6))


# ---------------------------------------------------------------------------- codegen of conditions


# negated_compound_unparenthesised, compound_in_compound_unparenthesised
def test_compound_conditions_keep_their_grouping():
    source = """
block B(k: int = 1, c: int = 1, flag: bool = true):
    input x: [b, n]
    y = x
    if flag and (k > 2 or c > 2):
        y = x * 2
    z = y
    if not (k > 2 and c > 2):
        z = y * 3
    return z
"""
    cls, x = build(source), rand(2, 3)
    for flag, k, c in itertools.product((True, False), (1, 3), (1, 3)):
        want = x * (2 if flag and (k > 2 or c > 2) else 1) * (3 if not (k > 2 and c > 2) else 1)
        torch.testing.assert_close(cls(k=k, c=c, flag=flag)(x), want)


# require_negation_unparenthesised, less_negated_as_greater
def test_requires_refuse_exactly_what_they_exclude():
    cls = build('block B(k: int = 1, c: int = 1):\n    require k < 4 or c < 4, "not both large"\n'
                '    require k < 8, "k is small"\n    input x: [b, n]\n    return x\n')
    cls(k=5, c=1), cls(k=1, c=5), cls(k=7, c=1)
    with pytest.raises(ValueError, match="not both large"):
        cls(k=5, c=5)
    with pytest.raises(ValueError, match="k is small"):
        cls(k=8, c=1)


# right_operand_unparenthesised
def test_constructor_arithmetic_keeps_its_grouping():
    cls = build("block B(c: int = 8, k: int = 3):\n    let q = c - (k - 1)\n    param w: [q] = ones\n"
                "    input x: [b, n]\n    return x\n")
    assert cls(c=8, k=3).w.shape == (6,)


# let_attribute_unguarded
def test_a_let_under_if_exists_only_there():
    source = """
block B(c: int = 2, flag: bool = true):
    if flag:
        let q = c * 2
    input x: [b, n]
    y = x
    if flag:
        y = x * q
    return y
"""
    cls, x = build(source), rand(2, 3)
    torch.testing.assert_close(cls(flag=True)(x), x * 4)
    torch.testing.assert_close(cls(flag=False)(x), x)


# optional_input_required
def test_an_optional_input_may_be_left_out():
    cls = build("block B():\n    input x: [b, n]\n    input m: [b, n] = None\n    y = x\n    if m:\n"
                "        y = x + m\n    return y\n")
    x = rand(2, 3)
    torch.testing.assert_close(cls()(x), x)


# quote_not_escaped
def test_a_message_with_quotes_reaches_the_user_intact():
    cls = build('block B(k: int = 1):\n    require k > 0, "k must be \\"positive\\""\n    input x: [b, n]\n'
                "    return x\n")
    with pytest.raises(ValueError, match='k must be "positive"'):
        cls(k=0)


# ---------------------------------------------------------------------------- passes


# cse_merges_block_with_dropout, cse_ignores_guard
def test_two_calls_of_a_block_with_dropout_stay_two_calls():
    source = """
block Inner(p: float = 0.5):
    input x: [b, n]
    layer drop = dropout(p)
    return drop(x)

block B():
    input x: [b, n]
    layer inner = Inner()
    return inner(x) - inner(x)
"""
    torch.manual_seed(0)
    assert build(source)().train()(torch.ones(4, 64)).abs().sum() > 0


# cse_ignores_guard, private_ignores_guard
def test_equal_computations_on_both_branches_stay_on_their_branch():
    source = """
block B(flag: bool = true):
    input x: [b, n]
    if flag:
        y = relu(x) * 2
    else:
        y = relu(x) * 2 * 3
    return y
"""
    x = rand(2, 3)
    for flag in (True, False):
        torch.testing.assert_close(build(source)(flag=flag)(x), x * (2 if flag else 6))


# dce_drops_inputs
def test_an_unused_input_stays_in_the_signature_and_its_contract():
    cls = build("block B():\n    input x: [b, n]\n    input y: [b, m]\n    return x * 2\n")
    x = rand(2, 3)
    torch.testing.assert_close(cls()(x, rand(2, 4)), x * 2)
    with pytest.raises(ValueError):
        cls()(x, rand(3))


# zero_minus_folded, division_chain_factor
def test_constant_folding_keeps_the_value():
    x = rand(2, 3)
    cls = build("block B():\n    input x: [b, n]\n    return (0 - x) + (x / 4 * 2) * 10\n")
    torch.testing.assert_close(cls()(x), -x + x / 2 * 10)


# transpose_pair_any_axes
def test_two_transposes_of_different_axes_do_not_cancel():
    x = rand(2, 3, 4)
    cls = build("block B():\n    input x: [b, n, d]\n    return transpose(transpose(x, 1, 2), 0, 1)\n")
    torch.testing.assert_close(cls()(x), x.transpose(1, 2).transpose(0, 1))


# fuse_softmax_any_axis, fuse_fill_any_value, fuse_scale_after_mask
@pytest.mark.parametrize("logits", [
    "softmax(q @ transpose(k, 1, 2), dim=1)",
    "softmax(masked_fill(q @ transpose(k, 1, 2), m, 0), dim=-1)",
    "softmax((q @ transpose(k, 1, 2) + a) * 0.5, dim=-1)",
])
def test_attention_fusion_keeps_the_function(logits):
    source = f"""
block B():
    input q: [b, n, d]
    input k: [b, n, d]
    input v: [b, n, d]
    input m: bool[b, n, n]
    input a: [b, n, n]
    return {logits} @ v
"""
    fused, plain = both_builds(source)
    q, k, v, a = rand(2, 3, 4), rand(2, 3, 4), rand(2, 3, 4), rand(2, 3, 3)
    m = torch.rand(2, 3, 3) > 0.5
    torch.testing.assert_close(fused()(q, k, v, m, a), plain()(q, k, v, m, a))


# reassociate_operands_swapped
def test_a_reassociated_product_keeps_its_value():
    source = """
block B():
    input q: [b, n, d]
    input k: [b, d, n]
    input v: [b, n, e]
    return (q @ k) @ v
    example(q=[2, 64, 4], k=[2, 4, 64], v=[2, 64, 4])
"""
    fused, plain = both_builds(source)
    q, k, v = rand(2, 16, 4), rand(2, 4, 16), rand(2, 16, 4)
    torch.testing.assert_close(fused()(q, k, v), plain()(q, k, v))


# ---------------------------------------------------------------------------- examples


# example_checks_skipped, evaluate_less_equal, evaluate_floor_truncates
def test_examples_are_checked_against_the_module():
    head = "block B(k: int = 2, c: int = 4):\n"
    tail = '    input x: [b, c]\n    return rearrange(x, "b (g d) -> b g d", g=k)\n'
    assert codes(head + '    require k <= 4, "k is small"\n' + tail + "    example(k=4, c=4, x=[2, 4])\n") == []
    assert codes(head + tail + "    example(k=3, c=4, x=[2, 4])\n") == ["E0207"]
    assert codes(head + '    require (k - 5) // 2 == -2, "floor division"\n' + tail
                 + "    example(k=2, c=4, x=[2, 4])\n") == []


# ---------------------------------------------------------------------------- layers, masks, constants


# conv_same_stride, softmax_layer_axis
@pytest.mark.parametrize("layer, code", [
    ('conv2d(c, c, 3, stride=2, padding="same")', "E0112"),
    ("softmax(dim=4)", "E0204"),
])
def test_layer_arguments_torch_would_refuse_are_errors(layer, code):
    assert codes(f"block B(c: int = 2):\n    input x: [b, c, h, w]\n    layer f = {layer}\n    return f(x)\n") == [code]


# channels_last_axis
def test_a_conv_checks_its_channel_axis():
    cls = build("block B(c: int = 3):\n    input x: [b, c, h, w]\n    layer conv = conv2d(c, 2 * c, 1)\n"
                "    return conv(x)\n")
    assert cls()(torch.rand(2, 3, 4, 5)).shape == (2, 6, 4, 5)
    with pytest.raises(ValueError):
        cls()(torch.rand(2, 4, 5, 3))


# comparison_operand_unwrapped
def test_a_comparison_of_comparisons_is_not_chained():
    cls = build("block B():\n    input x: [b, n]\n    input y: [b, n]\n    return where((x > 0) == (y > 0), x, y)\n")
    x, y = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    torch.testing.assert_close(cls()(x, y), torch.where((x > 0) == (y > 0), x, y))


# triangle_diagonal_dropped
def test_a_triangle_keeps_its_diagonal_offset():
    cls = build("block B():\n    input x: [b, n, n]\n    return triu(x, diagonal=1) + tril(x, diagonal=-1) * 10\n")
    x = rand(2, 4, 4)
    torch.testing.assert_close(cls()(x), x.triu(1) + x.tril(-1) * 10)


# index_equal_to_size
def test_an_index_equal_to_the_size_is_refused_by_the_module():
    cls = build("block B(k: int = 0):\n    input x: [b, n]\n    return x[:, k]\n")
    x = rand(2, 3)
    torch.testing.assert_close(cls(k=2)(x), x[:, 2])
    with pytest.raises(ValueError):
        cls(k=3)(x)


# private_ignores_guard
def test_a_product_is_not_reassociated_across_an_if():
    source = """
block B(flag: bool = true):
    input q: [b, n, d]
    input k: [b, d, n]
    input v: [b, n, e]
    s = q @ k
    y = v
    if flag:
        w = v * 2
        y = s @ w
    return y
    example(q=[2, 64, 4], k=[2, 4, 64], v=[2, 64, 4])
"""
    q, k, v = rand(2, 16, 4), rand(2, 4, 16), rand(2, 16, 4)
    cls = build(source)
    torch.testing.assert_close(cls(flag=True)(q, k, v), (q @ k) @ (v * 2))
    torch.testing.assert_close(cls(flag=False)(q, k, v), v)


# cse_merges_stateful_calls, dce_drops_stateful_calls
@pytest.mark.parametrize("body, calls", [
    ("    return bn(x) + bn(x)\n", 2),
    ("    unused = bn(x)\n    return x * 2\n", 1),
])
def test_a_batch_norm_call_updates_its_statistics_once_per_call(body, calls):
    module = build("block B(c: int = 3):\n    input x: [b, c]\n    layer bn = batch_norm1d(c)\n" + body)().train()
    reference = torch.nn.BatchNorm1d(3).train()
    x = torch.rand(4, 3)
    module(x)
    for _ in range(calls):
        reference(x)
    torch.testing.assert_close(module.bn.running_mean, reference.running_mean)
    torch.testing.assert_close(module.bn.running_var, reference.running_var)


# constant_mismatch_not_error
def test_sizes_a_constant_apart_are_a_shape_error():
    source = "block B():\n    input x: [b, n]\n    input y: [b, n + 1]\n    return cat([x, y], dim=0)\n"
    assert codes(source) == ["E0201"]


# init_checks_after_lets
def test_constructor_statements_run_in_the_order_written():
    source = """
block B(c: int = 4, k: int = 1):
    require k > 0, "k must be positive"
    let q = c // k
    let r = 12 // q
    input x: [b, n]
    return x * r
"""
    cls = build(source)
    torch.testing.assert_close(cls(c=4, k=2)(torch.ones(1, 2)), torch.full((1, 2), 6.0))
    with pytest.raises(ValueError, match="k must be positive"):
        cls(c=4, k=0)
    with pytest.raises(ValueError, match="zero"):
        cls(c=1, k=2)


# name_reused_while_alive
def test_a_reassigned_name_does_not_clobber_a_value_still_read():
    source = """
block B():
    input x: [b, n]
    a = x * 2
    s = a
    a = x + 1
    t = s * s
    return t + a
"""
    x = rand(2, 3)
    torch.testing.assert_close(build(source)()(x), (2 * x) ** 2 + x + 1)


# name_reused_across_branches
def test_a_name_written_in_one_branch_keeps_the_old_value_the_other_branch_reads_later():
    source = """
block B(flag: bool = true):
    input x: [b, n]
    y = sigmoid(x)
    y0 = y
    if flag:
        y = y * 2
        z = x
    else:
        y = y + 1
        z = y0 * y
    return y + z
"""
    x = rand(2, 3)
    s = torch.sigmoid(x)
    torch.testing.assert_close(build(source)(flag=True)(x), s * 2 + x)
    torch.testing.assert_close(build(source)(flag=False)(x), s + 1 + s * (s + 1))


# positive_check_any_guard
def test_a_divisor_under_an_if_does_not_raise_the_argument_bound_everywhere():
    """`d >= 0` (the linear's size) for every `flag`, `d != 0` only where `flag` divides
    by d: merged into `d >= 1` they would refuse d = 0 without `flag` too."""
    source = """
block B(d: int, flag: bool = false):
    input x: [b, d]
    layer fc = linear(d, d)
    if flag:
        let k = 12 // d
        s = fc(x) * k
    else:
        s = fc(x)
    return s
"""
    cls = build(source)
    assert cls(d=0, flag=False).fc.in_features == 0
    assert cls(d=3, flag=True).k == 4
    with pytest.raises(ValueError, match="`d` must not be zero"):
        cls(d=0, flag=True)
    with pytest.raises(ValueError, match="`d` must be at least 0"):
        cls(d=-1, flag=False)


# positive_check_whole_always
def test_a_float_that_must_not_be_negative_nor_zero_may_be_below_one():
    source = """
block B(c: int, s: float = 0.5):
    input x: [b, c]
    let t = 2 / sqrt(s)
    return x * t
"""
    cls = build(source)
    x = rand(2, 3)
    torch.testing.assert_close(cls(c=3, s=0.25)(x), x * 4)
    for s in (0.0, -1.0):
        with pytest.raises(ValueError, match="nor zero"):
            cls(c=3, s=s)


def test_every_mutant_still_applies():
    """Each mutant of scripts/mutants.py names text its file holds exactly once: a refactor
    that moves or rewrites the code must move the mutant too (else the campaign skips it)."""
    from scripts.mutants import MUTANTS

    root = Path(__file__).resolve().parent.parent
    for mutant in MUTANTS:
        text = (root / mutant.path).read_text(encoding="utf-8")
        assert text.count(mutant.original) == 1, f"{mutant.name}: its text is not in {mutant.path} exactly once"


# fused_scale_floor_division
def test_a_fused_attentions_scale_divisor_of_several_terms_divides_truly():
    """`/ (c - 1)` is SDPA's `scale=1 / (c - 1)`: as `1 // (c - 1)` it was 0 for c = 3."""
    source = """
block B(c: int = 3):
    input q: [b, h, n, d]
    input k: [b, h, m, d]
    input v: [b, h, m, e]
    return softmax(q @ transpose(k, 2, 3) / (c - 1), dim=-1) @ v
"""
    optimised, plain = both_builds(source)
    q, k, v = rand(1, 2, 3, 4), rand(1, 2, 5, 4), rand(1, 2, 5, 2)
    want = torch.softmax(q @ k.transpose(2, 3) / 2, dim=-1) @ v
    torch.testing.assert_close(optimised(c=3).double()(q, k, v), want)
    torch.testing.assert_close(plain(c=3).double()(q, k, v), want)


# divisible_bound_of_any_symbol
def test_a_divisibility_bounds_an_input_size_but_not_an_argument():
    """`h % p == 0` of an input's size (at least 1) makes `h >= p`: the slice `x[:, :, :p]`
    needs no check of its own. Of an argument, which may be 0, it does not: `k = 0` is a
    multiple of `m = 2`, and `linear(k - m + 1, 2)` must still be refused."""
    source = """
block B(p: int):
    input x: [b, c, h]
    y = rearrange(x, "b c (n p) -> b c n p", p=p)
    return y + rearrange(x[:, :, :p], "b c p -> b c 1 p")
"""
    assert "h < self.p" not in attndsl.compile_source(source, "mutants.attn").code
    sliced = build(source)
    x = rand(1, 2, 3)
    torch.testing.assert_close(sliced(p=3)(x), (x + x).reshape(1, 2, 1, 3))
    with pytest.raises(ValueError, match="divisible"):
        sliced(p=4)(x)
    argument = build("""
block B(k: int, m: int):
    input x: [b, k]
    require k % m == 0, "k must be a multiple of m"
    layer fc = linear(k - m + 1, 2)
    return fc(x[:, :k - m + 1])
""")
    with pytest.raises(ValueError, match="at least"):
        argument(k=0, m=2)


# real_arguments_floored
def test_a_size_under_ceil_is_divided_truly():
    """`x[:, :ceil(n / 2)]` keeps 3 columns of 5, not `math.ceil(5 // 2)` = 2."""
    module = build("""
block B():
    input x: [b, n]
    return x[:, :ceil(n / 2)]
""")
    assert module()(rand(2, 5)).shape == (2, 3)


# positive_of_nonnegative
def test_a_product_with_a_factor_that_may_be_zero_is_not_taken_positive():
    """`log(a * c / 2)` needs `a * c / 2 > 0`; `a >= 0` does not give it (a = 0: a math
    domain error), while `dist > nb >= 1` does give `dist / nb > 0` (no check left)."""
    cls = build("""
block B(a: int, c: int):
    input x: [b, c]
    require a >= 0
    require c >= 1
    let t = log(a * c / 2)
    return x * t
""")
    with pytest.raises(ValueError, match="positive"):
        cls(a=0, c=2)
    code = attndsl.compile_source("""
block B(nb: int, dist: int):
    input x: [b, n]
    require nb >= 1
    require dist > nb
    return x * log(dist / nb)
""", "mutants.attn").code
    assert "positive" not in code


# difference_bound_of_negative_side
def test_a_bound_on_a_sum_does_not_bound_a_symbol_from_below():
    """`10 - dist - nb >= 0` bounds dist from above only: `log(dist * nb - 4)` keeps its check."""
    cls = build("""
block B(c: int, dist: int, nb: int):
    input x: [b, c]
    require nb >= 1
    require 10 - dist - nb >= 0
    let t = log(dist * nb - 4)
    return x * t
""")
    with pytest.raises(ValueError, match="positive"):
        cls(c=2, dist=1, nb=1)


# floordiv_of_a_fraction_unscaled
def test_a_floor_division_of_a_fraction_divides_by_its_denominator_too():
    """floor((h*w/r) / 1) is (h*w) // r, and floor((h*w/(2r)) / 3) is (h*w) // (6r): the
    denominator moves into the divisor (Attention4D's `(H * W / res) // 1` was a float)."""
    h, w, r = (Expr.symbol(s) for s in "hwr")
    for quotient, divisor, values, want in (((h * w).exact_div(r), 1, {"h": 3, "w": 1, "r": 2}, 1),
                                            ((h * w).exact_div(r * 2), 3, {"h": 7, "w": 5, "r": 1}, 5),
                                            ((h * w).exact_div(r), 2, {"h": -3, "w": 1, "r": 2}, -1)):
        folded = sym.floordiv(quotient, Expr.const(divisor))
        assert sym.evaluate(folded, values) == want, folded


# clamp_join_one_branch
def test_an_index_clamped_on_one_branch_of_an_if_does_not_index():
    assert codes("""
block A(m: int = 5, use: bool = true):
    input x: [b, n]
    param table: [m, 2] = normal()
    i = arange(n) - 1
    if use:
        i = clamp(arange(n) + 1, min=0, max=m - 1)
    return x[:, :1] * sum(table[i], dim=0)
""") == ["E0113"]


# let_placed_by_simplified_value
def test_a_let_whose_input_size_cancels_is_computed_in_forward():
    cls = build("""
block B(d: int = 4):
    input x: [b, n, d]
    let c = (n + d) - n
    return x * c
""")
    x = rand(2, 3, 4)
    torch.testing.assert_close(cls(d=4)(x), x * 4)


# layer_args_checked_simplified
def test_a_layer_argument_written_with_an_input_size_is_refused():
    assert codes("""
block B(d: int = 4):
    input x: [b, n, d]
    layer l = linear(d + n - n, d)
    return l(x)
""") == ["E0113"]


# forward_let_true_division_int_form
def test_a_let_of_input_sizes_with_a_true_division_is_a_float():
    cls = build("""
block B():
    input x: [b, n]
    let c = n / 2
    return x * c
""")
    x = rand(2, 5)
    torch.testing.assert_close(cls()(x), x * 2.5)


# forward_let_true_division_a_size
def test_a_let_of_input_sizes_with_a_true_division_is_no_size():
    assert codes("""
block B():
    input x: [b, n]
    let c = n / 2
    return x[:, :c]
""") == ["E0113"]


# phi_of_a_branch_that_cannot_run_aborts
def test_a_value_joined_after_a_branch_that_cannot_run_is_checked_after_it():
    """In the world `ws == 0` the `if ws > 0:` branch is skipped; `y` is the else's, and the
    windows of ws rows after the `if` are still checked there."""
    assert codes("""
block B(ws: int = 2):
    input x: [b, n, d]
    require ws >= 0
    if ws == 0:
        layer f = relu()
    else:
        layer f = identity()
    if ws > 0:
        y = rearrange(f(x), "b (m p) d -> (b m) p d", p=ws)
        y = rearrange(y, "(b m) p d -> b (m p) d", b=b)
    else:
        y = f(x)
    return rearrange(y, "b (m p) d -> (b m) p d", p=ws)
""") == ["E0205"]


# whole_comparisons_meet_taken_apart
def test_a_branch_whose_condition_meets_the_world_at_one_value_is_checked():
    """`ws > 0` false and `ws >= 0` meet at 0: the windows of 0 rows are refused when built."""
    cls = build("""
block B(ws: int = 2):
    input x: [b, n, d]
    if ws > 0:
        layer f = relu()
    else:
        layer f = identity()
    if ws >= 0:
        y = rearrange(f(x), "b (m p) d -> (b m) p d", p=ws)
        y = rearrange(y, "(b m) p d -> b (m p) d", b=b)
    else:
        y = f(x)
    return y
""")
    cls(ws=2)
    with pytest.raises(ValueError, match="ws"):
        cls(ws=0)


# integer_input_indexes_as_a_buffer
def test_an_integer_input_does_not_index_unclamped_like_a_buffer():
    """A buffer's values are checked when the module is built; an input's are unknown."""
    source = """
block A(k: int = 5, d: int = 3):
    input ids: long[m, d]
    param table: [k, d] = normal()
    return gather(table, 0, {index})
"""
    assert codes(source.format(index="ids")) == ["E0204"]
    assert codes(source.format(index="clamp(ids, min=0, max=k - 1)")) == []


# float_comparison_taken_exactly
def test_a_float_comparison_is_no_exact_fact():
    """`n * 0.1 * 3 > 3.3` holds at n = 11 in floats: the require is no `n >= 12`, and the
    slice of 12 keeps its own check."""
    cls = build("""
block B(d: int = 4):
    input x: [b, n, d]
    require n * 0.1 * 3 > 3.3, "needs more than 11 tokens"
    return x[:, :12]
""")
    assert cls()(torch.randn(2, 12, 4)).shape == (2, 12, 4)
    with pytest.raises(ValueError, match="slice"):
        cls()(torch.randn(2, 11, 4))


# or_guard_teaches_its_operand_everywhere
def test_an_or_guard_does_not_teach_its_first_operand():
    """`ws > 0 or flag` holds at ws = 0 with flag: the windows of ws rows are refused there."""
    cls = build("""
block B(ws: int = 2, flag: bool = false):
    input x: [b, n, d]
    if ws > 0 or flag:
        y = rearrange(x, "b (m p) d -> b m p d", p=ws)
        y = sum(y, dim=2)
    else:
        y = x
    return y
""")
    cls(ws=2, flag=True)
    cls(ws=0)
    with pytest.raises(ValueError, match="ws"):
        cls(ws=0, flag=True)


# bound_check_before_the_let_it_reads
def test_a_bound_check_guarded_by_a_let_comes_after_the_let():
    """The world literal `t <= 0` guards the windows' bound: it is asked once `t` exists.
    (A whole-number let: a float one, `ws * 0.5`, is a condition the checker learns nothing
    from, whose bound is then asked unguarded.)"""
    cls = build("""
block B(ws: int = 0):
    input x: [b, n, d]
    let t = ws - 1
    if t >= 0:
        layer f = relu()
    else:
        layer f = identity()
    if not ws == 0:
        y = rearrange(f(x), "b (m p) d -> (b m) p d", p=ws)
        y = rearrange(y, "(b m) p d -> b (m p) d", b=b)
    else:
        y = f(x)
    return y
""")
    for ws in (0, 1, 2, 3):
        cls(ws=ws)
    with pytest.raises(ValueError, match="ws"):
        cls(ws=-2)
