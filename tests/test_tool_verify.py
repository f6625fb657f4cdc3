"""`attndsl verify`: a spec against a hand-written module (tests/references/*.py), and
against deliberately broken copies of them, each caught and named."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from attndsl.cli import main

from .mechanisms import REPO_ROOT, SPECS_DIR, example_cases

REFERENCES = REPO_ROOT / "tests" / "references"


def _against(case) -> str:
    module = sys.modules[case.reference.__module__]
    return f"{Path(module.__file__).relative_to(REPO_ROOT).as_posix()}:{case.reference.__name__}"


# float64 grouped convolutions take torch's slow path on CPU (one small conv per group):
# smaller sizes keep these tests fast; tests/test_equivalence.py covers the full ones.
SMALLER = {
    "emsa": {"d_model": 16, "d_k": 4, "d_v": 4, "h": 2, "H": 4, "W": 4,
             "queries": [2, 16, 16], "keys": [2, 16, 16], "values": [2, 16, 16]},
    "sk": {"channel": 16, "reduction": 4, "x": [2, 16, 5, 5]},
}


def _args(case) -> list[str]:
    values = {**case.kwargs, **{name: list(shape) for name, shape in case.inputs.items()}}
    values.update(SMALLER.get(case.stem, {}))
    return [f"{k}={json.dumps(v)}" for k, v in values.items()]


@pytest.mark.parametrize("case", example_cases(), ids=lambda c: c.id)
def test_every_spec_matches_its_reference(case, capsys, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    status = main(["verify", f"specs/{case.stem}.attn", "--block", case.class_name, "--against", _against(case),
                   "--args", *_args(case)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "matches" in captured.out and "state_dict key" in captured.out


def test_masks_and_weights(capsys):
    shape = "[2,4,49,30]"
    status = main(["verify", str(SPECS_DIR / "sdpa.attn"), "--against",
                   f"{REFERENCES / 'sdpa.py'}:ScaledDotProductAttention",
                   "--args", f"attention_mask={shape}", f"attention_weights={shape}"])
    assert status == 0, capsys.readouterr().err
    assert "12 gradients" in capsys.readouterr().out  # queries, keys, values, attention_weights, 8 parameters


def _broken(tmp_path: Path, name: str, old: str, new: str) -> str:
    source = (REFERENCES / name).read_text(encoding="utf-8")
    assert old in source, f"the reference changed: {old!r} is no longer in {name}"
    path = tmp_path / name
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    return str(path)


BROKEN = [
    # (reference, old text, new text, what verify must say)
    ("sdpa.py", "self.fc_q = nn.Linear", "self.fc_query = nn.Linear", "state_dict key 'fc_query.weight'"),
    ("sdpa.py", "self.fc_v = nn.Linear(d_model, h * d_v)", "self.fc_v = nn.Linear(d_model, h * d_v, bias=False)",
     "state_dict key 'fc_v.bias'"),
    ("sdpa.py", "att = torch.softmax(att, dim=-1)", "att = torch.softmax(att, dim=-2)", "eval output 0: values differ"),
    ("sdpa.py", "/ math.sqrt(self.d_k)", "/ math.sqrt(self.d_k + 1)", "eval output 0: values differ"),
    # the same outputs, but no gradient flows back through the keys
    ("sdpa.py", "self.fc_k(keys).view", "self.fc_k(keys).detach().view", "eval gradient of input keys"),
    # eval is the same; the running statistics after a training step are not
    ("sk.py", 'nn.BatchNorm2d(channel)', 'nn.BatchNorm2d(channel, momentum=0.2)',
     "after the training step, buffer convs.0.bn.running_mean"),
]


@pytest.mark.parametrize("name, old, new, message", BROKEN, ids=lambda v: v if isinstance(v, str) and v.endswith(".py") else None)
def test_a_broken_copy_is_caught(tmp_path, capsys, name, old, new, message):
    classes = {"sdpa.py": "ScaledDotProductAttention", "sk.py": "SKAttention"}
    stem = name[:-3]
    smaller = [f"{k}={json.dumps(v)}" for k, v in SMALLER.get(stem, {}).items()]
    status = main(["verify", str(SPECS_DIR / f"{stem}.attn"), "--against", f"{_broken(tmp_path, name, old, new)}:"
                   f"{classes[name]}", *(["--args", *smaller] if smaller else [])])
    err = capsys.readouterr().err
    assert status == 1 and message in err and err.count("\n") == 1, err


@pytest.mark.parametrize("against, message", [
    ("tests/references/nowhere.py:X", "no such file"),
    ("tests/references/se.py", "expected FILE.py:Class"),
    ("tests/references/se.py:NoSuchClass", "has no class NoSuchClass"),
])
def test_bad_against(against, message, capsys, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    assert main(["verify", "specs/se.attn", "--against", against]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_a_module_that_does_not_import(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\nraise RuntimeError('boom')\n")
    assert main(["verify", str(SPECS_DIR / "se.attn"), "--against", f"{broken}:SEAttention"]) == 2
    err = capsys.readouterr().err
    assert "importing" in err and "RuntimeError: boom" in err and err.count("\n") == 1


CHOOSER = """\
block Chooser(c: int = 4, mode: str = "gate", act_layer: layer = relu,
              norm_layer: layer[batch_norm2d] | None = None):
    input x: [b, c, h, w]
    example(x=[2, 4, 3, 3])
    layer conv = conv2d(c, c, 1)
    layer act = act_layer()
    if norm_layer is not None:
        layer norm = norm_layer(c)
        y = norm(conv(x))
    else:
        y = conv(x)
    if mode == "gate":
        y = x * sigmoid(y)
    return act(y)
"""

CHOOSER_REFERENCE = """\
import torch
import torch.nn as nn
from chooser_helpers import gate


class Chooser(nn.Module):
    def __init__(self, c=4, mode="gate", act_layer=nn.ReLU, norm_layer=None):
        super().__init__()
        self.mode = mode
        self.conv = nn.Conv2d(c, c, 1)
        self.act = act_layer()
        if norm_layer is not None:
            self.norm = norm_layer(c)

    def forward(self, x):
        y = self.conv(x)
        if hasattr(self, "norm"):
            y = self.norm(y)
        if self.mode == "gate":
            y = gate(x, y)
        return self.act(y)
"""


@pytest.mark.parametrize("extra", [[], ["mode=plain"], ["act_layer=silu", "norm_layer=batch_norm2d"],
                                   ["norm_layer=none", "mode=gate"]])
def test_words_kinds_and_none_reach_both_modules_and_a_lone_file_imports_its_neighbours(extra, tmp_path, capsys,
                                                                                       monkeypatch):
    """`--args mode=plain act_layer=silu norm_layer=None`: a str argument's word, a layer kind
    (its class, for both modules) and None; the hand-written file imports a file beside it."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # verify puts the file's folder on it
    monkeypatch.delitem(sys.modules, "chooser_helpers", raising=False)
    (tmp_path / "chooser.attn").write_text(CHOOSER)
    (tmp_path / "chooser_ref.py").write_text(CHOOSER_REFERENCE)
    (tmp_path / "chooser_helpers.py").write_text("import torch\n\n\ndef gate(x, y):\n    return x * torch.sigmoid(y)\n")
    args = ["verify", str(tmp_path / "chooser.attn"), "--against", f"{tmp_path / 'chooser_ref.py'}:Chooser"]
    assert main(args + (["--args", *extra] if extra else [])) == 0, capsys.readouterr().err
    assert "matches" in capsys.readouterr().out
    # the comparison can fail: the reference gates whatever the mode
    (tmp_path / "chooser_helpers.py").write_text("import torch\n\n\ndef gate(x, y):\n    return x * torch.tanh(y)\n")
    del sys.modules["chooser_helpers"]
    if "mode=plain" not in extra:
        assert main(args + (["--args", *extra] if extra else [])) == 1
        assert "differs" in capsys.readouterr().err
    sys.modules.pop("chooser_helpers", None)


def test_str_arguments_take_their_words_as_written_and_a_refusal_is_a_usage_error(tmp_path, capsys, monkeypatch):
    """`--args mode=none` is the word "none" for a str argument (not None), `mode=` the empty
    string; a configuration the spec's `require` refuses is outside what the spec defines:
    said so (exit 2), not compared and not a crash."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "chooser_helpers", raising=False)
    (tmp_path / "chooser.attn").write_text(CHOOSER.replace('    example(x=[2, 4, 3, 3])\n',
                                                           '    example(x=[2, 4, 3, 3])\n    require mode != "bad"\n'))
    (tmp_path / "chooser_ref.py").write_text(CHOOSER_REFERENCE)
    (tmp_path / "chooser_helpers.py").write_text("import torch\n\n\ndef gate(x, y):\n    return x * torch.sigmoid(y)\n")
    args = ["verify", str(tmp_path / "chooser.attn"), "--against", f"{tmp_path / 'chooser_ref.py'}:Chooser", "--args"]
    for word in ("none", "", '"gate"', "12"):
        assert main(args + [f"mode={word}"]) == 0, capsys.readouterr().err
        assert "matches" in capsys.readouterr().out
    assert main(args + ["mode=bad"]) == 2
    err = capsys.readouterr().err
    assert "do not fit the spec: Chooser: `mode != \"bad\"` must hold" in err, err
    sys.modules.pop("chooser_helpers", None)


INPUT_CHECKED = """\
block B(d: int = 4):
    input x: [b, n, d]
    input size: sizes[H, W]
    input m: [b, n] = None
    example(d=4, x=[2, 6, 4], size=[2, 3], m=[2, 6])
    y = rearrange(rearrange(x, "b (h w) c -> b h w c", h=H, w=W), "b h w c -> b (h w) c")
    if m:
        return y * rearrange(m, "b n -> b n 1")
    return y
"""

INPUT_CHECKED_REFERENCE = """\
import torch.nn as nn


class B(nn.Module):
    def __init__(self, d=4):
        super().__init__()

    def forward(self, x, size, m=None):
        h, w = size
        y = x.reshape(x.shape[0], h, w, -1).reshape(x.shape[0], h * w, -1)
        return y if m is None else y * m[..., None]
"""


def test_inputs_the_spec_refuses_are_a_usage_error_and_a_tuple_of_sizes_is_given(tmp_path, capsys):
    """Trial 6: inputs that do not fit the spec were reported as a difference (both modules
    refuse them); a required `sizes[H, W]` input was left out, so nothing was compared."""
    (tmp_path / "b.attn").write_text(INPUT_CHECKED)
    (tmp_path / "b_ref.py").write_text(INPUT_CHECKED_REFERENCE)
    args = ["verify", str(tmp_path / "b.attn"), "--against", f"{tmp_path / 'b_ref.py'}:B"]
    assert main(args) == 0, capsys.readouterr().err
    assert "matches" in capsys.readouterr().out
    assert main(args + ["--args", "size=[3,2]"]) == 0
    capsys.readouterr()
    assert main(args + ["--args", "m=[2,3]"]) == 2
    assert "do not fit the spec: B: m.shape[1] must be n = 6, got 3" in capsys.readouterr().err
    assert main(args + ["--args", "size=[2,2]"]) == 2
    assert "do not fit the spec: rearrange: (h w) should be 4, got 6" in capsys.readouterr().err
    assert main(args + ["--args", "size=[6,0]"]) == 2
    assert "do not fit the spec" in capsys.readouterr().err
    # the comparison still fails where the modules differ on inputs the spec accepts
    # (another file: rewritten within the same second, the old bytecode would be imported)
    (tmp_path / "b_wrong.py").write_text(INPUT_CHECKED_REFERENCE.replace("y * m", "y + m"))
    args[-1] = f"{tmp_path / 'b_wrong.py'}:B"
    assert main(args + ["--args", "size=[3,2]"]) == 1
    assert "differs" in capsys.readouterr().err


def test_a_persistent_buffer_built_wrongly_is_a_difference(tmp_path, capsys):
    """Trial 7: verify loaded the hand-written state over the spec's, so a wrongly built
    persistent buffer (Swin's relative_position_index) was never compared."""
    (tmp_path / "g.attn").write_text("block Gather(n: int = 4):\n    input x: [b, n]\n    example(n=4, x=[2, 4])\n"
                                     "    persistent buffer idx = n - 1 - arange(n)\n    return x[:, idx]\n")
    reference = ("import torch\nfrom torch import nn\n\n\nclass Gather(nn.Module):\n    def __init__(self, n=4):\n"
                 "        super().__init__()\n        self.register_buffer(\"idx\", torch.arange(n).flip(0))\n\n"
                 "    def forward(self, x):\n        return x[:, self.idx]\n")
    (tmp_path / "g_ref.py").write_text(reference)
    args = ["verify", str(tmp_path / "g.attn"), "--against", f"{tmp_path / 'g_ref.py'}:Gather"]
    assert main(args) == 0, capsys.readouterr().err
    capsys.readouterr()
    (tmp_path / "g_wrong.py").write_text(reference.replace(".flip(0)", ""))
    args[-1] = f"{tmp_path / 'g_wrong.py'}:Gather"
    assert main(args) == 1
    assert "buffer idx as the modules build it: values differ at [0] (hand-written 0, spec 3)" in \
        capsys.readouterr().err


def test_a_functional_dropout_in_the_hand_written_module_is_named_as_the_cause(tmp_path, capsys):
    """HF's modules drop out with `F.dropout(x, p, training=self.training)`, which the
    verifier cannot switch off: the difference in training said nothing of why (trial 8)."""
    spec = tmp_path / "drop.attn"
    spec.write_text("block Drop(d: int = 4, p: float = 0.1):\n    input x: [b, d]\n    example(x=[3, 4])\n"
                    "    layer drop = dropout(p)\n    layer fc = linear(d, d)\n    return drop(fc(x))\n")
    reference = tmp_path / "drop_ref.py"
    reference.write_text("import torch\nfrom torch import nn\n\n\nclass Drop(nn.Module):\n"
                         "    def __init__(self, d=4, p=0.1):\n        super().__init__()\n        self.p = p\n"
                         "        self.fc = nn.Linear(d, d)\n\n    def forward(self, x):\n"
                         "        return nn.functional.dropout(self.fc(x), p=self.p, training=self.training)\n")
    assert main(["verify", str(spec), "--against", f"{reference}:Drop"]) == 1
    assert "it draws randomness the verifier cannot switch off" in capsys.readouterr().err
    assert main(["verify", str(spec), "--against", f"{reference}:Drop", "--args", "p=0.0", "x=[3, 4]"]) == 0
