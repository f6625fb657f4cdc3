"""What an example makes true, for the run-time oracle: the values it binds (arguments,
lets, input sizes, derived sizes), the run-time facts it breaks, the output shape of its
world, its input tensors, and the limits past which an example is not run.
"""

from __future__ import annotations

import re
from fractions import Fraction

from attndsl.ranks import input_dims


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
