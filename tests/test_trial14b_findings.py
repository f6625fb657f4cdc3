"""What porting trial 14b found (SAM/ViTDet, EfficientViT's LiteMLA, Swin V2, MLP-Mixer, gMLP,
Hydra), each pinned here.

- F01: a branch whose condition cannot hold in a world is not checked there: a layer chosen
  by `if ws == 0:` / `else:` and windows under `if ws > 0:` (SAM's Block) were refused as a
  division by zero "when `ws == 0` is true"; a reachable division by zero is still refused.
- F04: a layer declared on each branch of an `if`/`elif` chain is used under an `if` that
  implies one of them (`if act in ["relu", "silu"]:`), and still not under one that does not.
- F05: "`ws` must be at least 1" is not said where the spec accepts 0: a `require ws >= 0`
  under `if ws != 0:` asks it (with its own message), and without the require the bound
  says where it holds.
- F10: E0204 of a clamped index says what its number is (size - max).
- F02: a param whose shape reads an argument of a refused type gives no second error at its
  `init`.
"""

from __future__ import annotations

import pytest
import torch

from .language_support import agree, build, compile_ok, first_error, rand

WINDOWS = """
block A(ws: int = 0):
    input x: [b, n, d]
    require ws >= 0
    if ws == 0:
        layer f = relu()
    else:
        layer f = identity()
    if {condition}:
        y = rearrange(f(x), "b (m p) d -> (b m) p d", p=ws)
        y = y - mean(y, dim=1, keepdim=true)
        y = rearrange(y, "(b m) p d -> b (m p) d", b=b)
    else:
        y = f(x)
    return y
"""


def _windows_reference(x: torch.Tensor, ws: int) -> torch.Tensor:
    if ws == 0:
        return torch.relu(x)
    b, n, d = x.shape
    y = x.reshape(b * (n // ws), ws, d)
    return (y - y.mean(dim=1, keepdim=True)).reshape(b, n, d)


@pytest.mark.parametrize("condition", ["ws > 0", "ws >= 1", "0 < ws", "not (ws <= 0)"])
def test_a_branch_that_cannot_hold_in_a_world_is_not_checked_there(condition):
    source = WINDOWS.format(condition=condition)
    compile_ok(source)
    for ws in (0, 1, 2, 3):
        x = rand(2, 6, 4, seed=ws)
        torch.testing.assert_close(build(source, ws=ws)(x), _windows_reference(x, ws))
        agree(source, {"ws": ws}, {"x": [2, 6, 4]})


@pytest.mark.parametrize("condition", ["ws >= 0", "ws < 1", "ws != 1"])
def test_a_division_by_zero_a_world_reaches_is_still_refused(condition):
    """`ws >= 0` holds where `ws == 0`: the windows of 0 rows are there."""
    code, *_ = first_error(WINDOWS.format(condition=condition))
    assert code == "E0205"


def test_a_reachable_zero_window_is_refused_when_built():
    """The layer's world is `ws > 0` false (ws <= 0), the windows' `ws >= 0`: they meet at 0,
    which the module must refuse before it divides by it."""
    source = """
block A(ws: int = 2):
    input x: [b, n, d]
    if ws > 0:
        layer f = relu()
    else:
        layer f = identity()
    if ws >= 0:
        y = rearrange(f(x), "b (m p) d -> (b m) p d", p=ws)
        y = rearrange(y, "(b m) p d -> b (m p) d", b=b)
    else:
        y = f(x)
    return y
"""
    with pytest.raises(ValueError, match="ws"):
        build(source, ws=0)
    x = rand(2, 4, 3)
    torch.testing.assert_close(build(source, ws=2)(x), torch.relu(x))


def test_a_check_under_the_branch_asks_no_world_condition_again():
    code = compile_ok(WINDOWS.format(condition="ws > 0"))
    forward = code.split("def forward")[1]
    assert "if self.ws != 0" not in forward


ACT = """
block A(c: int = 4, act_func: str = "relu"):
    input x: [b, c]
    if act_func == "relu":
        layer act = relu()
    elif act_func == "silu":
        layer act = silu()
    if act_func in {names}:
        x = act(x)
    return x * 2
"""


def test_a_layer_of_each_branch_of_an_elif_chain_is_used_under_their_union():
    source = ACT.format(names='["relu", "silu"]')
    x = rand(3, 4)
    for name, want in (("relu", torch.relu(x) * 2), ("silu", torch.nn.functional.silu(x) * 2), ("gelu", x * 2)):
        torch.testing.assert_close(build(source, act_func=name)(x), want)
        agree(source, {"act_func": name}, {"x": [3, 4]})


@pytest.mark.parametrize("names", ['["relu", "gelu"]', '["relu", "silu", "gelu"]'])
def test_a_use_under_an_if_no_declaration_covers_is_refused(names):
    code, *_ = first_error(ACT.format(names=names))
    assert code == "E0106"


def test_a_require_asks_what_the_window_bound_would_have():
    source = """
block A(ws: int = 0):
    input x: [b, n, d]
    require ws >= 0, "window_size must be at least 0"
    if ws != 0:
        y = rearrange(x, "b (m p) d -> (b m) p d", p=ws)
        y = rearrange(y, "(b m) p d -> b (m p) d", b=b)
    else:
        y = x
    return y
"""
    x = rand(1, 4, 2)
    torch.testing.assert_close(build(source, ws=0)(x), x)
    torch.testing.assert_close(build(source, ws=2)(x), x)
    with pytest.raises(ValueError, match="window_size must be at least 0"):
        build(source, ws=-1)


def test_a_bound_under_an_if_on_its_argument_says_where_it_holds():
    source = """
block A(ws: int = 0):
    input x: [b, n, d]
    if ws != 0:
        y = rearrange(x, "b (m p) d -> (b m) p d", p=ws)
        y = rearrange(y, "(b m) p d -> b (m p) d", b=b)
    else:
        y = x
    return y
"""
    build(source, ws=0)
    with pytest.raises(ValueError, match=r"`ws` must be at least 1 \(where `ws != 0`\), got -1"):
        build(source, ws=-1)


def test_a_float_known_nonzero_and_not_negative_is_not_taken_at_least_one():
    """Only a whole number is at least 1 once it is at least 0 and not 0: a scale of 0.5 passes."""
    source = """
block A(s: float = 0.5):
    input x: [b, n]
    require s >= 0
    if s != 0:
        y = x[:, :floor(n * s) + 1]
    else:
        y = x
    return y
"""
    x = rand(2, 4)
    torch.testing.assert_close(build(source, s=0.5)(x), x[:, :3])


def test_a_clamped_index_past_its_table_says_what_its_number_is():
    code, _, _, message = first_error("""
block A(d: int = 4, s: int = 3):
    input x: [b, h, d]
    param t: [2 * s - 1, d] = zeros()
    tt = rearrange(interpolate(rearrange(t, "l d -> 1 d l"), size=2 * h - 1, mode="linear"), "1 d l -> l d")
    return x + tt[clamp(arange(h)[:, None] - arange(h)[None, :] + h, min=0, max=2 * h - 1)][:, :1]
""")
    assert code == "E0204"
    assert "size - max must be at least 1): it is 0" in message


def test_an_argument_of_a_refused_type_gives_one_error():
    import attndsl

    result = attndsl.compile_source("""
block A(d: int = 4, use: bool = false, zero: bool = true, input_size: list[int] | None = None):
    input x: [b, d]
    if use:
        param p: [2 * input_size[0] - 1, d] = zeros()
        if not zero:
            init p = trunc_normal(std=0.02)
    return x
""", "a.attn")
    assert [d.code for d in result.diagnostics if d.is_error] == ["E0111"]
