"""Reading a spec's text as every entry point reads it, and writing a file so that a reader
never sees half of it: the text goes to a temporary file beside it, which then replaces it
in one step (an interrupted compile or `fmt` leaves the old file whole)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def spec_text(data: bytes) -> str:
    """A spec file's bytes as the lexer reads them: UTF-8 (UnicodeDecodeError otherwise),
    without a leading byte-order mark (editors on Windows write one), and with its line
    endings as they are (no newline translation: the positions in diagnostics are the
    file's own, whichever of the command line or the Python API read it)."""
    return data.decode("utf-8").lstrip("\ufeff")


def read_spec_text(path: str | Path) -> str:
    """The text of the spec at `path` (see `spec_text`); OSError or UnicodeDecodeError."""
    return spec_text(Path(path).read_bytes())


def write_atomically(path: Path, text: str) -> None:
    """Replace `path`'s content by `text`; an existing file keeps its mode, a new one gets
    the mode `open()` would give it (mkstemp's own is 0600)."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0o022)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
