"""docs/language.md is generated from the op and layer registries and must be current; every
op and layer kind has its entry, with a doc, a shape rule in words, and an example that
compiles (attndsl/reference.py compiles each one while rendering)."""

from __future__ import annotations

from pathlib import Path

import pytest

from attndsl.layers import LAYERS
from attndsl.ops import OPS
from attndsl.reference import render

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rendered() -> str:
    return render()


def test_docs_language_md_is_current(rendered):
    current = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert current == rendered, "docs/language.md is stale: run `python -m attndsl.reference > docs/language.md`"


@pytest.mark.parametrize("name", [n for n, d in OPS.items() if not d.extra.get("internal")])
def test_every_op_is_documented_with_an_example(name, rendered):
    definition = OPS[name]
    assert definition.doc and definition.shape_doc and definition.example, name
    heading = f"#### `{definition.operator}` ({name})" if definition.operator else f"#### {name}"
    assert heading + "\n" in rendered


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_is_documented_with_an_example(name, rendered):
    definition = LAYERS[name]
    assert definition.doc and definition.shape_doc and definition.example, name
    layers = rendered.split("\n## Layers\n")[1]
    assert f"#### {name}\n" in layers
    assert f"nn.{definition.torch_class}(" in layers.split(f"#### {name}\n")[1].split("####")[0]


def test_the_readme_links_the_reference_and_says_what_the_language_cannot_do():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/language.md" in readme
    assert "cannot" in readme.lower()
