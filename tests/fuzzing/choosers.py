"""Where every fuzzing strategy draws its choices from: a *chooser*.

:class:`RandomChooser` wraps ``random.Random`` (fast, for the long run), :class:`DataChooser`
wraps hypothesis' ``st.data()`` (so hypothesis can shrink a failing case); both answer
``int(lo, hi)``, ``choice(seq)`` and ``chance(p)``.  :func:`shuffled` permutes a list with
a chooser's draws.
"""

from __future__ import annotations


class RandomChooser:
    def __init__(self, rng):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, seq):
        seq = list(seq)
        return seq[self.rng.randrange(len(seq))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


class DataChooser:
    """Draws from hypothesis' ``st.data()`` so that failures shrink."""

    def __init__(self, data):
        from hypothesis import strategies as st

        self.data = data
        self.st = st

    def int(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))

    def choice(self, seq):
        seq = list(seq)
        return seq[self.data.draw(self.st.integers(0, len(seq) - 1))]

    def chance(self, p: float) -> bool:
        # Shrinks towards False (the index 0 of the draw).
        return self.data.draw(self.st.integers(0, 99)) >= 100 - round(p * 100)


def shuffled(ch, items: list) -> list:
    items = list(items)
    out = []
    while items:
        out.append(items.pop(ch.int(0, len(items) - 1)))
    return out
