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
