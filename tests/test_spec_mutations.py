"""The comparison against the references catches changes to a spec's math.

Each mutation below is a plausible slip (a softmax over the wrong axis, a dropped bias,
the published typo of ShuffleAttention, ...). The mutated spec still compiles, and the
equivalence protocol of tests/harness.py must reject it for at least one case of the
mechanism. A harness that passed these would prove nothing about the real specs.
"""

from __future__ import annotations

import itertools
import sys
import types

import pytest

import attndsl
from tests.harness import check_all
from tests.mechanisms import CASES, SPECS_DIR

MUTATIONS = [
    ("sdpa", "softmax(att, dim=-1)", "softmax(att, dim=-2)", "softmax over the queries"),
    ("sdpa", "/ sqrt(d_k)", "/ sqrt(d_v)", "wrong temperature"),
    ("sdpa", "att = att * attention_weights", "att = att + attention_weights", "weights added, not multiplied"),
    ("sge", "std(t, dim=1, keepdim=true)", "std(t, dim=1, keepdim=true, unbiased=false)", "biased std"),
    ("sge", "+ 1e-5", "+ 1e-3", "another epsilon"),
    ("se", "linear(channel, channel // reduction, bias=false)", "linear(channel, channel // reduction)",
     "a bias the published module does not have"),
    ("cbam", "max(x, dim=1, keepdim=true)", "min(x, dim=1, keepdim=true)", "min instead of max pooling"),
    ("cbam", "return out + x", "return out", "residual dropped"),
    ("cbam", "cat([max(x, dim=1, keepdim=true), mean(x, dim=1, keepdim=true)], dim=1)",
     "cat([mean(x, dim=1, keepdim=true), max(x, dim=1, keepdim=true)], dim=1)", "descriptor order swapped"),
    ("double_attention", "attention_vectors = softmax(rearrange(convV(x), \"b c h w -> b c (h w)\"), dim=1)",
     "attention_vectors = softmax(rearrange(convV(x), \"b c h w -> b c (h w)\"), dim=-1)", "softmax axis"),
    ("external_attention", "softmax(mk(queries), dim=1)", "softmax(mk(queries), dim=2)", "softmax over slots"),
    ("aft_full", "return sigmoid(q) * numerator / denominator", "return sigmoid(k) * numerator / denominator",
     "gate from the keys"),
    ("aft_full", "w = exp(position_biases - max(position_biases, dim=1, keepdim=true))",
     "w = exp(position_biases - max(position_biases, dim=0, keepdim=true))", "normalising the wrong axis"),
    ("sk", "return sum(weights * feats, dim=0)", "return mean(weights * feats, dim=0)", "mean of branches"),
    ("sk", "padding=k // 2, groups=group", "padding=k // 2, groups=group, dilation=1, bias=false",
     "conv bias dropped"),
    ("shuffle_attention", "cweight * avg_pool(x_0) + cbias", "cweight * avg_pool(x_0) + cweight",
     "the typo of one published copy"),
    ("shuffle_attention", "return shuffle(out, 2)", "return out", "no channel shuffle"),
    ("emsa", "att = softmax(att, dim=-1)", "att = softmax(att, dim=-2)", "softmax axis"),
    ("emsa", "padding=ratio // 2", "padding=ratio // 2 + 1", "another padding"),
    ("efficient_attention", "(h w)\", n=head_count), dim=3)", "(h w)\", n=head_count), dim=2)",
     "key softmax over channels"),
    ("efficient_attention", "return reprojection(attended) + input_", "return reprojection(attended)",
     "residual dropped"),
    ("mha", "not expand_as(mask, scores)", "expand_as(mask, scores)", "ScaledDotProductAttention's mask polarity"),
    ("cbam_res", "cat([mean(x, dim=1, keepdim=true), max(x, dim=1, keepdim=true)], dim=1)",
     "cat([max(x, dim=1, keepdim=true), mean(x, dim=1, keepdim=true)], dim=1)", "the upstream [max, mean] order"),
    ("triplet_attention", "momentum=0.01", "momentum=0.1", "torch's default BatchNorm momentum"),
    ("coord_attention", "a_w = sigmoid(conv_w(", "a_w = sigmoid(conv_h(", "one conv for both directions"),
    ("aft_variants", "arange(max_seqlen), 0)) < s", "arange(max_seqlen), 0)) <= s", "a band one wider"),
    ("muse", "mix = softmax(dy_paras, dim=-1)", "mix = dy_paras", "mixing weights not softmaxed"),
    ("outlook", "\"b (g d kk) n -> b g n kk d\"", "\"b (g kk d) n -> b g n kk d\"",
     "the unfolded values split in the wrong order"),
    ("outlook_volo", "given_scale != 0", "given_scale == 0", "qk_scale ignored"),
    ("s2_attention", "down = cat([x1[:, :1], x1[:, :h - 1]], dim=1)", "down = cat([x1[:, 1:], x1[:, h - 1:]], dim=1)",
     "a quarter shifted the wrong way"),
    ("ufo_attention", "kv * gamma / norm(kv, dim=-1, keepdim=true)", "kv * gamma / norm(kv, dim=-2, keepdim=true)",
     "XNorm over the wrong axis"),
    ("vip", "w_embed * weight[1] + h_embed * weight[2]", "h_embed * weight[1] + w_embed * weight[2]",
     "branch weights paired (channel, height, width), not as published"),
    ("halo", "transpose(real[0], 0, 1)[:, None, None, :] == 0", "transpose(real[0], 0, 1)[:, None, None, :] == 1",
     "the published mask polarity (real pixels masked)"),
]

_counter = itertools.count()


def _load(source: str, stem: str) -> types.ModuleType:
    result = attndsl.compile_source(source, f"{stem}.attn")
    assert result.ok, f"the mutated spec should still compile: {result.diagnostics}"
    module = types.ModuleType(f"_mutant_{stem}_{next(_counter)}")
    sys.modules[module.__name__] = module
    exec(compile(result.code, module.__name__, "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("stem,old,new,what", MUTATIONS, ids=[f"{m[0]}: {m[3]}" for m in MUTATIONS])
def test_mutated_spec_is_rejected(stem, old, new, what):
    source = (SPECS_DIR / f"{stem}.attn").read_text(encoding="utf-8")
    assert old in source, f"the mutation no longer applies to specs/{stem}.attn"
    module = _load(source.replace(old, new, 1), stem)
    cases = [case for case in CASES if case.stem == stem]
    caught = []
    for case in cases:
        try:
            check_all(case, getattr(module, case.class_name))
        except (AssertionError, RuntimeError) as error:
            caught.append(f"{case.id}: {str(error).splitlines()[0]}")
            break
    assert caught, f"no case of {stem} noticed: {what}"
