"""Write docs/graphs.md: a Mermaid picture of every spec in specs/ (`attndsl graph`).

    python scripts/graph_docs.py

tests/test_tool_graph.py fails when the file is not what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from attndsl.tools.graph import catalogue_markdown  # noqa: E402


def main() -> None:
    target = ROOT / "docs" / "graphs.md"
    text = catalogue_markdown(sorted((ROOT / "specs").glob("*.attn")))
    changed = not target.exists() or target.read_text(encoding="utf-8") != text
    if changed:
        target.write_text(text, encoding="utf-8")
    print(f"{target.relative_to(ROOT)}" + ("" if changed else " (unchanged)"))


if __name__ == "__main__":
    main()
