"""The built wheel works on its own: it carries its grammar and templates.

In a source checkout the grammar and templates sit at the top of the repository; in
a wheel they travel inside the package (pyproject.toml's force-include). This test
builds the wheel, installs it into an empty directory and compiles a spec with it,
away from the checkout, so that a missing resource cannot be found by accident.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from .mechanisms import REPO_ROOT


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_wheel_compiles_a_spec_outside_the_checkout(tmp_path):
    start = time.perf_counter()
    wheels, site, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    # Build from a copy of the sources, so that the build cannot write into the checkout.
    source = tmp_path / "source"
    shutil.copytree(
        REPO_ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache",
                                      ".hypothesis", "build", "dist"),
    )
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
          "-q", "-w", str(wheels), str(source)])
    [wheel] = wheels.glob("attndsl-*.whl")

    names = zipfile.ZipFile(wheel).namelist()
    assert "attndsl/grammars/attn.lark" in names, names
    assert any(n.startswith("attndsl/templates/torch/") and n.endswith(".j2") for n in names), names

    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir", "-q", "--target", str(site),
          str(wheel)])

    spec = work / "sge.attn"
    shutil.copy(REPO_ROOT / "specs" / "sge.attn", spec)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # The wheel first; then the caller's path, minus this checkout, where the dependencies
    # may live (installed with `pip --target`, as on the GPU machine).
    elsewhere = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                 if p and Path(p).resolve() != REPO_ROOT.resolve()]
    env["PYTHONPATH"] = os.pathsep.join([str(site), *elsewhere])
    script = (
        "import sys, attndsl, attndsl.cli\n"
        "print(attndsl.__file__)\n"
        "sys.exit(attndsl.cli.main(['compile', 'sge.attn', '-o', 'out']))\n"
    )
    # -s: no user site; -P is not needed since cwd (work/) holds no package.
    result = _run([sys.executable, "-s", "-c", script], cwd=work, env=env)
    imported_from = Path(result.stdout.splitlines()[0]).resolve()
    assert imported_from.is_relative_to(site.resolve()), (
        f"attndsl was imported from {imported_from}, not from the installed wheel in {site}"
    )
    assert not imported_from.is_relative_to(REPO_ROOT.resolve())
    assert result.stdout.splitlines()[1] == "sge.attn -> out/sge.py"
    generated = (work / "out" / "sge.py").read_bytes()
    assert generated == (REPO_ROOT / "generated" / "sge.py").read_bytes()
    print(f"\nbuild + install + compile from the wheel: {time.perf_counter() - start:.1f} s")


def _readme_commands() -> list[str]:
    """The shell commands of README.md's quick start (the ```sh blocks of that section)."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in section.split("```sh\n")[1:] for block in [block.split("```", 1)[0]]]


def test_ci_runs_the_readme_test_command():
    install, test = _readme_commands()
    assert "pip install -e ." in install and "attndsl compile specs/sge.attn" in install
    steps = [s.strip() for s in test.split("&&")]
    assert steps.index("pip install torch==2.13.0") < steps.index("pip install -e '.[test]'"), steps
    readme_pytest = steps[-1]
    assert readme_pytest.startswith("python -m pytest"), readme_pytest

    script = REPO_ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK), ".ci/run must be executable"
    lines = [line.strip() for line in script.read_text(encoding="utf-8").splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    assert "set -euo pipefail" in code
    torch_line = next(i for i, line in enumerate(code) if "torch==2.13.0" in line)
    extras_line = next(i for i, line in enumerate(code) if "-e '.[test]'" in line)
    assert torch_line < extras_line, "install torch==2.13.0 before the test extras"
    assert code[-1] == readme_pytest, f".ci/run runs {code[-1]!r}, the README says {readme_pytest!r}"
