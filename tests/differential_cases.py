"""Cases for a generated spec (tests/differential_specs.py): constructor arguments and
input shapes.

`make_cases` gives the nominal case, then variations: constructor arguments set to edge
values (0, 1, -1, doubled, empty or odd lists, flipped flags), other sizes for the
inputs' new symbols, optional inputs left out or given, and inputs that break their
declared shapes (one size off, a size 1 or 0, a dimension dropped or added). Shapes that
follow the declarations are computed from the checked IR, so a case that changes an
argument still gives inputs that match (or are meant to break) the contract.
"""

from __future__ import annotations

from fractions import Fraction

from attndsl.interpret.values import Unbound, cond_value, expr_value

from .differential import Case, int_inputs, mask_inputs
from .differential_specs import GeneratedSpec
from .fuzzing import shuffled

EDGE_LISTS = [[], [1], [3], [2], [1, 3], [0], [-1, 1], [5, 3, 1, 1]]


def input_shapes(ir, args: dict, dims: dict, present: dict) -> dict:
    """Shapes that follow the declarations at these arguments (a size that cannot be
    computed, e.g. a negative one, is left at 1: such a case tests a refusal). `present`:
    the optional inputs given (to True) and the flags the call passes (to their value)."""
    env: dict = {}
    for arg in ir.args:
        env[arg.name] = args.get(arg.name, arg.default)
        if isinstance(env[arg.name], list):
            env[f"len({arg.name})"] = len(env[arg.name])
    for let in ir.lets:
        try:
            if all(cond_value(c, env) for c in let.guard):
                env[let.name] = expr_value(let.value, env)
        except (Unbound, ZeroDivisionError, ValueError, TypeError):
            pass
    shapes = {}
    for info in ir.inputs:
        if info.dtype == "flag":  # a bool the call passes (`present` maps it to its value), or its default
            if present.get(info.name) is not None:
                shapes[info.name] = present[info.name]
            continue
        if info.optional and info.name not in present:
            continue
        shape = []
        for axis, dim in enumerate(info.shape):
            symbols = dim.symbols()
            symbol = next(iter(symbols)) if len(symbols) == 1 and str(dim) == next(iter(symbols)) else None
            if symbol is not None and (ir.dim_origin.get(symbol) == (info.name, axis) or
                                       (symbol in ir.optional_dims and symbol not in env)):
                env[symbol] = dims.get(symbol, 2)
                shape.append(env[symbol])
                continue
            try:
                value = expr_value(dim, env)
            except (Unbound, ZeroDivisionError, ValueError, TypeError):
                value = None
            ok = isinstance(value, (int, Fraction)) and value == int(value) and 0 <= value <= 64
            shape.append(int(value) if ok else 1)
        shapes[info.name] = shape[0] if info.dtype == "size" else shape  # `input H: int` is given an int
    return shapes


def _edge_value(ch, arg, nominal):
    if arg.type == "int":
        return ch.choice([0, 1, -1, 2, 3, nominal + 1, 2 * nominal, nominal - 1])
    if arg.type == "float":
        return ch.choice([0.0, 0.5, 1.0, 2.0])
    if arg.type == "bool":
        return not nominal
    return list(ch.choice(EDGE_LISTS))


def _break(ch, shapes: dict) -> None:
    tensors = sorted(name for name, shape in shapes.items() if isinstance(shape, list))  # not a flag's bool
    if not tensors:
        return
    name = ch.choice(tensors)
    shape = shapes[name]
    how = ch.choice(["plus", "one", "zero", "drop", "add"] if shape else ["add"])
    if how == "drop":
        shape.pop()
    elif how == "add":
        shape.append(2)
    else:
        axis = ch.int(0, len(shape) - 1)
        shape[axis] = {"plus": shape[axis] + 1, "one": 1, "zero": 0}[how]


def make_cases(ir, spec: GeneratedSpec, ch, count: int = 4) -> list[Case]:
    """The nominal case, then `count - 1` variations of it."""
    optional = [i.name for i in ir.inputs if i.optional]
    masks = mask_inputs(ir)
    cases = []
    for index in range(count):
        args = {a.name: spec.args[a.name] for a in ir.args if a.name in spec.args}
        dims, present = dict(spec.dims), set(spec.optional_present)
        flags = dict(spec.flags)
        breaks = False
        if index:
            for kind in shuffled(ch, ["arg", "dims", "break", "optional", "flag"])[: ch.int(1, 2)]:
                if kind == "arg" and ir.args:
                    arg = ch.choice(ir.args)
                    args[arg.name] = _edge_value(ch, arg, args.get(arg.name, arg.default))
                elif kind == "dims" and dims:
                    symbol = ch.choice(sorted(dims))
                    dims[symbol] = ch.choice([1, 1, 2, 3, 5, 0] if ch.chance(0.9) else [7, 9])
                elif kind == "break":
                    breaks = True
                elif kind == "optional" and optional:
                    present ^= {ch.choice(optional)}
                elif kind == "flag" and flags:
                    name = ch.choice(sorted(flags))
                    flags[name] = ch.choice([None, True, False])
        shapes = input_shapes(ir, args, dims, {**{name: True for name in present}, **flags})
        if breaks:
            _break(ch, shapes)
        cases.append(Case(args, shapes, frozenset(n for n in masks if n in shapes), seed=index,
                          int_inputs=int_inputs(ir) & set(shapes)))
    return cases
