"""`attndsl diff`: signature, state_dict, cost and generated code, between two specs."""

from __future__ import annotations

from attndsl.cli import main

from .mechanisms import SPECS_DIR


def _variant(tmp_path, stem: str, old: str, new: str):
    source = (SPECS_DIR / f"{stem}.attn").read_text(encoding="utf-8")
    assert old in source
    path = tmp_path / f"{stem}_changed.attn"
    path.write_text(source.replace(old, new), encoding="utf-8")
    return path


def test_a_new_argument_and_an_optional_bias(tmp_path, capsys):
    changed = _variant(tmp_path, "se", "reduction: int = 16):", "reduction: int = 16, bias: bool = false):")
    changed.write_text(changed.read_text().replace("linear(channel, channel // reduction, bias=false)",
                                                   "linear(channel, channel // reduction, bias=bias)"))
    assert main(["diff", str(SPECS_DIR / "se.attn"), str(changed)]) == 0
    out = capsys.readouterr().out
    assert "  +argument bias: bool = false" in out
    assert "  +fc.0.bias [channel // reduction] if bias" in out
    assert "+ 2*channel*(channel // reduction) + [bias]*(channel // reduction)" in out  # the params formula
    assert "+            nn.Linear(channel, channel // reduction, bias=bias)," in out  # the code


def test_a_shape_change_shows_in_the_state_dict_and_the_cost(tmp_path, capsys):
    changed = _variant(tmp_path, "sdpa", "layer fc_o = linear(h * d_v, d_model)", "layer fc_o = linear(h * d_v, d_model, bias=false)")
    assert main(["diff", str(SPECS_DIR / "sdpa.attn"), str(changed)]) == 0
    out = capsys.readouterr().out
    assert "  -fc_o.bias [d_model]" in out
    assert "parameters: 12,512 -> 12,448 (-64)" in out
    assert "signature: unchanged" in out and "FLOPs: 2,505,984 (unchanged)" in out


def test_identical_specs(capsys):
    spec = str(SPECS_DIR / "cbam.attn")
    assert main(["diff", spec, spec]) == 0
    out = capsys.readouterr().out
    assert out.count("signature: unchanged") == 3 and out.rstrip().endswith("unchanged")


def test_added_removed_and_renamed_blocks(tmp_path, capsys):
    renamed = _variant(tmp_path, "se", "block SEAttention(", "block SqueezeExcite(")
    assert main(["diff", str(SPECS_DIR / "se.attn"), str(renamed)]) == 0
    assert "block SEAttention is renamed SqueezeExcite" in capsys.readouterr().out
    assert main(["diff", str(SPECS_DIR / "se.attn"), str(SPECS_DIR / "sge.attn")]) == 0
    out = capsys.readouterr().out
    assert "block SEAttention is renamed SpatialGroupEnhance" in out  # one block each: paired


def test_a_spec_with_errors(tmp_path, capsys):
    broken = tmp_path / "broken.attn"
    broken.write_text("block B():\n    input x: [b, 4]\n    layer fc = linear(8, 2)\n    return fc(x)\n")
    assert main(["diff", str(SPECS_DIR / "se.attn"), str(broken)]) == 1
    assert "error[E0201]" in capsys.readouterr().err
