#!/usr/bin/env python
"""The README's catalogue table: the columns the specs decide, computed.

    python scripts/catalogue_table.py            # print the table, and the median line ratio
    python scripts/catalogue_table.py --write    # rewrite the table in README.md

The table's written columns (class, spec, paper, published lines, the bug the spec fixes)
stay as the README has them; "spec lines" (code lines of the spec: no blank lines,
comments or docstrings) and "parameters" (of the row's first class, built at its first
configuration in tests/mechanisms.py) are computed. tests/test_catalogue_table.py checks
that the README is current.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

README = REPO_ROOT / "README.md"
HEADER = "| class | spec | paper | spec lines | published lines | parameters | published bug the spec fixes |"
RULE = "|---|---|---|---:|---:|---:|---|"


def spec_code_lines(path: Path) -> int:
    """Lines of a spec that hold code: not blank, not a comment, not inside a docstring."""
    count, in_docstring = 0, False
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        quotes = text.count('"""')
        if in_docstring or text.startswith('"""'):
            if quotes % 2 == 1:
                in_docstring = not in_docstring
            continue
        if text and not text.startswith("#"):
            count += 1
    return count


def parameters(stem: str, class_name: str) -> int:
    """Parameters of the generated class at its first configuration in tests/mechanisms.py."""
    import torch  # noqa: F401 (the generated module imports it)

    from tests.mechanisms import CASES

    case = next(c for c in CASES if c.stem == stem and c.class_name == class_name)
    namespace: dict = {}
    path = REPO_ROOT / "generated" / f"{stem}.py"
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    module = namespace[class_name](**dict(case.kwargs))
    return sum(p.numel() for p in module.parameters())


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_span(lines: list[str]) -> tuple[int, int]:
    """(first, last + 1) of the table's lines: its header through its last row."""
    first = next(i for i, line in enumerate(lines) if line.startswith("| class | spec | paper |"))
    last = first
    while last < len(lines) and lines[last].startswith("|"):
        last += 1
    return first, last


def rows(lines: list[str]) -> list[dict]:
    first, last = table_span(lines)
    found = []
    for line in lines[first + 2:last]:
        cells = _cells(line)
        found.append({"class": cells[0], "spec": cells[1], "paper": cells[2], "spec lines": cells[3],
                      "published lines": cells[4], "parameters": cells[5] if len(cells) > 5 else "",
                      "fixes": cells[6] if len(cells) > 6 else ""})
    return found


def computed(row: dict) -> dict:
    stem = row["spec"].strip("`").removesuffix(".attn")
    class_name = re.search(r"`([A-Za-z_][A-Za-z0-9_]*)`", row["class"]).group(1)
    return {**row, "spec lines": str(spec_code_lines(REPO_ROOT / "specs" / f"{stem}.attn")),
            "parameters": f"{parameters(stem, class_name):,}"}


def render(table: list[dict]) -> list[str]:
    lines = [HEADER, RULE]
    for row in table:
        lines.append(f"| {row['class']} | {row['spec']} | {row['paper']} | {row['spec lines']} | "
                     f"{row['published lines']} | {row['parameters']} | {row['fixes']} |")
    return lines


def median_ratio(table: list[dict]) -> tuple[float, int]:
    ratios = [int(r["spec lines"]) / int(r["published lines"]) for r in table if r["published lines"].isdigit()]
    return statistics.median(ratios), len(ratios)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args(argv)
    lines = README.read_text(encoding="utf-8").splitlines()
    table = [computed(row) for row in rows(lines)]
    rendered = render(table)
    if args.write:
        first, last = table_span(lines)
        README.write_text("\n".join(lines[:first] + rendered + lines[last:]) + "\n", encoding="utf-8")
    else:
        print("\n".join(rendered))
    median, count = median_ratio(table)
    print(f"median spec / published lines over {count} rows: {median:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
