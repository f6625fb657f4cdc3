"""A `require` of input sizes (`require n <= max_len`): checked in forward, before anything
is computed, with the spec's message; a fact for forward's checks after it, never for
`__init__`'s (which run before any input is seen)."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, build, compile_ok, first_error, rand

MAX_LEN = """\
block Positions(d: int = 3, max_len: int = 8):
    input x: [b, n, d]
    require n <= max_len, "the sequence may not be longer than max_len"
    param pos: [1, max_len, d] = zeros
    return x + pos[:, :n]
"""


def test_a_require_of_input_sizes_is_checked_in_forward_with_its_message():
    code = compile_ok(MAX_LEN)
    forward = code[code.index("def forward"):]
    assert "if n > self.max_len:" in forward, forward
    assert "slice of axis 1" not in code  # the require is a fact: the slice needs no check of its own
    module = build(MAX_LEN, d=3, max_len=8)
    x = rand(2, 5, 3)
    torch.testing.assert_close(module(x), x)
    with pytest.raises(ValueError, match=r"may not be longer than max_len, with max_len = 8, n = 9"):
        module(rand(2, 9, 3))
    assert agree(MAX_LEN, {"d": 3, "max_len": 8}, {"x": (2, 5, 3)}) == "agree"
    assert agree(MAX_LEN, {"d": 3, "max_len": 8}, {"x": (2, 9, 3)}).startswith("both refused")


def test_a_require_of_input_sizes_proves_nothing_init_checks():
    source = """\
block Split(k: int = 2):
    input x: [b, n]
    require n % k == 0, "n must be a multiple of k"
    let q = 8 // k
    return x * q
"""
    code = compile_ok(source)
    init, forward = code[code.index("def __init__"):code.index("def forward")], code[code.index("def forward"):]
    assert "if k == 0:" in init, init  # `n % k == 0` says k != 0 only once forward has checked it
    assert "if n % self.k != 0:" in forward, forward  # as the spec writes it
    with pytest.raises(ValueError, match="`k` must not be zero"):
        build(source, k=0)
    with pytest.raises(ValueError, match="n must be a multiple of k"):
        build(source, k=2)(rand(2, 5))


def test_what_a_require_of_input_sizes_cannot_read_or_be_under():
    optional = "block B():\n    input x: [b, c]\n    input m: [b, k] = None\n    require k > 1\n    return x\n"
    assert first_error(optional)[:2] == ("E0113", 4)
    under_if = "block B(a: int = 4):\n    input x: [b, c]\n    if a > 2:\n        require c > 1\n    return x\n"
    assert "        if self.a > 2:\n            if c <= 1:" in compile_ok(under_if)  # checked where the `if` holds
    never = "block B():\n    input x: [b, c]\n    require c + 1 > c + 2, \"impossible\"\n    return x\n"
    code, line, _, message = first_error(never)
    assert (code, line) == ("E0205", 3) and "never holds: impossible" in message, message
    example = MAX_LEN.replace("    require", "    example(x=[2, 10, 3])\n    require")
    assert first_error(example)[:2] == ("E0207", 3)
