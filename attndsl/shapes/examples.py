"""An `example(...)` is what readers and tests instantiate and run, and what the docstring
shows: it must satisfy the block's declared shapes, its `require`s and every check the
generated module would make. Evaluated with the example's numbers."""

from __future__ import annotations

from .. import symbolic as sym
from ..diagnostics import DiagnosticSink
from ..evaluate import Undefined, guard_holds, holds, value
from ..calls import forward_truths
from ..ir import BlockIR
from ..ranks import input_dims


def check_examples(ir: BlockIR, sink: DiagnosticSink) -> None:
    for example, span in zip(ir.examples, getattr(ir, "example_spans", [])):
        try:
            problem = _problem(ir, example)
        except (Undefined, KeyError, TypeError, ZeroDivisionError) as error:
            problem = f"its sizes cannot be computed ({error})"
        if problem:
            sink.error("E0207", f"this example does not fit block {ir.name}: {problem}", span,
                       help="fix the example's sizes or arguments")


def _problem(ir: BlockIR, example: dict) -> str | None:
    env: dict = {}
    for arg in ir.args:
        if arg.name in example:
            env[arg.name] = example[arg.name]
        elif not arg.required:
            env[arg.name] = arg.default
    present = forward_truths(ir.inputs, example)
    for let in ir.lets:
        if guard_holds(let.guard, env, present):
            env[let.name] = value(let.value, env)
    for require in ir.requires:
        if guard_holds(require.guard, env, present) and not holds(require.condition, env, present):
            return f"it breaks `require`: {require.message}"
    origins = {**ir.dim_origin, **getattr(ir, "optional_dim_origin", {})}
    for info in ir.inputs:
        if info.name not in example or info.dtype == "flag":  # a flag has no sizes
            continue
        sizes = info.sizes_of(example[info.name])
        dims = input_dims(ir, info, env)
        if len(sizes) != len(dims):
            return f"`{info.name}` has {len(sizes)} sizes but is declared with {len(dims)}"
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
                        f"declares {shown}" + ("" if dim.is_const else f" = {_number(expected)}"))
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
            return f"the module would refuse it ({check.message})"
    return None


def _number(number) -> str:
    return str(number.numerator) if getattr(number, "denominator", 2) == 1 else str(float(number))
