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


@pytest.fixture(autouse=True, scope="session")
def _private_compile_cache(tmp_path_factory):
    """`attndsl compile` keeps no-op hashes in ~/.cache/attndsl (attndsl/cache.py): the
    tests (and the CLI processes they start) use a directory of their own."""
    import os

    previous = os.environ.get("ATTNDSL_CACHE_DIR")
    os.environ["ATTNDSL_CACHE_DIR"] = str(tmp_path_factory.mktemp("attndsl-cache"))
    yield
    if previous is None:
        os.environ.pop("ATTNDSL_CACHE_DIR", None)
    else:
        os.environ["ATTNDSL_CACHE_DIR"] = previous


@pytest.fixture(name="load_generated")
def _load_generated_fixture():
    return load_generated
