"""Generator steps for integer inputs (`input ids: long[b, n]`, HF's `position_ids` and
`input_ids`), mixed into the differential spec generator (tests/differential_specs.py).

The cases draw such an input in INT_RANGE (tests/differential.py), negative values and
values past the small axes included, so a lookup must clamp: the steps look a param up
by a clamped index (`p[clamp(ids, min=0, max=k - 1)]`), convert the ids (`float(ids)`,
RoPE's angles), compare them (a padding mask, `ids == 0`), and now and then (`bad`) index
without a clamp, which the checker must refuse.
"""

from __future__ import annotations

from .fuzzing import GenTensor


class IntegerInputOps:
    def declare_ids(self, like: GenTensor, written: list[str]) -> None:
        """`input ids: long[...]` of the shape of the block's first input (`like`)."""
        self.ids.append(("ids", like))
        self.lines.append(f"    input ids: long[{', '.join(written)}]")

    def op_ids_use(self):
        if not self.ids:
            return None
        ch = self.ch
        name, like = ch.choice(self.ids)
        same = [t for t in self.env if t.shape == like.shape]
        target = same[-1] if same else like
        form = ch.choice(["lookup", "float", "float", "mask", "mask"])
        if form == "float":  # RoPE's angles: positions as floating point, times a frequency
            scale = ch.choice(["0.5", "(1.0 / (a + 1))" if "a" in self.int_args else "2", "float(ids % 3)"])
            return self.assign(f"{target.name} * cos(float({name}) * {scale})", like.shape)
        if form == "mask":  # padding where the id is 0, or out of a range
            test = ch.choice([f"{name} == 0", f"{name} < 0", f"({name} >= 2) and ({name} != 5)"])
            return self.assign(f"masked_fill({target.name}, {test}, {ch.choice(['0.0', '-1.5'])})", like.shape)
        rows = ch.choice(sorted(self.int_args)) if self.int_args and ch.chance(0.6) else str(ch.choice([1, 3, 5]))
        width = ch.choice([1, 2, 3])
        table = self.fresh("p")
        self.emit(f"param {table}: [{rows}, {width}] = randn")
        index = f"{name}" if self.bad() else f"clamp({name}, min=0, max={rows} - 1)"
        if ch.chance(0.3):  # computed from the ids, then clamped
            index = f"clamp({name} * 2 - 1, min=0, max={rows} - 1)"
        looked = self.assign(f"{table}[{index}]", like.shape + (width,))
        return self.assign(f"sum({looked.name}, dim=-1)", like.shape)
