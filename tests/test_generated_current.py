"""generated/ is up to date: every spec compiles to exactly its committed module.

A change to a spec or to the compiler must come with the regenerated modules, so that
review shows the effect on the generated code as a diff. Fix a failure with

    attndsl compile specs/*.attn
"""

from __future__ import annotations

import difflib

import pytest

import attndsl

from .mechanisms import REPO_ROOT, SPECS_DIR

GENERATED_DIR = REPO_ROOT / "generated"
FIX = "run `attndsl compile specs/*.attn` (from the repository root) and commit generated/"

SPECS = sorted(SPECS_DIR.glob("*.attn"))
GENERATED = sorted(GENERATED_DIR.glob("*.py"))


def test_there_are_specs():
    assert SPECS, f"no specs found in {SPECS_DIR}"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_generated_module_is_current(spec):
    target = GENERATED_DIR / f"{spec.stem}.py"
    fresh = attndsl.compile_file(spec)
    assert target.is_file(), f"generated/{target.name} is missing: {FIX}"
    committed = target.read_bytes()
    if committed != fresh.encode("utf-8"):
        diff = "".join(
            difflib.unified_diff(
                committed.decode("utf-8", errors="replace").splitlines(True),
                fresh.splitlines(True),
                f"generated/{target.name} (committed)",
                f"generated/{target.name} (compiled from specs/{spec.name} now)",
            )
        )
        pytest.fail(f"generated/{target.name} is stale: {FIX}\n{diff[:4000]}", pytrace=False)


def test_no_orphan_generated_modules():
    spec_stems = {p.stem for p in SPECS}
    orphans = [p.name for p in GENERATED if p.stem not in spec_stems]
    assert not orphans, (
        f"generated/ has modules without a spec in specs/: {orphans}; delete them "
        f"(or restore their specs), then {FIX}"
    )
