"""An `if`/`elif` chain without `else:` that the block's `require`s make exhaustive.

Python code checks its options once (`assert mode in ["avg", "max"]`) and then branches
with `if`/`elif`; a value assigned on every branch is defined after the chain. The
compiler accepts that only when it can prove the `require`s rule out the path that
assigns nothing (attndsl.guards.cannot_hold): a str argument is one string at a time,
an argument equals one value at a time, and `not flag` is the complement of `flag`.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn import functional as F

from attndsl.guards import Cond, cannot_hold
from attndsl.symbolic import Expr

from .language_support import agree, build, first_error, rand

CHAINS = '''
block Pick(c: int, mode: str = "avg", k: int = 1, flag: bool = true):
    input x: [b, c, h, w]
    example(c=4, x=[2, 4, 3, 3])
    require mode in ["avg", "max"], "mode is avg or max"
    require k == 1 or k == 3
    if mode == "avg":
        y = avg_pool(x)
    elif mode == "max":
        y = x * 2
    if k == 1:
        z = y
    elif 3 == k:
        z = y + 1
    if flag:
        u = z
    elif not flag:
        u = z * 3
    return x * sigmoid(u)
'''

CONFIGURATIONS = list(itertools.product(["avg", "max"], [1, 3], [True, False]))


def _reference(x, mode, k, flag):
    y = x.mean(dim=(2, 3), keepdim=True) if mode == "avg" else x * 2
    z = y if k == 1 else y + 1
    u = z if flag else z * 3
    return x * torch.sigmoid(u)


@pytest.mark.parametrize("mode, k, flag", CONFIGURATIONS)
def test_each_branch_of_an_exhaustive_chain_computes_its_value(mode, k, flag):
    x = rand(2, 4, 3, 5)
    module = build(CHAINS, c=4, mode=mode, k=k, flag=flag)
    torch.testing.assert_close(module(x), _reference(x, mode, k, flag), rtol=0, atol=1e-12)
    # the comparison can fail: another branch's value differs here
    assert not torch.allclose(module(x), _reference(x, "max" if mode == "avg" else "avg", k, flag))


@pytest.mark.parametrize("mode, k, flag", CONFIGURATIONS)
def test_the_interpreter_agrees_on_each_branch(mode, k, flag):
    agree(CHAINS, {"c": 4, "mode": mode, "k": k, "flag": flag}, {"x": [2, 4, 3, 5]})


@pytest.mark.parametrize("arguments", [{"mode": "min"}, {"k": 2}])
def test_the_configurations_the_chain_leaves_out_are_refused_when_built(arguments):
    with pytest.raises(ValueError):
        build(CHAINS, c=4, **arguments)


UNCOVERED = '''
block Pick(c: int, mode: str = "avg", flag: bool = true):
    input x: [b, c, h, w]
    {require}
    if mode == "avg":
        y = avg_pool(x)
    elif mode == "max":
        y = max_pool(x)
    return x * sigmoid(y)
'''


@pytest.mark.parametrize("require", [
    "",                                                     # no require at all
    'require mode in ["avg", "max", "sum"]',                # a third string reaches no branch
    'require mode != "sum"',                                # any other string still does
    'if flag:\n        require mode in ["avg", "max"]',     # required only when flag is true
])
def test_a_chain_the_requires_do_not_make_exhaustive_is_refused_at_the_use(require):
    code, line, column, message = first_error(UNCOVERED.replace("{require}", require))
    assert code == "E0106" and "only defined on one branch" in message
    assert UNCOVERED.replace("{require}", require).splitlines()[line - 1][column - 1:].startswith("y)")


def test_the_refusal_names_the_require_as_a_way_out():
    from attndsl import compile_source

    result = compile_source(UNCOVERED.replace("{require}", ""), "lang.attn")
    assert "require" in next(d.help for d in result.diagnostics if d.code == "E0106")


def _cmp(op, name, value):
    return Cond("cmp", (op, Expr.symbol(name), Expr.const(value)))


def _text(arg, word):
    return Cond("text", (arg, word))


@pytest.mark.parametrize("conditions, impossible", [
    ((_text("m", "a"), _text("m", "b")), True),                              # one string at a time
    ((Cond("or", (_text("m", "a"), _text("m", "b"))), Cond("not", (_text("m", "a"),)),
      Cond("not", (_text("m", "b"),))), True),
    ((Cond("or", (_text("m", "a"), _text("n", "b"))), Cond("not", (_text("m", "a"),))), False),
    ((_cmp("==", "k", 1), _cmp("==", "k", 3)), True),                          # one value at a time
    ((_cmp(">", "k", 2), _cmp("<=", "k", 2)), True),                           # a comparison and its complement
    ((_cmp(">", "k", 2), _cmp("<", "k", 1)), False),                           # needs arithmetic: not claimed
    ((Cond("arg", ("flag",)), Cond("not", (Cond("arg", ("flag",)),))), True),
    ((Cond("arg", ("flag",)),), False),
])
def test_cannot_hold_proves_and_never_guesses(conditions, impossible):
    assert cannot_hold(conditions) is impossible


def test_cannot_hold_gives_up_on_too_many_conditions():
    many = tuple(Cond("arg", (f"f{i}",)) for i in range(13))
    assert cannot_hold(many + (Cond("not", (many[0],)),)) is False


# ------------------------------------------------ a name used where its guard holds


SAME_CONDITION = '''
block A(flag: bool = true):
    input x: [b, c]
    if flag:
        y = x * 2
        buffer m = ones([1]) * 3
    z = x + 1
    if flag:
        z = z + y * m
    return z
'''


@pytest.mark.parametrize("flag", [True, False])
def test_a_value_and_a_buffer_of_an_if_are_usable_under_a_later_if_on_the_same_condition(flag):
    x = rand(3, 5)
    module = build(SAME_CONDITION, flag=flag)
    expected = x + 1 + (x * 2 * 3 if flag else 0)
    torch.testing.assert_close(module(x), expected, rtol=0, atol=1e-12)
    agree(SAME_CONDITION, {"flag": flag}, {"x": [3, 5]})


ELSE_BUFFER = '''
block A(flag: bool = false):
    input x: [b, 4]
    if flag:
        layer fc = linear(4, 4)
    else:
        buffer m = ones([4]) * 2
    if flag:
        y = fc(x)
    else:
        y = x * m
    return y
'''


def test_a_buffer_of_an_else_is_usable_in_the_else_of_the_same_test():
    x = rand(3, 4)
    torch.testing.assert_close(build(ELSE_BUFFER, flag=False)(x), x * 2, rtol=0, atol=0)
    agree(ELSE_BUFFER, {"flag": True}, {"x": [3, 4]})


@pytest.mark.parametrize("source", [
    # assigned only when a and b, or when not b: missing when b and not a
    "if a:\n        if b:\n            y = x * 2\n    if not b:\n        y = x * 3\n    return y",
    # assigned under `if a:` and `if b:` nested; used under `if a:` alone
    "if a:\n        if b:\n            y = x * 2\n    if a:\n        x = y\n    return x",
    # a later `if` on another condition
    "if a:\n        y = x * 2\n    if b:\n        y = y + 1\n    return x",
    # the buffer's `if` does not enclose the use
    "if a:\n        buffer m = ones([4])\n    if b:\n        y = x * m\n    else:\n        y = x\n    return y",
])
def test_a_use_on_a_path_where_the_name_may_be_unassigned_is_refused(source):
    spec = "block A(a: bool = true, b: bool = true):\n    input x: [n, 4]\n    " + source + "\n"
    code, *_ = first_error(spec)
    assert code == "E0106"


NARROWED = '''
block A(d: int = 8, qk_norm: bool = false, norm_layer: layer[layer_norm] | None = None,
        eps: float | None = None):
    input x: [b, d]
    require not qk_norm or norm_layer is not None, "need norm_layer"
    require not qk_norm or eps is not None, "need eps"
    if qk_norm:
        layer q_norm = norm_layer(d)
        layer k_norm = layer_norm(d, eps=eps)
        y = k_norm(q_norm(x))
    else:
        y = x
    return y
'''


def test_a_require_says_an_optional_argument_is_given_where_its_condition_holds():
    x = rand(3, 8)
    module = build(NARROWED, d=8, qk_norm=True, norm_layer=torch.nn.LayerNorm, eps=1e-3)
    inner = F.layer_norm(x, (8,), eps=1e-5)
    torch.testing.assert_close(module(x), F.layer_norm(inner, (8,), eps=1e-3), rtol=0, atol=1e-12)
    # eps reaches the second norm: another eps gives another output
    assert not torch.allclose(module(x), F.layer_norm(inner, (8,), eps=1e-1))
    torch.testing.assert_close(build(NARROWED, d=8)(x), x, rtol=0, atol=0)
    with pytest.raises(ValueError, match="need norm_layer"):
        build(NARROWED, d=8, qk_norm=True, eps=1e-3)


def test_without_the_require_an_optional_argument_stays_possibly_none():
    code, line, _, message = first_error(NARROWED.replace('    require not qk_norm or norm_layer is not None, '
                                                          '"need norm_layer"\n', ''))
    assert code == "E0106" and "may be None" in message


NARROWED_SIZE = '''
block A(d: int = 8, qk_norm: bool = false, k: int | None = None):
    input x: [b, d]
    require not qk_norm or k is not None, "need k"
    if qk_norm:
        layer fc = linear(d, k)
        y = fc(x)
    else:
        y = x
    return y
'''


def test_checks_on_an_argument_a_require_makes_given_run_only_where_it_is_given():
    # the argument checks run before the requires: with k None they must not read it
    with pytest.raises(ValueError, match="need k"):
        build(NARROWED_SIZE, d=8, qk_norm=True, k=None)
    with pytest.raises(ValueError, match="`k` must be at least 0"):
        build(NARROWED_SIZE, d=8, qk_norm=True, k=-1)
    assert build(NARROWED_SIZE, d=8, qk_norm=True, k=3)(rand(2, 8)).shape == (2, 3)
    agree(NARROWED_SIZE, {"d": 8, "qk_norm": True, "k": 3}, {"x": [2, 8]})
