"""Cases of the catalogue rows that have a hand-written reference but no spec yet.

Same format as ``CASES`` in ``tests/mechanisms.py``; the stem is the spec the row is
waiting for (``specs/<stem>.attn``), the class the one that spec must generate. The
references are tested on their own already (tests/test_references.py,
tests/test_catalogue_*.py). When a spec lands, move ALL its rows into ``CASES`` (with the
reference's import): its equivalence tests then switch on.
``tests/test_catalogue_references.py::test_pending_rows_have_no_spec`` fails while a
stem has a spec and rows still here.

The first row of every (stem, class) is the INTERFACES.md example where INTERFACES.md
has one; the others cover the constructor's branches, non-square maps, odd batches and the
configurations where the published code is wrong.
"""

from __future__ import annotations

from .cases import Case

QKV49 = {"queries": (2, 49, 64), "keys": (2, 49, 64), "values": (2, 49, 64)}
QKV30 = {"queries": (2, 49, 64), "keys": (2, 30, 64), "values": (2, 30, 64)}
X64 = {"x": (2, 64, 7, 7)}

PENDING_CASES: list[Case] = []  # every catalogue row has its spec now
