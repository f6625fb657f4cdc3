"""No-op compiles (attndsl/cache.py) and the --no-optimize flag of `attndsl compile`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from attndsl import cli

from .mechanisms import REPO_ROOT, SPECS_DIR

SHUFFLE = SPECS_DIR / "shuffle_attention.attn"  # compiles with a warning (W0001)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNDSL_CACHE_DIR", str(tmp_path / "cache"))


def _compile(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(["compile", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_second_compile_is_a_no_op_that_replays_the_warnings(tmp_path, capsys):
    first = _compile(capsys, SHUFFLE, "-o", tmp_path / "out")
    written = (tmp_path / "out" / "shuffle_attention.py").stat().st_mtime_ns
    second = _compile(capsys, SHUFFLE, "-o", tmp_path / "out")
    assert first[0] == second[0] == 0
    assert second[1].endswith("(unchanged)\n")
    assert "W0001" in first[2] and second[2] == first[2]  # the same warning, the same text
    assert (tmp_path / "out" / "shuffle_attention.py").stat().st_mtime_ns == written


def test_a_no_op_imports_none_of_the_compilers_dependencies(tmp_path):
    env = {**os.environ, "ATTNDSL_CACHE_DIR": str(tmp_path / "cache")}
    probe = ("import sys; from attndsl.cli import main; code = main(sys.argv[1:]); "
             "heavy = sorted(m for m in ('lark', 'jinja2', 'networkx', 'black', 'attndsl.compiler', "
             "'attndsl.formatting') if m in sys.modules); print('HEAVY', heavy); sys.exit(code)")
    command = [sys.executable, "-c", probe, "compile", str(SPECS_DIR / "sge.attn"), "-o", str(tmp_path / "out")]
    first = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    second = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    # black is never imported: ruff formats, in a process of its own (attndsl/formatting.py)
    assert "HEAVY ['attndsl.compiler', 'attndsl.formatting', 'jinja2', 'lark', 'networkx']" in first.stdout
    assert "HEAVY []" in second.stdout and "(unchanged)" in second.stdout


@pytest.mark.parametrize("change", ["edit the module", "delete the module", "other options"])
def test_anything_that_could_change_the_output_compiles_again(tmp_path, capsys, change):
    out = tmp_path / "out"
    _compile(capsys, SPECS_DIR / "sge.attn", "-o", out)
    target = out / "sge.py"
    fresh = target.read_text(encoding="utf-8")
    options = []
    if change == "edit the module":
        target.write_text(fresh.replace("do not edit", "edited"), encoding="utf-8")
    elif change == "delete the module":
        target.unlink()
    else:
        options = ["--no-runtime-checks"]
    code, printed, _ = _compile(capsys, SPECS_DIR / "sge.attn", "-o", out, *options)
    assert code == 0 and "(unchanged)" not in printed
    assert (target.read_text(encoding="utf-8") == fresh) == (change != "other options")


def test_a_changed_spec_compiles_again(tmp_path, capsys):
    spec = tmp_path / "sge.attn"
    spec.write_text((SPECS_DIR / "sge.attn").read_text(encoding="utf-8"), encoding="utf-8")
    _compile(capsys, spec, "-o", tmp_path / "out")
    spec.write_text(spec.read_text(encoding="utf-8").replace("+ 1e-5", "+ 1e-6"), encoding="utf-8")
    code, printed, _ = _compile(capsys, spec, "-o", tmp_path / "out")
    assert code == 0 and "(unchanged)" not in printed
    assert "1e-06" in (tmp_path / "out" / "sge.py").read_text(encoding="utf-8")


def test_an_unwritable_cache_costs_only_speed(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("ATTNDSL_CACHE_DIR", str(blocker / "cache"))
    for _ in range(2):
        code, printed, _ = _compile(capsys, SPECS_DIR / "sge.attn", "-o", tmp_path / "out")
        assert code == 0
    assert printed.endswith("(unchanged)\n")  # by comparing the content, as before


def test_no_optimize_writes_the_dataflow_as_written(tmp_path, capsys):
    _compile(capsys, SPECS_DIR / "sdpa.attn", "-o", tmp_path / "fast")
    _compile(capsys, SPECS_DIR / "sdpa.attn", "-o", tmp_path / "plain", "--no-optimize")
    fast = (tmp_path / "fast" / "sdpa.py").read_text(encoding="utf-8")
    plain = (tmp_path / "plain" / "sdpa.py").read_text(encoding="utf-8")
    assert "F.scaled_dot_product_attention(" in fast
    assert "scaled_dot_product_attention" not in plain and "att.softmax(dim=-1)" in plain


def test_a_missing_formatter_is_said_plainly(tmp_path, capsys, monkeypatch):
    """Without ruff's binary the compile stops with one line that says what to install
    (exit 2, as for any problem outside the spec), not an internal error."""
    from ruff import __main__ as ruff_main

    def missing():
        raise FileNotFoundError("no ruff binary")

    monkeypatch.setattr(ruff_main, "find_ruff_bin", missing)
    monkeypatch.setenv("ATTNDSL_CACHE_DIR", str(tmp_path / "cache"))
    code, _, err = _compile(capsys, SPECS_DIR / "sge.attn", "-o", tmp_path / "out")
    assert code == 2 and "pip install 'ruff" in err and "internal error" not in err
    assert not (tmp_path / "out" / "sge.py").exists()


def test_the_missing_formatter_message_names_the_declared_ruff_range():
    """The range to install is read from the installed metadata, which pyproject.toml
    writes: the two cannot drift apart."""
    import tomllib

    from attndsl.formatting import _ruff_requirement

    declared = tomllib.loads((SPECS_DIR.parent / "pyproject.toml").read_text(encoding="utf-8"))
    ruff = next(r for r in declared["project"]["dependencies"] if r.startswith("ruff"))
    assert set(_ruff_requirement().removeprefix("ruff").split(",")) == set(ruff.removeprefix("ruff").split(","))


def test_the_missing_formatter_message_names_the_range_in_an_uninstalled_source_tree(monkeypatch):
    """Run from a checkout on PYTHONPATH, never installed (no metadata), the range comes
    from the pyproject.toml beside the package (seen on the GPU machine, where attndsl
    ran uninstalled)."""
    import importlib.metadata
    import tomllib

    from attndsl.formatting import _ruff_requirement

    def uninstalled(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "requires", uninstalled)
    declared = tomllib.loads((SPECS_DIR.parent / "pyproject.toml").read_text(encoding="utf-8"))
    ruff = next(r for r in declared["project"]["dependencies"] if r.startswith("ruff"))
    assert "," in ruff and set(_ruff_requirement().removeprefix("ruff").split(",")) == set(ruff.removeprefix("ruff").split(","))
