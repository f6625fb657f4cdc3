"""Blocks copied between catalogue specs stay copies.

The language cannot use a block of another spec, so DANet (specs/danet.attn) carries its
own copies of ScaledDotProductAttention and SimplifiedScaledDotProductAttention. They
must stay what specs/sdpa.attn and specs/simplified_sdpa.attn say: a fix to one must
reach the other."""

from __future__ import annotations

import re

import pytest

from .mechanisms import SPECS_DIR

COPIES = [
    ("danet", "ScaledDotProductAttention", "sdpa"),
    ("danet", "SimplifiedScaledDotProductAttention", "simplified_sdpa"),
]


def block_text(stem: str, name: str) -> str:
    """The text of `block name(...)` in specs/<stem>.attn, up to the next top-level line (a
    header split over lines by `attndsl fmt` ends in a top-level `):`, which belongs to it)."""
    text = (SPECS_DIR / f"{stem}.attn").read_text(encoding="utf-8")
    match = re.search(rf"^block {name}\(.*?(?=^[^\s)]|\Z)", text, flags=re.S | re.M)
    assert match, f"specs/{stem}.attn has no block {name}"
    return match.group(0).rstrip()


@pytest.mark.parametrize("stem, name, original", COPIES)
def test_copied_blocks_equal_their_originals(stem, name, original):
    assert block_text(stem, name) == block_text(original, name), (
        f"specs/{stem}.attn's {name} differs from specs/{original}.attn's: copy it again"
    )


def test_the_comparison_sees_a_difference():
    assert block_text("danet", "ScaledDotProductAttention") != block_text(
        "danet", "SimplifiedScaledDotProductAttention"
    )
