"""Source spans and user-facing diagnostics.

Every error a user can cause is a `Diagnostic` with a primary span; nothing in the
pipeline raises a bare exception for bad input. Diagnostics are collected in a
`DiagnosticSink` so that one run reports every independent error it finds.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A half-open region of a source file; lines and columns start at 1."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass
class Label:
    span: Span
    message: str


@dataclass
class Diagnostic:
    severity: str  # "error" or "warning"
    code: str
    message: str
    span: Span | None
    labels: list[Label] = field(default_factory=list)
    help: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class CompileError(Exception):
    """Raised by the library API when a spec has errors; carries every diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = diagnostics
        self.sources = sources or {}
        super().__init__(render_all(diagnostics, self.sources, color=False))


class DiagnosticSink:
    """Collects diagnostics in the order they are found."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        # The text of each other spec the compile read (`from sdpa import ...`), by display
        # path, so that a diagnostic in one shows its line.
        self.sources: dict[str, str] = {}

    def error(self, code: str, message: str, span: Span | None, *, labels=(), help=None) -> Diagnostic:
        diagnostic = Diagnostic("error", code, message, span, list(labels), help)
        self.items.append(diagnostic)
        return diagnostic

    def warning(self, code: str, message: str, span: Span | None, *, labels=(), help=None) -> Diagnostic:
        diagnostic = Diagnostic("warning", code, message, span, list(labels), help)
        self.items.append(diagnostic)
        return diagnostic

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)


class Abort(Exception):
    """Stops the current stage after an error it cannot recover from (already recorded)."""


_COLORS = {"error": "\033[1;31m", "warning": "\033[1;33m", "help": "\033[1;36m", "bold": "\033[1m", "reset": "\033[0m"}


def want_color(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def render(diagnostic: Diagnostic, sources: dict[str, str], *, color: bool = False) -> str:
    """Render one diagnostic rustc-style: location, message, source excerpt with carets."""

    def paint(kind: str, text: str) -> str:
        return f"{_COLORS[kind]}{text}{_COLORS['reset']}" if color else text

    where = f"{diagnostic.span}: " if diagnostic.span else ""
    head = paint(diagnostic.severity, f"{diagnostic.severity}[{diagnostic.code}]")
    lines = [f"{where}{head}: {paint('bold', diagnostic.message)}"]
    if diagnostic.span:
        lines += _excerpt(diagnostic.span, None, sources, paint, diagnostic.severity)
    for label in diagnostic.labels:
        lines += _excerpt(label.span, label.message, sources, paint, "help")
    if diagnostic.help:
        lines.append(f"  = {paint('help', 'help')}: {diagnostic.help}")
    return "\n".join(lines)


def render_all(diagnostics: list[Diagnostic], sources: dict[str, str], *, color: bool = False) -> str:
    return "\n".join(render(d, sources, color=color) for d in diagnostics)


def source_line(text: str, number: int) -> str | None:
    """Line `number` (from 1) of a spec as the lexer counts lines: only `\n` ends one (a
    `\r` alone, inside a comment, does not; `str.splitlines` would also split at it, at a
    form feed and at Unicode line separators, and show another line than the span's), its
    `\r\n` ending left off. None past the end."""
    lines = text.split("\n")
    if lines[-1] == "":  # the file's last `\n` ends its last line; it starts none
        lines.pop()
    if not 1 <= number <= len(lines):
        return None
    return lines[number - 1].removesuffix("\r")


def _excerpt(span: Span, note: str | None, sources: dict[str, str], paint, kind: str) -> list[str]:
    text = sources.get(span.path)
    if text is None:
        return [f"  --> {span}" + (f": {note}" if note else "")]
    line = source_line(text, span.line)
    if line is None:
        return [f"  --> {span}" + (f": {note}" if note else "")]
    code = line.expandtabs(1).replace("\r", " ")  # a `\r` printed would send the cursor back over the line
    gutter = str(span.line)
    end = span.end_column if span.end_line == span.line else len(code) + 1
    width = max(1, end - span.column)
    marker = paint(kind, "^" * width + (f" {note}" if note else ""))
    pad = " " * len(gutter)
    out = []
    if note:
        out.append(f"{pad}--> {span}")
    out += [f"{pad} |", f"{gutter} | {code}", f"{pad} | {' ' * (span.column - 1)}{marker}"]
    return out


def print_diagnostics(diagnostics: list[Diagnostic], sources: dict[str, str], stream=None) -> None:
    stream = stream or sys.stderr
    color = want_color(stream)
    for diagnostic in diagnostics:
        print(render(diagnostic, sources, color=color), file=stream)
