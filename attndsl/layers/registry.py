"""The layer registry itself: what a layer kind's declaration holds, and `layer()` to declare one.

A `LayerDef` names the torch.nn class it renders to, its constructor signature (names
and defaults as in torch, so `state_dict` keys and reprs come out as torch makes them),
the shape rule of its forward, and its state: the `state_dict` entries it holds (which
`init` statements may name, and which `attndsl diff` and the cost tool count).
Sequential containers and sub-blocks are handled by the shape checker, since their rules
are made of other layers' rules. The kinds are declared by family in the sibling modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..families import Families
from ..ir import Cond
from ..ops import ParamSpec, parse_signature
from ..ops.rendering import per_dim
from ..symbolic import Expr


@dataclass
class LayerDef:
    name: str
    torch_class: str  # rendered as nn.<torch_class>
    params: list[ParamSpec]
    shape: Callable  # (ctx, args: dict[str, value], input shape) -> output shape
    min_rank: int = 1
    max_rank: int | None = None
    doc: str = ""
    # (arguments: attndsl.shapes.LayerArguments, args) -> None: what the torch constructor
    # would reject, checked where the layer is declared (called or not).
    check: Callable | None = None
    # For docs/language.md (attndsl/reference.py): the shape rule in words, and an example
    # (input declarations, a `layer` line, then the call).
    shape_doc: str = ""
    example: str = ""
    family: str = ""
    # (args) -> [StateEntry], in torch's state_dict order; None: the kind holds no state
    state: Callable | None = None

    def state_entries(self, args: dict) -> list["StateEntry"]:
        return [] if self.state is None else self.state(args)


@dataclass(frozen=True)
class StateEntry:
    """One `state_dict` entry of a layer: its key, its shape (in the layer's arguments), the
    flag that must hold for it to exist (a bool argument such as `bias` or `affine`, as a
    Cond or a Python bool; None: always), and whether it is a parameter or a buffer."""

    key: str
    shape: tuple
    flag: object = None
    parameter: bool = True


LAYERS: dict[str, LayerDef] = {}

# The other spellings a kind is known by where a block takes a layer kind by name
# (`gate_layer="hard_sigmoid"`, as timm's create_act_layer takes it).
ALIASES = {"swish": "silu", "hard_sigmoid": "hardsigmoid", "hard_swish": "hardswish"}


def kind_named(name: str) -> str | None:
    """The layer kind a name stands for: its own name, or an alias."""
    kind = ALIASES.get(name, name)
    return kind if kind in LAYERS else None


def names_of(kind: str) -> list[str]:
    """Every name `kind_named` takes for `kind`, its own first."""
    return [kind] + [alias for alias, target in ALIASES.items() if target == kind]


_families = Families()


def family(name: str) -> None:
    """The kinds declared next belong to `name` (a section of docs/language.md)."""
    _families.enter(name)


def families() -> list[str]:
    return list(_families.names)


def layer(name: str, torch_class: str, signature: str, shape, *, min_rank=1, max_rank=None, doc="",
          check=None, shape_doc="", example="", state=None) -> LayerDef:
    params = parse_signature(signature)
    definition = LayerDef(name, torch_class, params, shape, min_rank, max_rank, doc, check, shape_doc, example,
                          _families.current, state)
    LAYERS[name] = definition
    return definition


# ============================================================================ shared state rules


def per_axis(value, spatial: int) -> tuple:
    """A size argument as one value per spatial axis (`3` or `[3, 5]`)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * spatial


def both_flags(a, b):
    """Two flags (Python bools or Conds), both needed."""
    if a is True or (isinstance(a, Cond) and a == Cond.const(True)):
        return b
    if b is True or (isinstance(b, Cond) and b == Cond.const(True)):
        return a
    return Cond("and", (a if isinstance(a, Cond) else Cond.const(bool(a)), b if isinstance(b, Cond) else
                        Cond.const(bool(b))))


# ============================================================================ shared shape rules


def identity(ctx, args, shape):
    return shape


def channels(ctx, shape, expected, what):
    if len(shape) >= 3 and ctx.normal(shape[-1]) == ctx.normal(expected) != ctx.normal(shape[1]):
        # `batch_norm1d(d)` of a [b, n, d] sequence: the channels are last, torch takes dim 1
        ctx.warn("W0009", f"{what} is the size of the last dimension ({ctx.show((shape[-1],))[1:-1]}), and the "
                 f"layer takes its channels from dim 1 ({ctx.show((shape[1],))[1:-1]}): the module will require them "
                 "to be equal", help="put the channels at dim 1 first, e.g. `rearrange(x, \"b n c -> b c n\")`")
    ctx.expect_equal(shape[1], expected, f"the channel dimension (dim 1) of the input and {what}")


def positions(ctx, shape) -> Expr:
    """The number of spatial positions of a (batch, channel, spatial...) tensor."""
    count = Expr.const(1)
    for dim in shape[2:]:
        count = count * dim
    return ctx.normal(count)


def spatial_args(args, names, spatial: int, ctx) -> list[tuple[Expr, ...]]:
    """Each of `names` as one size per spatial dim (an int is the same for all, as in torch)."""
    return [per_dim(ctx, args[name], spatial, name) for name in names]


def flag(ctx, args, name: str) -> bool:
    """A bool argument that changes the output shape (ceil_mode) must be a constant."""
    value = args.get(name)
    if value is None:
        return False
    if isinstance(value, Cond) and value.op == "const":
        return bool(value.args[0])
    ctx.error("E0115", f"`{name}` changes the output's shape: it must be true or false, not an argument")


# ============================================================================ shared argument checks


def check_choice(a, args, name: str, choices: tuple[str, ...]) -> None:
    value = args.get(name)
    words = ", ".join(f'"{c}"' for c in choices)
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    a.require(value in choices, name, f"`{name}` is one of {words}, got {shown}", "E0112")


def items(args, name: str) -> list:
    """An argument's values: one, or one per spatial dim."""
    value = args.get(name)
    return list(value) if isinstance(value, (tuple, list)) else [value]


def check_lengths(a, args, names, spatial: int) -> None:
    """A tuple-valued size gives one entry per spatial dim (torch's _pair would fail later)."""
    for name in names:
        value = args.get(name)
        if isinstance(value, (tuple, list)):
            a.require(len(value) == spatial, name,
                      f"`{name}` has {len(value)} entries; the layer has {spatial} spatial dimension"
                      f"{'s' if spatial != 1 else ''}", "E0112")
