"""Every documented error code: its example reports that code at the documented line and
column, through the CLI with exit code 1 and no traceback; docs/errors.md is current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from attndsl.cli import main, read_spec
from attndsl.compiler import analyze
from attndsl.errors import CATALOGUE, example_messages, explain, render_markdown

ROOT = Path(__file__).resolve().parent.parent


def _diagnostics(doc, tmp_path):
    path = tmp_path / "example.attn"
    path.write_bytes(doc.example.encode("utf-8", "surrogateescape"))
    text, problems = read_spec(path)
    if text is None:
        return problems
    return analyze(text, "example.attn")[1].items


@pytest.mark.parametrize("doc", CATALOGUE, ids=[d.code for d in CATALOGUE])
def test_example_reports_its_code_at_its_position(doc, tmp_path):
    found = [(d.code, d.span.line, d.span.column) for d in _diagnostics(doc, tmp_path) if d.span]
    assert (doc.code, doc.line, doc.column) in found, found


def test_there_are_at_least_twenty_error_codes():
    assert len([d for d in CATALOGUE if d.code.startswith("E")]) >= 20


@pytest.mark.parametrize("doc", [d for d in CATALOGUE if d.code.startswith("E")], ids=lambda d: d.code)
def test_cli_exits_1_without_traceback(doc, tmp_path, capsys):
    path = tmp_path / "example.attn"
    path.write_bytes(doc.example.encode("utf-8", "surrogateescape"))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error[{doc.code}]" in err
    assert f"{path.as_posix()}:{doc.line}:{doc.column}: " in err


def test_warnings_do_not_fail_the_build(tmp_path, capsys):
    doc = next(d for d in CATALOGUE if d.code == "W0001")
    path = tmp_path / "example.attn"
    path.write_text(doc.example)
    assert main(["compile", str(path), "-o", str(tmp_path / "out")]) == 0
    assert "warning[W0001]" in capsys.readouterr().err


def test_docs_errors_md_is_current():
    expected = render_markdown(example_messages())
    current = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert current == expected, "docs/errors.md is stale: run `python -m attndsl.errors > docs/errors.md`"


def test_explain(capsys):
    assert main(["explain", "e0201"]) == 0
    assert "shape mismatch" in capsys.readouterr().out
    assert explain("E9999") is None
    assert main(["explain", "E9999"]) == 2


def test_no_color_when_not_a_terminal(tmp_path):
    path = tmp_path / "bad.attn"
    path.write_text(CATALOGUE[7].example)
    run = subprocess.run([sys.executable, "-m", "attndsl", "check", str(path)], capture_output=True, text=True)
    assert run.returncode == 1
    assert "\x1b[" not in run.stderr


def test_one_run_reports_independent_errors_once_each(tmp_path):
    source = (
        "block B(d: int = 4):\n"
        "    input x: [b, n, d]\n"
        "    layer fc2 = linearr(8, 4)\n"
        "    y = x + foo\n"
        "    z = y * 2\n"
        "    w = softmx(x, dim=1)\n"
        "    return sigmoid(x)\n"
    )
    codes = [(d.code, d.span.line) for d in analyze(source, "b.attn")[1].items if d.is_error]
    # Three independent mistakes, three errors; `z = y * 2` uses a failed name and stays quiet.
    assert codes == [("E0102", 3), ("E0101", 4), ("E0102", 6)]


def test_every_code_the_compiler_reports_is_documented():
    """A code in the compiler's source has an entry (explanation and example) in the catalogue."""
    import re

    documented = {d.code for d in CATALOGUE}
    used = set()
    for path in (ROOT / "attndsl").rglob("*.py"):
        used |= set(re.findall(r'"([EW]0\d{3})"', path.read_text(encoding="utf-8")))
    assert used <= documented, sorted(used - documented)
