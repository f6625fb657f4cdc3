"""Generator steps for the ops the catalogue brought into the language (views, padding,
windows, resampling, spectra, the functional activations and norms), mixed into the
differential spec generator (tests/differential_specs.py).

Each step picks a tensor, writes one line, and records the shape it believes the line
has under the nominal configuration (a belief only: it steers later choices towards
specs that check; the oracle trusts nothing but the checker and the two modules).
Arguments are sometimes tied to constructor arguments (`size_text`), so that the edge
values of the cases reach them; sometimes they are out of range on purpose (`bad`).
"""

from __future__ import annotations


class CatalogueOps:
    def op_activation(self):
        x = self.pick()
        ch = self.ch
        text = ch.choice([f"elu({x.name}, alpha=0.5)", f"leaky_relu({x.name}, 0.2)", f"softplus({x.name}, beta=2, "
                          "threshold=5)", f'gelu({x.name}, approximate="tanh")', f"gelu({x.name})",
                          f"silu({x.name})", f"hardsigmoid({x.name})", f"hardswish({x.name})", f"relu6({x.name})",
                          f"log(abs({x.name}) + 1)", f"sqrt(abs({x.name}))", f"cos({x.name})", f"sin({x.name})"])
        return self.assign(text, x.shape)

    def op_norms(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        rank = len(x.shape)
        axis = self.axis(rank)
        if self.ch.chance(0.5):
            return self.assign(f"normalize({x.name}, dim={axis})", x.shape)
        shape = tuple(1 if i == axis % rank else d for i, d in enumerate(x.shape))
        order = f", p={self.ch.choice(['1', '2', '3', '1.5', 'inf'])}" if self.ch.chance(0.5) else ""
        return self.assign(f"{x.name} / (norm({x.name}, dim={axis}, keepdim=true{order}) + 1)", shape)

    def op_flatten(self):
        x = self.pick(min_rank=2)
        if x is None:
            return None
        rank = len(x.shape)
        start = self.ch.int(0, rank - 2)
        end = self.ch.int(start + 1, rank - 1)
        joined = 1
        for size in x.shape[start:end + 1]:
            joined *= size
        shape = x.shape[:start] + (joined,) + x.shape[end + 1:]
        return self.assign(f"flatten({x.name}, {start}, {end - rank if self.ch.chance(0.5) else end})", shape)

    def op_squeeze(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        rank = len(x.shape)
        ones = [i for i, d in enumerate(x.shape) if d == 1]
        if ones and self.ch.chance(0.6):
            axis = self.ch.choice(ones) if not self.bad() else self.ch.int(0, rank - 1)
            return self.assign(f"squeeze({x.name}, dim={axis})", x.shape[:axis] + x.shape[axis + 1:])
        axis = self.ch.int(-rank - 1, rank)
        where = axis % (rank + 1)
        return self.assign(f"unsqueeze({x.name}, {axis})", x.shape[:where] + (1,) + x.shape[where:])

    def op_expand(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        like = [t for t in self.env if len(t.shape) == len(x.shape) and all(
            a == b or a == 1 for a, b in zip(x.shape, t.shape)) and t is not x]
        if like and ch.chance(0.5):
            return self.assign(f"expand_as({x.name}, {like[-1].name})", like[-1].shape)
        sizes, shape = [], []
        for size in x.shape:
            if size == 1 and ch.chance(0.7):
                new = ch.choice([2, 3, 4])
                sizes.append(self.size_text(new))
                shape.append(new)
            else:
                sizes.append("-1" if ch.chance(0.7) else self.size_text(size))
                shape.append(size)
        if ch.chance(0.3):
            sizes.insert(0, "2")
            shape.insert(0, 2)
        return self.assign(f"expand({x.name}, [{', '.join(sizes)}])", shape)

    def op_pad(self):
        x = self.pick(min_rank=2)
        if x is None:
            return None
        ch = self.ch
        rank = len(x.shape)
        mode = ch.choice(["constant", "constant", "reflect", "replicate", "circular"])
        axes = ch.int(1, min(2, rank - 1)) if mode != "constant" else ch.int(1, min(3, rank))
        widths, shape = [], list(x.shape)
        for index in range(axes):
            axis = rank - 1 - index
            limit = max(0, shape[axis] - 1 if mode == "reflect" else shape[axis] if mode == "circular" else 2)
            before, after = ch.int(0, min(2, limit)), ch.int(0, min(2, limit))
            if self.bad():
                before = shape[axis] + 1
            texts = [self.size_text(before), self.size_text(after)]
            if mode == "constant" and shape[axis] > 1 and ch.chance(0.25):  # a crop, by a number or an argument
                after = -ch.int(1, min(2, shape[axis] - 1))
                texts[1] = f"-({self.size_text(-after)})"
            widths += texts
            shape[axis] += before + after
        value = f", value={ch.choice(['0.5', '-1', '0'])}" if mode == "constant" and ch.chance(0.5) else ""
        mode_text = f', mode="{mode}"' if mode != "constant" or ch.chance(0.3) else ""
        return self.assign(f"pad({x.name}, [{', '.join(widths)}]{mode_text}{value})", shape)

    def op_roll(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        rank = len(x.shape)
        if ch.chance(0.3):
            return self.assign(f"roll({x.name}, {ch.int(-3, 3)})", x.shape)
        dims = sorted({ch.int(0, rank - 1) for _ in range(ch.int(1, 2))})
        shifts = [self.size_text(ch.int(0, 3)) if ch.chance(0.5) else str(ch.int(-3, 3)) for _ in dims]
        if len(dims) == 1:
            return self.assign(f"roll({x.name}, {shifts[0]}, dims={dims[0]})", x.shape)
        return self.assign(f"roll({x.name}, [{', '.join(shifts)}], dims=[{', '.join(map(str, dims))}])", x.shape)

    def op_windows(self):
        x = self.pick(min_rank=4, max_rank=4)
        if x is None:
            return None
        ch = self.ch
        b, c, h, w = x.shape
        kernel, stride = ch.choice([1, 2, 3]), ch.choice([1, 1, 2])
        padding = ch.choice([0, kernel // 2])
        rows, cols = (h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1
        args = f"{self.size_text(kernel, False)}, padding={padding}, stride={stride}"
        windows = self.assign(f"unfold({x.name}, {args})", (b, c * kernel * kernel, rows * cols))
        if ch.chance(0.6):
            size = f"[{self.size_text(h, False)}, {self.size_text(w, False)}]"
            return self.assign(f"fold({windows.name}, {size}, {args})", x.shape)
        return windows

    def op_interpolate(self):
        x = self.pick(min_rank=4, max_rank=4)
        if x is None:
            return None
        ch = self.ch
        mode = ch.choice(["nearest", "bilinear", "bicubic"])
        corners = f", align_corners={ch.choice(['true', 'false'])}" if mode != "nearest" and ch.chance(0.5) else ""
        if ch.chance(0.5):
            size = (ch.choice([1, 2, 5]), ch.choice([2, 3]))
            sizes = f"[{self.size_text(size[0], False)}, {size[1]}]"
            return self.assign(f'interpolate({x.name}, size={sizes}, mode="{mode}"{corners})', x.shape[:2] + size)
        factor = ch.choice([2, 0.5, 1.5])
        shape = x.shape[:2] + tuple(int(d * factor) for d in x.shape[2:])
        return self.assign(f'interpolate({x.name}, scale_factor={factor}, mode="{mode}"{corners})', shape)

    def op_spectrum(self):
        x = self.pick(min_rank=2)
        if x is None:
            return None
        ch = self.ch
        h, w = x.shape[-2:]
        norm = f', norm="{ch.choice(["ortho", "forward", "backward"])}"' if ch.chance(0.4) else ""
        spectrum = f"rfft2({x.name}{norm})"
        half = x.shape[:-1] + (w // 2 + 1,)
        form = ch.choice(["roundtrip", "filter", "real", "convolution"])
        if form == "convolution":  # a causal long convolution along the last axis, by FFTs of 2n points
            length = self.size_text(w, False)
            kernel = self.param((w,))
            points = f"2 * {length}" if not length.isidentifier() or ch.chance(0.5) else f"{length} + {length}"
            return self.assign(f"irfft(rfft({x.name}, n={points}{norm}) * rfft({kernel}, n={points}{norm}), "
                               f"n={points}{norm})[..., :{length}]", x.shape)
        if form == "real":
            return self.assign(f"view_as_real({spectrum})", half + (2,))
        if form == "filter":
            weight = self.param(half[-2:] + (2,))
            spectrum = f"{spectrum} * view_as_complex({weight})"
        size = f"s=[{self.size_text(h, False)}, {self.size_text(w, False)}]"
        return self.assign(f"irfft2({spectrum}, {size}{norm})", x.shape)

    # ------------------------------------------------------------------ masks, constants, indexing
    def mask_text(self, x) -> str:
        ch = self.ch
        same = [t for t in self.env if t.shape == x.shape and t is not x]
        options = [f"{x.name} > 0", f"{x.name} <= {ch.choice(['0.5', '-1'] + list(self.int_args))}",
                   f"not ({x.name} == 0)", f"{x.name} != {x.name}"]
        if same:
            options += [f"({x.name} > 0) and ({same[-1].name} < 0)", f"({x.name} >= {same[-1].name}) or ({x.name} < 0)"]
        options += [m for m, like in self.masks if like.shape == x.shape]
        return ch.choice(options)

    def op_mask(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        mask = self.mask_text(x)
        if ch.chance(0.5):
            fills = ['-inf', '0', '2.5', f'-finfo({x.name}).max', f'finfo({x.name}).min']
            return self.assign(f"masked_fill({x.name}, {mask}, {ch.choice(fills)})", x.shape)
        other = ch.choice(["0", "-1", f"-{x.name}", f"sigmoid({x.name})"])
        return self.assign(f"where({mask}, {x.name}, {other})" if ch.chance(0.7) else f"where({mask}, {other}, "
                           f"{x.name})", x.shape)

    def op_triangle(self):
        x = self.pick(min_rank=2)
        if x is None:
            return None
        fn, diagonal = self.ch.choice(["tril", "triu"]), self.ch.int(-2, 2)
        return self.assign(f"{fn}({x.name}, {diagonal})", x.shape)

    def op_constant(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        last = x.shape[-1]
        form = ch.choice(["arange", "eye", "ones", "zeros", "tensor"])
        if form == "tensor" and 1 <= last <= 6:  # numbers written out: ints, floats, sizes (a whole row or one)
            rows = 2 if len(x.shape) >= 2 and x.shape[-2] == 2 and ch.chance(0.3) else 1
            choices = ["0", "1", "-2", "0.5", "2.0", "1 / 3", self.size_text(last), *self.float_args]
            numbers = [[ch.choice(choices)
                        for _ in range(last)] for _ in range(rows)]
            written = [f"[{', '.join(row)}]" for row in numbers]
            values = f"[{', '.join(written)}]" if rows == 2 else written[0]
            return self.assign(f"{x.name} * tensor({values}, like={x.name})", x.shape)
        if form == "arange" and ch.chance(0.3):  # from a start: Swin's arange(-(w - 1), w)
            start = ch.int(-3, 2)
            return self.assign(f"{x.name} + arange({start}, {self.size_text(last + start)}, like={x.name})", x.shape)
        if form == "arange":
            return self.assign(f"{x.name} + arange({self.size_text(last)}, like={x.name})", x.shape)
        if form == "eye" and len(x.shape) >= 2:
            return self.assign(f"{x.name} @ eye({self.size_text(last)}, like={x.name})", x.shape)
        sizes = ", ".join(self.size_text(d) if ch.chance(0.5) else str(d) for d in x.shape[-2:])
        return self.assign(f"{x.name} * {form}([{sizes}], like={x.name}) + {x.name}", x.shape)

    def op_split(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        rank = len(x.shape)
        axis = ch.int(0, rank - 1)
        size = x.shape[axis]
        if size < 0:  # the model's size of a value torch would refuse
            return None
        first = ch.int(0, size) if not self.bad() else size + 1
        parts = [self.fresh(), self.fresh()]
        self.emit(f"{parts[0]}, {parts[1]} = split({x.name}, [{self.size_text(first)}, {size - first}], "
                  f"dim={axis - rank if ch.chance(0.5) else axis})")
        for name, piece in zip(parts, (first, size - first)):
            self.env.append(type(x)(name, x.shape[:axis] + (piece,) + x.shape[axis + 1:]))
        return self.env[-1]

    def op_unbind(self):
        """`a, b = unbind(x, dim=d)`: the slices along an axis of 2 to 4, without it; sometimes
        one name too many (the checker refuses it, or the module checks the size)."""
        x = self.pick(min_rank=2)
        if x is None:
            return None
        ch = self.ch
        rank = len(x.shape)
        axes = [axis for axis in range(rank) if 2 <= x.shape[axis] <= 4]
        if not axes:
            return None
        axis = ch.choice(axes)
        count = x.shape[axis] + (1 if self.bad() else 0)
        names = [self.fresh() for _ in range(count)]
        self.emit(f"{', '.join(names)} = unbind({x.name}, dim={axis - rank if ch.chance(0.5) else axis})")
        shape = x.shape[:axis] + x.shape[axis + 1:]
        self.env += [type(x)(name, shape) for name in names]
        return self.assign(f"{names[0]} * 2 + {names[-1]}", shape)

    def op_cumsum(self):
        """`cumsum(x, dim=d)` along any axis (sometimes out of range: the checker refuses it), or
        integer positions summed (Swin's index, `sum(stack([...], dim=-1), dim=-1)`), their running
        sum or extremum, kept integer and then promoted into x."""
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        form = ch.choice(["float", "float", "running", "reduced"])
        if form == "float":
            return self.assign(f"cumsum({x.name}, dim={self.axis(len(x.shape))})", x.shape)
        positions = f"arange({self.size_text(x.shape[-1])})"
        pairs = f"stack([{positions}, {positions} // 2 - {ch.choice(['1', '3'] + list(self.int_args))}], dim=-1)"
        if form == "running":
            integers = ch.choice([f"cumsum({positions} % 3, dim={ch.choice([0, -1])})",
                                  f"cumsum({pairs}, dim={ch.choice([0, 1, -1])})[:, 0]"])
        else:
            integers = f"{ch.choice(['sum', 'sum', 'max', 'min'])}({pairs}, dim={ch.choice([1, -1])})"
        return self.assign(f"{x.name} {ch.choice(['+', '*', '-'])} {integers}", x.shape)

    def op_detach(self):
        """`detach(...)`: the same values (the differential compares values, not gradients), in
        lucidrains' `sim - detach(max(sim, dim=-1, keepdim=true))` or on its own."""
        x = self.pick(min_rank=1)
        if x is None:
            return None
        if self.ch.chance(0.3):  # zeros and ones of its shape, dtype and device
            return self.assign(f"{x.name} * ones_like({x.name}) + zeros_like({x.name})", x.shape)
        if self.ch.chance(0.5):
            return self.assign(f"detach({x.name}) * 2 + {x.name}", x.shape)
        return self.assign(f"{x.name} - detach(max({x.name}, dim={self.axis(len(x.shape))}, keepdim=true))", x.shape)

    def op_subscript(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        items, shape = [], []
        for size in x.shape:
            kind = ch.choice([":", ":", "slice", "index", "none"])
            if size <= 0 and kind in ("slice", "index"):  # the model's size of a value torch would refuse
                kind = ":"
            if kind == "slice":
                start = ch.int(0, size)
                stop = ch.int(start, size)
                step = ch.choice([1, 1, 2])
                items.append(f"{start}:{self.size_text(stop)}" + (f":{step}" if step != 1 else ""))
                shape.append(-(-(stop - start) // step))
            elif kind == "index":
                index = ch.int(-size, size - 1)
                items.append(str(index))
            elif kind == "none":
                items += ["None", ":"]
                shape += [1, size]
            else:
                items.append(":")
                shape.append(size)
        if ch.chance(0.2):
            items[-1] = "..."
            shape[-1:] = [x.shape[-1]]
        return self.assign(f"{x.name}[{', '.join(items)}]", shape)

    def op_integers(self):
        """Positions in forward: integer arithmetic on arange, promoted or converted to float."""
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        size, m = self.size_text(x.shape[-1]), ch.choice(["1", "2", "3", "k"] if "k" in self.int_args else ["2", "3"])
        positions = f"arange({size})"
        form = ch.choice([f"{positions} // {m}", f"({positions} % {m})", f"float({positions} * {m})",
                          f"{positions} * 0.5", f"{positions} / {m}", f"abs({positions} - {m})",
                          f"where({positions} > {m}, {positions}, 0)", f"{positions} * (4 / 2)",
                          f"float(long(floor({positions} / {m})))", f"long(ceil({x.name} * {m}))",
                          f"clamp({positions} - {m}, min=0)", f"float({positions} > {m})"])
        return self.assign(f"{x.name} {ch.choice(['+', '*', '-'])} {form}", x.shape)

    def op_gather(self):
        """`x[:, index]` by an integer buffer of positions within the axis (sometimes not)."""
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        axis = ch.int(0, len(x.shape) - 1)
        size = x.shape[axis]
        if size <= 0:
            return None
        text = self.size_text(size)
        form = ch.choice(["mod", "floordiv", "reverse", "pairs"])
        if form == "mod":
            count = ch.choice([1, 2, 5])
            index, shape = f"arange({count} * {text}) % {text}", (count * size,)
        elif form == "floordiv":
            index, shape = f"arange({text} * 2) // 2", (2 * size,)
        elif form == "reverse":
            index, shape = f"{text} - 1 - arange({text})", (size,)
        else:  # both orders of every pair: a 2-d index
            index, shape = f"abs(arange({text})[:, None] - arange({text})[None, :])", (size, size)
        if self.bad():
            index = f"{index} + 1"  # one past the end: the module refuses to be built
        name = self.fresh("i")
        declared = 'persistent buffer' if ch.chance(0.3) else 'buffer'
        if form in ("mod", "floordiv") and ch.chance(0.4):  # built in steps: positions, then divided
            positions, divided = index.split(" % " if form == "mod" else " // ", 1)
            self.emit(f"{declared} {name} = {positions}")
            index = f"{name} {'%' if form == 'mod' else '//'} {divided}"
        self.emit(f"{declared} {name} = {index}")
        items = [":"] * axis + [name]
        if axis == len(x.shape) - 1 and axis > 0 and ch.chance(0.4):
            items = ["...", name]
        return self.assign(f"{x.name}[{', '.join(items)}]", x.shape[:axis] + shape + x.shape[axis + 1:])

    def op_select(self):
        """Positions computed in forward: `topk` (its values, or a gather or scatter by its
        positions), `sort`/`argsort` and a gather back, `argmax`/`argmin` promoted into x, and
        a lookup `x[:, argmax(x[0], dim=0)]`, and one by an index clamped to [lo, hi]; `k`
        sometimes past the axis (`bad`), `hi` sometimes at its size."""
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        rank = len(x.shape)
        axis = self.axis(rank)
        size = x.shape[axis] if -rank <= axis < rank else 1
        if size <= 0:
            return None
        form = ch.choice(["values", "gather", "scatter", "sort", "arg", "lookup", "clamp"])
        if form == "clamp":
            if rank < 2 or x.shape[1] <= 0:
                return None
            length, high = ch.int(1, 6), ch.int(0, x.shape[1])  # (high == the size: refused)
            low = ch.choice([0, 0, min(1, high)])
            index = self.fresh("i")
            self.emit(f"{index} = clamp(arange({length}) - {ch.int(0, 3)}, min={low}, max={self.size_text(high)})")
            return self.assign(f"{x.name}[:, {index}]", x.shape[:1] + (length,) + x.shape[2:])
        if form in ("values", "gather", "scatter"):
            k = ch.int(1, size)
            values, positions = self.fresh("v"), self.fresh("i")
            largest = "" if ch.chance(0.6) else ", largest=false"
            self.emit(f"{values}, {positions} = topk({x.name}, {self.size_text(k)}, dim={axis}{largest})")
            shape = tuple(k if d == axis % rank else n for d, n in enumerate(x.shape))
            if form == "values":
                return self.assign(f"{values} * 2", shape)
            if form == "gather":
                return self.assign(f"gather({x.name}, {axis}, {positions}) - {values}", shape)
            return self.assign(f"scatter({x.name}, {axis}, {positions}, {ch.choice(['0.0', '1.5', '-inf'])})",
                               x.shape)
        if form == "sort":
            descending = ", descending=true" if ch.chance(0.5) else ""
            if ch.chance(0.5):
                values, positions = self.fresh("v"), self.fresh("i")
                self.emit(f"{values}, {positions} = sort({x.name}, dim={axis}{descending})")
                return self.assign(f"{values} + gather({x.name}, {axis}, {positions})", x.shape)
            return self.assign(f"gather({x.name}, {axis}, argsort({x.name}, dim={axis}{descending}))", x.shape)
        if form == "arg":
            function = ch.choice(["argmax", "argmin"])
            return self.assign(f"{x.name} + float({function}({x.name}, dim={axis}, keepdim=true))", x.shape)
        shape = x.shape[:1] + x.shape[2:] + x.shape[2:]
        if not 2 <= rank <= 3 or _numel(shape) > 4096:  # the lookup squares the trailing axes: keep it small
            return None
        best = f"{ch.choice(['argmax', 'argmin'])}({x.name}[0], dim=0)"
        return self.assign(f"{x.name}[:, {best}]", shape)

    def op_einsum(self):
        """einsum with word-named axes (the letters of torch's form are chosen for them): a
        permutation, a sum, an elementwise product, or a Gram matrix of x with itself."""
        x = self.pick(min_rank=2, max_rank=4)
        if x is None:
            return None
        ch = self.ch
        names = ["batch", "b", "heads", "dim"][: len(x.shape)]
        term = " ".join(names)
        form = ch.choice(["permute", "sum", "product", "gram"])
        if form == "permute":
            order = list(range(len(names)))
            order.insert(ch.int(0, len(order) - 1), order.pop())
            out = [names[i] for i in order]
            return self.assign(f'einsum("{term} -> {" ".join(out)}", {x.name})', tuple(x.shape[i] for i in order))
        if form == "sum":
            return self.assign(f'einsum("{term} -> {" ".join(names[:-1])}", {x.name})', x.shape[:-1])
        if form == "product":
            return self.assign(f'einsum("{term}, {term} -> {term}", {x.name}, sigmoid({x.name}))', x.shape)
        other = " ".join(names[:-2] + ["e", names[-1]])
        out = " ".join(names[:-1] + ["e"])
        return self.assign(f'einsum("{term}, {other} -> {out}", {x.name}, {x.name})', x.shape[:-1] + x.shape[-2:-1])

    CATALOGUE_OPS = ["op_mask", "op_mask", "op_triangle", "op_constant", "op_split", "op_subscript", "op_activation",
                     "op_norms", "op_flatten", "op_squeeze", "op_expand", "op_pad", "op_roll", "op_windows",
                     "op_interpolate", "op_spectrum", "op_integers", "op_gather", "op_einsum", "op_unbind",
                     "op_cumsum", "op_detach", "op_select"]


def _numel(shape) -> int:
    count = 1
    for size in shape:
        count *= max(size, 1)
    return count
