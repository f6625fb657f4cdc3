"""Fuzzing strategies and oracles for the compiler ("nothing crashes"), shared by
``tests/test_fuzz.py`` (hypothesis) and ``scripts/fuzz.py`` (many cases, no pytest).

Every generator draws its choices from a *chooser*: :class:`RandomChooser` wraps
``random.Random`` (fast, for the long run), :class:`DataChooser` wraps hypothesis'
``st.data()`` (so hypothesis can shrink a failing case).  Two families of inputs:

- :func:`mutate_spec`: a catalogue spec with a few token/line/number/name/string edits;
  the oracle (:func:`check_compiles`) is that ``compile_source`` returns (code or
  diagnostics) without raising, and that the code it returns compiles and imports.
- :func:`generate_spec`: a random block built from the language's ops and layers, with
  an ``example(...)`` line; most are well-formed, some have shape errors.  The oracle
  (:func:`check_runs`) also runs the generated module on the example: it must return
  outputs of exactly the statically inferred shapes, or raise a ``ValueError`` from one
  of its own run-time checks when (and only when) the example breaks a run-time fact.

A bug found by an oracle raises :class:`FuzzBug` (an ``AssertionError``); anything
else an oracle raises is the compiler (or generated code) crashing.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from attndsl.ir import input_dims

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS_DIR = REPO_ROOT / "specs"
SPECS: dict[str, str] = {p.name: p.read_text(encoding="utf-8") for p in sorted(SPECS_DIR.glob("*.attn"))}


class FuzzBug(AssertionError):
    """An oracle's property does not hold (not a crash of the oracle itself)."""


# ============================================================================ choosers


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


# ============================================================================ mutation

_TOKEN = re.compile(
    r'"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*|\r?\n|[ \t]+|[A-Za-z_][A-Za-z0-9_]*'
    r"|\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?"
    r"|\*\*|//|->|==|!=|<=|>=|\.\.\.|[\s\S]"
)

NUMBERS = ["0", "1", "-1", "2", "3", "7", "64", "-64", "1000000", "99999999999999999999999999", "1e308", "1e400",
           "1.5", "0.5", "0.0", "2.0", "1e-5", "-0", "00", "007", "1e0", ".5", "5."]
SPECIAL_NAMES = [
    # Python keywords and soft keywords
    "lambda", "class", "def", "import", "return", "yield", "async", "await", "global", "nonlocal", "del", "pass",
    "with", "try", "except", "finally", "raise", "while", "is", "from", "as", "assert", "break", "continue",
    "match", "case", "type", "_",
    # builtins and names the generated code relies on
    "print", "exec", "eval", "open", "list", "int", "float", "bool", "len", "range", "object", "id", "dir", "str",
    "tuple", "dict", "set", "super", "isinstance", "getattr", "ValueError",
    "self", "torch", "nn", "F", "OrderedDict", "forward", "Module", "Tensor", "Parameter", "Sequential",
    "None", "True", "False", "inf", "nan",
    # dunders
    "__init__", "__class__", "__import__", "__name__", "__dict__", "__builtins__", "__", "_0", "a__b",
    # the language's own words and functions
    "block", "input", "param", "layer", "let", "require", "example", "if", "elif", "else", "for", "in", "and", "or",
    "not", "true", "false", "rearrange", "softmax", "sum", "mean", "max", "min", "std", "sqrt", "all", "chunk",
    "cat", "stack", "shuffle", "transpose", "linear", "conv2d", "sequential", "relu", "sigmoid", "zeros", "ones",
    "randn", "dropout", "avg_pool", "masked_fill", "layer_norm", "group_norm",
    # generated temporaries and dims
    "x", "y", "part", "weights", "product", "b", "c", "h", "w", "n", "d", "g", "h'",
]
CHARS = ["(", ")", "[", "]", ",", ":", "=", "-", "+", "*", "/", "%", "@", ".", '"', "'", "#", "\\", "\t", " ", "\n",
         "\r", "\x00", "\x0c", "{", "}", "$", "`", "é", "λ", "\u00a0", "\u2028", "1", "a", "_", "<", ">", "!", "~",
         ";", "?", "&", "|", '"""']
TOKENS = ["(", ")", "[", "]", ",", ":", "=", "->", "**", "//", "@", "...", "==", "<", "-", "not", "and", "or",
          "if", "else", "for", "in", "None", "true", "false", '"b c -> c b"', '"(a b) -> a b"', '""', "[]", "()",
          "-inf", "inf", "1", "0"]
PATTERN_PIECES = ["(", ")", " ", "->", "1", "a", "b", "c", "g", "h", "w", "(h w)", "(g c)", "x", "self", "__x", "-",
                  ">", "!", "2", "é", "((", "))"]
MUTATIONS = ["delete_token", "duplicate_token", "swap_tokens", "number", "rename", "rename_all", "insert_char",
             "replace_token", "truncate", "delete_line", "duplicate_line", "swap_lines", "reindent", "string"]


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _significant(tokens: list[str]) -> list[int]:
    return [i for i, t in enumerate(tokens) if not t.isspace()]


def mutate_once(ch, source: str) -> str:
    kind = ch.choice(MUTATIONS)
    tokens = tokenize(source)
    significant = _significant(tokens)
    lines = source.split("\n")
    if kind in ("delete_token", "duplicate_token", "replace_token") and significant:
        i = significant[ch.int(0, len(significant) - 1)]
        if kind == "delete_token":
            tokens[i] = ""
        elif kind == "duplicate_token":
            tokens[i] = tokens[i] + ch.choice(["", " "]) + tokens[i]
        else:
            tokens[i] = ch.choice(TOKENS + SPECIAL_NAMES[:8])
        return "".join(tokens)
    if kind == "swap_tokens" and len(significant) > 1:
        i = significant[ch.int(0, len(significant) - 1)]
        j = significant[ch.int(0, len(significant) - 1)]
        tokens[i], tokens[j] = tokens[j], tokens[i]
        return "".join(tokens)
    if kind == "number":
        numbers = [i for i, t in enumerate(tokens) if t[:1].isdigit() or (t[:1] == "." and t[1:2].isdigit())]
        if numbers:
            tokens[ch.choice(numbers)] = ch.choice(NUMBERS)
            return "".join(tokens)
    if kind in ("rename", "rename_all"):
        names = [i for i, t in enumerate(tokens) if t[:1].isalpha() or t[:1] == "_"]
        if names:
            i = ch.choice(names)
            pool = sorted({tokens[j] for j in names})
            new = ch.choice(pool) if ch.chance(0.5) else ch.choice(SPECIAL_NAMES)
            if kind == "rename":
                tokens[i] = new
            else:
                old = tokens[i]
                tokens = [new if t == old else t for t in tokens]
            return "".join(tokens)
    if kind == "insert_char":
        at = ch.int(0, len(source))
        return source[:at] + ch.choice(CHARS) + source[at:]
    if kind == "truncate":
        return source[: ch.int(0, len(source))]
    if kind in ("delete_line", "duplicate_line", "swap_lines", "reindent") and lines:
        i = ch.int(0, len(lines) - 1)
        if kind == "delete_line":
            del lines[i]
        elif kind == "duplicate_line":
            lines.insert(i, lines[i])
        elif kind == "swap_lines":
            j = ch.int(0, len(lines) - 1)
            lines[i], lines[j] = lines[j], lines[i]
        else:
            indent = ch.choice(["", " ", "  ", "    ", "        ", "\t", "    \t", "  \t  "])
            lines[i] = indent + lines[i].lstrip(" \t")
        return "\n".join(lines)
    if kind == "string":
        strings = [i for i, t in enumerate(tokens) if t.startswith('"') and len(t) >= 2]
        if strings:
            i = ch.choice(strings)
            body = tokens[i][1:-1]
            at = ch.int(0, len(body))
            action = ch.choice(["insert", "delete", "swap_sides"])
            if action == "insert":
                body = body[:at] + ch.choice(PATTERN_PIECES) + body[at:]
            elif action == "delete":
                body = body[:at] + body[at + ch.int(1, 3):]
            elif "->" in body:
                left, _, right = body.partition("->")
                body = right.strip() + " -> " + left.strip()
            tokens[i] = '"' + body + '"'
            return "".join(tokens)
    return source


def mutate_spec(ch) -> tuple[str, str]:
    """(path, mutated source) of a catalogue spec with 1-4 mutations."""
    name = ch.choice(sorted(SPECS))
    source = SPECS[name]
    for _ in range(1 + (ch.int(0, 3) if ch.chance(0.5) else 0)):  # one edit half the time: more of them compile
        source = mutate_once(ch, source)
    return f"specs/{name}", source


# ============================================================================ generation

ARG_POOL = ["a", "k", "g", "r"]
SIZES = [1, 2, 3, 4, 4, 6, 6, 8, 8, 12]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0] or [1]  # [1] for a size the generator got wrong (<= 0)


@dataclass
class GenTensor:
    name: str  # the spec expression that refers to it (a name, or a parenthesised expression)
    shape: tuple[int, ...]  # its shape under the example, as this generator believes it


class SpecGenerator:
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
        self.emit(f"param {name}: [{dims}] = {self.ch.choice(['zeros', 'ones', 'randn'])}")
        return name

    # ------------------------------------------------------------------ ops
    def op_unary(self):
        x = self.pick()
        fn = self.ch.choice(["sigmoid", "relu", "exp", "tanh", "abs", "-"])
        text = f"-({x.name})" if fn == "-" else f"{fn}({x.name})"
        return self.assign(text, x.shape)

    def scalar_text(self) -> str:
        options = ["2", "0.5", "1e-5", "3"]
        options += list(self.int_args) + [f"({n} + 1)" for n in self.int_args] + list(self.float_args)
        return self.ch.choice(options)

    def op_scalar(self):
        x = self.pick()
        op = self.ch.choice(["+", "-", "*", "/", "**"])
        s = self.scalar_text()
        if op == "**":
            s = self.ch.choice(["2", "3", "0.5"])
        text = f"{x.name} {op} {s}" if op == "**" or self.ch.chance(0.5) else f"{s} {op} ({x.name})"
        return self.assign(text, x.shape)

    def op_binary(self):
        x = self.pick()
        ch = self.ch
        choice = ch.int(0, 3)
        if choice == 0:
            other_shape = self.broadcast_shape(x.shape)
            other = self.param(other_shape)
        elif choice == 1:
            same = [t for t in self.env if t.shape == x.shape and t is not x]
            other, other_shape = (same[-1].name, same[-1].shape) if same else (x.name, x.shape)
            if self.bad():
                o = ch.choice(self.env)
                other, other_shape = o.name, o.shape
        elif choice == 2:
            rank = len(x.shape)
            if rank == 0:
                return None
            dim = self.axis(rank)
            fn = ch.choice(["sum", "mean", "max", "min"])
            other = f"{fn}({x.name}, dim={dim}, keepdim=true)"
            other_shape = tuple(1 if i == dim % rank else d for i, d in enumerate(x.shape)) if -rank <= dim < rank else x.shape
        else:
            other, other_shape = x.name, x.shape
        op = ch.choice(["+", "-", "*", "/"])
        rank = max(len(x.shape), len(other_shape))
        a = (1,) * (rank - len(x.shape)) + tuple(x.shape)
        b = (1,) * (rank - len(other_shape)) + tuple(other_shape)
        shape = tuple(max(p, q) if 1 in (p, q) else p for p, q in zip(a, b))
        text = f"{x.name} {op} {other}" if ch.chance(0.5) else f"{other} {op} ({x.name})"
        return self.assign(text, shape)

    def op_softmax(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        return self.assign(f"softmax({x.name}, dim={self.axis(len(x.shape))})", x.shape)

    def op_reduce(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        rank = len(x.shape)
        fn = ch.choice(["sum", "mean", "max", "min", "std", "var"])
        keep = ch.chance(0.5)
        if ch.chance(0.25) and rank > 1:
            dims = sorted({ch.int(0, rank - 1) for _ in range(2)})
            dim_text = "[" + ", ".join(str(d) for d in dims) + "]"
        else:
            d = self.axis(rank)
            dims = [d % rank] if -rank <= d < rank else []
            dim_text = str(d)
        if ch.chance(0.05):
            text, dims = f"{fn}({x.name})", list(range(rank))
        else:
            text = f"{fn}({x.name}, dim={dim_text}" + (", keepdim=true)" if keep else ")")
        shape = tuple((1,) if i in dims else (d,) for i, d in enumerate(x.shape)) if keep else \
            tuple((d,) for i, d in enumerate(x.shape) if i not in dims)
        return self.assign(text, tuple(s[0] for s in shape))

    def op_pool(self):
        x = self.pick(min_rank=3)
        if x is None:
            return None
        fn = self.ch.choice(["avg_pool", "max_pool"])
        return self.assign(f"{fn}({x.name})", x.shape[:2] + (1,) * (len(x.shape) - 2))

    def op_transpose(self):
        x = self.pick(min_rank=2)
        if x is None:
            return None
        rank = len(x.shape)
        d0, d1 = self.axis(rank), self.axis(rank)
        shape = list(x.shape)
        if -rank <= d0 < rank and -rank <= d1 < rank:
            shape[d0], shape[d1] = shape[d1], shape[d0]
        return self.assign(f"transpose({x.name}, {d0}, {d1})", shape)

    def op_matmul(self):
        x = self.pick(min_rank=2)
        if x is None:
            return None
        ch = self.ch
        if ch.chance(0.5):
            other = f"transpose({x.name}, -1, -2)"
            shape = x.shape[:-1] + (x.shape[-2],)
        else:
            m = ch.choice(SIZES)
            k = x.shape[-1] if not self.bad() else ch.choice(SIZES)
            other = self.param((k, m))
            shape = x.shape[:-1] + (m,)
        if ch.chance(0.3):
            return self.assign(f"{other} @ {x.name}" if other.startswith("p") else f"{x.name} @ {other}", shape)
        if ch.chance(0.25):  # a scaled product, as attention logits are (the operand-scaling pass)
            scale = self.scalar_text()
            return self.assign(f"{x.name} @ {other} / {scale}" if ch.chance(0.5) else f"{scale} * ({x.name} @ {other})",
                               shape)
        return self.assign(f"{x.name} @ {other}", shape)

    def op_rearrange(self):
        x = self.pick()
        ch = self.ch
        names = iter("ijklmnopqsuvxyz")
        left, sizes, elementary = [], [], []  # sizes: (axis, text); elementary: (axis, size)
        for d in x.shape:
            if d == 1 and ch.chance(0.3):
                left.append("1")
                continue
            if ch.chance(0.35) and len(_divisors(d)) > 1:
                a, b = next(names), next(names)
                q = ch.choice(_divisors(d))
                given, other = (a, b) if ch.chance(0.5) else (b, a)
                if not self.bad():
                    sizes.append((given, self.size_text(q, allow_bad=False)))
                elif ch.chance(0.5):
                    sizes.append((given, str(ch.choice([5, 7, d + 1]))))
                left.append(f"({a} {b})")
                size_of = {given: q, other: d // q}
                elementary += [(a, size_of[a]), (b, size_of[b])]
            else:
                a = next(names)
                left.append(a)
                elementary.append((a, d))
                if ch.chance(0.1):
                    sizes.append((a, self.size_text(d)))
        order = shuffled(ch, elementary) if ch.chance(0.6) else list(elementary)
        right, shape = [], []
        i = 0
        while i < len(order):
            width = ch.int(1, min(3, len(order) - i)) if ch.chance(0.35) else 1
            group = order[i:i + width]
            i += width
            product = 1
            for _, s in group:
                product *= s
            right.append(group[0][0] if width == 1 else "(" + " ".join(a for a, _ in group) + ")")
            shape.append(product)
            if ch.chance(0.1):
                right.append("1")
                shape.append(1)
        if self.bad() and left:
            left.pop()  # a left side that does not match the rank
        pattern = " ".join(left) + " -> " + " ".join(right)
        text = f'rearrange({x.name}, "{pattern}"' + "".join(f", {a}={t}" for a, t in sizes) + ")"
        return self.assign(text, shape)

    def op_linear(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        out = ch.choice(SIZES)
        layer = self.fresh("fc")
        bias = ", bias=false" if ch.chance(0.3) else ""
        self.emit(f"layer {layer} = linear({self.size_text(x.shape[-1])}, {self.size_text(out, False)}{bias})")
        return self.assign(f"{layer}({x.name})", x.shape[:-1] + (out,))

    def op_sequential(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        mid, out = ch.choice(SIZES), ch.choice(SIZES)
        layer = self.fresh("mlp")
        act = ch.choice(["relu()", "gelu()", "sigmoid()", "dropout(0.1)", "identity()"])
        if ch.chance(0.5):
            body = f"linear({self.size_text(x.shape[-1])}, {self.size_text(mid, False)}), {act}, " \
                   f"linear({self.size_text(mid)}, {self.size_text(out, False)})"
        else:
            body = f"fc=linear({self.size_text(x.shape[-1])}, {self.size_text(mid, False)}), act={act}, " \
                   f"out=linear({self.size_text(mid)}, {self.size_text(out, False)})"
        self.emit(f"layer {layer} = sequential({body})")
        return self.assign(f"{layer}({x.name})", x.shape[:-1] + (out,))

    def op_conv(self):
        x = self.pick(min_rank=4, max_rank=4)
        if x is None:
            return None
        ch = self.ch
        c = x.shape[1]
        groups = ch.choice([g for g in _divisors(c) if g <= 4]) if ch.chance(0.3) else 1
        out = groups * ch.choice([1, 2, 3, 4])
        if self.bad():
            groups = ch.choice([2, 3])
        kernel = ch.choice([1, 1, 2, 3])
        stride = ch.choice([1, 1, 2])
        dilation = ch.choice([1, 1, 2])
        padding = ch.choice([0, 0, 1, kernel // 2])
        kwargs = []
        if stride != 1 or ch.chance(0.1):
            kwargs.append(f"stride={self.size_text(stride, False)}")
        use_same = stride == 1 and ch.chance(0.15) or self.bad()
        if use_same:
            kwargs.append('padding="same"')
        elif padding or ch.chance(0.1):
            kwargs.append(f"padding={self.size_text(padding, False)}")
        if dilation != 1:
            kwargs.append(f"dilation={dilation}")
        if groups != 1:
            kwargs.append(f"groups={self.size_text(groups, False)}")
        if ch.chance(0.2):
            kwargs.append("bias=false")
        layer = self.fresh("conv")
        args = [self.size_text(c), self.size_text(out, False), self.size_text(kernel, False)] + kwargs
        self.emit(f"layer {layer} = conv2d({', '.join(args)})")

        def window(size):
            if use_same:
                return size
            return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1

        return self.assign(f"{layer}({x.name})", (x.shape[0], out, window(x.shape[2]), window(x.shape[3])))

    def op_norm(self):
        x = self.pick(min_rank=2)
        if x is None:
            return None
        ch = self.ch
        rank = len(x.shape)
        options = ["layer_norm", "dropout"]
        if rank == 4:
            options += ["batch_norm2d", "instance_norm2d", "group_norm", "max_pool2d", "avg_pool2d",
                        "adaptive_avg_pool2d"]
        kind = ch.choice(options)
        layer = self.fresh("ln")
        shape = x.shape
        if kind == "layer_norm":
            spec = f"layer_norm({self.size_text(x.shape[-1])})"
        elif kind == "dropout":
            # A float argument as p only when in range: torch itself rejects others when built.
            in_range = [n for n, v in self.float_args.items() if 0 <= v <= 1]
            spec = f"dropout({ch.choice(['0.0', '0.5'] + in_range + (['1.5'] if self.bad() else []))})"
        elif kind in ("batch_norm2d", "instance_norm2d"):
            spec = f"{kind}({self.size_text(x.shape[1])})"
        elif kind == "group_norm":
            groups = ch.choice(_divisors(x.shape[1]))
            spec = f"group_norm({self.size_text(groups)}, {self.size_text(x.shape[1])})"
        elif kind in ("max_pool2d", "avg_pool2d"):
            k = ch.choice([1, 2, 3])
            stride = ch.choice([None, 1, 2])
            padding = ch.choice([0, 0, 1]) if k > 1 else 0
            if self.bad():
                padding = k
            spec = f"{kind}({k}" + (f", stride={stride}" if stride else "") + (f", padding={padding}" if padding else "") + ")"
            s = stride or k
            shape = x.shape[:2] + tuple((d + 2 * padding - (k - 1) - 1) // s + 1 for d in x.shape[2:])
        else:
            out = ch.choice([1, 2, 3])
            spec = f"adaptive_avg_pool2d({self.size_text(out, False)})"
            shape = x.shape[:2] + (out, out)
        self.emit(f"layer {layer} = {spec}")
        return self.assign(f"{layer}({x.name})", shape)

    def op_chunk(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        rank = len(x.shape)
        dim = self.axis(rank)
        size = x.shape[dim] if -rank <= dim < rank else 1
        n = ch.choice([d for d in _divisors(size) if d <= 4] or [1])
        if self.bad():
            n = ch.choice([2, 3])
        names = [self.fresh() for _ in range(n)]
        pieces = f"chunk({x.name}, {n}, dim={dim})"
        if n > 1 and ch.chance(0.3):  # unrolled by the compiler: one element per piece
            element = ch.choice(["sigmoid(piece)", "exp(piece)", "piece * 2", "relu(piece) + piece"])
            pieces = f"[{element} for piece in {pieces}]"
        self.emit(f"{', '.join(names)} = {pieces}")
        shape = list(x.shape)
        if -rank <= dim < rank:
            shape[dim] = size // n
        parts = [GenTensor(name, tuple(shape)) for name in names]
        self.env += parts
        if ch.chance(0.7):
            order = shuffled(ch, parts)[: ch.int(1, n)]
            joined = list(shape)
            if -rank <= dim < rank:
                joined[dim] = shape[dim] * len(order)
            return self.assign(f"cat([{', '.join(p.name for p in order)}], dim={dim})", joined)
        return parts[-1]

    def op_cat(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        rank = len(x.shape)
        dim = self.axis(rank)
        others = [t for t in self.env if len(t.shape) == rank and all(
            i == dim % rank or p == q for i, (p, q) in enumerate(zip(t.shape, x.shape)))] if -rank <= dim < rank else []
        parts = [x] + [ch.choice(others) for _ in range(ch.int(0, 2))] if others else [x, x]
        if self.bad():
            parts.append(ch.choice(self.env))
        shape = list(x.shape)
        if -rank <= dim < rank:
            shape[dim] = sum(p.shape[dim] for p in parts if len(p.shape) == rank)
        fn = "cat"
        if ch.chance(0.4):
            fn = "stack"
            dim = ch.int(-rank - 1, rank) if not self.bad() else rank + 1
            parts = [p for p in parts if p.shape == x.shape] or [x]
            shape = list(x.shape)
            if -rank - 1 <= dim <= rank:
                shape.insert(dim % (rank + 1), len(parts))
        return self.assign(f"{fn}([{', '.join(p.name for p in parts)}], dim={dim})", shape)

    def op_shuffle(self):
        x = self.pick(min_rank=2)
        if x is None:
            return None
        groups = self.ch.choice(_divisors(x.shape[1]))
        return self.assign(f"shuffle({x.name}, {self.size_text(groups)})", x.shape)

    def op_branch(self):
        """`if flag:` / `else:` assigning one name with the same shape on both paths (a join),
        sometimes with a layer declared inside the branch (a guarded __init__ line)."""
        if "flag" not in self.bool_args:
            return None
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        name = self.fresh()
        lines = ["if flag:" if ch.chance(0.7) else "if not flag:"]
        if ch.chance(0.4):
            layer = self.fresh("fc")
            d = self.size_text(x.shape[-1], allow_bad=False)
            lines += [f"    layer {layer} = linear({d}, {d})", f"    {name} = {layer}({x.name})"]
        else:
            lines.append(f"    {name} = {ch.choice(['sigmoid', 'relu', 'exp'])}({x.name})")
        if self.bad() and len(x.shape) >= 2:  # different shapes on the two paths: an opaque join
            lines += ["else:", f"    {name} = {ch.choice(['sum', 'mean'])}({x.name}, dim=-1, keepdim=true)"]
        else:
            lines += ["else:", f"    {name} = {x.name} * {self.scalar_text()}"]
        for line in lines:
            self.emit(line)
        tensor = GenTensor(name, x.shape)
        self.env.append(tensor)
        return tensor

    def op_let(self):
        if not self.int_args:
            return None
        name = self.fresh("m")
        arg = self.ch.choice(sorted(self.int_args))
        factor = self.ch.choice([1, 2, 3])
        self.emit(f"let {name} = {arg} * {factor}" if factor != 1 else f"let {name} = max({arg}, 1)")
        self.lets[name] = self.int_args[arg] * factor
        return None

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
            rank = ch.choice([2, 3, 3, 4, 4])
            names = {2: ["b", "d"], 3: ["b", "n", "d"], 4: ["b", "c", "h", "w"]}[rank]
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


# ============================================================================ oracles


def compile_spec(source: str, path: str):
    """compile_source, plus: the code it returns byte-compiles and its classes import."""
    import attndsl

    result = attndsl.compile_source(source, path)
    if result.code is not None:
        for diagnostic in result.diagnostics:
            if diagnostic.is_error:
                raise FuzzBug(f"code returned together with an error: {diagnostic}")
        try:
            compile(result.code, "<generated>", "exec")
        except SyntaxError as error:
            raise FuzzBug(f"generated code does not compile: {error}\n{result.code}") from error
    else:
        if not any(d.is_error for d in result.diagnostics):
            raise FuzzBug("no code and no error diagnostic")
        for diagnostic in result.diagnostics:
            if not (isinstance(diagnostic.code, str) and diagnostic.code and diagnostic.message):
                raise FuzzBug(f"malformed diagnostic {diagnostic!r}")
    return result


def example_arguments(ir, example: dict) -> dict:
    """The constructor arguments an `example(...)` gives, as the modules take them: a layer
    kind's name (`norm_layer=layer_norm`) as its class (`nn.LayerNorm`)."""
    from torch import nn

    from attndsl.ir import KindName
    from attndsl.layers import LAYERS

    args = {a.name: example[a.name] for a in ir.args if a.name in example}
    return {name: getattr(nn, LAYERS[value].torch_class) if isinstance(value, KindName) else value
            for name, value in args.items()}


def load_module(code: str) -> dict:
    namespace: dict = {"__name__": "attndsl_fuzz_generated"}
    exec(compile(code, "<generated>", "exec"), namespace)
    return namespace


def check_compiles(source: str, path: str = "<fuzz>"):
    """Oracle (a): returns the CompileResult; raises on an internal error."""
    result = compile_spec(source, path)
    if result.code is not None:
        try:
            load_module(result.code)
        except Exception as error:
            raise FuzzBug(f"generated module does not import: {error!r}\n{result.code}") from error
    return result


# ---------------------------------------------------------------------------- run-time oracle


class _Unknown(Exception):
    pass


def _value(expr, bindings: dict):
    from attndsl import symbolic as sym
    from attndsl.symbolic import Expr

    mapping = {k: Expr.const(Fraction(v) if not isinstance(v, float) else Fraction(str(v))) for k, v in bindings.items()
               if isinstance(v, (int, float, Fraction)) and not isinstance(v, bool)}
    try:
        result = sym.substitute(expr, mapping)
    except ZeroDivisionError as error:
        raise _Unknown(str(error)) from error
    if not result.is_const:
        # `sqrt(8)` stays symbolic in the canonical form: its number, as the module computes it
        from attndsl import evaluate

        if result.symbols():
            raise _Unknown(f"{expr} is not fully bound: {result}")
        try:
            return evaluate.value(result, {})
        except evaluate.Undefined as error:
            raise _Unknown(str(error)) from error
    return result.value


def _truth(cond, bindings: dict) -> bool:
    op, args = cond.op, cond.args
    if op == "const":
        return bool(args[0])
    if op == "arg":
        return bool(bindings[args[0]])
    if op in ("present", "flag"):  # an optional input given, a flag input set
        return args[0] in bindings.get("__present__", set())
    if op == "training":
        return False  # examples run in eval mode
    if op == "is_none":  # an optional argument left None
        return bindings.get(args[0]) is None
    if op == "not":
        return not _truth(args[0], bindings)
    if op == "and":
        return all(_truth(a, bindings) for a in args)
    if op == "or":
        return any(_truth(a, bindings) for a in args)
    if op == "cmp":
        operator, left, right = args
        a, b = _value(left, bindings), _value(right, bindings)
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]
    if op == "all_elems":
        list_name, var, inner = args
        return all(_truth(inner, {**bindings, var: item}) for item in bindings[list_name])
    raise _Unknown(f"condition {op}")


def bindings_for(ir, example: dict) -> dict:
    """Constructor args (example, else defaults), lets, input dims, and derived dims."""
    bindings: dict = {}
    for arg in ir.args:
        if arg.name in example:
            bindings[arg.name] = example[arg.name]
        elif not arg.required:
            bindings[arg.name] = arg.default
    for arg in ir.args:
        if arg.type == "list[int]" and isinstance(bindings.get(arg.name), list):
            bindings[f"len({arg.name})"] = len(bindings[arg.name])
            bindings.update({f"{arg.name}[{i}]": item for i, item in enumerate(bindings[arg.name])})  # `out_chs[2]`
    for let in ir.lets:
        try:
            if all(_truth(c, bindings) for c in let.guard):
                bindings[let.name] = _value(let.value, bindings)
        except (_Unknown, KeyError):
            pass
    # the dims first named by an optional input are known when the example gives it
    for symbol, (input_name, axis) in {**ir.optional_dim_origin, **ir.dim_origin}.items():
        shape = example.get(input_name)
        shape = [shape] if isinstance(shape, int) and not isinstance(shape, bool) else shape  # `input H: int`
        if isinstance(shape, list) and axis < len(shape):
            bindings[symbol] = shape[axis]
    for _ in range(len(ir.derived) + 1):
        for name, definition in ir.derived.items():
            if name not in bindings:
                try:
                    bindings[name] = _value(definition, bindings)
                except _Unknown:
                    pass
    bindings["__present__"] = {i.name for i in ir.inputs if i.dtype != "flag" and (not i.optional or i.name in example)}
    bindings["__present__"] |= {i.name for i in ir.inputs if i.dtype == "flag" and example.get(i.name, i.default)}
    return bindings


def violated_facts(ir, example: dict, bindings: dict) -> list[str]:
    """The run-time facts of `ir` (requires, checks, input contracts) the example breaks."""
    broken = []
    for check in list(ir.requires) + list(ir.checks):
        try:
            if not all(_truth(c, bindings) for c in check.guard):
                continue
            condition = check.condition
            if hasattr(condition, "op"):
                holds = _truth(condition, bindings)
            else:
                kind, a, b = condition
                va, vb = _value(a, bindings), _value(b, bindings)
                holds = va == vb if kind == "eq" else (vb != 0 and (va / vb).denominator == 1)
        except (_Unknown, KeyError) as error:
            broken.append(f"unknown ({check.message}: {error})")
            continue
        if not holds:
            broken.append(check.message)
    for info in ir.inputs:
        shape = example.get(info.name)
        if shape is None or info.dtype == "flag":
            continue
        shape = [shape] if info.dtype == "size" else shape
        try:
            dims = input_dims(ir, info, bindings)  # a pack's sizes at the example's rank
        except (KeyError, ValueError, TypeError):
            broken.append(f"rank of {info.name}")
            continue
        if len(shape) != len(dims):
            broken.append(f"rank of {info.name}")
            continue
        for axis, dim in enumerate(dims):
            try:
                if _value(dim, bindings) != shape[axis]:
                    broken.append(f"{info.name}.shape[{axis}]")
            except _Unknown:
                pass
    return broken


def _world_output_shape(ir, index: int, bindings: dict):
    """The output's shape in the world the example is in, where the worlds' shapes differ
    (a block generic over rank: the display shape is the default rank's)."""
    if not getattr(ir, "rank_args", None):
        return None
    for literals, shapes in getattr(ir, "output_shapes", ()):
        try:
            if all(_truth(c, bindings) for c in literals):
                return shapes[index] if len(ir.outputs) > 1 else shapes
        except (_Unknown, KeyError):
            continue
    return None


def example_inputs(ir, example: dict, torch):
    generator = torch.Generator().manual_seed(0)
    values = {}
    for info in ir.inputs:
        if info.name in example and info.dtype in ("flag", "size"):  # a bool, an int: as they are
            values[info.name] = example[info.name]
        elif info.name in example:
            values[info.name] = tuple(example[info.name]) if info.dtype == "sizes" else \
                torch.randn(tuple(example[info.name]), generator=generator)
    return values


MAX_SIZE = 4096  # examples with a larger argument or size are not run (a mutated 10**6 would allocate GBs)
MAX_ELEMENTS = 2_000_000


def _outside_contract(ir, example: dict) -> bool:
    """The checker proves facts for sizes and int arguments >= 1 (a conv over an empty map,
    `reduction=0`, `channel=-1` are the caller's mistakes): such examples are not run."""
    for arg in ir.args:
        value = example.get(arg.name, arg.default)
        if arg.type == "int" and isinstance(value, int) and value < 1:
            return True
        if arg.type == "list[int]" and isinstance(value, list) and any(isinstance(v, int) and v < 1 for v in value):
            return True
    return any(isinstance(v, int) and v < 1 for value in example.values() if isinstance(value, list) for v in value)


def _too_large(ir, example: dict, bindings: dict, source: str = "") -> bool:
    numbers = [v for k, v in bindings.items() if isinstance(v, (int, float, Fraction)) and not isinstance(v, bool)]
    if any(abs(v) > MAX_SIZE for v in numbers):
        return True
    if any(int(n) > MAX_SIZE for n in re.findall(r"(?<![\w.])\d+(?![\w.])", source)):
        return True  # a size written in the spec (`linear(64, 10**6)`)
    inputs = {info.name for info in ir.inputs}
    for name, value in example.items():
        if name in inputs and isinstance(value, list) and all(isinstance(v, int) for v in value):
            total = 1
            for v in value:
                total *= v
            if total > MAX_ELEMENTS:
                return True
    for param in ir.params:
        try:
            total = 1
            for dim in param.shape:
                total *= _value(dim, bindings)
        except (_Unknown, KeyError):
            continue
        if total > MAX_ELEMENTS:
            return True
    return False


def check_runs(source: str, path: str = "fuzz.attn") -> str:
    """Oracle (b). Returns "diagnostics", "ok", "runtime-check", "no-example" or "too-large";
    raises on a bug."""
    import torch

    result = check_compiles(source, path)
    if result.code is None:
        return "diagnostics"
    ir = result.blocks[-1]
    if not ir.examples:
        return "no-example"
    namespace = load_module(result.code)
    cls = namespace[ir.name]
    outcome = "ok"
    for example in ir.examples:
        bindings = bindings_for(ir, example)
        if _too_large(ir, example, bindings, source):
            outcome = "too-large" if outcome == "ok" else outcome
            continue
        if _outside_contract(ir, example):
            outcome = "outside-contract" if outcome == "ok" else outcome
            continue
        broken = violated_facts(ir, example, bindings)
        kwargs = example_arguments(ir, example)
        inputs = example_inputs(ir, example, torch)
        try:
            with torch.no_grad():
                module = cls(**kwargs).eval()
                outputs = module(**inputs)
        except (RuntimeError, ValueError) as error:
            message = str(error)
            ours = message.startswith(f"{ir.name}: ")
            if ours and broken:
                outcome = "runtime-check"
                continue
            if isinstance(error, ValueError) and any(message.startswith(f"{b.name}: ") for b in result.blocks[:-1]):
                # A check of a block used as a layer: its facts are in its own terms (not
                # instantiated in the caller), so this oracle does not judge them.
                outcome = "runtime-check"
                continue
            if "dropout probability" in message:
                # A dropout probability from an argument: left to nn.Dropout's own ValueError.
                outcome = "runtime-check"
                continue
            if message.startswith(("Expected more than 1 spatial element", "Expected more than 1 value per channel")):
                # A norm over a single position of a size known only at run time: left to torch.
                outcome = "torch-check"
                continue
            if getattr(ir, "opaque", None) and not ours:
                # Sizes joined from the branches of an `if` are left to torch by design.
                outcome = "torch-check"
                continue
            why = ("a run-time check fired though the example breaks no fact" if ours
                   else f"generated module raised {type(error).__name__}")
            raise FuzzBug(f"{why}: {error}\nexample: {example}\nfacts broken by the example: {broken}\n"
                          f"{_tb(error)}\n{result.code}") from error
        except Exception as error:
            raise FuzzBug(f"generated module raised {type(error).__name__}: {error}\nexample: {example}\n"
                          f"facts broken by the example: {broken}\n{_tb(error)}\n{result.code}") from error
        if broken:
            raise FuzzBug(f"the example breaks {broken} but the module ran\nexample: {example}\n{result.code}")
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        if len(outputs) != len(ir.outputs):
            raise FuzzBug(f"{len(outputs)} outputs, expected {len(ir.outputs)}")
        for index, (output, node) in enumerate(zip(outputs, ir.outputs)):
            inferred = _world_output_shape(ir, index, bindings) or ir.graph.nodes[node]["shape"]
            opaque = set(getattr(ir, "opaque", ()))
            expected = []
            for axis, dim in enumerate(inferred):
                try:
                    expected.append(_value(dim, bindings))
                except _Unknown as error:
                    if not dim.symbols() & opaque:
                        raise FuzzBug(f"cannot evaluate the inferred shape {inferred}: {error}\nexample: {example}")
                    # The join of an if/else: which branch ran is the module's business.
                    expected.append(output.shape[axis] if axis < output.dim() else None)
            expected = tuple(expected)
            if tuple(output.shape) != expected:
                raise FuzzBug(f"output shape {tuple(output.shape)} but the checker inferred "
                              f"{tuple(str(d) for d in inferred)} = {expected}\nexample: {example}\n{result.code}")
    return outcome


def _tb(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__)[-6:])


# ============================================================================ minimisation


def failure_signature(error: BaseException) -> tuple:
    """Exception type and the innermost frame in attndsl (or the generated code)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "attndsl" in frame.filename and "tests" not in frame.filename or frame.filename == "<generated>":
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            break
    if isinstance(error, FuzzBug):
        return ("FuzzBug", str(error).split("\n")[0][:60])
    return (type(error).__name__, where)


def minimize(source: str, fails, max_steps: int = 4000) -> str:
    """Greedy delta debugging: drop lines, then tokens, then characters, while `fails(text)` holds."""
    steps = 0

    def attempt(candidate: str) -> bool:
        nonlocal steps
        steps += 1
        try:
            return candidate != source and fails(candidate)
        except Exception:
            return False

    changed = True
    while changed and steps < max_steps:
        changed = False
        for unit in ("line", "token"):
            # Lines, then significant tokens (whitespace stays, so the result reads like a spec).
            if unit == "line":
                pieces = source.split("\n")
                join = "\n".join
            else:
                pieces = tokenize(source)
                join = "".join
            chunk = max(1, len(pieces) // 2)
            while chunk >= 1 and steps < max_steps:
                i = 0
                while i < len(pieces) and steps < max_steps:
                    removed = pieces[i:i + chunk]
                    if unit == "token" and all(p.isspace() for p in removed):
                        i += chunk
                        continue
                    candidate = join(pieces[:i] + pieces[i + chunk:])
                    if attempt(candidate):
                        source = candidate
                        pieces = pieces[:i] + pieces[i + chunk:]
                        changed = True
                    else:
                        i += chunk
                chunk //= 2
            if unit == "line" and changed:
                break
    return source


__all__ = ["DataChooser", "FuzzBug", "RandomChooser", "SPECS", "check_compiles", "check_runs", "failure_signature",
           "generate_spec", "minimize", "mutate_spec"]
