"""The sections of docs/language.md: the op and the layer registries each declare their
entries family by family, and the reference lists the families in that order."""

from __future__ import annotations


class Families:
    def __init__(self) -> None:
        self.names: list[str] = []  # in the order first declared: the order of the docs
        self.current = ""

    def enter(self, name: str) -> None:
        """The entries declared next belong to `name`."""
        self.current = name
        if name not in self.names:
            self.names.append(name)
