"""The op registry itself: what an op declaration holds, and `op()` to declare one.

An `OpDef` holds everything about an op: its name in specs, its signature, its shape
rule and how it renders as PyTorch. Lowering binds call arguments with the signature,
the shape checker runs the rule, codegen renders the template. The ops are declared
by family in the sibling modules (arithmetic, activations, reductions, layout, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..families import Families
from ..symbolic import Expr

# Python operator precedences, for parenthesising inlined expressions.
ATOM, POWER, UNARY, MUL, ADD, COMPARE, LOWEST = 100, 14, 13, 12, 11, 6, 0

Shape = tuple  # tuple[Expr, ...]


@dataclass(frozen=True)
class ListShape:
    """The shape of a list of tensors, all alike: `length` copies of `element`."""

    length: Expr
    element: Shape


@dataclass
class ParamSpec:
    name: str
    # tensor | tensors | operand | axis | axes | count | int | ints | bool | scalar | numbers | choice | pattern |
    # sizes
    kind: str
    default: Any = None
    required: bool = True
    # For tensor kinds, the element type the operand must have: None / "float" (floating
    # point), "bool" (a mask), "complex", "number" (float or complex) or "any"; written
    # `mask: tensor[bool]` in a signature. For `choice`, the strings it accepts:
    # `mode: choice[constant|reflect] = "constant"`.
    dtype: str | None = None

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple((self.dtype or "").split("|")) if self.kind == "choice" else ()


@dataclass
class OpDef:
    name: str
    params: list[ParamSpec]
    shape: Callable  # (ctx, node, operand shapes, attrs) -> Shape | tuple[Shape, ...]
    render: Callable | str  # template string or (renderer, node, operands, attrs) -> (text, precedence)
    precedence: int = ATOM
    doc: str = ""
    outputs: Callable | None = None  # number of results, from attrs (chunk); default 1
    elementwise_float: bool = False
    extra: dict = field(default_factory=dict)
    # The result's element type: "float", "bool", "complex", "same" as the tensor operands
    # (which must agree), "first" (as the first tensor), "promote" (complex if any is) or
    # "values" (tensor(): int or float, as its numbers are); a tuple of these gives one per
    # result of a multi-result op (topk: its values "first", its positions "int").
    result: str | tuple[str, ...] = "float"
    # For docs/language.md (attndsl/reference.py): the shape rule in words, and a small
    # spec fragment (input declarations, then one expression) that uses the op.
    shape_doc: str = ""
    example: str = ""
    family: str = ""
    # Ops written as operators (`+` is "add") are not called by name.
    operator: str | None = None

    @property
    def callable_by_name(self) -> bool:
        return self.operator is None and not self.extra.get("internal")


OPS: dict[str, OpDef] = {}


def parse_signature(signature: str) -> list[ParamSpec]:
    """`"x: tensor, mask: tensor[bool], dim: axes = (-2, -1)"` as parameter specs."""
    params = []
    for part in filter(None, (p.strip() for p in _top_level_split(signature))):
        head, _, default = part.partition("=")
        pname, _, kind = head.partition(":")
        kind, _, dtype = kind.strip().partition("[")
        dtype = dtype.rstrip("]") or None
        if default.strip():
            params.append(ParamSpec(pname.strip(), kind, _literal(default.strip()), required=False, dtype=dtype))
        else:
            params.append(ParamSpec(pname.strip(), kind, dtype=dtype))
    return params


def _top_level_split(text: str) -> list[str]:
    """Split at the commas outside brackets and quotes (a default may be a tuple)."""
    parts, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif char == "," and depth == 0 and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
    return parts + [current]


_families = Families()


def family(name: str) -> None:
    """The ops declared next belong to `name` (a section of docs/language.md)."""
    _families.enter(name)


def families() -> list[str]:
    return list(_families.names)


def op(name: str, signature: str, shape, render, *, precedence=ATOM, doc="", outputs=None, result="float",
       shape_doc="", example="", operator=None, **extra) -> OpDef:
    """Declare an op. `signature` reads like Python: "x: tensor, dim: axis = -1"."""
    definition = OpDef(name, parse_signature(signature), shape, render, precedence, doc, outputs, extra=extra,
                       result=result, shape_doc=shape_doc, example=example, family=_families.current,
                       operator=operator)
    if hasattr(render, "bind"):
        render.bind(definition)  # a CallRender renders from the signature (ops/rendering.py)
    OPS[name] = definition
    return definition


def _literal(text: str):
    words = {"None": None, "false": False, "true": True}
    if text in words:
        return words[text]
    if text.startswith('"'):
        return text.strip('"')
    if text.startswith("("):
        return tuple(_literal(item.strip()) for item in _top_level_split(text[1:-1]) if item.strip())
    return _number(text)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


# ============================================================================ shape rules
# Each rule gets a ShapeContext (attndsl.shapes) that proves equalities, records facts
# and run-time checks, and reports errors at the node's span.


def normalize_axis(ctx, node, axis: int, rank: int, what: str = "dim") -> int:
    if not -rank <= axis < rank:
        ctx.error("E0204", f"{what}={axis} is out of range for a tensor of rank {rank}",
                  help=f"valid values are {-rank}..{rank - 1}")
    return axis % rank


def axes_of(ctx, node, attrs, rank, key="dim") -> tuple[int, ...]:
    value = attrs.get(key)
    if value is None:
        return tuple(range(rank))
    values = value if isinstance(value, tuple) else (value,)
    axes = [normalize_axis(ctx, node, a, rank, key) for a in values]
    for index, axis in enumerate(axes):
        if axis in axes[:index]:
            # torch refuses `dim=[1, -2]` on rank 3: both name axis 1.
            ctx.error("E0204", f"{key}={values[index]} names axis {axis} a second time (rank {rank})",
                      help="name each axis once")
    return tuple(sorted(axes))


def same_shape(ctx, node, shapes, attrs) -> Shape:
    return shapes[0]
