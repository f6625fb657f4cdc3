"""Tuples: `(1, 7)` where torch takes a size per dimension, blocks that return several
tensors (`return out, attention`, also when used as a layer of another block), and
comprehensions over several tensors (chunk pieces, zip, a tensor's first axis)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import attndsl

from .language_support import agree, build, compile_ok, first_error, generated, rand

CONV = """\
block Strip(c: int = 4):
    input x: [b, c, h, w]
    layer conv = conv2d(c, c, (1, 7), padding=(0, 3), bias=false)
    layer pool = adaptive_avg_pool2d((None, 1))
    return pool(conv(x)) + mean(x, dim=(2, 3), keepdim=true)
"""


def test_tuple_sizes_reach_the_layers_as_written():
    code = compile_ok(CONV)
    assert "nn.Conv2d(c, c, (1, 7), padding=(0, 3), bias=False)" in code
    assert "nn.AdaptiveAvgPool2d((None, 1))" in code
    assert ".mean(dim=(2, 3), keepdim=True)" in code


def test_tuple_sizes_compute_what_torch_computes():
    module = build(CONV, c=4)
    assert module.conv.weight.shape == (4, 4, 1, 7)
    x = rand(2, 4, 5, 9)
    want = F.conv2d(x, module.conv.weight, padding=(0, 3)).mean(dim=3, keepdim=True) + x.mean(dim=(2, 3), keepdim=True)
    torch.testing.assert_close(module(x), want)
    assert agree(CONV, {"c": 4}, {"x": (2, 4, 5, 9)}) == "agree"


def test_the_shape_of_a_tuple_sized_layer_is_per_dimension():
    narrow = CONV.replace("(0, 3)", "(0, 2)").replace("pool(conv(x)) + mean(x, dim=(2, 3), keepdim=true)", "conv(x)")
    assert "returns: [b, c, h, w - 2]" in compile_ok(narrow)
    too_wide = CONV.replace("(1, 7)", "(1, 9)").replace("(0, 3)", "(0, 0)").replace("w]", "5]").replace(
        "pool(conv(x)) + mean(x, dim=(2, 3), keepdim=true)", "conv(x)")
    code, line, _, message = first_error(too_wide)
    assert (code, line) == ("E0205", 5), message


PAIR = """\
block Attend(d: int = 4):
    input x: [b, n, d]
    layer fc = linear(d, d)
    att = softmax(fc(x) @ transpose(x, 1, 2), dim=-1)
    return att @ x, att

block Outer(d: int = 4):
    input x: [b, n, d]
    layer inner = Attend(d)
    y, attention = inner(x)
    return y + x, attention
"""


def test_a_block_returns_several_tensors_and_a_caller_unpacks_them():
    code = compile_ok(PAIR)
    assert "y, attention = self.inner(x)" in code
    assert "-> tuple[torch.Tensor, torch.Tensor]:" in code
    assert "output 1: [b, n, n]" in code
    module = build(PAIR, d=4)
    x = rand(2, 3, 4)
    y, attention = module(x)
    fc = module.inner.fc
    want_attention = torch.softmax(fc(x) @ x.transpose(1, 2), dim=-1)
    torch.testing.assert_close(attention, want_attention)
    torch.testing.assert_close(y, want_attention @ x + x)
    assert agree(PAIR, {"d": 4}, {"x": (2, 3, 4)}) == "agree"


def test_a_tuple_unpacks_into_names():
    source = "block B():\n    input x: [b, n]\n    p, q = (x, 2 * x)\n    return q - p\n"
    module = build(source)
    x = rand(2, 3)
    torch.testing.assert_close(module(x), x)


def test_tuple_outputs_trace_under_torch_compile():
    module = generated(PAIR)(d=4).eval()
    x = torch.randn(2, 3, 4)
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
    for got, want in zip(compiled(x), module(x)):
        torch.testing.assert_close(got, want)


def test_misused_tuples_are_located_errors():
    one_name = PAIR.replace("y, attention = inner(x)\n    return y + x, attention", "y = inner(x)\n    return y")
    assert first_error(one_name)[:3] == ("E0118", 10, 5)
    in_sequential = PAIR.replace("layer inner = Attend(d)", "layer inner = sequential(Attend(d))").replace(
        "y, attention = inner(x)\n    return y + x, attention", "return inner(x)")
    code, line, column, message = first_error(in_sequential)
    assert (code, line, column) == ("E0113", 10, 12) and "returns 2 tensors" in message


HEADS = """\
block Heads(dim: int = 8, heads: int = 2):
    input x: [b, n, dim]
    layer qkv = linear(dim, 3 * dim, bias=false)
    q, k, v = [rearrange(t, "b n (h d) -> b h n d", h=heads) for t in chunk(qkv(x), 3, dim=-1)]
    att = softmax(q @ transpose(k, -1, -2), dim=-1)
    return rearrange(att @ v, "b h n d -> b n (h d)")
"""


def test_a_comprehension_over_chunks_is_unrolled_one_element_per_piece():
    code = compile_ok(HEADS, optimize=False)
    assert "for t in" not in code  # written out once per piece, no loop at run time
    # each piece named after the one value made from it, as hand-written code rebinds it
    assert "q, k, v = self.qkv(x).chunk(3, dim=-1)" in code and "q = q.reshape(" in code, code
    module = build(HEADS, dim=8, heads=2)
    x = rand(2, 5, 8)
    q, k, v = (t.reshape(2, 5, 2, 4).transpose(1, 2) for t in module.qkv(x).chunk(3, dim=-1))
    want = ((q @ k.transpose(-1, -2)).softmax(dim=-1) @ v).transpose(1, 2).reshape(2, 5, 8)
    torch.testing.assert_close(module(x), want)
    assert agree(HEADS, {"dim": 8, "heads": 2}, {"x": (2, 5, 8)}) == "agree"


def test_a_comprehension_over_a_list_of_tensors_feeds_stack():
    source = """\
block Both():
    input x: [b, n, d]
    input y: [b, n, d]
    return stack([softmax(t, dim=-1) for t in [x, y]], dim=0)
"""
    module = build(source)
    x, y = rand(2, 3, 4), rand(2, 3, 4, seed=1)
    torch.testing.assert_close(module(x, y), torch.stack([x.softmax(-1), y.softmax(-1)]))


def test_a_comprehension_over_one_tensor_is_refused_with_what_it_can_loop_over():
    code, line, _, message = first_error(HEADS.replace("chunk(qkv(x), 3, dim=-1)", "qkv(x)").replace(
        "q, k, v = ", "q = "))
    assert (code, line) == ("E0113", 4) and "tensors" in message and "zip()" in message, message


ZIPPED = """\
block Groups(c: int = 8, S: int = 2):
    input x: [b, c, h, w]
    require c % S == 0
    let width = c // S
    layer convs = [conv2d(width, width, 2 * i + 3, padding=i + 1) for i in range(S)]
    groups = rearrange(x, "b (s c) h w -> s b c h w", s=S)
    spc = stack([conv(g) for conv, g in zip(convs, groups)], dim=1)
    paired = stack([u * sigmoid(v) for u, v in zip(spc, spc)], dim=0)
    return rearrange(stack([tanh(t) for t in paired], dim=0), "b s c h w -> b (s c) h w")
"""


def test_a_comprehension_over_zip_or_a_tensors_first_axis_is_a_loop_at_run_time():
    code = compile_ok(ZIPPED, optimize=False)
    assert "for conv, g in zip(self.convs, groups):" in code and "for t in paired:" in code, code
    module = build(ZIPPED, c=8, S=2)
    x = rand(2, 8, 5, 6)
    groups = x.reshape(2, 2, 4, 5, 6).transpose(0, 1)
    spc = torch.stack([conv(g) for conv, g in zip(module.convs, groups)], dim=1)
    want = torch.tanh(spc * torch.sigmoid(spc)).reshape(2, 8, 5, 6)
    torch.testing.assert_close(module(x), want)
    assert agree(ZIPPED, {"c": 8, "S": 2}, {"x": (2, 8, 5, 6)}) == "agree"


def test_a_comprehensions_names_are_its_own():
    source = ZIPPED.replace("return rearrange(", "return g + rearrange(")
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0101", 9) and "`g`" in message, message


def test_several_names_go_with_zip_only():
    code, line, _, message = first_error(HEADS.replace("for t in chunk", "for t, u in chunk"))
    assert (code, line) == ("E0118", 4) and "2 names" in message, message
    layer_list = ZIPPED.replace("for i in range(S)]", "for i, j in range(S)]")
    assert first_error(layer_list)[:2] == ("E0118", 5)


def test_what_a_loop_cannot_run_over_says_what_to_write_instead():
    def help_of(source: str) -> str:
        (diagnostic,) = [d for d in attndsl.compile_source(source, "lang.attn").diagnostics if d.is_error]
        return diagnostic.help or ""

    mix = """\
block MixConv(c: int = 12, kernels: list[int] = [3, 5, 7]):
    input x: [b, c, h, w]
    layer convs = [conv2d(c // 3, c // 3, k, padding=k // 2) for k in kernels]
    return cat([conv(g) for conv, g in zip(convs, chunk(x, 3, dim=1))], dim=1)
"""
    assert "rearrange(x, " in help_of(mix)  # the pieces as a first axis
    literal = mix.replace("for k in kernels", "for k in [3, 5, 7]")
    assert "kernels: list[int] = [3, 5, 7]" in help_of(literal)  # the list as an argument


def test_a_comprehension_that_loops_inside_a_loop_is_one_error():
    source = """\
block Stack(c: int = 4):
    input x: [s, b, c]
    layer fcs = [linear(c, c) for _ in range(2)]
    y = x
    for f in fcs:
        y = f(y) + stack([tanh(r) for r in y], dim=0)
    return y
"""
    errors = [(d.code, d.span.line) for d in attndsl.compile_source(source, "lang.attn").diagnostics if d.is_error]
    assert errors == [("E0113", 6)], errors  # not also "`y` must stay a tensor in the loop"


def test_comprehensions_under_ifs_and_on_optional_inputs_agree_with_the_interpreter():
    source = """\
block Rows(c: int = 4, use: bool = true):
    input x: [s, b, c]
    input m: [b, c] = None
    layer fc = linear(c, c)
    if use:
        y = stack([fc(row) for row in x], dim=0)
    else:
        y = x
    if m:
        y = stack([row * m for row in y], dim=0)
    return y
"""
    for use in (True, False):
        assert agree(source, {"c": 4, "use": use}, {"x": (3, 2, 4), "m": (2, 4)}) == "agree"
        assert agree(source, {"c": 4, "use": use}, {"x": (3, 2, 4)}) == "agree"


TUPLE_ASSIGNED = """\
block Split(d: int = 4):
    input x: [b, n, d]
    layer a = linear(d, d)
    layer c = linear(d, d)
    t = stack([x, x, x], dim=0)
    {statement}
    return q
"""


def _parse_error(statement: str):
    result = attndsl.compile_source(TUPLE_ASSIGNED.format(statement=statement), "lang.attn")
    (error,) = [d for d in result.diagnostics if d.is_error]
    return error.code, error.span.line, error.span.column, error.message, error.help


def test_a_tuple_assigned_says_one_value_per_statement_at_its_comma():
    """Python's `q, k = a(x), c(x)` and `q, k, v = t[0], t[1], t[2]` (timm's Attention): the
    comma of the right-hand side, with the assignments to write instead (it said "unexpected
    ','", help "expected a line break")."""
    code, line, column, message, help = _parse_error("q, k = a(x), c(x)")
    assert (code, line, column) == ("E0002", 6, 16)
    assert message == "a spec assigns one value per statement; this one is a tuple of values"
    assert "`q = a(x)`, then `k = c(x)`" in help and "unbind(qkv, dim=0)" in help and "tuple output" in help
    code, line, column, message, help = _parse_error("q, k, v = t[0], t[1], t[2]  # as timm splits qkv")
    assert (code, line, column) == ("E0002", 6, 19) and "one value per statement" in message
    assert "`q = t[0]`, then `k = t[1]`, then `v = t[2]`" in help
    # one name for a tuple: commas in brackets and strings are not the tuple's
    code, line, column, message, help = _parse_error('q = rearrange(x, "b n d -> b n d"), c(x)')
    assert (code, line, column) == ("E0002", 6, 39) and "one value per statement" in message
    assert "its own name" in help and "return a, b" in help
    code, line, column, message, help = _parse_error("let a, b = 1, 2")
    assert (code, line, column, message) == ("E0002", 6, 10, "a `let` names one value")
    assert help == "write one assignment a line: `let a = 1`, then `let b = 2`"


def test_a_comma_in_another_place_keeps_the_parser_s_message():
    code, line, column, message, help = _parse_error("q = f(\n        x=a(x)), c(x)")
    assert (code, line, column, message) == ("E0002", 7, 16, "unexpected ','")
    assert help == "expected a line break"


def test_unbind_and_a_block_s_tuple_still_unpack():
    compile_ok(TUPLE_ASSIGNED.format(statement="q, k, v = unbind(t, dim=0)"))
