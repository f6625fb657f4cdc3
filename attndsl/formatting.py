"""Formatting the generated Python: black's style, applied by `ruff format`.

ruff's formatter writes black's style (every module in `generated/` is identical under
both) from a native binary: a module formats in about a millisecond, against ~40 ms for
black and ~0.1 s to import black at all, which made formatting the largest share of a
compile. Many modules go to one ruff process (`format_many`), so `attndsl compile
specs/*.attn` starts it once.

The call is isolated from the user's configuration (`--isolated`: a `[tool.ruff]` in the
project being compiled must not change what attndsl writes) and pinned to the settings
below; the installed ruff's version is part of the no-op cache key (attndsl/cache.py).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

# Generated lines carry a shape comment; a wider line keeps the formatter from folding the code.
LINE_LENGTH = 120
_SETTINGS = ["--isolated", "--no-cache", f"--line-length={LINE_LENGTH}", "--target-version=py310"]


class FormatterError(RuntimeError):
    """ruff could not format a generated module: a bug in attndsl (it wrote invalid Python)."""


class FormatterUnavailable(RuntimeError):
    """The installation lacks ruff, or its binary: not a bug in attndsl nor in the spec."""


def ruff_binary() -> str:
    try:
        from ruff.__main__ import find_ruff_bin

        return find_ruff_bin()
    except (ImportError, FileNotFoundError) as error:
        raise FormatterUnavailable("attndsl formats the modules it writes with ruff, which is not installed "
                                   f"here ({error.__class__.__name__}): pip install '{_ruff_requirement()}'") from None


def _ruff_requirement() -> str:
    """The ruff version range attndsl declares (pyproject.toml, the one place it is written)."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        declared = requires("attndsl") or []
    except PackageNotFoundError:  # run from a source tree that was never installed
        declared = _source_tree_dependencies()
    return next((r.split(";")[0].replace(" ", "") for r in declared if r.startswith("ruff")), "ruff")


def _source_tree_dependencies() -> list[str]:
    """The dependencies written in the pyproject.toml beside the package, if any."""
    from pathlib import Path

    try:
        import tomllib
    except ImportError:  # Python 3.10: the message names ruff without its range
        return []
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return []


def format_python(code: str) -> str:
    """One module, formatted through ruff's standard input."""
    done = subprocess.run([ruff_binary(), "format", *_SETTINGS, "--stdin-filename=generated.py", "-"],
                          input=code.encode("utf-8"), capture_output=True)
    if done.returncode != 0:
        raise FormatterError(done.stderr.decode("utf-8", "replace").strip())
    return done.stdout.decode("utf-8")


def format_many(codes: list[str]) -> list[str]:
    """Several modules in one ruff process; the same text `format_python` gives each."""
    if len(codes) < 2:
        return [format_python(code) for code in codes]
    with tempfile.TemporaryDirectory(prefix="attndsl-format-") as scratch:
        paths = [Path(scratch) / f"module_{i}.py" for i in range(len(codes))]
        for path, code in zip(paths, codes):
            path.write_text(code, encoding="utf-8", newline="\n")
        done = subprocess.run([ruff_binary(), "format", *_SETTINGS, "--quiet", scratch], capture_output=True)
        if done.returncode != 0:
            raise FormatterError(done.stderr.decode("utf-8", "replace").strip())
        return [path.read_text(encoding="utf-8") for path in paths]
