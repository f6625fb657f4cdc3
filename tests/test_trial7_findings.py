"""What porting trial 7 (Swin, Hugging Face self-attention, PVT v2, Nystromformer, linear
attention, timm's Attention) found, each fixed and kept here: the failing spec, reduced."""

from __future__ import annotations

from .language_support import agree, compile_ok, first_error

TWO_LOOPS = """\
block Two(d: int = 4):
    input x: [b, d]
    layer first = [linear(d, d) for _ in range(2)]
    layer second = [linear(d, d) for _ in range(3)]
    for blk in first:
        x = blk(x)
    for blk in second:
        x = blk(x) * 2
    return x
"""


def test_a_later_loop_may_reuse_an_earlier_loops_variable():
    """PVT's forward_features: `for blk in self.block1: ...` then `for blk in self.block2: ...`."""
    code = compile_ok(TWO_LOOPS)
    assert "for blk in self.first:" in code and "for blk in self.second:" in code
    assert agree(TWO_LOOPS, {}, {"x": (2, 4)}) == "agree"
    after = TWO_LOOPS.replace("    return x\n", "    return x + blk(x)\n")
    assert first_error(after)[0] == "E0106"  # still not defined after its loop
