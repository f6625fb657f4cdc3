"""No-op compiles: `attndsl compile` skips a spec whose module on disk is what compiling
would write, and decides so before importing the compiler (lark, jinja2, networkx) or
starting the formatter (ruff).

A compile is keyed by a hash of everything its output depends on: the spec's bytes and
display path, the options, and the compiler itself (every file of the `attndsl`
package, the grammar and the templates, and the installed ruff, which formats the
output). The cache maps that key to the hash of the module it produced, and the
warnings it printed (replayed on a hit). A hit needs the output file to still have
that hash, so a module edited by hand, deleted or stale is compiled again.

The cache lives outside the repository (`$ATTNDSL_CACHE_DIR`, else
`$XDG_CACHE_HOME/attndsl`, else `~/.cache/attndsl`): generated files stay byte-for-byte
what the compiler renders, and a compiler edit does not touch every committed module.
Writing it is best-effort: a read-only home only costs the speed-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_FORMAT = b"attndsl-cache-2"


def cache_dir() -> Path:
    if os.environ.get("ATTNDSL_CACHE_DIR"):
        return Path(os.environ["ATTNDSL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "attndsl"


@cache
def compiler_fingerprint() -> str:
    """A hash of the compiler's own files and of the formatter it runs."""
    digest = hashlib.sha256(_FORMAT)
    roots = [_PACKAGE] + [p for p in (_PACKAGE.parent / "grammars", _PACKAGE.parent / "templates") if p.is_dir()]
    for root in roots:
        for directory, subdirectories, files in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".lark", ".j2")):
                    path = os.path.join(directory, name)
                    digest.update(os.path.relpath(path, root).encode() + b"\0")
                    with open(path, "rb") as stream:
                        digest.update(hashlib.sha256(stream.read()).digest())
    digest.update(_installed("ruff").encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def _installed(package: str) -> str:
    """Where a package is installed and when (a reinstall or an upgrade changes it), without importing it."""
    from importlib.util import find_spec

    try:
        spec = find_spec(package)
    except (ImportError, ValueError):
        return "missing"
    if spec is None or spec.origin is None:
        return "missing"
    stat = os.stat(spec.origin)
    return f"{spec.origin}:{stat.st_size}:{stat.st_mtime_ns}"


def compile_key(spec_bytes: bytes, display: str, options: dict, imported: list[tuple[str, bytes]] = ()) -> str:
    digest = hashlib.sha256(compiler_fingerprint().encode())
    digest.update(json.dumps(options, sort_keys=True).encode() + b"\0" + display.encode() + b"\0")
    digest.update(spec_bytes)
    for name, data in imported:  # the specs it imports: editing one recompiles this one
        digest.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


# `from NAME import` as the grammar lexes it: spaces, tabs and form feeds between the
# words and before the first, and a backslash-newline between any two (joined first:
# `from \<newline>c import Gate`). Not anchored at a line's start (a byte-order mark or a
# form feed may come first): text that only looks like an import, in a comment, adds a
# file to the key, which costs at most a recompile, where a missed one leaves a stale module.
_CONTINUATION = re.compile(r"\\[\t \f]*\r?\n")
_IMPORT = re.compile(r"from[\t \f]+([^\W\d]\w*)[\t \f]+import")


def _imports(source: str) -> list[str]:
    """The specs `source` imports, by stem, as the parser would find them (or more)."""
    return _IMPORT.findall(_CONTINUATION.sub(" ", source))


def imported_specs(path: Path, source: str) -> list[tuple[str, bytes]]:
    """Every spec `path` imports, directly or through another (`from sdpa import ...`, a
    spec of the same directory), as (path, bytes), read without parsing; a missing one as
    empty bytes (compiling then reports it)."""
    found: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    pending = [(path.parent, module) for module in _imports(source)]
    while pending:
        directory, module = pending.pop(0)
        target = directory / f"{module}.attn"
        if target.as_posix() in seen:
            continue
        seen.add(target.as_posix())
        try:
            data = target.read_bytes()
        except OSError:
            data = b""
        found.append((target.as_posix(), data))
        pending += [(target.parent, m) for m in _imports(data.decode("utf-8", "replace"))]
    return found


def lookup(key: str, target: Path) -> list | None:
    """The warnings to replay (attndsl.diagnostics' objects) when `target` is what compiling
    would write; else None. An entry this version did not write as it writes them (another
    tool's, a truncated one) is a miss: the compile it costs rewrites it."""
    try:
        entry = json.loads((cache_dir() / f"{key}.json").read_text(encoding="utf-8"))
        produced = hashlib.sha256(target.read_bytes()).hexdigest()
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("output") != produced:
        return None
    try:
        return diagnostics_from_json(entry.get("diagnostics", []))
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


def record(key: str, code: str, diagnostics: list) -> None:
    entry = {"output": hashlib.sha256(code.encode("utf-8")).hexdigest(),
             "diagnostics": [_diagnostic_to_json(d) for d in diagnostics]}
    directory = cache_dir()
    temporary = directory / f".{key}.{os.getpid()}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(entry), encoding="utf-8")
        os.replace(temporary, directory / f"{key}.json")
    except OSError:
        try:
            temporary.unlink()
        except OSError:
            pass


def _diagnostic_to_json(diagnostic) -> dict:
    def span(s):
        return None if s is None else [s.path, s.line, s.column, s.end_line, s.end_column]

    return {"severity": diagnostic.severity, "code": diagnostic.code, "message": diagnostic.message,
            "span": span(diagnostic.span), "help": diagnostic.help,
            "labels": [[span(label.span), label.message] for label in diagnostic.labels]}


def diagnostics_from_json(items: list[dict]) -> list:
    """The diagnostics `_diagnostic_to_json` wrote; TypeError, KeyError or ValueError for
    anything else."""
    if not isinstance(items, list):
        raise TypeError("the diagnostics of a cache entry are a list")
    if not items:
        return []
    from .diagnostics import Diagnostic, Label, Span

    def span(value):
        if value is None:
            return None
        path, *numbers = value
        if not isinstance(path, str) or len(numbers) != 4 or not all(type(n) is int for n in numbers):
            raise ValueError(f"not a span: {value!r}")
        return Span(path, *numbers)

    def text(value, optional=False):
        if not isinstance(value, str) and not (optional and value is None):
            raise ValueError(f"not a text: {value!r}")
        return value

    return [Diagnostic(text(item["severity"]), text(item["code"]), text(item["message"]), span(item["span"]),
                       [Label(span(s), text(m)) for s, m in item["labels"]], text(item["help"], optional=True))
            for item in items]
