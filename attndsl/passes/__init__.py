"""IR → IR passes, run on the checked IR (every node carries its "shape").

Cleanup (always): common-subexpression and dead-code elimination (`cleanup.py`).
Optimising (unless `optimize=False`, the CLI's `--no-optimize`), each in its own module:

- `fold_constants.py`: compile-time arithmetic, neutral elements, decided `if`s;
- `fuse_attention.py`: softmax(q·kᵀ·scale [+ mask]) [dropout] · v becomes one call of
  `F.scaled_dot_product_attention`;
- `fold_layout.py`: consecutive transposes and rearranges collapse into one;
- `reassociate.py`: matrix-product chains take the cheaper association;
- `scale_operand.py`: a number scaling a matrix product scales its smaller operand instead;
- `sink.py`: a value read only inside one branch of an `if` is computed in that branch.

Every optimising pass keeps the module's function: the tests compare each optimised
module with its `optimize=False` build in float64, in eval and training mode.
"""

from __future__ import annotations

from ..ir import BlockIR
from .cleanup import eliminate_common_subexpressions, eliminate_dead_code
from .fold_constants import fold_constants
from .fold_layout import fold_layout
from .fuse_attention import fuse_attention
from .reassociate import reassociate
from .scale_operand import scale_operands
from .sink import sink_into_branches

__all__ = ["eliminate_common_subexpressions", "eliminate_dead_code", "fold_constants", "fold_layout",
           "fuse_attention", "reassociate", "scale_operands", "sink_into_branches", "run_passes"]


def run_passes(ir: BlockIR, *, optimize: bool = True) -> dict[str, int]:
    counts = {"cse": eliminate_common_subexpressions(ir), "dce": eliminate_dead_code(ir)}
    if not optimize:
        return counts
    # A pass leaves the nodes it replaced behind, still reading their operands: dead code
    # goes after each one, so that "nothing else reads the attention weights" (fusion)
    # and "no other reader" (folding) count live readers only.
    for name, optimise in (("constants", fold_constants), ("attention", fuse_attention), ("layout", fold_layout),
                           ("constants", fold_constants), ("reassociate", reassociate),
                           ("scale", scale_operands), ("sink", sink_into_branches)):
        counts[name] = counts.get(name, 0) + optimise(ir)
        counts["dce"] += eliminate_dead_code(ir)
    counts["cse"] += eliminate_common_subexpressions(ir)
    counts["dce"] += eliminate_dead_code(ir)
    return counts
