"""`attndsl.load`: a spec's module class, compiled in memory (no file written).

Executing the generated code imports torch, so torch is needed here (and only here).
"""

from __future__ import annotations

import itertools
import linecache
import sys
import types
from pathlib import Path

_counter = itertools.count()


def load(path: str | Path, block: str | None = None, *, optimize: bool = True) -> type:
    """Compile the spec at `path` and return the class of `block` (default: the last block
    of the file, the one that uses the others); `optimize=False` leaves out the optimising
    passes, as `attndsl compile --no-optimize` does. Raises `attndsl.CompileError` for a spec
    with errors, `FileNotFoundError` for a missing file, `ValueError` for an unknown block."""
    from .compiler import compile_source
    from .diagnostics import CompileError
    from .files import read_spec_text

    path = Path(path)
    source = read_spec_text(path)
    result = compile_source(source, path.as_posix(), optimize=optimize)
    if not result.ok:
        raise CompileError(result.diagnostics, {path.as_posix(): source, **result.sources})
    names = [b.name for b in result.blocks]
    name = block or names[-1]
    if name not in names:
        raise ValueError(f"{path.as_posix()} has no block {name!r}; its blocks are {', '.join(names)}")
    return getattr(load_code(result.code, path.stem), name)


def load_code(code: str, stem: str = "spec") -> types.ModuleType:
    """Execute generated code as a fresh module, registered in sys.modules (so pickling and
    `typing.get_type_hints` work) and in linecache (so tracebacks show its lines)."""
    safe = "".join(c if c.isalnum() else "_" for c in stem)
    index = next(_counter)
    name = f"attndsl_loaded_{safe}_{index}"
    # one linecache entry per load: two loads of a spec (optimised and not) keep their own lines
    filename = f"<attndsl: {stem} #{index}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        exec(compile(code, filename, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    return module
