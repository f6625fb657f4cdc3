"""`einsum` with named axes: `einsum("b h i d, b h j d -> b h i j", q, k)`, checked like
`rearrange` (each operand's rank, one size per axis), rendered as `torch.einsum` with one
letter per axis, interpreted without torch.einsum (broadcast products and sums)."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, build, compile_ok, first_error, rand

ATTENTION = """\
block A(d: int = 4):
    input q: [b, h, n, d]
    input k: [b, h, m, d]
    input v: [b, h, m, e]
    weights = softmax(einsum("b h i d, b h j d -> b h i j", q, k) * d ** -0.5, dim=-1)
    return einsum("batch heads i j, batch heads j dim -> batch i heads dim", weights, v)
"""


def test_attention_written_with_einsum():
    code = compile_ok(ATTENTION)
    assert 'torch.einsum("bhid,bhjd->bhij", q, k)' in code
    assert 'torch.einsum("bhij,bhjd->bihd", weights, v)' in code  # `heads` takes `h`, `dim` takes `d`
    module = build(ATTENTION)
    q, k, v = rand(2, 3, 5, 4, seed=1), rand(2, 3, 6, 4, seed=2), rand(2, 3, 6, 7, seed=3)
    q.requires_grad_()
    weights = (q @ k.transpose(-1, -2) / 2).softmax(dim=-1)
    expected = (weights @ v).transpose(1, 2)
    got = module(q, k, v)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(torch.autograd.grad(got.square().sum(), q)[0],
                               torch.autograd.grad(expected.square().sum(), q)[0])
    assert agree(ATTENTION, {}, {"q": (2, 3, 5, 4), "k": (2, 3, 6, 4), "v": (2, 3, 6, 7)}) == "agree"


ONE_OPERAND = """\
block S(c: int = 3):
    input x: [b, n, c]
    return einsum("b n c -> c b", x) + einsum("batch n c -> c batch", x * 2)
"""


def test_one_operand_moves_and_sums_axes():
    assert 'torch.einsum("bnc->cb", x)' in compile_ok(ONE_OPERAND)
    module = build(ONE_OPERAND)
    x = rand(2, 5, 3)
    torch.testing.assert_close(module(x), 3 * x.sum(dim=1).transpose(0, 1))
    assert agree(ONE_OPERAND, {}, {"x": (2, 5, 3)}) == "agree"


def test_einsum_traces_under_torch_compile():
    module = build(ATTENTION).float()
    q, k, v = torch.randn(1, 2, 3, 4), torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 3)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(q, k, v), module(q, k, v))


_HEAD = "block B(d: int = 4):\n    input x: [b, n, d]\n    input y: [b, m, d]\n    input z: [b, 2, 3]\n"


@pytest.mark.parametrize("line, code, column, needle", [
    ('einsum("b n d, b m -> b n m", x, y)', "E0202", 12, "operand 1 of einsum has rank 3"),
    ('einsum("b i j, b j k -> b i k", z, z)', "E0201", 12, "axis `j` of einsum: 3 is not 2"),
    ('einsum("b n d, b m d -> b n m", x)', "E0112", 12, "names 2 operand(s)"),
    ('einsum("b n n, b m d -> b n m", x, y)', "E0117", 24, "appears twice in an operand"),
    ('einsum("b n d, b m d -> b n k", x, y)', "E0117", 40, "of the result is in no operand"),
    ('einsum("b n d, b m d", x, y)', "E0117", 32, "needs '->'"),
    ('einsum("b n d, b m d, b m d -> b", x, y)', "E0117", 32, "one or two operands"),
    ('einsum("... d, b m d -> b m", x, y)', "E0117", 20, "unexpected '.'"),
    ('einsum(x, y)', "E0113", 19, "equation must be a string"),
])
def test_misused_einsum_is_located(line, code, column, needle):
    got = first_error(_HEAD + f"    return {line}\n")
    assert got[:3] == (code, 5, column) and needle in got[3], got


def test_an_axis_may_be_named_like_the_tensor_argument():
    """`rearrange(t, "b (x y) d -> b x y d", x=h)`, as BoTNet writes it: `x` names an axis
    where the op's own `x` is given by position (was E0112 "given twice")."""
    source = "block B(h: int = 2):\n    input t: [b, n, d]\n    return rearrange(t, \"b (x y) d -> b x y d\", x=h)\n"
    assert "t.reshape(b, self.h, -1, d)" in compile_ok(source)
    assert agree(source, {}, {"t": (2, 6, 3)}) == "agree"
