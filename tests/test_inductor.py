"""A few generated modules under the real torch.compile backend (inductor), whole-graph.

tests/test_runtime.py runs every case with `backend="aot_eager"` (dynamo and AOTAutograd,
where graph breaks show up, without code generation); inductor costs 12-30 s per model
on a 2-core CPU, so it runs here on two: the fused attention (one SDPA call with an
optional mask) and EMSA's specialised form (the plain path under `if`, the fused one
under `else`), the two shapes of code the optimising passes add.
"""

from __future__ import annotations

import pytest
import torch

from .harness import generated_class
from .mechanisms import CASES_BY_ID

CASES = ["sdpa-mask", "emsa-r2-t1"]


@pytest.mark.parametrize("case_id", CASES)
def test_inductor_fullgraph(case_id):
    case = CASES_BY_ID[case_id]
    torch._dynamo.reset()
    torch.manual_seed(case.seed)
    module = generated_class(case)(**dict(case.kwargs)).eval()
    args, kwargs = case.make_inputs(dtype=torch.float32)
    with torch.no_grad():
        want = module(*args, **kwargs)
        got = torch.compile(module, fullgraph=True, backend="inductor")(*args, **kwargs)
    # float32 reassociation by inductor: a few ulps of the largest intermediate values
    torch.testing.assert_close(got, want, rtol=1e-4, atol=5e-5)
    torch._dynamo.reset()
