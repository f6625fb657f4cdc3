"""Bad input to each tool is a one-line error with exit 2, never a traceback."""

from __future__ import annotations

import pytest

from attndsl.cli import main

from .mechanisms import SPECS_DIR

SE = str(SPECS_DIR / "se.attn")
CBAM = str(SPECS_DIR / "cbam.attn")
REFERENCE = "tests/references/se.py:SEAttention"

BAD = [
    # (argv, what the message says)
    (["graph", "nowhere.attn"], "no such file: nowhere.attn"),
    (["graph", CBAM, "--block", "Nope"], "has no block 'Nope'; its blocks are ChannelAttention, SpatialAttention, CBAMBlock"),
    (["graph", SE, "--format", "png"], "invalid choice: 'png'"),
    (["cost", "nowhere.attn"], "no such file: nowhere.attn"),
    (["cost", CBAM, "--block", "Nope"], "has no block 'Nope'"),
    (["cost", SE, "--size", "b"], "malformed --size 'b': expected NAME=VALUE"),
    (["cost", SE, "--size", "b=two"], "b is a dimension; give it as a whole number"),
    (["cost", SE, "--size", "channel=two"], "channel is a number (int); got 'two'"),
    (["cost", SE, "--size", "b=[2"], "malformed --size 'b=[2'"),
    (["cost", SE, "--size", "=3"], "malformed --size '=3'"),
    (["cost", SE, "--size", "depth=3"], "SEAttention has no argument, input or dimension 'depth'"),
    (["cost", SE, "--size", "x=[2,64]"], "x has 4 dimensions"),
    (["cost", SE, "--size", "b=1.5"], "b is a dimension; give it as a whole number"),
    (["fmt", "nowhere.attn"], "no such file: nowhere.attn"),
    (["fmt", str(SPECS_DIR)], "is a directory, not a spec file"),
    (["verify", "nowhere.attn", "--against", REFERENCE], "no such file: nowhere.attn"),
    (["verify", CBAM, "--block", "Nope", "--against", "tests/references/cbam.py:CBAMBlock"], "has no block 'Nope'"),
    (["verify", SE, "--against", REFERENCE, "--args", "channel"], "malformed --args 'channel'"),
    (["verify", SE, "--against", REFERENCE, "--args", "depth=2"], "SEAttention has no argument or input 'depth'"),
    (["verify", SE], "the following arguments are required: --against"),
    (["verify", str(SPECS_DIR / "cbam.attn"), "--block", "ChannelAttention", "--against",
      "tests/references/cbam.py:ChannelAttention"], "ChannelAttention needs channel, x"),
    (["diff", SE, "nowhere.attn"], "no such file: nowhere.attn"),
    (["diff", SE], "the following arguments are required: B.attn"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_input(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(SPECS_DIR.parent)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err
    if not err.startswith("usage:"):  # argparse's own errors come with the usage line
        assert err.count("\n") == 1 and err.startswith("attndsl: error: "), err
    assert "Traceback" not in err
