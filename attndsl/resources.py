"""Where the grammar and templates live.

In a source checkout they sit at the top of the repository (`grammars/`, `templates/`);
in a built wheel they travel inside the package (see pyproject.toml's force-include).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"attndsl is installed without its {name}/ folder (looked in {_PACKAGE})")
