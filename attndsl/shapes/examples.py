"""An `example(...)` is what readers and tests instantiate and run, and what the docstring
shows: it must satisfy the block's declared shapes, its `require`s and every check the
generated module would make. Evaluated with the example's numbers."""

from __future__ import annotations

from .. import symbolic as sym
from ..diagnostics import DiagnosticSink, Label
from ..evaluate import Undefined, guard_holds, holds, value
from ..calls import forward_truths
from ..ir import BlockIR
from ..ranks import input_dims
from ..lower.helpers import _symbols_of


def check_examples(ir: BlockIR, sink: DiagnosticSink) -> None:
    for example, span in zip(ir.examples, getattr(ir, "example_spans", [])):
        where = None  # the statement that refuses it, when it is not the example itself
        try:
            problem, where = _problem(ir, example) or (None, None)
        except _NeedBroken as broken:  # the spec's own construct refuses these numbers: said there
            sink.error("E0207", f"{broken.check.message}; this example's arguments break it{broken.shown}",
                       broken.check.span, labels=[Label(span, "the example")],
                       help="change the expression, or give the example arguments that it takes")
            continue
        except (Undefined, KeyError, TypeError, ZeroDivisionError) as error:
            problem = f"its sizes cannot be computed ({error})"
        if problem:
            labels = [Label(where, "refused here")] if where is not None and where != span else []
            sink.error("E0207", f"this example does not fit block {ir.name}: {problem}", span, labels=labels,
                       help="fix the example's sizes or arguments")


def check_defaults(ir: BlockIR, sink: DiagnosticSink) -> None:
    """A block with no example whose every argument has a default: `Block()` must build. (A
    spec the checker accepts, every argument defaulted, whose module refuses to be built with
    them, made `pad(x, (0, 0, k, -k))` unusable unnoticed.)"""
    if ir.examples or any(arg.required for arg in ir.args) or ir.span is None:
        return
    env = {arg.name: arg.default for arg in ir.args}
    try:
        found = _built(ir, env, forward_truths(ir.inputs, {}))
    except _NeedBroken as broken:
        found = f"__init__ would refuse it ({broken.check.message}{broken.shown})", broken.check.span
    except (Undefined, KeyError, TypeError, ZeroDivisionError):
        return  # what cannot be computed here (an input's size) is forward's
    if found is not None:
        problem, where = found
        sink.warning("W0008", f"block {ir.name} cannot be built with its default arguments: {problem}", ir.span,
                     labels=[Label(where, "refused here")] if where is not None else [],
                     help="change the defaults, or give an `example(...)` that builds")


class _NeedBroken(Exception):
    """A let cannot be computed with these arguments, and a check of __init__ made for what
    computing it needs (an exponent not negative, a logarithm's argument positive) says why."""

    def __init__(self, check, shown: str):
        super().__init__(check.message)
        self.check, self.shown = check, shown


def _need_broken(ir: BlockIR, let, env: dict, present) -> _NeedBroken | None:
    """The first check of __init__ within `let`'s statement that `env` breaks (a let that
    cannot be computed is the construct's limit, reported where it is written, not the
    example's fault alone: `10 ** -depth` is a float in Python, not in the language)."""
    start, end = (let.span.line, let.span.column), (let.span.end_line, let.span.end_column)
    for check in ir.checks:
        place = (check.span.line, check.span.column)
        if check.where != "init" or not start <= place <= end:
            continue
        try:
            if not guard_holds(check.guard, env, present) or holds(check.condition, env, present):
                continue
        except (Undefined, KeyError, TypeError, ZeroDivisionError):
            continue
        read = sorted(name for name in _symbols_of([check.condition]) if name in env)
        shown = f" ({', '.join(f'{name} = {env[name]!r}' for name in read)})" if read else ""
        return _NeedBroken(check, shown)
    return None


def _lets_and_requires(ir: BlockIR, env: dict, present) -> tuple[str, object] | None:
    """The lets computed into `env`, as __init__ computes them; the first `require` they break,
    and where, or None."""
    for let in ir.lets:
        if guard_holds(let.guard, env, present):
            try:
                env[let.name] = value(let.value, env)
            except Undefined:
                broken = _need_broken(ir, let, env, present)
                if broken is not None:
                    raise broken from None
                raise
    for require in ir.requires:
        if guard_holds(require.guard, env, present) and not holds(require.condition, env, present):
            return f"it breaks `require`: {require.message}", require.span
    return None


def _built(ir: BlockIR, env: dict, present) -> tuple[str, object] | None:
    """What refuses to build the module with the arguments of `env` (its lets added), and
    where; None when __init__ would run to its end."""
    broken = _lets_and_requires(ir, env, present)
    if broken is not None:
        return broken
    for check in ir.checks:
        if check.where == "init" and guard_holds(check.guard, env, present) and \
                not holds(check.condition, env, present):
            return f"__init__ would refuse it ({check.message})", check.span
    return None


def _problem(ir: BlockIR, example: dict) -> tuple[str, object] | None:
    """What refuses the example, and where (None for its own sizes); None when it fits."""
    env: dict = {}
    for arg in ir.args:
        if arg.name in example:
            env[arg.name] = example[arg.name]
        elif not arg.required:
            env[arg.name] = arg.default
    present = forward_truths(ir.inputs, example)
    broken = _lets_and_requires(ir, env, present)
    if broken is not None:
        return broken
    origins = {**ir.dim_origin, **getattr(ir, "optional_dim_origin", {})}
    for info in ir.inputs:
        if info.name not in example or info.dtype == "flag":  # a flag has no sizes
            continue
        sizes = info.sizes_of(example[info.name])
        dims = input_dims(ir, info, env)
        if len(sizes) != len(dims):
            return f"`{info.name}` has {len(sizes)} sizes but is declared with {len(dims)}", None
        for axis, dim in enumerate(dims):
            name = str(dim) if dim.is_monomial else None
            if origins.get(name) == (info.name, axis):
                env[name] = sizes[axis]
    for info in ir.inputs:
        if info.name not in example or info.dtype == "flag":  # a flag has no sizes
            continue
        for axis, dim in enumerate(input_dims(ir, info, env)):
            expected = value(dim, env)
            given = info.sizes_of(example[info.name])[axis]
            if expected != given:
                shown = sym.render(dim, str, style="math")
                return (f"`{info.name}` has size {given} in dimension {axis}, but the block "
                        f"declares {shown}" + ("" if dim.is_const else f" = {_number(expected)}")), None
    for _ in range(len(ir.derived)):  # sizes the checker named (one may use another)
        changed = False
        for name, definition in ir.derived.items():
            try:
                found = value(definition, env)
            except Undefined:
                continue
            changed = changed or name not in env or env[name] != found
            env[name] = found
        if not changed:  # every name has its value: another round would compute the same
            break
    for check in ir.checks:
        if not guard_holds(check.guard, env, present):
            continue
        if not holds(check.condition, env, present):
            return f"the module would refuse it ({check.message})", check.span
    return None


def _number(number) -> str:
    return str(number.numerator) if getattr(number, "denominator", 2) == 1 else str(float(number))
