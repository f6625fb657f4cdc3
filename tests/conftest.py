"""Shared fixtures for the attndsl tests.

``load_generated(stem)`` compiles ``specs/{stem}.attn`` fresh (``attndsl.compile_file``)
and execs the source into a fresh module, cached per stem; it lives in
``tests/harness.py`` (so the benchmark can import it without pytest) and is
re-exported here, also as a fixture.
"""

import pytest
import torch

from .harness import load_generated  # noqa: F401  (re-export)

# The modules under test are small: one intra-op thread is faster than two threads that
# fight each other (and pytest) for a 2-core machine.
torch.set_num_threads(1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """Always "cpu"; also "cuda" when torch.cuda.is_available()."""
    return request.param


@pytest.fixture(name="load_generated")
def _load_generated_fixture():
    return load_generated
