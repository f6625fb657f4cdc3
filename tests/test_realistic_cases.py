"""The benchmark's realistic-size rows (tests/realistic_cases.py) are well-formed.

The benchmark (benchmarks/run.py) runs them; no test does, they take seconds each. Here
every row is only built and traced on PyTorch's meta device (shapes, no data, no
arithmetic): the reference and the generated module accept the row's constructor
arguments and have the same state_dict keys and shapes, and both map the row's inputs
to its output shape, so a row that the benchmark would fail on fails here first.
"""

import pytest
import torch

from .harness import generated_class
from .mechanisms import CASES
from .realistic_cases import REALISTIC_CASES


def _meta_inputs(case):
    args = [torch.empty(shape, device="meta") for shape in case.inputs.values()]
    kwargs = {name: torch.empty(extra.shape, device="meta",
                                dtype=torch.bool if extra.kind in ("mask", "keep") else torch.float32)
              for name, extra in case.extras.items()}
    return args, kwargs


def _shapes(out):
    return [tuple(o.shape) for o in out] if isinstance(out, tuple) else [tuple(out.shape)]


def test_every_class_of_the_catalogue_has_a_realistic_row():
    classes = {(c.stem, c.class_name) for c in CASES}
    covered = {(c.stem, c.class_name) for c in REALISTIC_CASES}
    assert classes - covered == set()


def test_row_ids_are_unique():
    ids = [c.id for c in REALISTIC_CASES]
    assert len(ids) == len(set(ids))


def _on_meta(build):
    """Built on the meta device (no weights are drawn); on the CPU, then moved, where a
    constructor checks a buffer's values (HaloAttention's generated one does)."""
    try:
        with torch.device("meta"):
            return build().eval()
    except RuntimeError:
        return build().to("meta").eval()


@pytest.mark.parametrize("case", REALISTIC_CASES, ids=lambda c: c.id)
def test_realistic_row_builds_and_traces_on_meta(case):
    reference = _on_meta(case.build_reference)
    generated = _on_meta(lambda: generated_class(case)(**dict(case.kwargs)))
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in generated.state_dict().items()}
    assert got == want
    args, kwargs = _meta_inputs(case)
    with torch.inference_mode():
        for module in (reference, generated):
            assert _shapes(module(*args, **kwargs)) == [tuple(s) for s in case.output_shapes]
