"""Generator steps for layers and control (linear, sequential, conv2d, norms and pools,
`if flag:` branches, `let`), mixed into :class:`~tests.fuzzing.generator.SpecGenerator`.

Each step declares a layer (or a branch, or a `let`), applies it to a tensor, and records
the shape it believes the result has under the example (a belief only: the oracle never
trusts it).  Steps draw from ``self.ch`` in the order the fuzzer always has.
"""

from __future__ import annotations

from .shapes import SIZES, GenTensor, _divisors


class LayerOps:
    """``op_*`` steps that declare layers, branches and lets."""

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
        if ch.chance(0.2):
            return self._conv_transpose(x)
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

    def _conv_transpose(self, x):
        """conv_transpose2d: (L - 1)*s - 2p + d(k - 1) + output_padding + 1 along each spatial axis."""
        ch = self.ch
        c = x.shape[1]
        groups = ch.choice([g for g in _divisors(c) if g <= 4]) if ch.chance(0.3) else 1
        out = groups * ch.choice([1, 2])
        kernel, stride, dilation = ch.choice([1, 2, 3]), ch.choice([1, 2, 2]), ch.choice([1, 1, 2])
        padding = ch.choice([0, 0, 1])
        extra = ch.choice([0, 0, 1]) if max(stride, dilation) > 1 else 0
        if self.bad():
            extra = max(stride, dilation)  # torch refuses: the checker must too
        kwargs = [f"stride={self.size_text(stride, False)}"] if stride != 1 else []
        kwargs += [f"padding={self.size_text(padding, False)}"] if padding else []
        kwargs += [f"output_padding={extra}"] if extra else []
        kwargs += [f"groups={self.size_text(groups, False)}"] if groups != 1 else []
        kwargs += [f"dilation={dilation}"] if dilation != 1 else []
        layer = self.fresh("up")
        args = [self.size_text(c), self.size_text(out, False), self.size_text(kernel, False)] + kwargs
        self.emit(f"layer {layer} = conv_transpose2d({', '.join(args)})")

        def grown(size):
            return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + extra + 1

        return self.assign(f"{layer}({x.name})", (x.shape[0], out, grown(x.shape[2]), grown(x.shape[3])))

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
