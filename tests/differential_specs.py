"""Random specs and cases for the differential tests (tests/test_differential.py,
scripts/differential.py).

`generate(ch)` extends the fuzzer's block generator (tests/fuzzing/: ops, layers,
rearranges, chunks, broadcasting, `if flag:` joins) with what the language has beyond
it: `if`/`else` on arguments with `let`, `require` and layers inside, optional inputs
(multiplied in, or boolean masks for masked_fill), list arguments with layer lists, blocks
used as layers (with list arguments, their own `if`s and optional inputs), and scalar
arithmetic (`//`, `%`, `**`, `sqrt`, unary minus, max/min, len, input sizes) mixed with
tensors; also the forms that reach known trouble (an axis named twice in a reduction, a
softmax layer's axis, a mask of floats, `example(...)` lines, some with a wrong size).
It returns the spec and its *nominal* configuration (every argument, every input size),
from which tests/differential_cases.py draws the cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .differential_ints import IntegerInputOps
from .differential_ops import CatalogueOps
from .fuzzing import SIZES, GenTensor, SpecGenerator

LISTS = [[1, 3], [1], [3, 5, 1], [2, 2], [1, 1, 1]]


@dataclass
class GeneratedSpec:
    source: str
    args: dict  # every argument's nominal value
    dims: dict  # every new size symbol's nominal value (optional inputs' too)
    optional_present: set = field(default_factory=set)  # optional inputs given in the nominal case
    flags: dict = field(default_factory=dict)  # flag inputs of forward: the nominal call's value (None: default)


class DiffSpecGenerator(IntegerInputOps, CatalogueOps, SpecGenerator):
    def __init__(self, ch):
        super().__init__(ch)
        self.bad_rate = 0.0 if ch.chance(0.7) else 0.04
        self.list_args: dict[str, list] = {}
        self.blocks: list[str] = []
        self.dim_names: list[str] = []
        self.optional: list[tuple[str, str, GenTensor]] = []  # (name, "mask" | "weights", tensor it fits)
        self.masks: list[tuple[str, GenTensor]] = []  # required boolean inputs
        self.ids: list[tuple[str, GenTensor]] = []  # required integer inputs (tests/differential_ints.py)
        self.forward_flags: dict[str, bool | None] = {}  # `input on: bool = false`: the nominal call's value

    # ------------------------------------------------------------------ scalars
    def scalar_leaf(self) -> str:
        ch = self.ch
        options = ["1", "2", "3", "5", "0.5", "2.5"] + list(self.int_args) * 2 + list(self.lets)
        options += list(self.float_args) + [f"len({n})" for n in self.list_args] + self.dim_names
        return ch.choice(options)

    def scalar_expr(self, depth: int = 0) -> str:
        ch = self.ch
        if depth >= 2 or ch.chance(0.35):
            return self.scalar_leaf()
        kind = ch.choice(["+", "-", "*", "/", "//", "%", "**", "sqrt", "neg", "max", "min"])
        left = self.scalar_expr(depth + 1)
        if kind == "**":
            return f"({left}) ** {ch.choice(['2', '3', '0.5'])}"
        if kind == "sqrt":
            return f"sqrt({left})"
        if kind == "neg":
            return f"-({left})"
        right = self.scalar_expr(depth + 1)
        if kind in ("max", "min"):
            return f"{kind}({left}, {right})"
        return f"({left}) {kind} ({right})"

    def op_scalar_mix(self):
        x = self.pick()
        ch = self.ch
        s = self.scalar_expr()
        form = ch.choice(["{x} * ({s})", "({s}) - {x}", "{x} / ({s})", "{x} + ({s}) * {x}", "-{x} * ({s})",
                          "{x} ** 2 + ({s})", "({s}) * -{x}"])
        return self.assign(form.format(x=x.name, s=s), x.shape)

    # ------------------------------------------------------------------ if on arguments
    def condition(self) -> str:
        ch = self.ch
        options = []
        for name in self.int_args:
            options += [f"{name} > {ch.choice([1, 2, 3])}", f"{name} % 2 == 0", f"{name} >= {name}"]
        if "flag" in self.bool_args:
            options += ["flag", "not flag"] + [f"flag and {n} > 1" for n in self.int_args]
        options += [f"len({n}) > 1" for n in self.list_args]
        return ch.choice(options) if options else ""

    def op_if_arg(self):
        condition = self.condition()
        x = self.pick(min_rank=1)
        if not condition or x is None:
            return None
        ch = self.ch
        name = self.fresh()
        d = self.size_text(x.shape[-1], allow_bad=False)
        lines = [f"if {condition}:"]
        if ch.chance(0.6) and self.int_args:
            let, up, down = self.fresh("e"), self.fresh("fc"), self.fresh("fc")
            arg = ch.choice(sorted(self.int_args))
            value = ch.choice([f"{arg} * 2", f"{arg} - 1", f"{arg} // 2", f"12 // ({arg} - 1)", f"{arg} * 2 - 3"])
            lines.append(f"    let {let} = {value}")
            if ch.chance(0.6):
                lines.append(f"    require {let} >= {ch.choice([0, 1])}, \"{let} must be positive here\"")
            if ch.chance(0.25):
                lines.append(f"    require {arg} % 2 == 0, \"{arg} must be even here\"")
            lines += [f"    layer {up} = linear({d}, {let})", f"    layer {down} = linear({let}, {d})",
                      f"    {name} = {down}({ch.choice(['relu', 'tanh', 'sigmoid'])}({up}({x.name})))"]
        else:
            lines.append(f"    {name} = {x.name} * ({self.scalar_expr()})")
        if self.bad() and len(x.shape) >= 2:  # a join of different shapes (opaque size)
            lines += ["else:", f"    {name} = mean({x.name}, dim=-1, keepdim=true)"]
        elif ch.chance(0.2):
            lines += ["else:", f"    {name} = {x.name}"]
        else:
            lines += ["else:", f"    {name} = {ch.choice(['sigmoid', 'exp', 'abs'])}({x.name}) - ({self.scalar_expr()})"]
        for line in lines:
            self.emit(line)
        tensor = GenTensor(name, x.shape)
        self.env.append(tensor)
        return tensor

    def op_range_loop(self):
        """`for _ in range(n):` carrying a value whose shape each pass keeps (or, rarely, does not)."""
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        count = ch.choice(["2", "1", "0"] + sorted(self.int_args) * 2)
        name = self.fresh()
        self.emit(f"{name} = {x.name} * 0.5")
        body = ch.choice([f"{name} = tanh({name}) + {x.name}", f"{name} = {name} * sigmoid({x.name}) - 0.25",
                          f"{name} = {name} + softmax({name}, dim=-1)"]
                         + ([f"{name} = mean({name}, dim=-1, keepdim=true)"] if self.bad() else []))
        self.emit(f"for _ in range({count}):")
        self.emit(f"    {body}")
        tensor = GenTensor(name, x.shape)
        self.env.append(tensor)
        return tensor

    def op_axis_comprehension(self):
        """A comprehension over a tensor's first axis, or over two zipped: a loop at run time,
        its pieces stacked back (rarely along another axis, or with a piece of another shape)."""
        x = self.pick(min_rank=2)
        if x is None:
            return None
        ch = self.ch
        partners = [t for t in self.env if t.shape == x.shape and t is not x]
        if partners and ch.chance(0.5):
            other = ch.choice(partners)
            text = f"[{ch.choice(['u * v', 'u + sigmoid(v)', 'u - v * 0.5'])} for u, v in zip({x.name}, {other.name})]"
        else:
            text = f"[{ch.choice(['tanh(row)', 'softmax(row, dim=-1)', 'row * 2 + 1'])} for row in {x.name}]"
        dim = 0 if not self.bad() else ch.choice([1, len(x.shape)])
        shape = list(x.shape[1:])
        shape.insert(min(dim, len(shape)), x.shape[0])
        return self.assign(f"stack({text}, dim={dim})", tuple(shape))

    # ------------------------------------------------------------------ flags of forward
    def op_if_flag(self):
        """An `if` (or a choice) on a flag input: decided call by call, so its branches only
        compute (a declaration under it is an error)."""
        if not self.forward_flags:
            return None
        x = self.pick(min_rank=1)
        if x is None:
            return None
        ch = self.ch
        flag = ch.choice(sorted(self.forward_flags))
        options = [flag, f"not {flag}"] + [f"{flag} and flag" for _ in self.bool_args] + \
            [f"{flag} or {n} > 2" for n in self.int_args]
        condition, name = ch.choice(options), self.fresh()
        changed = f"{ch.choice(['sigmoid', 'tanh', 'relu'])}({x.name}) * ({self.scalar_expr()})"
        kept = x.name if ch.chance(0.3) else f"{x.name} - ({self.scalar_expr()})"
        if ch.chance(0.3):
            self.emit(f"{name} = {changed} if {condition} else {kept}")
        else:
            for line in (f"if {condition}:", f"    {name} = {changed}", "else:", f"    {name} = {kept}"):
                self.emit(line)
        tensor = GenTensor(name, x.shape)
        self.env.append(tensor)
        return tensor

    # ------------------------------------------------------------------ optional inputs and masks
    def op_optional_use(self):
        if not self.optional:
            return None
        ch = self.ch
        name, kind, like = ch.choice(self.optional)
        same = [t for t in self.env if t.shape == like.shape]
        target = same[-1] if same and ch.chance(0.7) else like
        result = self.fresh()
        if kind == "mask":
            value = ch.choice(["-inf", "0.5", "-1e4", "0", f"-finfo({target.name}).max"] + list(self.int_args))
            body = f"masked_fill({target.name}, {name}, {value})"
        else:
            body = ch.choice([f"{target.name} * {name}", f"{target.name} + {name}", f"{name} - {target.name}"])
        self.emit(f"if {name}:")
        self.emit(f"    {result} = {body}")
        self.emit("else:")
        self.emit(f"    {result} = {target.name}" if ch.chance(0.5) else f"    {result} = {target.name} * 2")
        tensor = GenTensor(result, like.shape)
        self.env.append(tensor)
        return tensor

    def op_required_mask(self):
        if not self.masks:
            return None
        name, like = self.ch.choice(self.masks)
        same = [t for t in self.env if t.shape == like.shape]
        target = same[-1] if same else like
        return self.assign(f"masked_fill({target.name}, {name}, {self.ch.choice(['-inf', '1.5', '0'])})", like.shape)

    def op_softmax_layer(self):
        x = self.pick(min_rank=1)
        if x is None:
            return None
        rank = len(x.shape)
        layer = self.fresh("sm")
        dim = self.ch.int(-rank, rank - 1) if self.ch.chance(0.8) else self.ch.choice([rank, -rank - 1])
        self.emit(f"layer {layer} = softmax(dim={dim})")
        return self.assign(f"{layer}({x.name})", x.shape)

    # ------------------------------------------------------------------ layer lists and sub-blocks
    def list_text(self) -> str | None:
        return self.ch.choice(sorted(self.list_args)) if self.list_args else None

    def op_layer_list(self):
        iterable = self.list_text()
        x = self.pick(min_rank=1)
        if iterable is None or x is None:
            return None
        ch = self.ch
        layer = self.fresh("fcs")
        d = self.size_text(x.shape[-1], allow_bad=False)
        self.emit(f"layer {layer} = [linear({d}, {d}{ch.choice(['', ', bias=false'])}) for item in {iterable}]")
        length = len(self.list_args[iterable])
        if ch.chance(0.3):
            return self.assign(f"cat([f({x.name}) for f in {layer}], dim=-1)", x.shape[:-1] + (x.shape[-1] * length,))
        reduce = ch.choice(["sum", "mean", "max"])
        return self.assign(f"{reduce}(stack([f({x.name}) for f in {layer}], dim=0), dim=0)", x.shape)

    def op_sub_block(self):
        x = self.pick(min_rank=2)
        if x is None:
            return None
        ch = self.ch
        index = len(self.blocks) + 1
        name = f"Sub{index}"
        dims = [f"s{i}" for i in range(len(x.shape) - 1)]
        d = self.size_text(x.shape[-1], allow_bad=False)
        template = ch.choice(["stack", "mlp", "widths", "gate", "branches", "groups", "zipped", "ranks", "kinds",
                              "words"]
                             if len(x.shape) == 4 else ["stack", "mlp", "widths", "grid", "ranks", "kinds", "words"]
                             if len(x.shape) == 3 else ["stack", "mlp", "widths", "ranks", "kinds", "words"]
                             if len(x.shape) == 5 else ["stack", "mlp", "widths", "kinds", "words"])
        template = "forward" if ch.chance(0.15) else "indexed" if ch.chance(0.08) else template
        layer = self.fresh("sub")
        if template == "forward":  # a block given a size, a flag and maybe an optional input when it is called
            default = ch.choice(["true", "false"])
            # this block's own optional input of x's shape, passed on None and all
            weights = [n for n, kind, like in self.optional if kind == "weights" and like is x]
            passed = ch.choice(weights) if weights and ch.chance(0.6) else None
            self.blocks.append(
                f"block {name}(d: int):\n"
                f"    input x: [{', '.join(dims + ['d'])}]\n"
                "    input m: int\n"
                + (f"    input w: [{', '.join(dims + ['d'])}] = None\n" if passed else "") +
                f"    input on: bool = {default}\n"
                "    layer fc = linear(d, d)\n"
                + ("    if w:\n        x = x * w\n" if passed else "") +
                "    if on:\n        return fc(x) * m\n    return x - m\n")
            size = ch.choice(["1", "3"] + list(self.int_args) + self.dim_names)
            flags = [""] + [f", on={v}" for v in ("true", "false")] + [f", on={f}" for f in self.bool_args] + \
                [f", on={f}" for f in self.forward_flags] + [f", on=not {f}" for f in self.forward_flags]
            self.emit(f"layer {layer} = {name}({d})")
            if passed is None:
                given = f", {size}"
            else:  # by position, or by name
                given = f", {size}, {passed}" if ch.chance(0.5) else f", {size}, w={passed}"
            return self.assign(f"{layer}({x.name}{given}{ch.choice(flags)})", x.shape)
        if template == "indexed":  # two lists indexed by one range's variable (PVT's stages)
            guard = ch.choice(["", "    require all([ks[i] >= 1 for i in range(len(ks))]), \"positive\"\n"])
            self.blocks.append(
                f"block {name}(d: int, ks: list[int] = {ch.choice(LISTS)}, ms: list[int] = {ch.choice(LISTS)}):\n"
                f"    input x: [{', '.join(dims + ['d'])}]\n{guard}"
                "    layer mlps = [sequential(linear(d, d * ks[i] + ms[i]), relu(), linear(d * ks[i] + ms[i], d)) "
                f"for i in range({ch.choice(['len(ks)', 'len(ks)', 'len(ms)', '1'])})]\n"
                "    y = x\n    for mlp in mlps:\n        y = mlp(y) + y\n    return y\n")
            lists = [f", {self.list_text()}" if self.list_args and ch.chance(0.6) else "" for _ in range(2)]
            self.emit(f"layer {layer} = {name}({d}{lists[0]}{lists[1] if lists[0] else ''})")
            return self.assign(f"{layer}({x.name})", x.shape)
        if template == "stack":
            guard = "    require len(ks) >= 1, \"needs a layer\"\n" if ch.chance(0.5) else ""
            tail = ch.choice(["sum(y, dim=0) / len(ks)", "mean(y, dim=0)", "sum(y, dim=0) * (len(ks) // 2 + 1)",
                              "cat([f(x) for f in fcs], dim=-1)"])
            default = ch.choice(LISTS)
            self.blocks.append(
                f"block {name}(d: int, ks: list[int] = {default}):\n"
                f"    input x: [{', '.join(dims + ['d'])}]\n{guard}"
                f"    layer fcs = [linear(d, d, bias=false) for k in ks]\n"
                f"    y = stack([f(x) for f in fcs], dim=0)\n"
                f"    return {tail}\n")
            given = self.list_text() if self.list_args and ch.chance(0.7) else None
            self.emit(f"layer {layer} = {name}({d}{', ' + given if given else ''})")
            length = len(self.list_args[given]) if given else len(default)
            shape = x.shape[:-1] + (x.shape[-1] * length,) if tail.startswith("cat") else x.shape
            return self.assign(f"{layer}({x.name})", shape)
        if template == "widths":  # a layer list told apart by its index: element i is (i + 1) times wider
            self.blocks.append(
                f"block {name}(d: int, n: int = 2):\n"
                f"    input x: [{', '.join(dims + ['d'])}]\n"
                "    layer mlps = [sequential(linear(d, d * (i + 1)), relu(), linear(d * (i + 1), d)) "
                "for i in range(n)]\n"
                "    y = x\n    for mlp in mlps:\n        y = mlp(y) + y\n    return y\n")
            self.emit(f"layer {layer} = {name}({d}, {ch.choice(['2', '1', '0', '3'] + list(self.int_args))})")
            return self.assign(f"{layer}({x.name})", x.shape)
        if template == "branches":  # one conv per branch, kernel 2i + 1: padded by i it keeps the map's size
            padding = ch.choice(["i", "i", "i", "1", "i + 1"])
            groups = ch.choice(["", "", ", groups=i + 1", ", groups=2 - i"])
            self.blocks.append(
                f"block {name}(c: int, n: int = 2):\n"
                "    input x: [b, c, h, w]\n"
                f"    layer convs = [conv2d(c, c, 2 * i + 1, padding={padding}{groups}) for i in range(n)]\n"
                "    return x * sigmoid(sum(stack([conv(x) for conv in convs], dim=0), dim=0))\n")
            count = ch.choice(["", ", 1", ", 3", ", 0"] + [f", {n}" for n in self.int_args])
            self.emit(f"layer {layer} = {name}({self.size_text(x.shape[1], allow_bad=False)}{count})")
            return self.assign(f"{layer}({x.name})", x.shape)
        if template == "groups":  # a layer list zipped with the channel groups (PSA)
            self.blocks.append(
                f"block {name}(c: int, n: int = 2):\n"
                "    input x: [b, c, h, w]\n"
                "    layer convs = [conv2d(c // n, c // n, 2 * i + 1, padding=i) for i in range(n)]\n"
                "    outs = []\n"
                "    for conv, group in zip(convs, rearrange(x, \"b (s c) h w -> s b c h w\", s=n)):\n"
                "        outs.append(conv(group))\n"
                "    return cat(outs, dim=1)\n")
            count = ch.choice(["", ", 1", ", 3", ", 4"] + [f", {n}" for n in self.int_args])
            self.emit(f"layer {layer} = {name}({self.size_text(x.shape[1], allow_bad=False)}{count})")
            return self.assign(f"{layer}({x.name})", x.shape)
        if template == "zipped":  # layer lists zipped together (lengths that may differ: a check)
            norms = ch.choice(["n", "n", "m", "n + 1"])
            gate = ch.choice(["", " * sigmoid(gate(x))"])
            self.blocks.append(
                f"block {name}(c: int, n: int = 2, m: int = 2):\n"
                "    input x: [b, c, h, w]\n"
                "    layer convs = [conv2d(c, c, 2 * i + 1, padding=i) for i in range(n)]\n"
                f"    layer norms = [batch_norm2d(c) for _ in range({norms})]\n"
                "    layer gates = [conv2d(c, c, 1) for j in range(n)]\n"
                "    y = x\n"
                "    for conv, norm, gate in zip(convs, norms, gates):\n"
                f"        y = norm(conv(y)){gate}\n"
                "    return y\n")
            counts = ch.choice(["", ", 1", ", 3", ", 2, 3", ", 0, 0"] + [f", {n}" for n in self.int_args])
            self.emit(f"layer {layer} = {name}({self.size_text(x.shape[1], allow_bad=False)}{counts})")
            return self.assign(f"{layer}({x.name})", x.shape)
        if template == "ranks":  # generic over the input's rank: conv{dimension}d, a pack, a layer per branch
            kernel = ch.choice(["1", "3", "3"])
            padding = ch.choice([f"{kernel} // 2"] * 3 + ["0"])  # 0 with kernel 3: the map shrinks (a check, or an error)
            post = ch.choice(["batch_norm{dimension}d(c)", "identity()", "conv{dimension}d(c, c, 1)"])
            self.blocks.append(
                f"block {name}(c: int, dimension: int = 2, norm: bool = true):\n"
                "    input x: [b, c, *spatial[dimension]]\n"
                f"    layer proj = conv{{dimension}}d(c, c, {kernel}, padding={padding})\n"
                f"    if norm:\n        layer post = {post}\n    else:\n        layer post = identity()\n"
                "    y = post(proj(x))\n"
                "    w = unflatten(softmax(flatten(y, 2), dim=-1), 2, spatial)\n"
                "    return x * w\n")
            rank = len(x.shape) - 2 if not self.bad() else ch.choice([1, 2, 3])
            norm = ch.choice(["", ", norm=false", ", norm=true"])
            self.emit(f"layer {layer} = {name}({self.size_text(x.shape[1], allow_bad=False)}, {rank}{norm})")
            return self.assign(f"{layer}({x.name})", x.shape)
        if template == "kinds":  # layer kinds as arguments (timm's act_layer, norm_layer=None), arithmetic defaults
            default = ch.choice(["relu", '"relu"', '"hard_swish"'])  # a kind, or its name (timm's strings)
            self.blocks.append(
                f"block {name}(d: int, scale: float = 1 / 4, act_layer: layer = {default},\n"
                "        norm_layer: layer[layer_norm] | None = None):\n"
                f"    input x: [{', '.join(dims + ['d'])}]\n"
                "    layer fc = linear(d, d)\n    layer act = act_layer()\n"
                "    if norm_layer is not None:\n        layer norm = norm_layer(d)\n        y = norm(fc(x))\n"
                "    else:\n        y = fc(x)\n"
                "    return act(y) * scale + x\n")
            act = ch.choice(["", ", act_layer=silu", ", act_layer=gelu", ", act_layer=tanh", ", act_layer=sigmoid"])
            norm = ch.choice(["", ", norm_layer=layer_norm", ", norm_layer=None"])
            self.emit(f"layer {layer} = {name}({d}{act}{norm})")
            return self.assign(f"{layer}({x.name})", x.shape)
        if template == "words":  # str and list[str] arguments choosing branches (GCNet's pooling_type)
            # either an `else:` for the last case, or a `require` that leaves no case but the
            # branches (an `if`/`elif` chain the compiler must prove exhaustive)
            exhaustive = ch.chance(0.5)
            self.blocks.append(
                f'block {name}(d: int, mode: str = "gate", extras: list[str] = []):\n'
                f"    input x: [{', '.join(dims + ['d'])}]\n"
                "    layer fc = linear(d, d)\n"
                + ('    require mode in ["gate", "sum", "add", "keep", "pool"]\n' if exhaustive else "")
                + '    if mode == "gate":\n        y = x * sigmoid(fc(x))\n'
                '    elif mode in ["sum", "add"]:\n        y = x + fc(x)\n'
                + ('    elif mode == "keep":\n        y = fc(x)\n    elif mode == "pool":\n' if exhaustive else
                   '    elif mode != "pool":\n        y = fc(x)\n    else:\n')
                + "        y = mean(x, dim=-1, keepdim=true)\n"
                '    if "double" in extras:\n        y = y * 2\n'
                "    return y\n")
            mode = ch.choice(["", ', mode="gate"', ', mode="sum"', ', mode="add"', ', mode="pool"', ', mode="keep"',
                              ', mode="other"'])
            extras = ch.choice(["", ", extras=[]", ', extras=["double"]', ', extras=["x", "double"]'])
            self.emit(f"layer {layer} = {name}({d}{mode}{extras})")
            pooled = mode == ', mode="pool"'
            return self.assign(f"{layer}({x.name})", x.shape[:-1] + (1,) if pooled else x.shape)
        if template == "grid":  # a size computed in forward: the tokens laid on a square grid (GFNet)
            self.blocks.append(
                f"block {name}(d: int, drop: float = 0.0):\n"
                f"    input x: [{', '.join(dims + ['d'])}]\n"
                f"    let a = int(sqrt({dims[-1]}))\n"
                "    grid = rearrange(x, \"b (p q) d -> b p q d\", p=a, q=a)\n"
                "    return x + stochastic_depth(rearrange(grid * a, \"b p q d -> b (p q) d\"), drop)\n")
            self.emit(f"layer {layer} = {name}({d}, {ch.choice(['0.0', '0.5', '0.25'])})")
            return self.assign(f"{layer}({x.name})", x.shape)
        if template == "mlp":
            optional = ch.chance(0.4)
            self.blocks.append(
                f"block {name}(d: int, m: int = 2):\n"
                f"    input x: [{', '.join(dims + ['d'])}]\n"
                + (f"    input w: [{', '.join(dims + ['d'])}] = None\n" if optional else "")
                + "    if m > 1:\n        let e = d * m\n        layer up = linear(d, e)\n"
                "        layer down = linear(e, d)\n        y = down(relu(up(x)))\n"
                "    else:\n        y = x * (m + 1)\n"
                + ("    if w:\n        y = y * w\n" if optional else "")
                + "    return y\n")
            m = ch.choice(["2", "1", "0", "-1"] + list(self.int_args))
            self.emit(f"layer {layer} = {name}({d}, {m})")
            twice = optional and ch.chance(0.5)
            return self.assign(f"{layer}({x.name}, {x.name})" if twice else f"{layer}({x.name})", x.shape)
        # gate: a conv per kernel size over a (b, c, h, w) map
        odd = "    require all([k % 2 == 1 for k in ks]), \"odd kernels keep the size\"\n" if ch.chance(0.8) else ""
        self.blocks.append(
            f"block {name}(c: int, ks: list[int] = [1, 3]):\n"
            "    input x: [b, c, h, w]\n" + odd +
            "    layer convs = [conv2d(c, c, k, padding=k // 2) for k in ks]\n"
            "    return x * sigmoid(sum(stack([conv(x) for conv in convs], dim=0), dim=0))\n")
        given = f", {self.list_text()}" if self.list_args and ch.chance(0.6) else ""
        self.emit(f"layer {layer} = {name}({self.size_text(x.shape[1], allow_bad=False)}{given})")
        return self.assign(f"{layer}({x.name})", x.shape)

    OPS = SpecGenerator.OPS + ["op_scalar_mix", "op_scalar_mix", "op_if_arg", "op_if_arg", "op_optional_use",
                               "op_optional_use", "op_required_mask", "op_layer_list", "op_sub_block",
                               "op_sub_block", "op_softmax_layer", "op_if_flag", "op_if_flag", "op_range_loop",
                               "op_axis_comprehension", "op_ids_use", "op_ids_use"] + \
        CatalogueOps.CATALOGUE_OPS

    # ------------------------------------------------------------------ the file
    def generate_spec(self) -> GeneratedSpec:
        ch = self.ch
        header, args = [], {}
        for name in ["a", "k", "g", "r"][: ch.int(1, 4)]:
            value = ch.choice(SIZES)
            self.int_args[name] = args[name] = value
            header.append(f"{name}: int = {value}" if ch.chance(0.6) else f"{name}: int")
        if ch.chance(0.45):
            self.list_args["ks"] = args["ks"] = list(ch.choice(LISTS))
            header.append(f"ks: list[int] = {args['ks']}")
        if ch.chance(0.3):
            self.float_args["p"] = args["p"] = ch.choice([0.1, 0.5, 2.0])
            header.append(f"p: float = {args['p']}")
        if ch.chance(0.4):
            self.bool_args["flag"] = args["flag"] = ch.chance(0.5)
            header.append(f"flag: bool = {'true' if args['flag'] else 'false'}")
        # Arguments without a default come first (as in Python).
        header.sort(key=lambda h: "=" in h)
        dims = self._inputs()
        present = self._optional_inputs(dims)
        if ch.chance(0.3):  # a flag of forward, declared last (it has a default)
            default = ch.chance(0.5)
            self.lines.append(f"    input on: bool = {'true' if default else 'false'}")
            self.forward_flags["on"] = ch.choice([None, True, False])
        if ch.chance(0.3):
            self._example(args, dims)
        if ch.chance(0.3):
            self.emit(f"require {ch.choice(sorted(self.int_args))} >= 1")
        if ch.chance(0.15) and self.dim_names:  # of input sizes: checked in forward, a fact after it
            size, arg = ch.choice(self.dim_names), ch.choice(sorted(self.int_args))
            self.emit(ch.choice([f"require {size} <= {arg} * 4", f"require {size} % 2 == 0",
                                 f"require {size} >= {arg} or {size} == 1"]))
        for _ in range(ch.int(2, 7)):
            getattr(self, ch.choice(self.OPS))()
        if self.ids and ch.chance(0.8):  # (rare among the steps: used last, so the output reads it)
            self.op_ids_use()
        outputs = [self.env[-1]]
        if ch.chance(0.1) and len(self.env) > 1:
            outputs.append(ch.choice(self.env[:-1]))
        early = [t for t in self.env[:-1] if t.shape == outputs[0].shape]
        if early and ch.chance(0.2):  # an early exit, joined with the last return
            test = ch.choice((["flag", "not flag"] if self.bool_args else [f"{ch.choice(sorted(self.int_args))} > 2"])
                             + ["on", "not on"] * bool(self.forward_flags))
            values = [ch.choice(early).name] + [t.name for t in outputs[1:]]
            self.emit(f"if {test}:\n        return {', '.join(values)}")
        self.emit(f"return {', '.join(t.name for t in outputs)}")
        main = f"block Fuzz({', '.join(header)}):\n" + "\n".join(self.lines) + "\n"
        return GeneratedSpec("\n".join(self.blocks + [main]), args, dims, present, dict(self.forward_flags))

    def _example(self, args: dict, dims: dict) -> None:
        """An example line: the nominal configuration, sometimes with one size wrong."""
        ch = self.ch
        items = [f"{name}={str(value).lower() if isinstance(value, bool) else value}" for name, value in args.items()]
        for tensor in self.env:
            shape = list(tensor.shape)
            if ch.chance(0.15):
                shape[ch.int(0, len(shape) - 1)] += 1
            items.append(f"{tensor.name}={shape}")
        items += [f"{name}={list(like.shape)}" for name, like in self.masks + self.ids]
        items += [f"{name}={str(value).lower()}" for name, value in self.forward_flags.items() if value is not None]
        items += [f"s1={dims['s1']}"] if "s1" in dims else []  # the size forward is given
        self.lines.append(f"    example({', '.join(items)})")

    def _inputs(self) -> dict:
        ch = self.ch
        dims: dict[str, int] = {}
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
                elif axis and ch.chance(0.25):
                    arg = ch.choice(sorted(self.int_args))
                    value = self.int_args[arg]
                    written.append(arg)
                else:
                    value = ch.choice(SIZES[1:]) if axis else ch.choice([1, 2, 3])
                    dims[dim] = value
                    written.append(dim)
                    self.dim_names.append(dim)
                shape.append(value)
            name = ["x", "y"][index]
            self.env.append(GenTensor(name, tuple(shape)))
            self.lines.append(f"    input {name}: [{', '.join(written)}]")
            self._written = getattr(self, "_written", {})
            self._written[name] = written
        if ch.chance(0.12):
            like = self.env[0]
            self.masks.append(("mask", like))
            self.lines.append(f"    input mask: bool[{', '.join(self._written[like.name])}]")
        if ch.chance(0.12):
            self.declare_ids(self.env[0], self._written[self.env[0].name])
        if ch.chance(0.15):  # a size forward is given (PVT's `forward(x, H, W)`), read as a number
            dims["s1"] = ch.choice(SIZES[1:])
            self.dim_names.append("s1")
            self.lines.append("    input s1: int")
        return dims

    def _optional_inputs(self, dims: dict) -> set:
        ch = self.ch
        present = set()
        for index in range(ch.choice([0, 0, 1, 1, 2])):
            like = self.env[0]
            kind = ch.choice(["mask", "weights"])
            name = f"{kind[0]}{index}"
            written = []
            for axis, token in enumerate(self._written[like.name]):
                roll = ch.int(0, 9)
                if roll == 0:
                    written.append("1")  # broadcast along this axis
                elif roll == 1:
                    fresh = f"o{index}{axis}"
                    dims[fresh] = like.shape[axis]
                    written.append(fresh)
                else:
                    written.append(token)
            self.optional.append((name, kind, like))
            dtype = "bool" if kind == "mask" else ""
            self.lines.append(f"    input {name}: {dtype}[{', '.join(written)}] = None")
            if ch.chance(0.6):
                present.add(name)
        return present


def generate(ch) -> GeneratedSpec:
    return DiffSpecGenerator(ch).generate_spec()
