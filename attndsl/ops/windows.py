"""Sliding windows: how many fit along an axis (shared with the conv and pool layers),
and the ops built on them, unfold (im2col) and fold (col2im)."""

from __future__ import annotations

from .. import symbolic as sym
from ..symbolic import Expr
from .registry import Shape, family, op
from .rendering import FUNCTIONAL, CallRender, per_dim

ONE = Expr.const(1)


def window_count(ctx, size: Expr, kernel: Expr, stride: Expr, padding, dilation: Expr,
                 ceil_mode: bool = False) -> Expr:
    """floor((L + 2p - d(k-1) - 1) / s) + 1, torch's output-size formula (ceil with ceil_mode)."""
    if padding == "same":
        # padded by d*(k - 1) in all, the window fits where the input is not empty
        ctx.expect_at_least(size, 1, "the (dilated) kernel must fit in the padded input")
        return size
    step = ctx.normal(stride)
    if step.is_const and step.value < 1:  # the layer's own check says so too; the size cannot be computed
        ctx.error("E0205", f"the stride must be at least 1, got {step.value}")
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        # Rounding up, torch keeps one window that overhangs the input by less than a stride.
        ctx.expect_at_least(span + stride - 1, 0, "the (dilated) kernel must fit in the padded input, give or "
                            "take a stride (ceil_mode)")
    else:
        # torch rejects an empty output: the (dilated) window must fit in the padded input.
        padded, window = ctx.normal(size + 2 * padding), ctx.normal(dilation * (kernel - 1) + 1)
        if padded.is_const and window.is_const and padded.value < window.value:
            ctx.error("E0205", f"the window ({window.value}) is larger than the padded input ({padded.value})",
                      help="pad the input, or use a smaller kernel or dilation")
        ctx.expect_at_least(span, 0, "the (dilated) kernel must fit in the padded input")
    if not ceil_mode:
        if padding == 0 or isinstance(padding, Expr) and ctx.normal(padding) == Expr.const(0):
            if ctx.normal(dilation) == Expr.const(1) and ctx.normal(kernel) == step:
                # windows that tile the input (a patch embedding, `max_pool2d(s)`): floor(L / s),
                # as (L - s) // s + 1 is, written as a reader would
                return sym.floordiv(size, stride, ctx.facts)
        return ctx.derive(sym.floordiv(span, stride, ctx.facts) + 1, size)
    last = sym.ceildiv(span, stride, ctx.facts)  # the index of the last window
    # torch drops a last window that would start inside the right padding. It cannot when
    # s + p <= d(k-1) + 1 (every pool the catalogue has: Outlook's kernel = stride).
    slack = ctx.normal(stride + padding - dilation * (kernel - 1) - 1)
    if slack.is_const and slack.value <= 0:
        return ctx.derive(last + 1, size)
    dropped = sym.minimum(ONE, sym.maximum(Expr.const(0), last * stride - size - padding + 1))
    return ctx.derive(last + 1 - dropped, size)


def check_window_arguments(ctx, kernel, stride, padding, dilation, what: str) -> None:
    """What torch's sliding-window ops refuse, for each spatial dim's arguments."""
    for name, values, bound in (("kernel_size", kernel, 1), ("stride", stride, 1), ("dilation", dilation, 1),
                                ("padding", padding, 0)):
        for value in values:
            ctx.expect_at_least(value, bound, f"`{name}` of {what} must be at least {bound}")


def _spatial(ctx, attrs, what: str):
    kernel = per_dim(ctx, attrs["kernel_size"], 2, "kernel_size")
    stride = per_dim(ctx, attrs["stride"], 2, "stride")
    padding = per_dim(ctx, attrs["padding"], 2, "padding")
    dilation = per_dim(ctx, attrs["dilation"], 2, "dilation")
    check_window_arguments(ctx, kernel, stride, padding, dilation, what)
    return kernel, stride, padding, dilation


def unfold_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    if len(shape) not in (3, 4):
        ctx.error("E0202", f"unfold() takes [b, c, h, w] (or [c, h, w]), got rank {len(shape)}")
    kernel, stride, padding, dilation = _spatial(ctx, attrs, "unfold()")
    batch, (channels, height, width) = tuple(shape[:-3]), shape[-3:]
    for axis, dim in zip(("channels", "height", "width"), (channels, height, width)):
        ctx.expect_at_least(dim, 1, f"unfold() needs a non-empty input ({axis})")
    blocks = ONE
    for dim, k, s, p, d in zip((height, width), kernel, stride, padding, dilation):
        blocks = blocks * window_count(ctx, dim, k, s, p, d)
    return batch + (channels * kernel[0] * kernel[1], blocks)


def fold_shape(ctx, node, shapes, attrs) -> Shape:
    shape = shapes[0]
    if len(shape) not in (2, 3):
        ctx.error("E0202", f"fold() takes [b, c*kh*kw, blocks] (or [c*kh*kw, blocks]), got rank {len(shape)}")
    kernel, stride, padding, dilation = _spatial(ctx, attrs, "fold()")
    output = per_dim(ctx, attrs["output_size"], 2, "output_size")
    for dim in output:  # torch: "Expected output spatial size to be positive"
        ctx.expect_at_least(dim, 1, "fold(): each size in `output_size` must be at least 1")
    batch, (columns, blocks) = tuple(shape[:-2]), shape[-2:]
    ctx.expect_at_least(columns, 1, "fold() needs a non-empty input")
    channels = ctx.divide(columns, kernel[0] * kernel[1], "fold(): the columns into kernel_size windows")
    expected = ONE
    for dim, k, s, p, d in zip(output, kernel, stride, padding, dilation):
        expected = expected * window_count(ctx, dim, k, s, p, d)
    ctx.expect_equal(blocks, expected, "the number of blocks fold() puts back (the last axis) and the number of "
                     "windows in output_size")
    return batch + (channels,) + tuple(output)


_WINDOW_ARGS = "kernel_size: ints, dilation: ints = 1, padding: ints = 0, stride: ints = 1"

family("Sliding windows")
op("unfold", f"x: tensor, {_WINDOW_ARGS}", unfold_shape, CallRender("F.unfold", always=("kernel_size",)),
   doc="extract sliding windows (F.unfold, im2col); each argument is one size or one per spatial axis",
   shape_doc="[b, c, h, w] is [b, c*kh*kw, L], L the number of windows: the product over h, w of "
   "floor((size + 2*padding - dilation*(kernel-1) - 1) / stride) + 1, each at least 1",
   example="input x: [b, c, h, w]\nunfold(x, 3, padding=1)", imports=FUNCTIONAL)
op("fold", f"x: tensor, output_size: ints, {_WINDOW_ARGS}", fold_shape,
   CallRender("F.fold", always=("output_size", "kernel_size")),
   doc="sum sliding windows back into a map (F.fold, col2im): the inverse layout of unfold, overlaps added",
   shape_doc="[b, c*kh*kw, L] is [b, c, *output_size]; dim 1 divisible by kh*kw, L the number of windows "
   "that fit in output_size",
   example="input x: [b, c, h, w]\nfold(unfold(x, 3, padding=1), (h, w), 3, padding=1)", imports=FUNCTIONAL)
