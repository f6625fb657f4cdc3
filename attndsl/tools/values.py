"""The value of every symbol of a block at given sizes, and of its shapes and conditions.

A block's symbols are its constructor arguments (`channel`), `len(list_argument)`, its
`let`s, the dims its inputs bind (`b`, `h`) and the dims the checker named (`h'`, a
strided conv's output size). `Values.at(ir, sizes)` takes the block's first `example`,
overrides it with `sizes` (an argument, a dim or a whole input shape), fills in the
defaults and derives the rest.
"""

from __future__ import annotations

from fractions import Fraction

from .. import evaluate
from ..cli import UsageError
from ..diagnostics import Span
from ..guards import written_values
from ..ir import BlockIR, CheckInfo, Cond, iterated, list_item
from ..ranks import RANKS, default_rank, input_dims
from ..symbolic import Expr


class Unbound(Exception):
    """An expression still has symbols no size gives a value to."""

    def __init__(self, symbols: set[str]):
        super().__init__(", ".join(sorted(symbols)))
        self.symbols = symbols


def _number(value) -> Fraction:
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


class Values:
    def __init__(self, ir: BlockIR, scalars: dict, present: set[str], lists: dict[str, list]):
        self.ir = ir
        self.scalars = scalars  # symbol -> Fraction (bools as 0/1 are kept apart in `flags`)
        self.present = present  # the inputs given (required ones, and optional ones with a shape)
        self.lists = lists  # list arguments -> their items
        self.flags: dict[str, bool] = {}
        self.kinds: dict[str, str | None] = {}  # layer-kind arguments

    # ------------------------------------------------------------------ construction
    @classmethod
    def at(cls, ir: BlockIR, sizes: dict, *, use_example: bool = True) -> "Values":
        known = {a.name for a in ir.args} | {i.name for i in ir.inputs} | set(dim_origins(ir))
        for name in sizes:
            if name not in known:
                raise UsageError(f"{ir.name} has no argument, input or dimension {name!r}; "
                                 f"it has {', '.join(_known_names(ir))}")
        given = dict(ir.examples[0]) if use_example and ir.examples else {}
        given.update(sizes)
        scalars: dict[str, Fraction] = {}
        flags: dict[str, bool] = {}
        lists: dict[str, list] = {}
        kinds: dict[str, str | None] = {}
        for arg in ir.args:
            value = given.get(arg.name, None if arg.required else arg.default)
            if arg.type == "layer":  # a layer kind (`act_layer=silu`), or None where optional
                if value is not None and not isinstance(value, str):
                    raise UsageError(f"{arg.name} is a layer kind; give it as {arg.name}={arg.default or 'relu'}")
                kinds[arg.name] = value
                continue
            if arg.type in ("str", "list[str]"):  # words: `pooling_type=avg`
                kinds[arg.name] = value
                continue
            if value is None:
                continue
            if arg.type == "bool":
                if not isinstance(value, bool):
                    raise UsageError(f"{arg.name} is a bool argument; give it as {arg.name}=true or false")
                flags[arg.name] = value
            elif arg.type == "list[int]":
                if not isinstance(value, list):
                    raise UsageError(f"{arg.name} is a list argument; give it as {arg.name}=[1,3,5]")
                lists[arg.name] = value
                scalars[f"len({arg.name})"] = Fraction(len(value))
            else:
                if isinstance(value, (bool, list, str)):
                    raise UsageError(f"{arg.name} is a number ({arg.type}); got {value!r}")
                scalars[arg.name] = _number(value)
        # Required inputs are always there; an optional one is there when given a shape.
        present = {info.name for info in ir.inputs if not info.optional and info.dtype != "flag"}
        for info in ir.inputs:
            shape = given.get(info.name)
            if info.dtype == "flag":  # set or not: given as true or false, else its default
                value = info.default if shape is None else shape
                if not isinstance(value, bool):
                    raise UsageError(f"{info.name} is a flag; give it as {info.name}=true or {info.name}=false")
                present |= {info.name} if value else set()
                continue
            if shape is None:
                continue
            if info.dtype == "size":  # `H`: one size, given as an int
                if not isinstance(shape, int) or isinstance(shape, bool):
                    raise UsageError(f"{info.name} is a size; give it as {info.name}=14")
                shape = given[info.name] = [shape]
            ranks = {arg: scalars.get(arg, default_rank(ir, arg)) for arg in ir.rank_args}
            dims = input_dims(ir, info, ranks) if all(r in RANKS for r in ranks.values()) else list(info.shape)
            if not isinstance(shape, list) or len(shape) != len(dims):
                raise UsageError(f"{info.name} has {len(dims)} dimensions; give its shape as "
                                 f"{info.name}=[{', '.join(str(d) for d in dims)}]")
            present.add(info.name)
        values = cls(ir, scalars, present, lists)
        values.flags, values.kinds = flags, kinds
        for symbol, (input_name, axis) in dim_origins(ir).items():
            shape = given.get(input_name)
            if isinstance(shape, list) and axis < len(shape):
                scalars[symbol] = Fraction(shape[axis])
        for name in dim_origins(ir):
            if name in sizes:
                if not isinstance(sizes[name], int) or isinstance(sizes[name], bool):
                    raise UsageError(f"{name} is a dimension; give it as a whole number, e.g. {name}=8")
                scalars[name] = Fraction(sizes[name])
        values._derive()
        return values

    def _derive(self) -> None:
        """Lets and checker-named dims, each once what it depends on is known."""
        # A conditional let is one let per branch, all of one name (`d = dim if dim_out is None
        # else dim_out`): each is tried, and the one whose condition holds gives the value.
        pending = list(self.ir.lets)
        pending_derived = dict(self.ir.derived)
        for _ in range(len(pending) + len(pending_derived) + 1):
            for let in list(pending):
                try:
                    if all(self.truth(c) for c in let.guard):
                        self.scalars[let.name] = self.value(let.value)
                    pending.remove(let)
                except (Unbound, ZeroDivisionError, KeyError):
                    pass
            for name, definition in list(pending_derived.items()):
                try:
                    self.scalars[name] = self.value(definition)
                    del pending_derived[name]
                except (Unbound, ZeroDivisionError):
                    pass

    # ------------------------------------------------------------------ evaluation
    def value(self, expr: Expr, extra: dict | None = None) -> Fraction:
        """The value of `expr`, computed as the generated module computes it (attndsl/evaluate.py:
        `int()`, `max()`, floor division, `len(xs)` and `xs[2]` of list arguments)."""
        env = {**self.lists, **self.scalars}
        if extra:
            env.update({k: _number(v) for k, v in extra.items()})
        unbound = {s for s in expr.symbols() if not _resolvable(s, env)}
        if unbound:
            raise Unbound(unbound)
        try:
            result = evaluate.value(expr, env)
        except evaluate.Undefined as error:
            raise ZeroDivisionError(str(error)) from error
        return result if isinstance(result, Fraction) else Fraction(result)

    def truth(self, cond: Cond, extra: dict | None = None) -> bool:
        op, args = cond.op, cond.args
        if op == "const":
            return bool(args[0])
        if op == "arg":
            if args[0] not in self.flags:
                raise Unbound({args[0]})
            return self.flags[args[0]]
        if op in ("present", "flag"):  # an optional input given, a flag set
            return args[0] in self.present
        if op in ("kind", "text"):  # a layer kind, a str argument: the name given
            return self.kinds.get(args[0]) == args[1]
        if op == "has":  # a list[str] argument holds the string
            return args[1] in (self.kinds.get(args[0]) or ())
        if op == "is_none":  # an optional argument left out
            return self.kinds.get(args[0]) is None and args[0] not in self.scalars and args[0] not in self.flags
        if op == "not":
            return not self.truth(args[0], extra)
        if op == "and":
            return all(self.truth(a, extra) for a in args)
        if op == "or":
            return any(self.truth(a, extra) for a in args)
        if op == "cmp":
            operator, left, right = args
            a, b = self.value(left, extra), self.value(right, extra)
            return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]
        if op == "written":  # as Python evaluates it, in floats (guards.Written)
            from ..interpret.values import as_python, source_value

            values = {name: as_python(self.value(v, extra)) for name, v in written_values(cond).items()}
            return bool(source_value(args[0].node, {**self.lists, **values}))
        if op == "all_elems":
            elements, var, inner = args
            items = iterated(elements, lambda e: self.value(e, extra) if isinstance(e, Expr) else self.lists.get(e, []))
            return all(self.truth(inner, {**(extra or {}), var: item}) for item in items)
        raise Unbound({f"<{op} condition>"})

    def refusal(self) -> tuple[str, Span | None] | None:
        """Why the generated module would refuse these values, and where the spec says so:
        a check of __init__ (a `require`, a bound on an argument, a divisor that must not be
        zero), then an input's size below 1 (forward refuses empty tensors), then a check of
        forward; None when none does. A check that reads a size not given is passed over:
        what it would say is not known."""
        ir = self.ir
        init = sorted([c for c in ir.checks if c.where == "init"] + list(ir.requires), key=_written_at)
        forward = [c for c in ir.checks if c.where == "forward"] + list(ir.forward_requires)
        for check in init:
            if self._breaks(check):
                return check.message, check.span
        for dim in dim_origins(ir):
            if dim in self.scalars and self.scalars[dim] < 1:
                return f"the size {dim} must be at least 1, got {self.scalars[dim]}", None
        for check in forward:
            if self._breaks(check):
                return check.message, check.span
        return None

    def _breaks(self, check: CheckInfo) -> bool:
        try:
            if not all(self.truth(c) for c in check.guard):
                return False
            condition = check.condition
            if isinstance(condition, Cond):
                return not self.truth(condition)
            kind, a, b = condition  # the checker's ("eq", a, b) or ("divides", a, b)
            left, right = self.value(a), self.value(b)
            return left != right if kind == "eq" else right == 0 or (left / right).denominator != 1
        except (Unbound, ZeroDivisionError, KeyError):
            return False

    def missing(self) -> list[str]:
        """The block's names without a value (arguments, then dims), for a helpful message."""
        names = [a.name for a in self.ir.args if a.name not in self.scalars and a.name not in self.flags
                 and a.name not in self.lists]
        names += [d for d, (i, _) in dim_origins(self.ir).items() if d not in self.scalars and i in self.present]
        return names


def _written_at(check: CheckInfo) -> tuple:
    """A check's place in __init__: its statement's, else its own (as the module runs them)."""
    if check.position is not None:
        return check.position
    return (check.span.line, check.span.column) if check.span is not None else (0, 0)


def _resolvable(symbol: str, env: dict) -> bool:
    if symbol in env:  # a list only as the list of `ws[i]` (an item atom), whose index is resolved on its own
        return not isinstance(env[symbol], bool)
    if symbol.startswith("len(") and symbol.endswith(")"):
        return isinstance(env.get(symbol[4:-1]), list)
    item = list_item(symbol)
    if item is not None:  # an item of a list argument: `out_chs[2]`
        items = env.get(item[0])
        return isinstance(items, list) and item[1] < len(items)
    return False


def dim_origins(ir: BlockIR) -> dict[str, tuple[str, int]]:
    """Every dim an input binds -> (input, axis); an optional input's only when it is given."""
    return {**ir.dim_origin, **getattr(ir, "optional_dim_origin", {})}


def _known_names(ir: BlockIR) -> list[str]:
    return [a.name for a in ir.args] + [i.name for i in ir.inputs] + list(dim_origins(ir))
