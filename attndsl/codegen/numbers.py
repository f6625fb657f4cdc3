"""Checks that a float argument the checker compares is a number (not NaN)."""

from __future__ import annotations

from .text import fstring


def nan_checks(ir) -> list[tuple[tuple, list[str]]]:
    """(guard, lines) refusing NaN for each float argument a condition compares in the
    checker's exact form (BlockIR.compared_floats): the checker negates `p > 0` to `p <= 0`,
    which NaN fails too, so it would take another branch than Python. An optional one
    (`float | None`) is checked when given (None equals itself). The interpreter refuses the same
    (interpret/block.py: _bind_arguments)."""
    checks = []
    for arg in ir.args:
        if arg.name not in ir.compared_floats:
            continue
        # NaN is the one value not equal to itself; math.isnan would raise OverflowError on
        # a huge int given for the float (10**400), which the comparisons take as it is
        test = f"{arg.name} != {arg.name}"
        message = fstring([("text", f"{ir.name}: `{arg.name}` must be a number, got "), ("code", arg.name)])
        checks.append(((), [f"if {test}:", f"    raise ValueError({message})"]))
    return checks
