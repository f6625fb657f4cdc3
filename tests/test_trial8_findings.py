"""What porting trial 8 (CaiT's class attention, talking heads, multi-query and Swin-V2
cosine attention; CCNet, GCNet, scSE, Attention U-Net's gate, PVT, axial attention;
FocalNet, gMLP, BoTNet, attention-augmented convs, PoolFormer, effective SE; T5, DeBERTa,
Transformer-XL, sliding-window and latent attention; LeViT, EfficientFormer-V2, CSWin,
Twins, neighbourhood attention) found, each fixed and kept here: the failing spec, reduced."""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, compile_ok, first_error, generated, rand


@pytest.mark.parametrize("tracked", [True, False])
def test_batch_norm_without_running_statistics_needs_two_values_in_eval_too(device, tracked):
    """`track_running_stats=false` normalises by the batch's statistics in eval mode as well:
    the module checked one value per channel in training only, and torch refused it in eval."""
    source = """\
block B(c: int = 4, tracked: bool = true):
    input x: [b, c, h, w]
    example(c=4, x=[2, 4, 3, 3])
    layer bn = batch_norm2d(c, track_running_stats=tracked)
    return bn(x)
"""
    assert "if (self.training or not self.tracked) and b * h * w == 1:" in compile_ok(source)
    module = generated(source)(tracked=tracked).to(device).eval()
    one = torch.randn(1, 4, 1, 1, device=device)
    if tracked:
        assert module(one).shape == (1, 4, 1, 1)
    else:
        with pytest.raises(ValueError, match="more than one value per channel"):
            module(one)
    module.train()
    with pytest.raises(ValueError, match="more than one value per channel"):
        module(one)
    assert agree(source, {"tracked": tracked}, {"x": (2, 4, 1, 1)}) == "agree"


def test_batch_norm_that_never_keeps_statistics_checks_in_any_mode():
    source = """\
block B(c: int = 4):
    input x: [b, c]
    example(c=4, x=[2, 4])
    layer bn = batch_norm1d(c, track_running_stats=false)
    return bn(x)
"""
    assert "if b == 1:" in compile_ok(source)
    with pytest.raises(ValueError, match="more than one value per channel"):
        generated(source)().eval()(torch.randn(1, 4))


def test_a_module_with_a_gather_index_builds_on_the_meta_device():
    """Deferred initialisation (`device="meta"`, or `with torch.device("meta"):`): the check
    of the index's values read them (`.any()` of a meta tensor), and `__init__` failed."""
    source = """\
block RelBias(n: int = 4, device: device = None, dtype: dtype = None):
    input x: [b, n, n]
    param table: [2 * n - 1] = zeros
    buffer idx = arange(n)[None, :] - arange(n)[:, None] + n - 1
    return x + table[idx]
"""
    cls = generated(source)
    assert cls(4, device="meta").table.is_meta
    with torch.device("meta"):
        assert cls(4).idx.is_meta
    # on a real device the values are still checked
    wrong = source.replace("+ n - 1", "+ n")
    with pytest.raises(ValueError, match="must lie in"):
        generated(wrong)(4)


@pytest.mark.parametrize("use, column", [
    ("return x + zeros([k, 1, 1])", 23),
    ("return x * (k * 2)", 17),
])
def test_a_size_of_an_optional_input_is_refused_where_the_input_may_be_absent(use, column):
    """The module bound `k = m.shape[0]` under `if m is not None:` and read it after: an
    UnboundLocalError for a call without `m`, from a spec the checker accepted."""
    source = f"""\
block M():
    input x: [b, n]
    input m: [k, n] = None
    example(x=[2, 3])
    {use}
"""
    code, line, col, message = first_error(source)
    assert (code, line, col) == ("E0113", 5, column)
    assert "`k` is a size of the optional input `m`, which may be absent here" in message


def test_a_size_of_an_optional_input_is_usable_where_the_input_is_given():
    source = """\
block M():
    input x: [b, n]
    input m: [k, n] = None
    example(x=[2, 3])
    example(x=[2, 3], m=[4, 3])
    if m:
        return x[:, None, :] + zeros([k, 1], like=x)
    return x[:, None, :]
"""
    module = generated(source)()
    assert module(torch.randn(2, 3)).shape == (2, 1, 3)
    assert module(torch.randn(2, 3), torch.randn(4, 3)).shape == (2, 4, 3)


def test_forward_checks_the_list_the_module_was_built_with_not_the_callers():
    """`self.ws = ws` kept the caller's list: changed after the module was built (a window
    list reused in a model-building loop), forward refused right inputs and let torch fail
    on wrong ones."""
    source = """\
block ListAlias(ws: list[int]):
    input x: [b, n]
    example(ws=[3], x=[2, 3])
    require n == ws[0], "n must be ws[0]"
    let w = ws[0]
    param p: [w] = zeros
    return x + p
"""
    assert "self.ws = tuple(ws)" in compile_ok(source)
    ws = [3]
    module = generated(source)(ws)
    ws[0] = 5
    assert module(torch.randn(2, 3)).shape == (2, 3)
    with pytest.raises(ValueError, match="n must be ws"):
        module(torch.randn(2, 5))


def test_a_number_before_a_loop_that_carries_a_tensor_is_named_as_the_problem():
    """FocalNet's `ctx_all = 0`, then `ctx_all = ctx_all + ...` in the loop: the message said
    the loop "assigns no value it had before"."""
    source = """\
block Acc(d: int = 4, n: int = 2):
    input x: [b, d]
    layer fcs = [linear(d, d) for i in range(n)]
    acc = 0
    for fc in fcs:
        acc = acc + fc(x)
    return acc
"""
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0113", 4)
    assert "`acc` is a number before the loop, and a loop carries tensors" in message
    fixed = source.replace("acc = 0", "acc = zeros([b, d], like=x)")
    assert agree(fixed, {"d": 4, "n": 2}, {"x": (3, 4)}) == "agree"


@pytest.mark.parametrize("stride, refused", [(1, False), (2, False), (3, True)])
def test_a_number_in_a_list_of_numbers(stride, refused):
    """AugmentedConv's `assert stride in [1, 2]` (was "`in` tests strings")."""
    source = """\
block A(c: int, stride: int = 1):
    input x: [b, c, h, w]
    example(c=4, x=[2, 4, 6, 6])
    require stride in [1, 2], "stride must be 1 or 2"
    require c not in [3, 5]
    layer conv = conv2d(c, c, 3, stride=stride, padding=1)
    return conv(x)
"""
    code = compile_ok(source)
    assert "if stride not in [1, 2]:" in code and "if c in [3, 5]:" in code
    cls = generated(source)
    if refused:
        with pytest.raises(ValueError, match="stride must be 1 or 2"):
            cls(4, stride)
    else:
        assert cls(4, stride)(torch.randn(2, 4, 6, 6)).shape == (2, 4, 6 // stride, 6 // stride)
    with pytest.raises(ValueError, match=r"`c not in \[3, 5\]` must hold"):
        cls(3, 1)
    expected = "both refused (init)" if refused else "agree"
    assert agree(source, {"c": 4, "stride": stride}, {"x": (2, 4, 6, 6)}) == expected


@pytest.mark.parametrize("w", [1, 2, 3])
def test_arange_counts_from_a_start_as_python_range_does(w):
    """Swin's `arange(-(w - 1), w)` read `w` as a tensor to take the device of ("arange()
    takes a tensor, and this is a number")."""
    source = """\
block A(w: int = 3):
    input x: [b, m]
    example(x=[2, 5])
    buffer t = float(arange(-(w - 1), w))
    return x + t
"""
    assert "torch.arange(1 - w, w)" in compile_ok(source)
    module = generated(source)(w)
    assert module.t.tolist() == [float(i) for i in range(-(w - 1), w)]
    assert agree(source, {"w": w}, {"x": (2, 2 * w - 1)}) == "agree"
    backwards = source.replace("arange(-(w - 1), w)", "arange(w, 1)")
    code, line, _, message = first_error(backwards.replace("example(x=[2, 5])", "example(w=3, x=[2, 5])"))
    assert code == "E0207" and "`end` must be at least `start`" in message


def test_a_buffer_nothing_reads_is_warned_of_as_a_layer_is():
    result = __import__("attndsl").compile_source("""\
block U():
    input x: [b, c, h, w]
    buffer m = eye(3) == 1
    return x
""", "u.attn")
    assert [(d.code, d.span.line, d.message) for d in result.diagnostics] == \
        [("W0004", 3, "buffer `m` is never used")]


@pytest.mark.parametrize("stem, suggested", [("meta-gather", "meta_gather"), ("2d_attn", "_2d_attn"),
                                             ("class", "class_")])
def test_a_module_python_cannot_import_by_name_is_pointed_out(tmp_path, capsys, stem, suggested):
    from attndsl.cli import main

    spec = tmp_path / f"{stem}.attn"
    spec.write_text("block B(d: int = 4):\n    input x: [b, d]\n    return x * 2\n")
    assert main(["compile", str(spec), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / f"{stem}.py").exists()  # written all the same
    assert f"name the spec {suggested}.attn to `import {suggested}`" in capsys.readouterr().err


@pytest.mark.parametrize("use", ["layer conv = conv2d(c, c, s, stride=s)\n    return conv(x)",
                                 "return interpolate(x, size=s)"])
def test_a_list_argument_given_as_sizes_says_to_write_its_items(use):
    """Attention U-Net's `sub_sample_factor`: "`kernel_size` must be an integer or a list of
    them" for a list of integers."""
    source = f"""\
block K(c: int = 4, s: list[int] = [2, 2]):
    input x: [b, c, h, w]
    {use}
"""
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0113", 3)
    assert "`s` is a list[int] argument" in message
    fixed = source.replace("s, stride=s", "(s[0], s[1]), stride=(s[0], s[1])").replace("size=s", "size=(s[0], s[1])")
    assert compile_ok(fixed)


INNER_PARAM = """\
block Inner(d: int = 4):
    input x: [b, d]
    param weight: [d, d] = ones
    layer fc = linear(d, d)
    return fc(x) @ weight

block Outer(d: int = 4):
    input x: [b, d]
    layer proj = Inner(d)
    init proj.{target} = {init}
    return proj(x)
"""


def test_a_callers_init_reaches_a_blocks_own_param():
    """gMLP's spatial projection, a block with its own `weight`: `init proj.weight` was
    E0120 ("`proj` is a block: initialise its layers")."""
    source = INNER_PARAM.format(target="weight", init="constant(0.5)")
    assert "nn.init.constant_(self.proj.weight, 0.5)" in compile_ok(source)
    module = generated(source)(4)
    assert torch.equal(module.proj.weight, torch.full((4, 4), 0.5))
    assert agree(source, {"d": 4}, {"x": (2, 4)}) == "agree"
    rank = INNER_PARAM.format(target="weight", init="eye()")
    assert compile_ok(rank)  # a matrix: eye() fits
    code, line, _, message = first_error(INNER_PARAM.format(target="wieght", init="zeros()"))
    assert (code, line) == ("E0120", 10) and "has no param `wieght`" in message


def test_a_blocks_layer_is_still_reached_through_it():
    source = INNER_PARAM.format(target="fc.weight", init="zeros()")
    assert "nn.init.zeros_(self.proj.fc.weight)" in compile_ok(source)


def test_group_norms_one_value_check_reads_the_sizes_by_their_names():
    """PoolFormer: the check was a 13-term polynomial of b, h, w, dim and k, and its message
    showed no value (it reads more than four)."""
    source = """\
block Gn(dim: int = 4, k: int = 3):
    input x: [b, dim, h, w]
    layer pool = avg_pool2d(k, stride=1, padding=k // 2)
    layer norm = group_norm(1, dim)
    return norm(pool(x))
"""
    code = compile_ok(source)
    assert "if b * self.dim * h_out * w_out == 1:" in code
    module = generated(source)(4, 3)
    with pytest.raises(ValueError, match=r"with b = 1, dim = 1, h' = 1, w' = 1"):
        generated(source)(1, 3)(torch.randn(1, 1, 1, 1))
    assert module(torch.randn(1, 4, 1, 1)).shape == (1, 4, 1, 1)


def test_a_check_needed_under_several_ifs_that_may_hold_together_is_asked_once():
    """GCNet's ContextBlock: `if inplanes < 1:` three times, once under each `if` that builds
    a conv of `inplanes` channels."""
    source = """\
block Q(c: int, mode: str = "a", types: list[str] = ["x"]):
    input x: [b, c, h, w]
    require mode in ["a", "b"]
    if mode == "a":
        layer p = conv2d(c, 1, 1)
    if "x" in types:
        layer q = conv2d(c, 1, 1)
    if "y" in types:
        layer r = conv2d(c, 1, 1)
    return x
"""
    code = compile_ok(source)
    assert code.count("if c < 1:") == 1
    assert 'if mode == "a" or "x" in types or "y" in types:' in code
    cls = generated(source)
    for mode, types, refused in (("a", [], True), ("b", ["y"], True), ("b", [], False)):
        if refused:
            with pytest.raises(ValueError, match="`c` must be at least 1"):
                cls(0, mode, types)
        else:
            cls(0, mode, types)


CLASS_ATTN = """\
block ClassAttn(dim: int = 8, num_heads: int = 2):
    input x: [b, n, dim]
    example(x=[2, 5, 8])
    layer q = linear(dim, dim)
    layer k = linear(dim, dim)
    layer v = linear(dim, dim)
    layer proj = linear(dim, dim)
    q = rearrange(q(x[:, :1]), "b n (h d) -> b h n d", h=num_heads)
    k = rearrange(k(x), "b n (h d) -> b h n d", h=num_heads)
    v = rearrange(v(x), "b n (h d) -> b h n d", h=num_heads)
    attn = softmax(q @ transpose(k, -2, -1) / sqrt(dim // num_heads), dim=-1)
    return proj(rearrange(attn @ v, "b h n d -> b n (h d)"))
"""


def test_a_value_may_take_the_name_of_the_layer_that_computes_it():
    """timm's ClassAttn: layers `q`, `k`, `v` (the state_dict's names) and `q = self.q(...)`
    in forward; a spec had to rename its values (E0103)."""
    code = compile_ok(CLASS_ATTN)
    assert "self.q(x[:, :1])" in code and "q = " in code
    module = generated(CLASS_ATTN)()
    assert {"q.weight", "k.weight", "v.weight", "proj.weight"} <= set(module.state_dict())
    assert agree(CLASS_ATTN, {}, {"x": (2, 5, 8)}) == "agree"


def test_the_layer_a_value_took_the_name_of_is_pointed_at_when_called_again():
    source = CLASS_ATTN.replace("return proj(", "return q(proj(")[:-1] + ")\n"
    code, line, _, message = first_error(source)
    assert (code, line) == ("E0113", 12) and "`q` is a value here" in message
    inside_if = """\
block B(dim: int = 4, flag: bool = false):
    input x: [b, dim]
    layer q = linear(dim, dim)
    if flag:
        q = q(x)
    return x
"""
    code, line, _, message = first_error(inside_if)
    assert (code, line) == ("E0103", 5) and "already names a layer" in message


STEPS = """\
block Table(w: int = 3):
    input x: [b, m]
    example(x=[2, 5])
    buffer t = float(arange(-(w - 1), w)) / (w - 1) * 8
    buffer t = sign(t) * log2(abs(t) + 1) / log2(8)
    return x + t
"""


@pytest.mark.parametrize("w", [2, 3, 4])
def test_a_buffer_is_built_in_steps(w):
    """Swin-V2's log-spaced coordinates: scaled, then `sign(t) * log2(abs(t) + 1)`. `buffer t`
    twice was E0103, and written in one expression the table was computed four times."""
    code = compile_ok(STEPS)
    assert "t = torch.arange(1 - w, w).to(torch.get_default_dtype()) / (w - 1) * 8\n" in code
    assert 'self.register_buffer("t", t.sign() * (t.abs() + 1).log2() / 3.0, persistent=False)' in code
    module = generated(STEPS)(w)
    table = torch.arange(-(w - 1), w, dtype=torch.float64) / (w - 1) * 8
    torch.testing.assert_close(module.t.double(), torch.sign(table) * torch.log2(table.abs() + 1) / 3)
    assert agree(STEPS, {"w": w}, {"x": (2, 2 * w - 1)}) == "agree"


@pytest.mark.parametrize("between, message", [
    ("    y = x + t\n", "is read before this step"),
    ("    buffer u = t * 2\n", "is read before this step"),
])
def test_a_buffer_read_before_its_last_step_is_refused(between, message):
    lines = STEPS.splitlines(keepends=True)
    source = "".join(lines[:4] + [between] + lines[4:])
    code, line, _, text = first_error(source)
    assert (code, line) == ("E0103", 6) and message in text


def test_an_inverse_square_root_is_written_as_the_spec_writes_it():
    """`dh ** -0.5` was `* (1 / self.dh**0.5)`: parenthesised, and rounded differently from
    Python's own `dh ** -0.5` (the interpreter's)."""
    source = """\
block P(dh: int = 4, a: int = 2):
    input x: [b, dh]
    example(x=[2, 4])
    return x * dh ** -0.5 + x * (dh * a) ** -0.5 + x / sqrt(dh)
"""
    code = compile_ok(source)
    assert "x * self.dh**-0.5 + x * (self.dh * self.a) ** -0.5 + x / self.dh**0.5" in code
    assert agree(source, {"dh": 3, "a": 5}, {"x": (2, 3)}) == "agree"


FUSIONS = """\
block G(c: int, fusion_types: list[str] = ["channel_add"]):
    input x: [b, c, h, w]
    example(c=4, x=[2, 4, 3, 3])
    require len(fusion_types) > 0, "at least one fusion should be used"
    require all([f in ["channel_add", "channel_mul"] for f in fusion_types]), "unknown fusion"
    y = x
    if "channel_add" in fusion_types:
        y = y + 1
    if "channel_mul" in fusion_types:
        y = y * 2
    return y
"""


@pytest.mark.parametrize("fusions, refused", [(["channel_add"], None), (["channel_mul", "channel_add"], None),
                                              ([], "at least one fusion"), (["channel_add", "typo"], "unknown fusion")])
def test_what_a_list_of_strings_may_hold_is_required_as_gcnet_asserts_it(fusions, refused):
    """GCNet's `assert all([f in [...] for f in fusion_types])` and its length: "all() loops
    over a list[int] argument" and "len() takes a list[int] argument"; a typo in
    `fusion_types` was accepted silently."""
    code = compile_ok(FUSIONS)
    assert 'if not all(f in ["channel_add", "channel_mul"] for f in fusion_types):' in code
    cls = generated(FUSIONS)
    if refused:
        with pytest.raises(ValueError, match=refused):
            cls(4, fusions)
        assert agree(FUSIONS, {"c": 4, "fusion_types": fusions}, {"x": (2, 4, 3, 3)}) == "both refused (init)"
    else:
        assert agree(FUSIONS, {"c": 4, "fusion_types": fusions}, {"x": (2, 4, 3, 3)}) == "agree"


@pytest.mark.parametrize("condition, message", [
    ("all([f in kinds for f in fusion_types])", "tested against strings written out"),
    ("all([f for f in fusion_types])", "tested against strings written out"),
    ("len(fusion_types) > 0 and c > 1", "on its own"),
])
def test_a_condition_on_a_list_of_strings_says_what_it_takes(condition, message):
    source = FUSIONS.replace('require len(fusion_types) > 0, "at least one fusion should be used"',
                             f"require {condition}").replace("fusion_types: list[str]",
                                                             "kinds: list[str] = [], fusion_types: list[str]")
    code, line, _, text = first_error(source)
    assert (code, line) == ("E0113", 4) and message in text


def test_a_strict_bound_on_a_fraction_is_not_taken_for_a_whole_number():
    """`let r = log(a / 2)` needs `a / 2 > 0`, that is `a >= 1`: it asked `a >= 2` (the
    strict bound read as `a / 2 >= 1`, as for a whole number), refusing `a = 1`."""
    source = """\
block Lr(a: int = 4):
    input x: [b, n]
    let r = log(a / 2)
    return x * r
"""
    code = compile_ok(source)
    assert "if a < 1:" in code and "a < 2" not in code
    assert generated(source)(1).r == pytest.approx(-0.6931471805599453)
    with pytest.raises(ValueError, match="`a` must be at least 1"):
        generated(source)(0)


def test_a_slice_from_the_end_by_an_inputs_size_is_refused_where_it_is_written():
    """`x[-n:]`: only a constant counts from the end, and `-n` (n >= 1) is never a start;
    the module refused every input instead (Transformer-XL's `w_head_q[-qlen:]`)."""
    code, line, _, message = first_error("""\
block Tail():
    input x: [n, d]
    input y: [m, d]
    q = cat([y, x], dim=0)[-n:]
    return q + x
""")
    assert (code, line) == ("E0204", 4) and "-n is less than 0" in message


@pytest.mark.parametrize("test", ["use and y is not None", "use and y", "y is not None and use"])
def test_an_optional_input_is_given_under_an_and_that_says_so(test, device):
    """`if use and y is not None:` (as HF writes it): `y` "may be None here" (E0106)."""
    source = f"""\
block Ao(use: bool = true):
    input x: [b, n]
    input y: [b, n] = None
    example(x=[2, 3])
    if {test}:
        x = x + y
    return x
"""
    code = compile_ok(source)
    assert "if self.use and y is not None:" in code or "if y is not None and self.use:" in code
    x, y = torch.randn(2, 3, device=device), torch.randn(2, 3, device=device)
    for use in (True, False):
        module = generated(source)(use=use)
        torch.testing.assert_close(module(x, y), x + y if use else x)
        torch.testing.assert_close(module(x), x)
        assert agree(source, {"use": use}, {"x": (2, 3), "y": (2, 3)}) == "agree"
        assert agree(source, {"use": use}, {"x": (2, 3)}) == "agree"


def test_an_input_named_like_a_function_is_not_warned_of_until_the_function_is_called():
    """RoPE's forward takes `cos` and `sin`: W0007 fired on the published names, with no way
    to rename them."""
    source = """\
block R(d: int = 4):
    input x: [b, n, d]
    input cos: [n, d]
    input sin: [n, d]
    return x * cos + x * sin
"""
    result = __import__("attndsl").compile_source(source, "r.attn")
    assert result.ok and not result.diagnostics
    code, line, _, message = first_error(source.replace("x * cos + x * sin", "x * cos(sin)"))
    assert (code, line) == ("E0113", 5) and "hides the function cos()" in message


CLAMPED = """\
block C(n: int = 5, k: int = 2):
    input x: [b, n]
    example(x=[2, 5])
    buffer idx = clamp(arange(n) - k, min=0, max=n - 2)
    return x[:, idx]
"""


@pytest.mark.parametrize("n, k", [(5, 2), (4, 0), (3, 5)])
def test_clamp_keeps_an_integer_tensor_integer(n, k):
    """T5's `-min(rp, 0)` and DeBERTa's clamped relative positions: clamp() took floating-point
    tensors only (E0209)."""
    assert "(torch.arange(n) - k).clamp(min=0, max=n - 2)" in compile_ok(CLAMPED)
    module = generated(CLAMPED)(n, k)
    assert module.idx.dtype == torch.int64
    assert module.idx.tolist() == [min(max(i - k, 0), n - 2) for i in range(n)]
    assert agree(CLAMPED, {"n": n, "k": k}, {"x": (2, n)}) == "agree"
    code, line, _, message = first_error(CLAMPED.replace("min=0, max=n - 2", "min=0.5"))
    assert (code, line) == ("E0209", 4) and "whole-number bounds" in message


def test_a_mask_is_made_floating_point_by_float():
    """NAT's one-hot matrices, `x * float(x > 0)`: float() took integer tensors only (E0209)."""
    source = """\
block Fb(n: int = 3):
    input x: [b, n]
    example(x=[2, 3])
    buffer onehot = float(arange(n)[:, None] == arange(n)[None, :])
    return x * float(x > 0) + x @ onehot
"""
    assert "x * (x > 0).to(x.dtype)" in compile_ok(source)
    module = generated(source)(3).double()
    assert torch.equal(module.onehot, torch.eye(3, dtype=torch.float64))
    x = rand(2, 3)
    torch.testing.assert_close(module(x), x.clamp(min=0) + x)
    assert agree(source, {"n": 3}, {"x": (2, 3)}) == "agree"


@pytest.mark.parametrize("pattern, expected", [
    ("b (h d) p s -> b h (p s) d", "x.reshape(b, self.h, -1, p * s).transpose(2, 3)"),
    ("b c p s -> b (p s) c", "x.reshape(b, c, p * s).transpose(1, 2)"),
    ("b c p s -> (p s) b c", "x.reshape(b, c, p * s).permute(2, 0, 1)"),
])
def test_axes_that_move_together_move_as_one(pattern, expected):
    """EfficientFormer's `b (h d) p s -> b h (p s) d` was a 5-d round trip, `reshape(b, h, -1,
    p, s).permute(0, 1, 3, 4, 2).reshape(...)`; the published form is a 4-d reshape and one
    transpose (a view, where a permute then reshape copies)."""
    source = f"""\
block P(h: int = 2):
    input x: [b, c, p, s]
    example(h=2, x=[2, 4, 3, 5])
    return rearrange(x, "{pattern}"{", h=h" if " h " in pattern else ""})
"""
    assert expected in compile_ok(source)
    assert agree(source, {"h": 2}, {"x": (2, 4, 3, 5)}) == "agree"


def test_the_docstring_gives_an_outputs_shape_per_case_that_occurs():
    """Two `if m:` were read as independent: `returns: [k + n|n - k|k + n|n, k + n|n]`, shapes
    no call makes (Transformer-XL's `[qlen|mlen + qlen|qlen - mlen|mq', ...]`)."""
    code = compile_ok("""\
block B():
    input x: [n, d]
    input m: [k, d] = None
    c = x
    if m:
        c = cat([m, x], dim=0)
    q = c
    if m:
        q = c[k:]
    return einsum("i d, j d -> i j", q, c)
""")
    assert "        returns: [n, n + k] if m given;\n                 [n, n] if m not given\n" in code


def test_a_square_is_known_not_to_be_negative():
    """LeViT: `if rq * rq < 0:`, a square of a size of unknown sign asked not to be negative."""
    code = compile_ok("""\
block Sq(r: int = 3):
    input x: [b, n]
    param t: [r * r + 1] = zeros
    return x[:, :1] + t
""")
    assert "r * r + 1 < 1" not in code and "r * r < 0" not in code


@pytest.mark.parametrize("stride, h", [(1, 5), (2, 5), (3, 7), (4, 3)])
def test_a_slice_step_may_be_an_argument(stride, h):
    """LeViT's subsampling `x[:, ::stride, ::stride]`: "a slice's step must be a constant"."""
    source = """\
block Sub(stride: int = 2):
    input x: [b, h, w, c]
    example(x=[2, 5, 4, 3])
    return x[:, ::stride, ::2]
"""
    assert "x[:, :: self.stride, ::2]" in compile_ok(source)
    module = generated(source)(stride)
    x = rand(2, h, 4, 3)
    assert torch.equal(module(x), x[:, ::stride, ::2])
    assert agree(source, {"stride": stride}, {"x": (2, h, 4, 3)}) == "agree"
    with pytest.raises(ValueError, match="`stride` must be at least 1"):
        generated(source)(0)


def test_a_value_used_twice_is_named_after_what_it_is_made_of():
    """NAT: `subscript = torch.arange(self.k, ...)[None, :]`, `float_`: the names of the
    last view, not of the value."""
    code = compile_ok("""\
block P(k: int = 3):
    input x: [b, n, k]
    example(k=3, x=[2, 5, 3])
    a = float(arange(n))
    return x + (a[:, None] - float(arange(k))[None, :]) * (a[:, None] + float(arange(k))[None, :])
""")
    assert "index = torch.arange(self.k, device=x.device).to(x.dtype)[None, :]" in code
    assert "subscript" not in code and "float_" not in code


def test_a_size_off_by_a_remainder_suggests_the_remainder():
    """A conv padded by `k // 2` against its input: W0006's help read `require k == 2 * (k //
    2) + 1` where `k % 2 == 1` says it."""
    result = __import__("attndsl").compile_source("""\
block W(c: int = 4, k: int = 3):
    input x: [b, c, h, w]
    example(x=[2, 4, 5, 5])
    layer conv = conv2d(c, c, k, padding=k // 2)
    return conv(x) + x
""", "w.attn")
    helps = {d.help for d in result.diagnostics if d.code == "W0006"}
    assert helps == {"if they must be equal, say so: `require k % 2 == 1`"}


def test_floor_ceil_and_long_make_buckets_of_a_float_tensor():
    """T5's log-spaced relative-position buckets: `floor(x)` on a tensor said "floor() takes
    a number; on tensors, write the op it stands for", and there was no op to write."""
    source = """\
block Bk(n: int = 8):
    input x: [b, n]
    example(x=[2, 8])
    rel = float(arange(n)) - 3.5
    bucket = long(floor(log(abs(rel) + 1) * 2))
    return x + float(bucket) + ceil(x) + float(long(-x))
"""
    assert "bucket = ((rel.abs() + 1).log() * 2).floor().long()" in compile_ok(source)
    x = rand(2, 8)
    rel = torch.arange(8, dtype=torch.float64) - 3.5
    expected = x + torch.floor(torch.log(rel.abs() + 1) * 2) + torch.ceil(x) + torch.trunc(-x)
    torch.testing.assert_close(generated(source)(8).double()(x), expected)
    assert agree(source, {"n": 8}, {"x": (2, 8)}) == "agree"
