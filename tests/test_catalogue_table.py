"""The README's catalogue table is current: a row per spec, spec lines and parameters as
computed (scripts/catalogue_table.py; `--write` refreshes them), the bug column filled."""

from __future__ import annotations

from scripts.catalogue_table import README, computed, rows

from .mechanisms import SPECS_DIR


def test_every_spec_has_a_row_and_its_numbers_are_current():
    table = rows(README.read_text(encoding="utf-8").splitlines())
    assert sorted(row["spec"].strip("`") for row in table) == sorted(p.name for p in SPECS_DIR.glob("*.attn"))
    for row in table:
        fresh = computed(row)
        assert (row["spec lines"], row["parameters"]) == (fresh["spec lines"], fresh["parameters"]), (
            f"{row['spec']}: run `python scripts/catalogue_table.py --write`")
        assert row["fixes"], f"{row['spec']}: say which published bug the spec fixes, or `none`"
