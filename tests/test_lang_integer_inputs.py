"""Integer tensor inputs: `input position_ids: long[b, n]` (Gemma/Llama's RoPE positions,
token ids for an embedding-table lookup). Forward checks rank, int64 and no empty
dimension; the checker knows nothing of the values, so an index made of them must be
clamped; float(), comparisons and integer arithmetic work as on `arange`. Each against a
hand-written torch module, the interpreter, torch.compile and torch.export."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from attndsl import interpret

from .language_support import agree, build, compile_ok, first_error, generated, rand

# Llama's rotary attention: q and k rotated by angles of the positions, then softmax attention.
ROPE = """\
block RotaryAttention(d: int = 8, base: float = 10000.0):
    input q: [b, h, n, d]
    input k: [b, h, n, d]
    input v: [b, h, n, d]
    input position_ids: long[b, n]
    require d % 2 == 0
    example(q=[2, 2, 5, 8], k=[2, 2, 5, 8], v=[2, 2, 5, 8], position_ids=[2, 5])
    buffer inv_freq = 1.0 / base ** (float(arange(0, d, 2)) / d)
    freqs = float(position_ids)[:, :, None] * inv_freq[None, None, :]
    emb = cat([freqs, freqs], dim=-1)
    c = cos(emb)[:, None]
    s = sin(emb)[:, None]
    qr = q * c + cat([-q[..., d // 2:], q[..., :d // 2]], dim=-1) * s
    kr = k * c + cat([-k[..., d // 2:], k[..., :d // 2]], dim=-1) * s
    return softmax(qr @ transpose(kr, -2, -1) / sqrt(d), dim=-1) @ v
"""


class LlamaRotary(nn.Module):
    """As transformers' LlamaRotaryEmbedding + apply_rotary_pos_emb + eager attention."""

    def __init__(self, d: int = 8, base: float = 10000.0):
        super().__init__()
        self.d = d
        inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    @staticmethod
    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def forward(self, q, k, v, position_ids):
        freqs = position_ids.to(q.dtype)[:, :, None] * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)
        q = q * cos + self.rotate_half(q) * sin
        k = k * cos + self.rotate_half(k) * sin
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.d), dim=-1) @ v


def _qkv(seed: int = 0):
    return [rand(2, 2, 5, 8, seed=seed + i) for i in range(3)]


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_rope_with_position_ids_matches_llama_in_values_and_gradients(mode):
    module, reference = build(ROPE).train(mode == "train"), LlamaRotary().double().train(mode == "train")
    positions = torch.tensor([[0, 1, 2, 3, 4], [7, 3, 0, 11, 2]])  # a batch with its own positions
    inputs = [t.requires_grad_() for t in _qkv()]
    twins = [t.detach().clone().requires_grad_() for t in inputs]
    got, want = module(*inputs, positions), reference(*twins, positions)
    torch.testing.assert_close(got, want)
    cotangent = rand(*want.shape, seed=9)
    (got * cotangent).sum().backward()
    (want * cotangent).sum().backward()
    for mine, theirs in zip(inputs, twins):
        torch.testing.assert_close(mine.grad, theirs.grad)
    code = compile_ok(ROPE)
    assert "position_ids.dtype != torch.long" in code and "position_ids.to(q.dtype)" in code


def test_rope_agrees_with_the_interpreter_at_negative_and_large_positions():
    assert agree(ROPE, {}, {"q": (2, 2, 5, 8), "k": (2, 2, 5, 8), "v": (2, 2, 5, 8), "position_ids": (2, 5)},
                 ints={"position_ids"}) == "agree"
    interpreted = interpret.build(ROPE).double().eval()
    positions = torch.tensor([[-3, 1, 2, 30, 4], [7, 3, 0, 11, 2]])
    torch.testing.assert_close(interpreted(*_qkv(), positions), build(ROPE)(*_qkv(), positions))


def test_rope_under_torch_compile_and_export():
    module = generated(ROPE)().eval()
    args = (*[t.float() for t in _qkv()], torch.tensor([[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]]))
    with torch.no_grad():
        want = module(*args)
        torch.testing.assert_close(torch.compile(module, fullgraph=True, backend="aot_eager")(*args), want)
        program = torch.export.export(module, args)
        torch.testing.assert_close(program.module()(*args), want)


# ---------------------------------------------------------------------------- lookups

EMBED = """\
block TokenMix(k: int = 6, d: int = 4):
    input x: [b, n, d]
    input ids: long[b, n]
    param table: [k, d] = randn
    example(x=[2, 5, 4], ids=[2, 5])
    looked = table[clamp(ids, min=0, max=k - 1)]
    return masked_fill(x + looked, (ids == 0)[:, :, None], 0.0)
"""


def test_a_clamped_lookup_matches_torch_at_ids_in_and_out_of_range():
    module = build(EMBED)
    x = rand(2, 5, 4)
    for ids in (torch.tensor([[0, 1, 2, 3, 5], [5, 4, 3, 2, 1]]), torch.tensor([[-7, -1, 0, 6, 100], [9, 2, -2, 5, 0]])):
        want = (x + module.table[ids.clamp(0, 5)]).masked_fill((ids == 0)[:, :, None], 0.0)
        torch.testing.assert_close(module(x, ids), want)
    assert agree(EMBED, {}, {"x": (2, 5, 4), "ids": (2, 5)}, ints={"ids"}) == "agree"
    assert agree(EMBED, {"k": 2}, {"x": (3, 7, 4), "ids": (3, 7)}, ints={"ids"}, seed=1) == "agree"


def test_a_lookup_block_without_a_floating_point_input():
    source = """\
block Embedding(k: int = 10, d: int = 4):
    input ids: long[b, n]
    param weight: [k, d] = randn
    return weight[clamp(ids, min=0, max=k - 1)]
"""
    module = build(source)
    ids = torch.tensor([[0, 9, 10, -1]])
    torch.testing.assert_close(module(ids), module.weight[ids.clamp(0, 9)])
    assert agree(source, {}, {"ids": (2, 6)}, ints={"ids"}) == "agree"


@pytest.mark.parametrize("index, code, where", [
    ("ids", "E0113", "ids"), ("ids + 1", "E0113", "ids"), ("clamp(ids, min=0, max=k - 1) + 1", "E0113", "ids")])
def test_an_unclamped_lookup_is_refused_with_a_message_that_says_to_clamp(index, code, where):
    source = EMBED.replace("clamp(ids, min=0, max=k - 1)", index)
    got = first_error(source)
    assert got[:2] == (code, 6) and f"computed from the input `{where}` must be clamped" in got[3]
    result = __import__("attndsl").compile_source(source, "lang.attn")
    assert "clamp(ids, min=0, max=k - 1)" in result.diagnostics[0].help


def test_gather_by_the_ids_is_refused_unless_clamped():
    body = EMBED.replace("    looked = table[clamp(ids, min=0, max=k - 1)]\n", "").replace(
        "x + looked", "gather(x, 1, expand({index}[:, :, None], (-1, -1, d)))")
    code, line, _, message = first_error(body.format(index="ids"))
    assert (code, line) == ("E0204", 6) and "gather(): an index computed from the input `ids` must be clamped" in message
    module = build(body.format(index="clamp(ids, min=0, max=n - 1)"))
    x, ids = rand(2, 5, 4), torch.tensor([[-1, 0, 4, 5, 2], [3, 3, 9, 1, 0]])
    want = x.gather(1, ids.clamp(0, 4)[:, :, None].expand(-1, -1, 4)).masked_fill((ids == 0)[:, :, None], 0.0)
    torch.testing.assert_close(module(x, ids), want)


def test_clamping_past_the_table_is_refused():
    code, line, _, message = first_error(EMBED.replace("max=k - 1", "max=k"))
    assert (code, line) == ("E0204", 6) and "clamped to at most k" in message


@pytest.mark.parametrize("body, wanted", [
    ("return x + softmax(ids, dim=-1)[:, :, None]", "the tensor softmax() takes must be a floating-point tensor"),
    ("return x @ transpose(ids, 0, 1)", "an operand of `@` must be a floating-point tensor"),
])
def test_float_only_ops_on_the_ids_are_refused(body, wanted):
    source = EMBED.replace("    looked = table[clamp(ids, min=0, max=k - 1)]\n", "").replace(
        "    return masked_fill(x + looked, (ids == 0)[:, :, None], 0.0)", "    " + body)
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0209", 6) and wanted in message and "got an int tensor" in message


def test_int_is_not_a_synonym_it_says_long():
    code, line, _, message = first_error(EMBED.replace("long[", "int["))
    assert (code, line) == ("E0111", 3) and "unknown element type `int`" in message
    help_text = __import__("attndsl").compile_source(EMBED.replace("long[", "int["), "l.attn").diagnostics[0].help
    assert "long[...]" in help_text and "int32" in help_text


# ---------------------------------------------------------------------------- the contract in forward

@pytest.mark.parametrize("ids, why", [
    (torch.zeros(2, 5), "float32"), (torch.zeros(2, 5, dtype=torch.int32), "int32"),
    (torch.zeros(2, 5, dtype=torch.bool), "bool"), (torch.zeros(10, dtype=torch.long), "rank"),
    (torch.zeros(2, 0, dtype=torch.long), "empty"), (torch.zeros(3, 5, dtype=torch.long), "batch"),
])
def test_wrong_ids_are_refused_by_the_block_and_by_the_interpreter(ids, why):
    x = rand(2, 5, 4) if why != "empty" else rand(2, 0, 4)
    with pytest.raises(ValueError, match="^TokenMix: ") as refused:
        build(EMBED)(x, ids)
    if why in ("float32", "int32", "bool"):
        assert "must be a 2-d int64 (torch.long) tensor [b, n]" in str(refused.value) and why in str(refused.value)
    with pytest.raises(interpret.Refusal):
        interpret.build(EMBED).double().eval()(x, ids)


# ---------------------------------------------------------------------------- optional ids

OPTIONAL = """\
block MaybeShift(k: int = 5, d: int = 3):
    input x: [b, n, d]
    input position_ids: long[b, n] = None
    param table: [k, d] = zeros
    if position_ids:
        x = x + table[clamp(position_ids, min=0, max=k - 1)] * float(position_ids < k)[:, :, None]
    return x
"""


def test_an_optional_integer_input_absent_and_present():
    module = build(OPTIONAL)
    with torch.no_grad():
        module.table.copy_(rand(5, 3, seed=4))
    x, positions = rand(2, 4, 3), torch.tensor([[0, 1, 7, -2], [4, 4, 5, 1]])
    torch.testing.assert_close(module(x), x)
    want = x + module.table[positions.clamp(0, 4)] * (positions < 5).to(x.dtype)[:, :, None]
    torch.testing.assert_close(module(x, positions), want)
    torch.testing.assert_close(module(x, position_ids=positions), want)
    for inputs in ({"x": (2, 4, 3)}, {"x": (2, 4, 3), "position_ids": (2, 4)}):
        assert agree(OPTIONAL, {}, inputs, ints={"position_ids"}) == "agree"
    assert "position_ids: torch.Tensor | None = None" in compile_ok(OPTIONAL)


def test_verify_draws_positions_for_an_integer_input(tmp_path, capsys):
    """`attndsl verify` against the hand-written Llama module: position ids drawn in [0, n)."""
    import inspect

    from attndsl.cli import main

    (tmp_path / "rope.attn").write_text(ROPE, encoding="utf-8")
    (tmp_path / "llama.py").write_text("import math\nimport torch\nfrom torch import nn\n\n\n"
                                       + inspect.getsource(LlamaRotary), encoding="utf-8")
    status = main(["verify", str(tmp_path / "rope.attn"), "--against", f"{tmp_path / 'llama.py'}:LlamaRotary"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "matches" in captured.out and "outputs and 3 gradients" in captured.out
