"""`return` inside `if`: an early exit (`if not use_attention: return x`), a return on each
branch, several values; rewritten into one return after the `if` (lower/early_returns.py),
so the module computes what Python would, and the checker and interpreter see one join."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, build, compile_ok, first_error, rand

GATE = """\
block Gate(c: int = 8, use_attention: bool = true, mode: str = "sum"):
    input x: [b, c, h, w]
    input mask: bool[b, 1, h, w] = None
    layer fc = conv2d(c, c, 1)
    if not use_attention:
        return x
    y = sigmoid(fc(x))
    if mask:
        return masked_fill(y, mask, 0.0)
    elif mode == "sum":
        return x + y
    return x * y
"""


def _gate(module, x, mask, use_attention, mode):
    if not use_attention:
        return x
    y = module.fc(x).sigmoid()
    if mask is not None:
        return y.masked_fill(mask, 0.0)
    return x + y if mode == "sum" else x * y


@pytest.mark.parametrize("use_attention", [True, False])
@pytest.mark.parametrize("mode", ["sum", "product"])
@pytest.mark.parametrize("masked", [True, False])
def test_early_returns_compute_what_python_would(use_attention, mode, masked):
    code = compile_ok(GATE)
    assert code.count("return ") == 1 and "        return out  # [b, c, h, w]" in code
    module = build(GATE, use_attention=use_attention, mode=mode)
    x = rand(2, 8, 3, 3)
    mask = rand(2, 1, 3, 3, seed=1) > 0 if masked else None
    torch.testing.assert_close(module(x, mask), _gate(module, x, mask, use_attention, mode))
    inputs = {"x": (2, 8, 3, 3)} | ({"mask": (2, 1, 3, 3)} if masked else {})
    assert agree(GATE, {"use_attention": use_attention, "mode": mode}, inputs,
                 masks={"mask"} if masked else ()) == "agree"


SEVERAL = """\
block Two(c: int = 4, swap: bool = false):
    input x: [b, c]
    out = x * 3
    if swap:
        return out, x
    return x, out
"""


@pytest.mark.parametrize("swap", [True, False])
def test_returns_of_several_values_join_value_by_value(swap):
    code = compile_ok(SEVERAL)
    assert "return out_0, out_1" in code
    module = build(SEVERAL, swap=swap)
    x = rand(3, 4)
    first, second = module(x)
    expected = (x * 3, x) if swap else (x, x * 3)
    torch.testing.assert_close(first, expected[0])
    torch.testing.assert_close(second, expected[1])


def test_the_joined_value_takes_a_name_the_block_does_not_use():
    source = "block B(flag: bool = true):\n    input x: [b, n]\n    out = x * 2\n    if flag:\n        return out\n" \
             "    return x\n"
    code = compile_ok(source)
    assert "return out_2" in code
    torch.testing.assert_close(build(source)(rand(2, 3)), rand(2, 3) * 2)
    torch.testing.assert_close(build(source, flag=False)(rand(2, 3)), rand(2, 3))


@pytest.mark.parametrize("body, line, needle", [
    ("if flag:\n    return x\n    y = x\nreturn x", 5, "comes after a `return`"),
    ("if flag:\n    if other:\n        return x\n    y = x\nelse:\n    y = x * 2\nreturn y", 3,
     "both branches of this `if` go on"),
    ("if flag:\n    return x, x\nreturn x", 5, "gives 1 value(s), and the first gives 2"),
    ("y = x * 2\nif flag:\n    return y", 4, "can reach its end without a `return`"),
])
def test_returns_that_cannot_be_joined_are_located(body, line, needle):
    source = "block B(flag: bool = true, other: bool = true):\n    input x: [b, n]\n" + "".join(
        f"    {text}\n" for text in body.split("\n"))
    code, got_line, _, message = first_error(source)
    assert (code, got_line) == ("E0116", line) and needle in message, (got_line, message)


def test_a_one_tuple_is_refused_not_unwrapped():
    """Trial 7: `return (x,)` (Hugging Face's `outputs = (context,)`) returned the bare tensor,
    so a caller's `outputs[0]` took its first row; `return (a, b)` is still `return a, b`."""
    code, line, column, message = first_error("block A(d: int = 4):\n    input x: [b, n, d]\n    return (x,)\n")
    assert (code, line, column) == ("E0113", 3, 12) and "not a tuple of one" in message
    assert "return x, out\n" in compile_ok("block A(d: int = 4):\n    input x: [b, n, d]\n    return (x, x * 2)\n")
