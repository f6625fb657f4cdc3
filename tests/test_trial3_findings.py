"""Findings of the third user trial (specs from /work/trial3/scratch):

1. a run-time check said what it measured but not what it required ("the size of axis 0,
   got -1"), and a list argument got two length checks where the stronger one says it all;
2. a divisibility check by 1 (`(c*h*w // (g*r)) % 1 != 0`) was emitted: the checker could
   not see that a whole quotient times whole sizes is whole;
3. an in-place relu after a dropout was refused (E0211), though dropout keeps its mask,
   not its output, for the backward pass.
"""

from __future__ import annotations

import ast
import pathlib

import pytest
import torch

import attndsl

from .language_support import build, compile_ok, first_error, generated, rand

ROOT = pathlib.Path(attndsl.__file__).parent


def _spec(args: str, body: str, name: str = "A") -> str:
    return f"block {name}({args}):\n" + "".join(f"    {line}\n" for line in body.strip("\n").split("\n"))


# ---------------------------------------------------------------------------- 1. messages

EXPAND = _spec("ws: list[int] = [2, 3]", """
input x: [b, ws[0] * ws[1]]
let p = ws[0]
let q = ws[1]
buffer cols = flatten(expand(unsqueeze(arange(q), 0), (p, q)))
return x + cols""")


def test_a_size_check_says_what_it_requires():
    with pytest.raises(ValueError, match=r"^A: the size of axis 0 must not be negative, got -1$"):
        generated(EXPAND)([-1, 0])
    module = generated(EXPAND)([2, 3])
    torch.testing.assert_close(module(torch.zeros(2, 6)), torch.arange(3.0).repeat(2).expand(2, 6))


def _literal_text(node) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal_text(part) for part in node.values)
    if isinstance(node, ast.BinOp):
        return _literal_text(node.left) + _literal_text(node.right)
    return ""


def test_every_lower_bound_an_op_or_layer_asks_for_states_the_requirement():
    """`expect_at_least(expr, bound, what)`: `what` is the whole message of the run-time check
    (attndsl/shapes/context.py), so it must say what is required, not only what is measured."""
    found = []
    for path in sorted((ROOT / "ops").glob("*.py")) + sorted((ROOT / "layers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "expect_at_least":
                found.append((path.name, node.lineno, _literal_text(node.args[2])))
    assert len(found) > 20
    vague = [item for item in found if not any(word in item[2] for word in ("must", "need"))]
    assert not vague, vague


def test_a_list_argument_gets_one_length_check_the_strongest():
    code = compile_ok(EXPAND)
    assert code.count("if len(ws)") == 1 and "at least 2 items" in code and "1 items" not in code
    for too_short in ([], [4]):
        with pytest.raises(ValueError, match=r"`ws` must have at least 2 items"):
            generated(EXPAND)(too_short)


def test_length_checks_made_at_different_places_become_one_before_the_first_read():
    """`let p = ws[0]` before `let q = ws[1]`: one check, in front of `p`, for both items
    (as a hand-written `if len(ws) < 2` would), not a check per index."""
    source = _spec("ws: list[int] = [2, 3]", "input x: [b, n]\nlet p = ws[0]\nlet q = ws[1]\n"
                   "require p + q >= 0\nreturn x * (p + q)")
    code = compile_ok(source)
    assert code.count("if len(ws)") == 1 and "if len(ws) < 2:" in code
    assert code.index("at least 2 items") < code.index("= ws[0]") < code.index("= ws[1]")
    for too_short, length in (([], 0), ([4], 1)):
        with pytest.raises(ValueError, match=rf"`ws` must have at least 2 items, got {length}$"):
            generated(source)(too_short)


def test_an_item_read_under_a_condition_is_checked_under_it():
    """`ws[1]` read only when `deep` is set: the list needs 2 items only then."""
    source = _spec("ws: list[int] = [2, 3], deep: bool = True",
                   "input x: [b, n]\nlet p = ws[0]\nif deep:\n    let q = ws[1]\n    return x * (p + q)\n"
                   "return x * p")
    code = compile_ok(source)
    assert code.count("if len(ws)") == 2
    generated(source)([4], False)
    with pytest.raises(ValueError, match=r"`ws` must have at least 2 items, got 1$"):
        generated(source)([4], True)


def test_one_item_is_singular():
    source = _spec("ws: list[int] = [2]", "input x: [b, ws[0]]\nreturn x * 2")
    code = compile_ok(source)
    assert "must have at least 1 item, got {len(ws)}\"" in code
    with pytest.raises(ValueError, match=r"`ws` must have at least 1 item, got 0$"):
        generated(source)([])


# ---------------------------------------------------------------------------- 2. vacuous checks

def _grouped(second: str, extra: str = "") -> str:
    return _spec("g: int = 2, r: int = 2", f"""
input x: [b, c, h, w]
if r > 1:
    y = rearrange(x, "b (g r k) h w -> b r g (k h w)", g=g, r=r)
    y = rearrange(y, "{second}"{extra})
else:
    y = flatten(x, 1)
return y""")


@pytest.mark.parametrize("second, extra", [("b r g n -> b (r g n)", ""),  # splits (n) by 1
                                           ("b r g (n q) -> b (r g n q)", ", q=w")])  # by w: (c/(g r)) * h
def test_no_divisibility_check_the_checker_can_prove(second, extra):
    source = _grouped(second, extra)
    code = compile_ok(source)
    assert code.count(" % ") == 1 and "divisible by g*r" in code, code
    module = build(source)
    x = rand(2, 8, 3, 5)
    torch.testing.assert_close(module(x), x.reshape(2, 2, 2, 2, 3, 5).transpose(1, 2).reshape(2, -1))
    with pytest.raises(ValueError, match=r"splitting \(g r k\) needs c = 6 to be divisible by g\*r = 4"):
        module(rand(2, 6, 3, 5))


# ---------------------------------------------------------------------------- 3. in place after dropout

INPLACE_DROP = _spec("c: int = 4", """
input x: [b, c, h, w]
layer conv = conv2d(c, c, 1)
layer drop = dropout(0.1)
layer act = relu(inplace=true)
return act(drop(conv(x)))""")


def _forward_backward(module, x, seed):
    torch.manual_seed(seed)
    x = x.clone().requires_grad_(True)
    out = module(x)
    (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)).sum().backward()
    return out.detach(), x.grad, [p.grad for p in module.parameters()]


@pytest.mark.parametrize("training", [True, False])
def test_an_inplace_relu_after_dropout_matches_the_same_spec_without_inplace(training):
    in_place = generated(INPLACE_DROP)().double()
    plain = generated(INPLACE_DROP.replace("relu(inplace=true)", "relu()"))().double()
    plain.load_state_dict(in_place.state_dict(), strict=True)
    assert repr(in_place.act) == repr(torch.nn.ReLU(inplace=True))
    x = rand(3, 4, 5, 5)
    in_place.train(training), plain.train(training)
    got, want = _forward_backward(in_place, x, 7), _forward_backward(plain, x, 7)
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])
    for a, b in zip(got[2], want[2]):
        torch.testing.assert_close(a, b)
    if training:  # the masks were drawn: some values are zero that relu alone would not make so
        conv = torch.nn.functional.conv2d(x, in_place.conv.weight, in_place.conv.bias)
        assert ((got[0] == 0) & (conv > 0)).any()


def _torch_allows_inplace_relu_after(layer: torch.nn.Module) -> bool:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), layer, torch.nn.ReLU(inplace=True))
    try:
        model(torch.randn(2, 3, 4, 4, requires_grad=True)).sum().backward()
    except RuntimeError as error:
        assert "modified by an inplace operation" in str(error)
        return False
    return True


# attndsl layer -> the torch module it compiles to
ALLOWED = {"dropout(0.1)": torch.nn.Dropout(0.1), "identity()": torch.nn.Identity(), "gelu()": torch.nn.GELU(),
           "silu()": torch.nn.SiLU(), "relu6()": torch.nn.ReLU6(), "hardswish()": torch.nn.Hardswish(),
           "hardsigmoid()": torch.nn.Hardsigmoid(), "elu()": torch.nn.ELU(), "leaky_relu()": torch.nn.LeakyReLU(),
           "prelu()": torch.nn.PReLU(), "softplus()": torch.nn.Softplus()}
REFUSED = {"relu()": torch.nn.ReLU(), "sigmoid()": torch.nn.Sigmoid(), "tanh()": torch.nn.Tanh(),
           "softmax(dim=1)": torch.nn.Softmax(1), "elu(inplace=true)": torch.nn.ELU(inplace=True),
           "leaky_relu(inplace=true)": torch.nn.LeakyReLU(inplace=True)}


def _after(layer: str) -> str:
    return _spec("c: int = 3", f"input x: [b, c, h, w]\nlayer conv = conv2d(c, c, 1)\nlayer k = {layer}\n"
                 "layer act = relu(inplace=true)\nreturn act(k(conv(x)))")


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_inplace_is_allowed_after_a_layer_that_does_not_keep_its_output(layer):
    for mode in (True, False):
        assert _torch_allows_inplace_relu_after(ALLOWED[layer].train(mode))
    compile_ok(_after(layer))
    compile_ok(_spec("c: int = 3", f"input x: [b, c, h, w]\n"
                     f"layer s = sequential(conv2d(c, c, 1), {layer}, relu(inplace=true))\nreturn s(x)"))


@pytest.mark.parametrize("layer", sorted(REFUSED))
def test_inplace_is_refused_after_a_layer_that_keeps_its_output(layer):
    assert not _torch_allows_inplace_relu_after(REFUSED[layer])
    assert first_error(_after(layer))[0] == "E0211"
    assert first_error(_after(f"sequential({layer}, dropout(0.1))"))[0] == "E0211"
    assert first_error(_spec("c: int = 3", f"input x: [b, c, h, w]\nlayer s = sequential(conv2d(c, c, 1), "
                             f"{layer}, dropout(0.1), relu(inplace=true))\nreturn s(x)"))[0] == "E0211"


@pytest.mark.parametrize("body", [
    "return act(drop(x))",  # in eval, dropout returns x itself: the caller's tensor would change
    "y = conv(x)\nreturn act(drop(y)) + y",  # ... and y, read again
    "return mlp(x)",  # the same inside a sequential
])
def test_dropout_is_looked_through_to_what_it_was_given(body):
    source = _spec("c: int = 3", "input x: [b, c, h, w]\nlayer conv = conv2d(c, c, 1)\nlayer drop = dropout(0.1)\n"
                   "layer act = relu(inplace=true)\nlayer mlp = sequential(dropout(0.1), relu(inplace=true))\n" + body)
    assert first_error(source)[0] == "E0211"
    module = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.ReLU(inplace=True)).eval()
    x = torch.tensor([-1.0, 2.0])
    before = x.clone()
    module(x)
    assert not torch.equal(x, before)  # why: torch really does write over it
