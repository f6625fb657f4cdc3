"""Inputs that are sizes, not tensors: `input spatial_size: sizes[p, q] = None` (GFNet's
GlobalFilter takes `forward(x, spatial_size=None)`), against the hand-written reference
and the interpreter, and refused when they are not sizes."""

from __future__ import annotations

import pytest
import torch

import attndsl
from attndsl import interpret

from .mechanisms import SPECS_DIR
from .references.gfnet import GlobalFilter

SPEC = SPECS_DIR / "gfnet.attn"


def _pair(**kwargs):
    generated = attndsl.load(SPEC, "GlobalFilter")(**kwargs).double()
    torch.manual_seed(0)
    reference = GlobalFilter(**kwargs).double()
    generated.load_state_dict(reference.state_dict(), strict=True)
    return generated, reference


@pytest.mark.parametrize("spatial_size, n", [((4, 6), 24), ((4, 7), 28), ((2, 3), 6)])
def test_a_grid_given_as_sizes_matches_the_reference(spatial_size, n):
    generated, reference = _pair(dim=8, h=spatial_size[0], w=spatial_size[1] // 2 + 1)
    x = torch.randn(3, n, 8, dtype=torch.float64)
    expected = reference(x, spatial_size)
    assert torch.allclose(generated(x, spatial_size), expected, rtol=1e-10, atol=1e-12)
    assert torch.allclose(generated(x, spatial_size=list(spatial_size)), expected, rtol=1e-10, atol=1e-12)
    interpreted = interpret.build(SPEC, "GlobalFilter", dim=8, h=spatial_size[0], w=spatial_size[1] // 2 + 1)
    interpreted = interpreted.double()
    interpreted.load_state_dict(reference.state_dict(), strict=True)
    assert torch.allclose(interpreted(x, spatial_size), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad", [(4,), (4, 0), (4.0, 6), "46", (4, 5)])
def test_what_is_not_the_grid_is_refused(bad):
    generated, _ = _pair(dim=8, h=4, w=4)
    with pytest.raises(ValueError, match="GlobalFilter: "):
        generated(torch.randn(2, 24, 8, dtype=torch.float64), bad)


def test_sizes_are_not_values():
    source = "block B():\n    input x: [b, n]\n    input s: sizes[p] = None\n    return x * s\n"
    result = attndsl.compile_source(source, "b.attn")
    assert [d.code for d in result.diagnostics if d.is_error] == ["E0113"]
