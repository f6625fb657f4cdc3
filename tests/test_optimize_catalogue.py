"""Every spec of the catalogue, optimised, computes what its unoptimised build computes:
float64 outputs, gradients and buffers, eval and training mode, on each case of
tests/mechanisms.py (which covers both sides of every `if`: EMSA's transform and
ratio, SDPA's optional mask and weights, ...). Where the passes leave a spec's code
unchanged, the text is the proof and the case costs nothing."""

from __future__ import annotations

import pytest

import attndsl

from .mechanisms import CASES, SPECS_DIR
from .optimizing import assert_same_function, compiled, load_source, pair

_BUILT: dict = {}


def _built(stem: str, class_name: str):
    """(plain class, optimised class, whether the code differs), compiled once per spec."""
    key = (stem, class_name)
    if key not in _BUILT:
        source = (SPECS_DIR / f"{stem}.attn").read_text(encoding="utf-8")
        path = f"specs/{stem}.attn"
        plain, fast = (compiled(source, optimize=flag, path=path) for flag in (False, True))
        _BUILT[key] = (getattr(load_source(plain, f"{stem}_plain"), class_name),
                       getattr(load_source(fast, f"{stem}_opt"), class_name), plain != fast)
    return _BUILT[key]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_optimized_module_is_the_same_function(case):
    plain_cls, fast_cls, differs = _built(case.stem, case.class_name)
    if not differs:
        return
    plain, fast = pair(plain_cls, fast_cls, dict(case.kwargs), case.seed)
    args, kwargs = case.make_inputs()
    assert_same_function(plain, fast, args, kwargs, case.seed, case.id)


@pytest.mark.parametrize("stem", ["sdpa", "emsa"])
def test_attention_specs_are_fused(stem):
    source = (SPECS_DIR / f"{stem}.attn").read_text(encoding="utf-8")
    fast = attndsl.compile_source(source, f"specs/{stem}.attn").code
    plain = attndsl.compile_source(source, f"specs/{stem}.attn", optimize=False).code
    assert "F.scaled_dot_product_attention(" in fast and "import torch.nn.functional as F" in fast
    assert "scaled_dot_product_attention" not in plain and "functional" not in plain
