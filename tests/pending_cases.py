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
from .references.gfnet import Block, GlobalFilter
from .references.non_local import NonLocalBlockND
from .references.psa import PSA
from .references.ske_conv import SKEConv

QKV49 = {"queries": (2, 49, 64), "keys": (2, 49, 64), "values": (2, 49, 64)}
QKV30 = {"queries": (2, 49, 64), "keys": (2, 30, 64), "values": (2, 30, 64)}
X64 = {"x": (2, 64, 7, 7)}

# A table: one row per case reads better than black's layout.
# fmt: off
PENDING_CASES: list[Case] = [
    # --- 2D maps in, 2D maps out
    Case("psa", "psa", "PSA", PSA, dict(channel=64, reduction=4), X64, (2, 64, 7, 7)),
    Case("psa-s2-nonsquare", "psa", "PSA", PSA, dict(channel=32, reduction=2, S=2), {"x": (3, 32, 6, 5)},
         (3, 32, 6, 5)),
    # --- token sequences
    Case("gfnet-filter", "gfnet", "GlobalFilter", GlobalFilter, dict(dim=64, h=7, w=4), {"x": (2, 49, 64)},
         (2, 49, 64)),
    Case("gfnet-filter-even", "gfnet", "GlobalFilter", GlobalFilter, dict(dim=32, h=8, w=5),
         {"x": (3, 64, 32)}, (3, 64, 32)),
    Case("gfnet-block", "gfnet", "Block", Block, dict(dim=64, h=7, w=4), {"x": (2, 49, 64)}, (2, 49, 64)),
    # --- seed 003
    Case("ske_conv", "ske_conv", "SKEConv", SKEConv, dict(in_channels=8, stride=2), {"x": (4, 8, 20, 20)},
         (4, 8, 10, 10)),
    Case("ske_conv-m3-channel-first", "ske_conv", "SKEConv", SKEConv,
         dict(in_channels=16, M=3, G=4, L=8, batch_first=False), {"x": (16, 3, 9, 8)}, (16, 3, 9, 8),
         batch_dim=1),
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
