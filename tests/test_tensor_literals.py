"""`tensor([...])`: a constant tensor of numbers written out (FcaNet's frequency tables, a
fixed smoothing kernel), or of a `list[int]` argument. Whole numbers make an int64 tensor,
and a float among them a floating one, as torch.tensor reads them; in a buffer it takes the
block's factory arguments, in forward the device (and dtype) of `like`."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, build, compile_ok, first_error, generated, rand

TABLES = """\
block Frequencies(channels: int, scale: float = 0.5, picks: list[int] = [0, 2]):
    input x: [b, channels, 3]
    example(channels=2, x=[2, 2, 3])
    require channels == 2
    buffer table = tensor([[0, 6, 1], [5, 3, 2]])
    buffer weights = tensor([0.25, scale, 1])
    buffer chosen = tensor(picks)
    y = x * float(table) + weights
    return y[:, :, chosen] * tensor([1, 2], like=x)[:, None]
"""


def expected_tables(x, scale, picks):
    table = torch.tensor([[0.0, 6, 1], [5, 3, 2]], dtype=x.dtype)
    weights = torch.tensor([0.25, scale, 1.0], dtype=x.dtype)
    y = x * table + weights
    return y[:, :, picks] * torch.tensor([1.0, 2.0], dtype=x.dtype)[:, None]


@pytest.mark.parametrize("scale, picks", [(0.5, [0, 2]), (-3.0, [1]), (2, [2, 2, 0])])
def test_tables_written_out_are_the_numbers_torch_reads(device, scale, picks):
    module = build(TABLES, channels=2, scale=scale, picks=picks).double().to(device)
    assert module.table.dtype == module.chosen.dtype == torch.int64  # integer tables stay integer
    assert module.weights.dtype == torch.float64  # a float among the numbers: floating, moved by .double()
    x = rand(2, 2, 3).double().to(device)
    torch.testing.assert_close(module(x), expected_tables(x, scale, picks), rtol=0, atol=0)
    # the comparison tells a wrong table from the right one
    wrong = expected_tables(x, scale, picks[:-1] + [(picks[-1] + 1) % 3])
    assert not torch.allclose(module(x), wrong)
    assert agree(TABLES, {"channels": 2, "scale": scale, "picks": picks}, {"x": (2, 2, 3)}) == "agree"


def test_the_table_is_rendered_as_written():
    code = compile_ok(TABLES)
    assert 'self.register_buffer("table", torch.tensor([[0, 6, 1], [5, 3, 2]]), persistent=False)' in code
    assert 'torch.tensor([0.25, scale, 1.0])' in code  # `1` beside a float: written 1.0
    assert 'torch.tensor(picks, dtype=torch.int64)' in code  # an empty list would make float
    assert "torch.tensor([1, 2], device=x.device)" in code


def test_a_buffer_of_float_arguments_alone_says_its_dtype():
    """torch.tensor([a]) of a float argument given as a whole number (`a=1`) would be int64:
    a floating tensor whose numbers are all names is made in the buffers' dtype."""
    source = """\
block Scales(a: float = 0.5):
    input x: [b, 2]
    example(x=[3, 2])
    buffer s = tensor([a, 2 * a])
    return x * s
"""
    assert "torch.tensor([a, 2 * a], dtype=torch.get_default_dtype())" in compile_ok(source)
    module = generated(source)(a=1)
    assert module.s.dtype == torch.get_default_dtype()
    torch.testing.assert_close(module(torch.ones(3, 2)), torch.tensor([[1.0, 2.0]] * 3))


def test_a_buffer_follows_the_blocks_factory_arguments():
    source = """\
block Kernel(device: device = None, dtype: dtype = None):
    input x: [b, 3]
    example(x=[2, 3])
    buffer k = tensor([1 / 3, 1 / 3, 1 / 3])
    return x * k
"""
    module = generated(source)(dtype=torch.float64)
    assert module.k.dtype == torch.float64
    # computed in float64, not float32's rounding of 1/3
    assert module.k[0].item() == 1 / 3


def test_a_table_of_the_wrong_length_is_refused_where_it_meets_the_input():
    source = """\
block Gate(c: int):
    input x: [b, 4]
    example(c=4, x=[2, 4])
    return x * tensor([1, 2, 3])
"""
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0201", 4)
    assert "4" in message and "3" in message


@pytest.mark.parametrize("values, message", [
    ("[[1], [2, 3]]", "rows differ in length"),
    ("[[[1], [2]], [[3, 4]]]", "rows differ in length"),
    ("[]", "at least one number"),
    ("[x]", "must be a number"),
    ("3", "a list of numbers, or a list[int] argument"),
    ("[[1, 2], 3]", "mixes numbers and lists"),
])
def test_what_is_no_table_is_refused_where_it_is_written(values, message):
    source = f"""\
block Bad(c: int):
    input x: [b, c]
    example(c=2, x=[2, 2])
    return x * tensor({values})
"""
    code, line, column, text = first_error(source)
    assert (code, line) == ("E0113", 4)
    assert message in text
