"""Random blocks: :class:`SpecGenerator` (its state, the helpers its steps share, the
table of steps, and ``generate()``, which writes the header, inputs, example and return
around 1-6 steps) and :func:`generate_spec`.  The steps themselves are the mixins
:class:`~tests.fuzzing.tensor_ops.TensorOps` and :class:`~tests.fuzzing.layer_ops.LayerOps`.
"""

from __future__ import annotations

from .choosers import shuffled
from .layer_ops import LayerOps
from .shapes import SIZES, GenTensor
from .tensor_ops import TensorOps

ARG_POOL = ["a", "k", "g", "r"]


class SpecGenerator(TensorOps, LayerOps):
    """Builds one random block. `shape` values are the generator's own belief about the
    example's sizes, used only to make most choices valid; the oracle never trusts them."""

    def __init__(self, ch):
        self.ch = ch
        self.bad_rate = 0.0 if ch.chance(0.5) else 0.12
        self.lines: list[str] = []
        self.int_args: dict[str, int] = {}  # name -> value under the example
        self.float_args: dict[str, float] = {}
        self.bool_args: dict[str, bool] = {}
        self.lets: dict[str, int] = {}  # let name -> value under the example
        self.env: list[GenTensor] = []
        self.counter = 0

    # ------------------------------------------------------------------ helpers
    def bad(self) -> bool:
        return self.bad_rate > 0 and self.ch.chance(self.bad_rate)

    def fresh(self, stem: str = "t") -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def size_text(self, value: int, allow_bad: bool = True) -> str:
        """Spec text for an integer expression worth `value` under the example."""
        ch = self.ch
        if allow_bad and self.bad():
            return str(ch.choice([v for v in SIZES + [5, 7] if v != value] or [value + 1]))
        options = [str(value)]
        options += [name for name, v in self.lets.items() if v == value]
        for name, v in self.int_args.items():
            if v == value:
                options += [name, name]
            if v and value % v == 0 and value // v > 1:
                options.append(f"{value // v} * {name}")
            if value and v > value and v % value == 0:
                options.append(f"{name} // {v // value}")
            if v < value:
                options.append(f"{name} + {value - v}")
            if v > value:
                options.append(f"max({name} - {v - value}, {value})")
        return ch.choice(options)

    def axis(self, rank: int) -> int:
        if self.bad():
            return self.ch.choice([rank, -rank - 1, rank + 2])
        return self.ch.int(-rank, rank - 1)

    def pick(self, min_rank: int = 0, max_rank: int = 99) -> GenTensor | None:
        candidates = [t for t in self.env if min_rank <= len(t.shape) <= max_rank]
        if not candidates:
            return None
        # Prefer recent tensors, so the dataflow chains.
        if self.ch.chance(0.6):
            return candidates[-1]
        return self.ch.choice(candidates)

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def assign(self, text: str, shape) -> GenTensor:
        name = self.fresh()
        self.emit(f"{name} = {text}")
        tensor = GenTensor(name, tuple(shape))
        self.env.append(tensor)
        return tensor

    def broadcast_shape(self, shape) -> tuple[int, ...]:
        """A shape that broadcasts against `shape` (some dims 1, maybe fewer leading dims)."""
        ch = self.ch
        if self.bad():
            return tuple(ch.choice(SIZES) for _ in range(ch.int(1, max(1, len(shape)))))
        drop = ch.int(0, len(shape)) if ch.chance(0.3) else 0
        return tuple(1 if ch.chance(0.4) else d for d in shape[drop:])

    def param(self, shape) -> str:
        name = self.fresh("p")
        dims = ", ".join(self.size_text(d, allow_bad=False) for d in shape)
        first = ["zeros", "ones", "randn", f"ones([{dims}]) * 0.5"]  # the last: a value __init__ computes
        if len(shape) == 1:
            first.append(f"float(arange({dims})) / ({dims} + 1) - 0.25")
        self.emit(f"param {name}: [{dims}] = {self.ch.choice(first)}")
        return name

    def scalar_text(self) -> str:
        options = ["2", "0.5", "1e-5", "3"]
        options += list(self.int_args) + [f"({n} + 1)" for n in self.int_args] + list(self.float_args)
        return self.ch.choice(options)

    # ------------------------------------------------------------------ ops (the steps are the mixins' op_* methods)
    OPS = ["op_unary", "op_scalar", "op_binary", "op_softmax", "op_reduce", "op_pool", "op_transpose", "op_matmul",
           "op_rearrange", "op_rearrange", "op_linear", "op_sequential", "op_conv", "op_conv", "op_norm", "op_chunk",
           "op_cat", "op_shuffle", "op_branch", "op_let"]

    # ------------------------------------------------------------------ the block
    def generate(self) -> str:
        ch = self.ch
        header = []
        example = []
        for name in ARG_POOL[: ch.int(0, 4)]:
            value = ch.choice(SIZES)
            self.int_args[name] = value
            if ch.chance(0.5):
                default = value if ch.chance(0.6) else ch.choice(SIZES)
                header.append(f"{name}: int = {default}")
                if default != value or ch.chance(0.5):
                    example.append(f"{name}={value}")
            else:
                header.append(f"{name}: int")
                example.append(f"{name}={value}")
        if ch.chance(0.3):
            value = ch.choice([0.1, 0.5, 2.0])
            self.float_args["p"] = value
            header.append(f"p: float = {value}")
        if ch.chance(0.35):
            self.bool_args["flag"] = ch.chance(0.5)
            header.append(f"flag: bool = {'true' if self.bool_args['flag'] else 'false'}")
            if ch.chance(0.3):
                example.append(f"flag={'true' if ch.chance(0.5) else 'false'}")
        # Inputs
        dims: dict[str, int] = {}
        inputs = []
        for index in range(1 if ch.chance(0.7) else 2):
            rank = ch.choice([1, 2, 3, 3, 4, 4])
            names = {1: ["n"], 2: ["b", "d"], 3: ["b", "n", "d"], 4: ["b", "c", "h", "w"]}[rank]
            if index and ch.chance(0.5):
                names = [f"{n}2" if i and ch.chance(0.5) else n for i, n in enumerate(names)]
            written, shape = [], []
            for axis, dim in enumerate(names):
                if dim in dims:
                    value = dims[dim]
                    written.append(dim)
                elif axis and self.int_args and ch.chance(0.25):
                    arg = ch.choice(sorted(self.int_args))
                    value = self.int_args[arg]
                    written.append(self.size_text(value, False) if ch.chance(0.3) else arg)
                    if written[-1] != arg and not any(a in written[-1] for a in self.int_args):
                        written[-1] = arg  # keep the dim tied to an argument
                        value = self.int_args[arg]
                else:
                    value = ch.choice(SIZES[1:]) if axis else ch.choice([1, 2, 3])
                    dims[dim] = value
                    written.append(dim)
                shape.append(value)
            name = ["x", "y"][index]
            example_shape = list(shape)
            if self.bad():
                if ch.chance(0.5):
                    example_shape[ch.int(0, rank - 1)] += 1
                else:
                    example_shape = example_shape[:-1]
            inputs.append((name, written, example_shape))
            self.env.append(GenTensor(name, tuple(shape)))
            self.lines.append(f"    input {name}: [{', '.join(written)}]")
        for name, _, example_shape in inputs:
            example.append(f"{name}=[{', '.join(str(d) for d in example_shape)}]")
        example = shuffled(ch, example)
        self.lines.append(f"    example({', '.join(example)})")
        if ch.chance(0.1):  # a second example, with another batch size
            second = [e.replace("=[", "=[1") if e.startswith(("x=", "y=")) and not e.endswith("=[]") else e
                      for e in example]
            self.lines.append(f"    example({', '.join(second)})")
        if self.bool_args and ch.chance(0.5):
            self.lines.append("    require flag or a > 0" if "a" in self.int_args else "    require flag or true")
        if self.int_args and ch.chance(0.2):
            name = ch.choice(sorted(self.int_args))
            self.lines.append(f"    require {name} >= 1, \"{name} must be positive\"")
        for _ in range(ch.int(1, 6)):
            getattr(self, ch.choice(self.OPS))()
        outputs = [self.env[-1]]
        if ch.chance(0.15) and len(self.env) > 1:
            outputs.append(ch.choice(self.env[:-1]))
        self.lines.append(f"    return {', '.join(t.name for t in outputs)}")
        return f"block Fuzz({', '.join(header)}):\n" + "\n".join(self.lines) + "\n"


def generate_spec(ch) -> tuple[str, str]:
    return "fuzz.attn", SpecGenerator(ch).generate()
