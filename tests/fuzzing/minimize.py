"""Minimisation of a failing case: its :func:`failure_signature` (to tell distinct bugs
apart) and :func:`minimize` (greedy delta debugging over lines, then tokens).
"""

from __future__ import annotations

import traceback
from pathlib import Path

from .errors import FuzzBug
from .mutation import tokenize


def failure_signature(error: BaseException) -> tuple:
    """Exception type and the innermost frame in attndsl (or the generated code)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "attndsl" in frame.filename and "tests" not in frame.filename or frame.filename == "<generated>":
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            break
    if isinstance(error, FuzzBug):
        return ("FuzzBug", str(error).split("\n")[0][:60])
    return (type(error).__name__, where)


def minimize(source: str, fails, max_steps: int = 4000) -> str:
    """Greedy delta debugging: drop lines, then tokens, while `fails(text)` holds."""
    steps = 0

    def attempt(candidate: str) -> bool:
        nonlocal steps
        steps += 1
        try:
            return candidate != source and fails(candidate)
        except Exception:
            return False

    changed = True
    while changed and steps < max_steps:
        changed = False
        for unit in ("line", "token"):
            # Lines, then significant tokens (whitespace stays, so the result reads like a spec).
            if unit == "line":
                pieces = source.split("\n")
                join = "\n".join
            else:
                pieces = tokenize(source)
                join = "".join
            chunk = max(1, len(pieces) // 2)
            while chunk >= 1 and steps < max_steps:
                i = 0
                while i < len(pieces) and steps < max_steps:
                    removed = pieces[i:i + chunk]
                    if unit == "token" and all(p.isspace() for p in removed):
                        i += chunk
                        continue
                    candidate = join(pieces[:i] + pieces[i + chunk:])
                    if attempt(candidate):
                        source = candidate
                        pieces = pieces[:i] + pieces[i + chunk:]
                        changed = True
                    else:
                        i += chunk
                chunk //= 2
            if unit == "line" and changed:
                break
    return source

