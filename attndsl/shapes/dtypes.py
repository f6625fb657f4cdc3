"""Element types: which tensors are floating point, integer, complex or boolean masks.

An op's signature says what each tensor operand must be (`mask: tensor[bool]`; plain
`tensor` is floating point; `tensor[int]` integer (int64: positions, gather indices);
`tensor[real]` float or integer; `tensor[complex]` a spectrum; `tensor[number]` float,
integer or complex; `tensor[any]` takes any) and its `result` what it gives (see
OpDef.result). A float where a mask is needed, or an integer tensor where torch wants
floating point (softmax, a layer), is refused here, not by torch at run time."""

from __future__ import annotations

from ..ops import OPS

_NO_DTYPE = {"scalar", "loop_layer"}


def infer_dtype(context, op: str, attrs: dict, operand_dtypes: list) -> str | None:
    if op in _NO_DTYPE:
        return None
    if op == "input":
        return attrs["attrs"].get("dtype", "float")
    if op == "param":
        return "float"
    if op in ("item", "list_comp"):
        if isinstance(operand_dtypes[0], tuple):  # one of a loop's results (attndsl/shapes/loops.py)
            return operand_dtypes[0][attrs["attrs"]["index"]]
        return operand_dtypes[0]
    if op == "call_layer":
        return _layer_call_dtype(context, attrs, operand_dtypes)
    definition = OPS[op]
    tensor_params = [p for p in definition.params if p.kind in ("tensor", "operand", "tensors")]
    first = None
    seen = []
    for index, dtype in enumerate(operand_dtypes):
        if dtype is None:
            continue
        param = tensor_params[min(index, len(tensor_params) - 1)]
        wanted = param.dtype or "float"
        if not _accepts(wanted, dtype):
            context.error("E0209", f"{_argument(definition, param)} must be {_DESCRIBED[wanted]}, got "
                          f"{with_article(dtype)} tensor", help=_HELP.get((wanted, dtype)))
        if first is None:
            first = dtype
        elif definition.result == "same" and dtype != first:
            context.error("E0209", f"{op}() of {with_article(first)} and {with_article(dtype)} tensor")
        if wanted != "bool":  # where()'s condition does not take part in the promotion
            seen.append(dtype)
    if isinstance(definition.result, tuple):  # one per result: topk's values (as `x`) and positions (int)
        return tuple(first if result in ("same", "first") else result for result in definition.result)
    if definition.result in ("same", "first"):
        return first
    if definition.result == "values":  # tensor([...]): float where a number written is
        return "float" if attrs["attrs"]["floating"] else "int"
    if definition.result == "promote":
        return _promoted(context, op, seen)
    return definition.result


def _layer_call_dtype(context, attrs: dict, operand_dtypes: list) -> str:
    """A layer takes and gives floating-point tensors; a block used as a layer, the element
    types its inputs declare (`input mask: bool[b, n]`), and gives its outputs' (a tuple of
    them when it returns several)."""
    spec = context.checker.ir.called_spec(attrs)
    callee = context.checker.checked.get(spec.block) if spec is not None and spec.kind == "block" else None
    if callee is None:
        for dtype in operand_dtypes:
            if dtype not in (None, "float"):
                context.error("E0209", f"a layer takes floating-point tensors, not {with_article(dtype)} tensor")
        return "float"
    inputs = [i for i in callee.inputs if i.dtype not in ("flag", "size")]
    for info, dtype in zip(inputs, [d for d in operand_dtypes if d is not None]):
        if dtype != info.dtype:
            context.error("E0209", f"block {callee.name}'s input `{info.name}` is "
                          f"{'a boolean tensor' if info.dtype == 'bool' else _DESCRIBED[info.dtype]}, not "
                          f"{with_article(dtype)} tensor")
    given = tuple(callee.graph.nodes[output].get("dtype") or "float" for output in callee.outputs)
    # several values (`return x * 2, x > 0`): each of its items is its own (as for a loop's results)
    return given if len(given) > 1 else given[0]


def _promoted(context, op: str, seen: list) -> str | None:
    """torch's promotion: float with complex is complex (GFNet's filter: spectrum * weight);
    an integer tensor with a float tensor or a fractional number is float (`idx * 0.5`), and
    so is `/` of integers (true division). Integers stay integers under + - * and where."""
    if "complex" in seen:
        return "complex"
    if "float" in seen:
        return "float"
    if "int" in seen and (op == "div" or _fractional_number(context)):
        return "float"
    return seen[0] if seen else None


def _fractional_number(context) -> bool:
    """Whether a number operand of the node is a Python float in the generated code (`0.5`,
    `d ** -0.5`, a float argument): torch's promotion makes an integer tensor float by it."""
    ir = context.checker.ir
    return any(ir.graph.nodes[o]["op"] == "scalar" and ir.graph.nodes[o]["attrs"].get("floating", True)
               for o in ir.operands(context.node))


# What a signature's element type accepts: "number" is anything arithmetic works on.
_ACCEPTS = {"any": None, "number": ("float", "complex", "int"), "real": ("float", "int"), "countable": ("int", "bool")}
_DESCRIBED = {"float": "a floating-point tensor", "bool": "a boolean mask", "complex": "a complex tensor",
              "number": "a floating-point, integer or complex tensor", "int": "an integer tensor",
              "real": "a floating-point or integer tensor", "countable": "an integer tensor or a mask"}
_HELP = {("bool", "float"): "compare a tensor (`mask == 0`) to make a mask",
         ("float", "int"): "float(x) converts an integer tensor to floating point",
         ("int", "float"): "an index is an integer tensor: arange(n) and integer arithmetic on it (+ - * // %)",
         ("float", "complex"): "a spectrum takes + - * / only: irfft() or irfft2() brings it back to real values "
                               "(exp and the other functions of complex numbers are not in the language)",
         ("complex", "float"): "rfft2() makes a spectrum; view_as_complex() reads [..., 2] pairs as complex"}


def with_article(dtype: str | None) -> str:
    """A word with its article, as messages say it: "a float", "an int", "an elu" (layer)."""
    return f"{'an' if str(dtype)[:1] in 'aeiou' else 'a'} {dtype}"


def _accepts(wanted: str, dtype: str) -> bool:
    if wanted == "any":
        return True
    return dtype in _ACCEPTS.get(wanted, (wanted,))


def _argument(definition, param) -> str:
    """How the user knows the argument: operators by their symbol, functions by position."""
    if definition.operator is not None:
        return f"an operand of `{definition.operator}`"
    tensors = [p for p in definition.params if p.kind in ("tensor", "operand", "tensors")]
    if len(tensors) == 1:
        return f"the tensor {definition.name}() takes"
    return f"`{param.name}` of {definition.name}()"
