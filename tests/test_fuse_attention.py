"""Attention fusion (attndsl/passes/fuse_attention.py): which forms become one
`F.scaled_dot_product_attention` call, which stay plain, and that the fused module is
the same function as the spec written out (float64, eval and training mode)."""

from __future__ import annotations

import re
import textwrap

import pytest
import torch

import attndsl

from .optimizing import assert_same_function, build, pair

FUSED = "F.scaled_dot_product_attention("
B, H, N, M, D, E = 2, 3, 5, 6, 8, 4

HEAD = """block A(d: int = 8, scale: float = 0.3, p: float = 0.0, use: bool = false):
    input q: [b, h, n, d]
    input k: [b, h, m, d]
    input v: [b, h, m, e]
    input mask: bool[b, h, n, m]
    input bias: [b, h, n, m]
    input w: [b, h, n, m] = None
    input maybe_mask: bool[b, h, n, m] = None
    layer drop = dropout(p)
"""


def _spec(body: str) -> str:
    return HEAD + "".join(f"    {line}\n" for line in textwrap.dedent(body).strip().splitlines())


def _inputs(seed: int = 0, *, w: bool = False, maybe_mask: bool = False):
    gen = torch.Generator().manual_seed(seed)
    shape = (B, H, N, M)

    def mask():
        masked = torch.rand(shape, generator=gen) < 0.3
        keep = torch.randint(M, shape[:-1], generator=gen)
        return masked.scatter(-1, keep.unsqueeze(-1), False)  # no row is fully masked

    args = [torch.randn(B, H, N, D, generator=gen, dtype=torch.float64),
            torch.randn(B, H, M, D, generator=gen, dtype=torch.float64),
            torch.randn(B, H, M, E, generator=gen, dtype=torch.float64),
            mask(), torch.randn(shape, generator=gen, dtype=torch.float64)]
    kwargs = {}
    if w:
        kwargs["w"] = 0.5 + torch.rand(shape, generator=gen, dtype=torch.float64)
    if maybe_mask:
        kwargs["maybe_mask"] = mask()
    return args, kwargs


def _compile(source: str, **options):
    result = attndsl.compile_source(source, "a.attn", runtime_checks=False, **options)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.code


def _assert_same(source: str, ctor: dict | None = None, **inputs) -> str:
    plain_cls = build(source, "A", optimize=False, path="a.attn", runtime_checks=False)
    fast_cls = build(source, "A", optimize=True, path="a.attn", runtime_checks=False)
    plain, fast = pair(plain_cls, fast_cls, ctor or {}, seed=3)
    args, kwargs = _inputs(**inputs)
    assert_same_function(plain, fast, args, kwargs, seed=3, what=source.splitlines()[-1].strip())
    return _compile(source)


# ----------------------------------------------------------------------------- what fuses

SCALES = [
    "softmax(q @ transpose(k, 2, 3) / sqrt(d), dim=-1) @ v",
    "softmax(q @ transpose(k, 2, 3) * scale, dim=-1) @ v",
    "softmax(q @ transpose(k, 2, 3) * 2 / 5 * scale, dim=3) @ v",
    "softmax((q * scale) @ transpose(k, 2, 3), dim=-1) @ v",
    "softmax((q / 3) @ transpose(k * 0.5, 2, 3), dim=-1) @ v",
    "softmax(q @ transpose(k, 2, 3), dim=-1) @ v",
]


@pytest.mark.parametrize("expression", SCALES)
def test_every_way_of_scaling_fuses_with_the_right_scale(expression):
    # d = 8: SDPA's default scale would be 1/sqrt(8), which only the first form has.
    code = _assert_same(_spec(f"return {expression}"))
    assert FUSED in code, code
    assert ".softmax(" not in code.split("def forward", 1)[1]


def test_a_boolean_mask_becomes_additive_and_an_additive_mask_is_passed_as_is():
    # torch reads True as "allowed" and turns a boolean mask into a float one on CPU. A mask
    # with a row per query goes to the helper, which builds that float mask a block of
    # queries at a time (tests below); it takes the queries as an argument, so queries that
    # are an expression are computed once.
    blocked = _assert_same(_spec("""
        att = masked_fill(q @ transpose(k, 2, 3) * scale, mask, -inf)
        return softmax(att, dim=-1) @ v"""))
    assert _forward_calls(blocked) == ["_attention_by_query_blocks"]
    assert "_attention_by_query_blocks(q, k, v, mask, scale=self.scale)" in " ".join(blocked.split())
    computed = _assert_same(_spec("""
        att = masked_fill(sigmoid(q) @ transpose(k, 2, 3) * scale, mask, -inf)
        return softmax(att, dim=-1) @ v"""))
    assert "_attention_by_query_blocks(q.sigmoid(), k, v, mask" in " ".join(computed.split())
    additive = _assert_same(_spec("return softmax(q @ transpose(k, 2, 3) * scale + bias, dim=-1) @ v"))
    assert "attn_mask=bias" in additive and "_attention_by_query_blocks" not in additive


KEY_PADDING = """block A(scale: float = 0.3):
    input q: [b, h, n, d]
    input k: [b, h, m, d]
    input v: [b, h, m, e]
    input pad: bool[b, 1, 1, m]
    return softmax(masked_fill({queries} @ transpose(k, 2, 3) * scale, pad, -inf), dim=-1) @ v
"""


def test_a_mask_broadcast_over_the_queries_is_made_additive_at_once():
    # One row for all queries: its float mask is small, and one call attends every query.
    code = _compile(KEY_PADDING.format(queries="q"))
    assert 'attn_mask=torch.zeros_like(pad, dtype=q.dtype).masked_fill_(pad, float("-inf"))' in code
    assert "_attention_by_query_blocks" not in code
    # queries that are an expression would be computed again to read their dtype: negated
    computed = _compile(KEY_PADDING.format(queries="sigmoid(q)"))
    assert "attn_mask=~pad" in computed and "zeros_like" not in computed
    for queries in ("q", "sigmoid(q)"):
        source = KEY_PADDING.format(queries=queries)
        plain_cls = build(source, "A", optimize=False, path="a.attn", runtime_checks=False)
        fast_cls = build(source, "A", optimize=True, path="a.attn", runtime_checks=False)
        plain, fast = pair(plain_cls, fast_cls, {}, seed=3)
        gen = torch.Generator().manual_seed(1)
        pad = torch.rand(B, 1, 1, M, generator=gen) < 0.3
        pad[..., 0] = False  # no row fully masked
        args = [torch.randn(B, H, N, D, generator=gen, dtype=torch.float64),
                torch.randn(B, H, M, D, generator=gen, dtype=torch.float64),
                torch.randn(B, H, M, E, generator=gen, dtype=torch.float64), pad]
        assert_same_function(plain, fast, args, {}, seed=3, what=queries)


def _forward_calls(code: str) -> list[str]:
    """The attention calls `forward` makes, in order."""
    forward = code.split("def forward", 1)[1]
    return [name for name in re.findall(r"(_attention_by_query_blocks|F\.scaled_dot_product_attention)\(", forward)]


@pytest.mark.parametrize("n, blocks", [(600, [88, 256]), (1100, [275])])
def test_a_mask_with_a_row_per_query_is_made_additive_a_block_of_queries_at_a_time(n, blocks):
    """600 queries: blocks of 256, 256 and 88; 1100: four of 275 (at most four calls). The
    same function as the plain form (outputs and gradients, eval and training mode), and no
    float mask is ever made for more than one block: the float tensors the forward makes are
    at most a block's mask."""
    from torch.utils._python_dispatch import TorchDispatchMode

    source = _spec("""
        att = masked_fill(q @ transpose(k, 2, 3) * scale, mask, -inf)
        return drop(softmax(att, dim=-1)) @ v""")
    plain_cls = build(source, "A", optimize=False, path="a.attn", runtime_checks=False)
    fast_cls = build(source, "A", optimize=True, path="a.attn", runtime_checks=False)
    plain, fast = pair(plain_cls, fast_cls, {}, seed=3)
    gen = torch.Generator().manual_seed(5)
    mask = torch.rand(B, H, n, M, generator=gen) < 0.4
    mask[..., n // 2:, :] = True  # later queries see only their first key: every block differs
    mask[..., 0] = False
    args = [torch.randn(B, H, n, D, generator=gen, dtype=torch.float64),
            torch.randn(B, H, M, D, generator=gen, dtype=torch.float64),
            torch.randn(B, H, M, E, generator=gen, dtype=torch.float64), mask,
            torch.randn(B, H, n, M, generator=gen, dtype=torch.float64)]
    assert_same_function(plain, fast, args, {}, seed=3, what=f"{n} queries")

    made = []

    class FloatMasks(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            if func.overloadpacket in (torch.ops.aten.zeros_like, torch.ops.aten.masked_fill_):
                made.append(tuple(result.shape))
            return result

    fast.eval()
    with torch.no_grad(), FloatMasks():
        fast(*args)
    assert sorted(set(made)) == [(B, H, rows, M) for rows in blocks], made


def test_an_optional_mask_is_passed_when_given():
    source = _spec("""
        att = q @ transpose(k, 2, 3) * scale
        if maybe_mask:
            att = masked_fill(att, maybe_mask, -inf)
        return softmax(att, dim=-1) @ v""")
    code = _assert_same(source, maybe_mask=True)
    _assert_same(source, maybe_mask=False)
    assert "_attention_by_query_blocks(q, k, v, maybe_mask, scale=self.scale)" in " ".join(code.split())
    assert "if maybe_mask is not None:" not in code  # one call for both cases: the helper takes None


def test_dropout_between_softmax_and_v_is_the_layers_p_in_training_only():
    source = _spec("return drop(softmax(q @ transpose(k, 2, 3) * scale, dim=-1)) @ v")
    code = _assert_same(source)
    assert "dropout_p=self.drop.p if self.drop.training else 0.0" in code
    fast = build(source, "A", optimize=True, path="a.attn", runtime_checks=False)(p=0.9).double()
    args, _ = _inputs()
    with torch.no_grad():
        fast.eval()
        plain = torch.softmax(args[0] @ args[1].transpose(2, 3) * 0.3, dim=-1) @ args[2]
        torch.testing.assert_close(fast(*args), plain, rtol=1e-12, atol=0)  # eval: no dropout
        fast.train()
        fast.drop.p = 1.0  # everything dropped: the output is exactly zero
        assert torch.equal(fast(*args), torch.zeros(B, H, N, E, dtype=torch.float64))
        fast.drop.p = 0.5
        assert not torch.allclose(fast(*args), plain)  # some dropped, the rest scaled by 2


def test_the_fused_call_names_the_spec_lines_it_replaces():
    code = _compile(_spec("""
        att = q @ transpose(k, 2, 3) * scale
        att = softmax(att, dim=-1)
        return att @ v"""))
    line = next(l for l in code.splitlines() if "fused into one scaled_dot_product_attention" in l)
    assert "a.attn:10-12" in line  # the spec's lines 10 to 12: the three statements above


# ----------------------------------------------------------------------------- what does not

PLAIN = {
    "the weights are returned too": """
        att = softmax(q @ transpose(k, 2, 3) * scale, dim=-1)
        return att @ v, att""",
    "a multiplicative weight": "return softmax(q @ transpose(k, 2, 3) * bias, dim=-1) @ v",
    "a transform after the softmax": "return exp(softmax(q @ transpose(k, 2, 3), dim=-1)) @ v",
    "a finite fill value": "return softmax(masked_fill(q @ transpose(k, 2, 3), mask, -1000), dim=-1) @ v",
    "a softmax over another axis": "return softmax(q @ transpose(k, 2, 3), dim=2) @ v",
    "a scale after the mask": "return softmax(masked_fill(q @ transpose(k, 2, 3), mask, -inf) * scale, dim=-1) @ v",
    "two masks": "return softmax(masked_fill(q @ transpose(k, 2, 3), mask, -inf) + bias, dim=-1) @ v",
    "a step after the dropout": "return (drop(softmax(q @ transpose(k, 2, 3), dim=-1)) * 2) @ v",
}


@pytest.mark.parametrize("name", PLAIN)
def test_the_plain_form_stays_when_fusion_would_change_the_function(name):
    code = _assert_same(_spec(PLAIN[name]))
    assert FUSED not in code and "functional" not in code


def test_a_step_under_an_if_specialises_the_block():
    source = _spec("""
        att = q @ transpose(k, 2, 3) * scale
        if w:
            att = att * w
        if use:
            att = att * 2
        return drop(softmax(att, dim=-1)) @ v""")
    code = _compile(source)
    assert FUSED in code and "att * w" in code
    assert "if w is not None or self.use:" in code, code
    for use in (False, True):
        for given in (False, True):
            _assert_same(source, {"use": use}, w=given)


def test_a_fully_masked_row_is_nan_plain_and_zero_fused():
    """The one input where the two forms differ: softmax over only -inf is NaN; SDPA
    gives that query a zero output instead. Masks in tests never mask a whole row."""
    source = _spec("return softmax(masked_fill(q @ transpose(k, 2, 3), mask, -inf), dim=-1) @ v")
    plain = build(source, "A", optimize=False, path="a.attn", runtime_checks=False)().double().eval()
    fast = build(source, "A", optimize=True, path="a.attn", runtime_checks=False)().double().eval()
    args, _ = _inputs()
    args[3][0, 0, 1] = True
    with torch.no_grad():
        assert plain(*args)[0, 0, 1].isnan().all()
        assert torch.equal(fast(*args)[0, 0, 1], torch.zeros(E, dtype=torch.float64))
        torch.testing.assert_close(fast(*args)[0, 0, 2:], plain(*args)[0, 0, 2:], rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- causal masks

CAUSAL = {
    "triu": "masked_fill(att, triu(ones([n, m], like=att), diagonal=1) == 1, -inf)",
    "tril": "masked_fill(att, tril(ones([n, m])) == 0, -inf)",
}


@pytest.mark.parametrize("spelling", sorted(CAUSAL))
def test_a_causal_mask_built_in_the_spec_is_sdpa_is_causal(spelling):
    """n = 5 queries, m = 6 keys: SDPA aligns its causal mask at the top left, as the spec's is."""
    code = _assert_same(_spec(f"""
        att = q @ transpose(k, 2, 3) * scale
        att = {CAUSAL[spelling]}
        return softmax(att, dim=-1) @ v"""))
    forward = code.split("def forward", 1)[1]
    assert "is_causal=True" in forward and "torch.ones(" not in forward and "attn_mask" not in forward


@pytest.mark.parametrize("use", [False, True])
def test_a_causal_mask_under_an_if_is_causal_where_the_condition_holds(use):
    code = _assert_same(_spec(f"""
        att = q @ transpose(k, 2, 3) * scale
        if use:
            att = {CAUSAL["triu"]}
        return softmax(att, dim=-1) @ v"""), {"use": use})
    assert "is_causal=bool(self.use)" in code and code.count(FUSED) == 1


def test_a_causal_mask_fuses_when_its_number_is_read_elsewhere_too():
    """The `1` of `triu(...) == 1` is one node for every `1` in the spec (`elu(v) + 1` here):
    its other readers do not keep the mask alive, so the attention still fuses."""
    code = _assert_same(_spec("""
        att = q @ transpose(k, 2, 3) * scale
        att = masked_fill(att, triu(ones([n, m]), diagonal=1) == 1, -inf)
        return softmax(att, dim=-1) @ (elu(v) + 1)"""))
    assert "is_causal=True" in code and code.count(FUSED) == 1


def test_attention_inside_a_loop_fuses_and_keeps_its_comment():
    """Infini-attention attends segment by segment in a `for` loop: the call in the loop's
    `append` is fused, and the comment naming the spec lines stays with it."""
    code = _assert_same(_spec("""
        outs = []
        for qs, ks, vs in zip(stack([q, 2 * q], dim=0), stack([k, k], dim=0), stack([v, v], dim=0)):
            outs.append(softmax(qs @ transpose(ks, 2, 3) * scale, dim=-1) @ vs)
        return stack(outs, dim=0)"""))
    loop = code.split("for qs, ks, vs in zip(", 1)[1]
    assert code.count(FUSED) == 1 and "outs.append(" in loop and "fused into one scaled_dot_product_attention" in loop


def test_a_fused_call_written_inside_another_expression_keeps_its_comment():
    """The spec names something `attended` already: the fused call is written inline in the
    return, and the comment naming the lines it replaces comes before that line."""
    code = _assert_same(_spec("""
        attended = v * 2
        return rearrange(softmax(q @ transpose(k, 2, 3) * scale, dim=-1) @ attended, "b h n e -> b n (h e)")"""))
    forward = code.split("def forward", 1)[1]
    assert code.count(FUSED) == 1 and "attended_2" not in forward
    comment = forward.index("fused into one scaled_dot_product_attention")
    assert comment < forward.index("return ") and forward.index("attended = ") < comment


def test_another_triangle_is_a_mask_not_causal():
    """A band that keeps the next key too (`diagonal=2`) is not what is_causal masks: an ordinary mask."""
    code = _assert_same(_spec("""
        att = q @ transpose(k, 2, 3) * scale
        att = masked_fill(att, triu(ones([n, m]), diagonal=2) == 1, -inf)
        return softmax(att, dim=-1) @ v"""))
    assert "is_causal" not in code and "attn_mask=" in code


@pytest.mark.parametrize("mask", ["bias", 'rearrange(bias[:, 0], "b n m -> b 1 n m")'])
def test_an_additive_mask_expanded_to_the_logits_is_passed_as_is(mask):
    """timm's `attn + expand_as(mask, attn)` (trial 6): SDPA broadcasts the mask itself,
    here over the heads too; the expand_as is left out, and the logits are not kept for it."""
    code = _assert_same(_spec(f"""
        att = q @ transpose(k, 2, 3) * scale
        return softmax(att + expand_as({mask}, att), dim=-1) @ v"""))
    forward = code.split("def forward", 1)[1]
    assert FUSED in forward and "expand_as" not in forward and ".softmax(" not in forward


def test_a_mask_that_widens_the_batch_keeps_the_plain_form():
    """Trial 7: x [1, 5, 8] with a mask [2, 1, 5, 5] gives [2, 5, 8] (torch broadcasts the
    sum); SDPA's attn_mask must broadcast to the queries' batch, so it would raise."""
    source = """block MaskBroadcast(d: int = 8, h: int = 2):
    input x: [b, n, d]
    input mask: [bm, 1, n, n]
    q = rearrange(x, "b n (h e) -> b h n e", h=h)
    att = softmax(q @ transpose(q, -1, -2) / sqrt(d // h) + mask, dim=-1)
    return rearrange(att @ q, "b h n e -> b n (h e)")
"""
    code = _compile(source)
    assert FUSED not in code
    x = torch.randn(1, 5, 8, dtype=torch.float64)
    mask = torch.randn(2, 1, 5, 5, dtype=torch.float64)
    plain = build(source, "MaskBroadcast", optimize=False, path="a.attn")().double()
    fast = build(source, "MaskBroadcast", optimize=True, path="a.attn")().double()
    assert fast(x, mask).shape == (2, 5, 8)
    assert torch.allclose(fast(x, mask), plain(x, mask))


TEMPERATURE = """block A(d: int = 8, heads: int = 3):
    input q: [b, heads, n, d]
    input k: [b, heads, m, d]
    input v: [b, heads, m, e]
    input mask: bool[b, heads, n, m]
    input bias: [b, heads, n, m]
    param temperature: [heads, 1, 1] = ones
    {body}
"""


@pytest.mark.parametrize("expression, scaled", [
    ("softmax(q @ transpose(k, 2, 3) * temperature, dim=-1) @ v", "q * self.temperature"),
    ("softmax(temperature * (q @ transpose(k, 2, 3)) / sqrt(d), dim=-1) @ v", "q * self.temperature"),
    ("softmax(q @ transpose(k, 2, 3) / temperature, dim=-1) @ v", "q / self.temperature"),
    ("softmax(masked_fill(q @ transpose(k, 2, 3) * temperature, mask, -inf), dim=-1) @ v", "q * self.temperature"),
])
def test_a_per_head_temperature_scales_the_queries(expression, scaled):
    """XCiT's and Restormer's `attn * temperature`, temperature [heads, 1, 1]: one number per
    head's logits, which scales that head's queries as well (the gradient of the temperature
    included: randomised, it is compared too)."""
    code = _assert_same(TEMPERATURE.format(body=f"return {expression}"))
    assert _forward_calls(code) and scaled in code, code
    comment = next(line for line in code.splitlines() if "fused into" in line)
    assert "temperature" in comment, comment


def test_a_temperature_after_the_mask_or_over_the_keys_keeps_the_plain_form():
    after_mask = TEMPERATURE.format(
        body="return softmax(masked_fill(q @ transpose(k, 2, 3), mask, -inf) * temperature, dim=-1) @ v")
    assert FUSED not in _compile(after_mask)  # a negative temperature would turn -inf into +inf
    per_key = TEMPERATURE.format(body="return softmax(q @ transpose(k, 2, 3) * bias[:, :, :1, :], dim=-1) @ v")
    assert FUSED not in _assert_same(per_key)  # one number per key: no scaling of the queries


def test_a_view_of_an_optional_mask_fuses_under_its_presence():
    """The key padding mask idiom, `masked_fill(att, m[:, None, None, :], -inf)` under
    `if m:` (trial 8): the view is made where the mask is given, and the fused call takes
    `None` where it is not; it kept the plain form and a second, fused copy."""
    source = _spec("""
        att = q @ transpose(k, 2, 3) * scale
        if maybe_mask:
            att = masked_fill(att, maybe_mask[:, :1, :1, :], -inf)
        return softmax(att, dim=-1) @ v""")
    for given in (False, True):
        code = _assert_same(source, maybe_mask=given)
    assert code.count(FUSED) == 1 and ".softmax(" not in code.split("def forward", 1)[1], code
    assert "attn_mask = maybe_mask[:, :1, :1, :]" in code
    assert "attn_mask=None if maybe_mask is None else" in " ".join(code.split())


def test_attention_by_query_blocks_compiles_exports_and_runs_in_onnxruntime():
    """The blocked path (300 queries: two calls) under torch.compile(fullgraph=True),
    torch.export and ONNX, as every generated module's path is (tests/test_runtime.py and
    test_tool_export.py run the examples, whose queries fit one block)."""
    import logging

    from .tool_support import generated_class

    from .mechanisms import REPO_ROOT

    module = generated_class(REPO_ROOT / "specs" / "sdpa.attn", "ScaledDotProductAttention")(
        d_model=16, d_k=4, d_v=4, h=2).eval()
    gen = torch.Generator().manual_seed(0)
    queries, keys = torch.randn(1, 300, 16, generator=gen), torch.randn(1, 7, 16, generator=gen)
    mask = torch.rand(1, 2, 300, 7, generator=gen) < 0.3
    mask[..., 0] = False
    args, kwargs = (queries, keys, keys), {"attention_mask": mask}
    assert "_attention_by_query_blocks" in module.forward.__globals__
    with torch.no_grad():
        want = module(*args, **kwargs)
        compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
        torch.testing.assert_close(compiled(*args, **kwargs), want)
        program = torch.export.export(module, args, kwargs)
        torch.testing.assert_close(program.module()(*args, **kwargs), want)
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    exported = torch.onnx.export(module, args, kwargs=kwargs, dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(exported.model_proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    got = session.run(None, dict(zip(names, [queries.numpy(), keys.numpy(), keys.numpy(), mask.numpy()])))[0]
    torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-4, atol=1e-5)
