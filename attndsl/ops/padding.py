"""pad (F.pad, four modes) and roll (torch.roll): the ops that move values along an axis.

torch's rules for pad depend on the mode; where they are subtle (negative widths in the
reflecting modes) the language is stricter than torch, and says so, rather than
leaving a failure to the run time.
"""

from __future__ import annotations

from ..symbolic import Expr
from .registry import Shape, axes_of, family, op
from .rendering import FUNCTIONAL, CallRender, as_exprs

ZERO = Expr.const(0)


def pad_shape(ctx, node, shapes, attrs) -> Shape:
    shape, mode = list(shapes[0]), attrs["mode"]
    if not isinstance(attrs["pad"], tuple):
        ctx.error("E0112", "pad() takes a tuple of widths: (left, right) for the last axis, then the one before...",
                  help="e.g. pad(x, (1, 1, 2, 2)) pads the last axis by 1 and the one before by 2")
    widths = as_exprs(attrs["pad"])
    if len(widths) % 2:
        ctx.error("E0112", f"pad() takes widths in pairs (before, after), got {len(widths)}")
    count = len(widths) // 2
    if count > len(shape):
        ctx.error("E0202", f"pad() got widths for {count} axes, but the tensor has rank {len(shape)}")
    if mode != "constant":
        if attrs.get("value") is not None:
            ctx.error("E0112", f'`value` is only for mode="constant"; mode="{mode}" takes the values from the input')
        if not 1 <= count <= 3 or len(shape) not in (count + 1, count + 2):
            ctx.error("E0202", f'pad(mode="{mode}") pads the last 1, 2 or 3 axes of a tensor with one or two more '
                      f"(channels, batch): {count} axes of a tensor of rank {len(shape)} is not supported by torch",
                      help=f"give widths for {len(shape) - 2} axes" if 2 < len(shape) <= 5 else None)
        if mode in ("reflect", "replicate"):
            # torch refuses empty maps here, batch excepted.
            for axis in range(1 if len(shape) == count + 2 else 0, len(shape)):
                ctx.expect_at_least(shape[axis], 1, f'pad(mode="{mode}") needs axis {axis} not to be empty')
    for pair in range(count):
        axis = len(shape) - 1 - pair
        before, after = widths[2 * pair], widths[2 * pair + 1]
        shape[axis] = _padded(ctx, mode, shape[axis], before, after, axis)
    return tuple(shape)


def _padded(ctx, mode: str, dim: Expr, before: Expr, after: Expr, axis: int) -> Expr:
    negative = ZERO
    maybe_negative = []  # widths an argument gives that may crop (`pad(x, (0, 0, k, -k))`)
    for width in (before, after):
        value = ctx.normal(width)
        if mode == "constant" and value.is_const:
            if value.value < 0:
                negative = negative + width  # crops: allowed while something (or nothing) is left
            continue
        if mode == "constant":
            lowest = ctx.view.lower_bound(value, normalized=True)
            if lowest is None or lowest < 0:
                maybe_negative.append(width)
            continue
        help = "crop with slicing instead" if value.is_const and value.value < 0 else None
        ctx.expect_at_least(width, 0, f'a width of pad(mode="{mode}") on axis {axis} must be at least 0',
                            help=help)
        if mode == "reflect":
            ctx.expect_at_least(dim - width, 1, f'pad(mode="reflect") needs each width on axis {axis} to be less '
                                "than its size")
        elif mode == "circular":
            ctx.expect_at_least(dim - width, 0, f'pad(mode="circular") needs each width on axis {axis} to be at '
                                "most its size")
    # torch crops first: what is cut must exist, dim + min(before, 0) + min(after, 0) >= 0,
    # asked as one sum per choice of the widths that crop (each provable, or a check, alone)
    choices = [()] + [(w,) for w in maybe_negative] + ([tuple(maybe_negative)] if len(maybe_negative) == 2 else [])
    for cropping in choices:
        cut = negative + sum(cropping, ZERO)
        if cut.terms:
            ctx.expect_at_least(dim + cut, 0, f"pad() must not crop axis {axis} by more than its size")
    return dim + before + after


def roll_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    shifts = attrs["shifts"]
    count = len(shifts) if isinstance(shifts, tuple) else 1
    if attrs.get("dims") is None:
        if count != 1:
            ctx.error("E0112", f"roll() got {count} shifts but no `dims`", help="give one axis per shift: dims=[...]")
        return tuple(shape)
    axes = axes_of(ctx, node, attrs, len(shape), "dims")
    if len(axes) != count:
        ctx.error("E0112", f"roll() got {count} shift{'s' if count != 1 else ''} for {len(axes)} "
                  f"ax{'es' if len(axes) != 1 else 'is'}", help="give one shift per axis in `dims`")
    return tuple(shape)


family("Shifts and padding")
op("pad", 'x: tensor, pad: ints, mode: choice[constant|reflect|replicate|circular] = "constant", value: scalar = None',
   pad_shape, CallRender("F.pad", positional=("pad",)),
   doc="pad the last axes (F.pad): `pad` lists (before, after) widths, last axis first; `value` fills in "
   'mode "constant" (0 by default); "reflect", "replicate" and "circular" take the values from the input',
   shape_doc="each padded axis grows by its two widths. Constant mode takes negative widths (crops); the "
   "other modes pad 1-3 trailing axes of a tensor with 1 or 2 more, widths >= 0, below the axis size for reflect, "
   "at most it for circular",
   example='input x: [b, c, h, w]\npad(x, (1, 1, 2, 2), mode="reflect")', imports=FUNCTIONAL)
op("roll", "x: tensor[any], shifts: ints, dims: axes = None", roll_shape,
   CallRender("roll", receiver=True, positional=("shifts",)), result="same",
   doc="shift values along axes, those pushed off one end coming back at the other (torch.roll)",
   shape_doc="the shape of `x`; one shift per axis in `dims` (without `dims`, one shift of the flattened tensor)",
   example="input x: [b, h, w, c]\nroll(x, (1, -1), dims=(1, 2))")
