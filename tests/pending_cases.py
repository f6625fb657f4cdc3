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
from .references.non_local import NonLocalBlockND

QKV49 = {"queries": (2, 49, 64), "keys": (2, 49, 64), "values": (2, 49, 64)}
QKV30 = {"queries": (2, 49, 64), "keys": (2, 30, 64), "values": (2, 30, 64)}
X64 = {"x": (2, 64, 7, 7)}

# A table: one row per case reads better than black's layout.
# fmt: off
PENDING_CASES: list[Case] = [
    # --- seed 003
    Case("non_local", "non_local", "NonLocalBlockND", NonLocalBlockND,
         dict(in_channels=16, inter_channels=8, dimension=2), {"x": (4, 16, 20, 20)}, (4, 16, 20, 20)),
    Case("non_local-1d", "non_local", "NonLocalBlockND", NonLocalBlockND,
         dict(in_channels=16, inter_channels=8, dimension=1), {"x": (3, 16, 20)}, (3, 16, 20)),
    Case("non_local-3d", "non_local", "NonLocalBlockND", NonLocalBlockND,
         dict(in_channels=16, inter_channels=8, dimension=3), {"x": (2, 16, 4, 6, 6)}, (2, 16, 4, 6, 6)),
    Case("non_local-plain", "non_local", "NonLocalBlockND", NonLocalBlockND,
         dict(in_channels=16, sub_sample=False, bn_layer=False), {"x": (3, 16, 6, 5)}, (3, 16, 6, 5)),
]
# fmt: on
