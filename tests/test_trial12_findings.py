"""What trial 12 found: an adversarial probe of the optimising passes (attention fusion into
`F.scaled_dot_product_attention`), each case pinned here as optimised = plain = the math.

One computed wrong values: a scale divisor of several terms, `/ (c - 1)`, became `scale=1 //
(c - 1)` (0 for c = 3). The rest raised where the plain module ran: an additive "mask" that
is the logits themselves (`att * scale + att`, under a specialised `if`: UnboundLocalError),
a mask widening a single key to m (RuntimeError), a float argument dividing by 0
(ZeroDivisionError where the plain form gives NaN), a mask of rank 1 (IndexError), an
integer bias (SDPA refuses it), and a causal flag given as 1 or tensor(True) (TypeError).
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch

import attndsl

from .language_support import agree, rand

QKV = "    input q: [b, h, n, d]\n    input k: [b, h, m, d]\n    input v: [b, h, m, e]\n"


def _module(source: str, optimize: bool, **args):
    result = attndsl.compile_source(source, "lang.attn", optimize=optimize)
    assert result.ok, [d.message for d in result.diagnostics]
    namespace = types.ModuleType("m")
    exec(result.code, namespace.__dict__)
    return namespace.A(**args).double().eval(), result.code


def _same(source: str, args: dict, inputs: dict) -> str:
    """Optimised and plain modules give the same values (NaN where one does); the fused code."""
    optimised, code = _module(source, True, **args)
    plain, _ = _module(source, False, **args)
    with torch.no_grad():
        torch.testing.assert_close(optimised(**inputs), plain(**inputs), equal_nan=True)
    return code


Q, K, V = rand(1, 2, 3, 4, seed=1), rand(1, 2, 5, 4, seed=2), rand(1, 2, 5, 2, seed=3)


@pytest.mark.parametrize("scaled", ["q @ transpose(k, 2, 3) / (c - 1)", "(q / (c - 1)) @ transpose(k, 2, 3)",
                                    "q @ transpose(k, 2, 3) / (c - 1) / 2", "q @ transpose(k, 2, 3) / (c * c - 1)"])
def test_a_scale_divisor_of_several_terms_is_a_true_division(scaled):
    source = f"block A(c: int = 3):\n{QKV}    return softmax({scaled}, dim=-1) @ v\n"
    code = _same(source, {"c": 3}, dict(q=Q, k=K, v=V))
    assert "F.scaled_dot_product_attention" in code and "1 // " not in code
    want = torch.softmax(Q @ K.transpose(2, 3) / 2, dim=-1) @ V
    if "/ 2" not in scaled and "c * c" not in scaled:
        torch.testing.assert_close(_module(source, True, c=3)[0](q=Q, k=K, v=V), want)
    assert agree(source, {"c": 3}, {"q": (1, 2, 3, 4), "k": (1, 2, 5, 4), "v": (1, 2, 5, 2)}) == "agree"


def test_a_float_divisor_that_may_be_zero_stays_plain():
    source = f"block A(t: float = 1.0):\n{QKV}    return softmax(q @ transpose(k, 2, 3) / t, dim=-1) @ v\n"
    code = _same(source, {"t": 0.0}, dict(q=Q, k=K, v=V))  # NaN in both, not a ZeroDivisionError
    assert "F.scaled_dot_product_attention" not in code


def test_the_logits_are_no_mask_of_their_own():
    source = f"""\
block A(scale: float = 0.5, use: bool = false):
{QKV}    att = q @ transpose(k, 2, 3)
    att = att * scale + att
    if use:
        att = exp(att)
    return softmax(att, dim=-1) @ v
"""
    for use in (False, True):
        _same(source, {"use": use}, dict(q=Q, k=K, v=V))


@pytest.mark.parametrize("spec, inputs", [
    # a mask of m keys over the logits of one key: `@ v` takes m
    ("    input q: [b, h, n, d]\n    input k: [b, h, 1, d]\n    input v: [b, h, m, e]\n    input bias: [b, h, n, m]\n"
     "    return softmax(q @ transpose(k, 2, 3) * scale + bias, dim=-1) @ v\n",
     dict(q=Q, k=rand(1, 2, 1, 4), v=V, bias=rand(1, 2, 3, 5))),
    # a boolean mask of rank 1
    (QKV + "    input pad: bool[m]\n    return softmax(masked_fill(q @ transpose(k, 2, 3) * scale, pad, -inf), "
     "dim=-1) @ v\n", dict(q=Q, k=K, v=V, pad=torch.tensor([False, True, False, False, True]))),
    # an integer bias (relative distances), which the plain form promotes
    (QKV + "    return softmax(q @ transpose(k, 2, 3) * scale + (arange(m) - unsqueeze(arange(n), 1)), dim=-1) @ v\n",
     dict(q=Q, k=K, v=V)),
])
def test_masks_sdpa_would_refuse_stay_plain(spec, inputs):
    source = f"block A(scale: float = 0.5):\n{spec}"
    code = _same(source, {}, inputs)
    assert "F.scaled_dot_product_attention" not in code


def test_a_causal_flag_given_as_a_number_or_a_tensor_is_read_as_if_reads_it():
    source = f"""\
block A(causal: bool = false):
{QKV}    input is_causal: bool = false
    att = q @ transpose(k, 2, 3)
    if is_causal:
        att = masked_fill(att, triu(ones([n, m]), diagonal=1) == 1, -inf)
    if causal:
        att = masked_fill(att, triu(ones([n, m]), diagonal=1) == 1, -inf)
    return softmax(att, dim=-1) @ v
"""
    code = _same(source, {"causal": 1}, dict(q=Q, k=K, v=V))
    assert "is_causal=bool(" in code
    for flag in (1, 0, torch.tensor(True)):
        _same(source, {}, dict(q=Q, k=K, v=V, is_causal=flag))


def test_a_mask_over_keys_v_shares_still_fuses_and_a_widening_one_is_refused():
    """EMSA: `v` has the keys' count of `k`, so a mask of m keys over nk = 1 fails at `@ v` in
    both forms (the checker's check, before either runs), and the optional mask still fuses."""
    from .differential import Case, compile_both, run_case

    root = Path(__file__).resolve().parent.parent
    source = (root / "specs" / "emsa.attn").read_text(encoding="utf-8")
    assert "_attention_by_query_blocks(" in (root / "generated" / "emsa.py").read_text(encoding="utf-8")
    compiled = compile_both(source, path="emsa.attn")
    args = dict(d_model=8, d_k=4, d_v=4, h=2, H=2, W=2, ratio=1, apply_transform=False)
    shapes = {"queries": [1, 4, 8], "keys": [1, 1, 8], "values": [1, 1, 8], "attention_mask": [1, 2, 4, 3]}
    assert run_case(compiled, Case(args, shapes, frozenset({"attention_mask"}), seed=1)).startswith("both refused")
