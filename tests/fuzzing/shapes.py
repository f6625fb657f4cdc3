"""What the spec generator believes about sizes: the pool of sizes it draws from, the
divisors of a size, and :class:`GenTensor` (a tensor of the block being built and its
believed shape).  Shared by the generator and its op mixins.
"""

from __future__ import annotations

from dataclasses import dataclass

SIZES = [1, 2, 3, 4, 4, 6, 6, 8, 8, 12]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0] or [1]  # [1] for a size the generator got wrong (<= 0)


@dataclass
class GenTensor:
    name: str  # the spec expression that refers to it (a name, or a parenthesised expression)
    shape: tuple[int, ...]  # its shape under the example, as this generator believes it
