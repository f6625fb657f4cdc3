"""The one exception the fuzzing oracles raise for a bug they find."""

from __future__ import annotations


class FuzzBug(AssertionError):
    """An oracle's property does not hold (not a crash of the oracle itself)."""
