"""interpolate (F.interpolate): resize the spatial axes of a [b, c, *spatial] tensor."""

from __future__ import annotations

from .. import symbolic as sym
from ..symbolic import Expr
from .registry import Shape, family, op
from .rendering import FUNCTIONAL, CallRender, per_dim

# The modes tied to one number of spatial axes (the others take 1, 2 or 3).
_MODE_AXES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def interpolate_shape(ctx, node, shapes, attrs) -> Shape:
    shape, mode = shapes[0], attrs["mode"]
    if not 3 <= len(shape) <= 5:
        ctx.error("E0202", f"interpolate() takes [b, c, *spatial] with 1 to 3 spatial axes, got rank {len(shape)}")
    spatial = len(shape) - 2
    if _MODE_AXES.get(mode, spatial) != spatial:
        ctx.error("E0202", f'mode="{mode}" resizes {_MODE_AXES[mode]} spatial ax{"es" if _MODE_AXES[mode] > 1 else "is"}'
                  f", and the input has {spatial}")
    if attrs.get("align_corners") is not None and mode not in _MODE_AXES:
        ctx.error("E0112", f'align_corners is only for the interpolating modes (linear, bilinear, bicubic, '
                  f'trilinear), not mode="{mode}"')
    size, scale = attrs.get("size"), attrs.get("scale_factor")
    if (size is None) == (scale is None):
        ctx.error("E0112", "interpolate() takes one of `size` and `scale_factor`")
    ctx.expect_at_least(shape[1], 1, "interpolate() needs channels")
    for axis in range(2, len(shape)):
        ctx.expect_at_least(shape[axis], 1, f"interpolate() needs a non-empty input (axis {axis})")
    if size is not None:
        out = per_dim(ctx, size, spatial, "size")
    else:
        out = tuple(_scaled(ctx, dim, scale) for dim in shape[2:])
    for axis, dim in enumerate(out, start=2):
        ctx.expect_at_least(dim, 1, f"interpolate() must give axis {axis} at least one element")
    return tuple(shape[:2]) + tuple(out)


def _scaled(ctx, dim: Expr, scale) -> Expr:
    """floor(size * scale), which torch computes in floating point: exact for a scale whose
    denominator is a power of two (2, 0.5, 1.5); others (1/3) could round either way."""
    value = ctx.normal(scale) if isinstance(scale, Expr) else None
    if value is None or not value.is_const:
        ctx.error("E0115", "scale_factor must be a constant number", help="or give the output size: size=[...]")
    fraction = value.value
    if fraction <= 0:
        ctx.error("E0112", f"scale_factor must be positive, got {float(fraction):g}")
    if fraction.denominator & (fraction.denominator - 1):
        ctx.error("E0112", f"scale_factor {float(fraction):g} is not exact in floating point, so the output size "
                  "could round either way", help="give the output size: size=[...]")
    return sym.floordiv(dim * fraction.numerator, Expr.const(fraction.denominator), ctx.facts)


family("Resampling")
op("interpolate", 'x: tensor, size: ints = None, scale_factor: scalar = None, '
   'mode: choice[nearest|linear|bilinear|bicubic|trilinear|area|nearest-exact] = "nearest", '
   "align_corners: bool = None", interpolate_shape, CallRender("F.interpolate"),
   doc="resize the spatial axes (F.interpolate) to `size`, or by `scale_factor` (a constant)",
   shape_doc="[b, c, *spatial] is [b, c, *size] or [b, c, floor(spatial * scale_factor)]; linear takes 1 spatial "
   "axis, bilinear and bicubic 2, trilinear 3; every size at least 1",
   example='input x: [b, c, h, w]\ninterpolate(x, scale_factor=2, mode="bilinear", align_corners=false)',
   imports=FUNCTIONAL)
