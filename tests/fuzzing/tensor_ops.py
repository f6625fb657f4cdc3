"""Generator steps for tensor ops (elementwise, broadcasting, reductions, matmul, and
layout: transpose, rearrange, chunk, cat/stack, shuffle), mixed into
:class:`~tests.fuzzing.generator.SpecGenerator`.

Each step picks a tensor, writes one line, and records the shape it believes the line has
under the example (a belief only: it steers later choices towards valid specs; the oracle
never trusts it).  Steps draw from ``self.ch`` in the order the fuzzer always has.
"""

from __future__ import annotations

from .choosers import shuffled
from .shapes import SIZES, GenTensor, _divisors


class TensorOps:
    """``op_*`` steps over tensors alone (no layers)."""

    def op_unary(self):
        x = self.pick()
        fn = self.ch.choice(["sigmoid", "relu", "exp", "tanh", "abs", "-"])
        text = f"-({x.name})" if fn == "-" else f"{fn}({x.name})"
        return self.assign(text, x.shape)

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
