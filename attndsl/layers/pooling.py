"""Pooling layers: windowed max/avg pools (1d/2d/3d) and adaptive pools (1d/2d/3d)."""

from __future__ import annotations

from ..ir import Cond
from ..ops.rendering import as_exprs
from ..ops.windows import window_count
from ..symbolic import Expr
from .registry import check_lengths, family, flag, items, layer, spatial_args

ONE = Expr.const(1)


def _pool(spatial: int):
    def rule(ctx, args, shape):
        stride_arg = args["stride"] if args["stride"] is not None else args["kernel_size"]
        dilation_arg = args.get("dilation", 1)
        kernel, stride, padding, dilation = spatial_args(
            {"kernel_size": args["kernel_size"], "stride": stride_arg, "padding": args["padding"],
             "dilation": dilation_arg}, ("kernel_size", "stride", "padding", "dilation"), spatial, ctx)
        out = list(shape[:2])
        for axis in range(spatial):
            out.append(window_count(ctx, shape[2 + axis], kernel[axis], stride[axis], padding[axis], dilation[axis],
                                    ceil_mode=flag(ctx, args, "ceil_mode")))
        return tuple(out)

    return rule


def _adaptive(spatial: int):
    def rule(ctx, args, shape):
        size = args["output_size"]
        sizes = list(size) if isinstance(size, (tuple, list)) else [size] * spatial
        if len(sizes) != spatial:
            ctx.error("E0112", f"output_size has {len(sizes)} entries for {spatial} spatial dimensions")
        # None keeps that dimension's size (CoordAtt's (None, 1)).
        return tuple(shape[:2]) + tuple(shape[2 + i] if s is None else s for i, s in enumerate(sizes))

    return rule


def _check_pool(spatial: int):
    def check(a, args):
        check_lengths(a, args, ("kernel_size", "stride", "padding", "dilation"), spatial)
        a.at_least("kernel_size", 1)
        a.at_least("stride", 1, none_ok=True)
        a.at_least("padding", 0)
        a.at_least("dilation", 1)
        a.at_least("divisor_override", 1, none_ok=True)
        returns_indices = args.get("return_indices", Cond.const(False))
        a.require(isinstance(returns_indices, Cond) and returns_indices == Cond.const(False), "return_indices",
                  "return_indices=true makes the layer return a pair, which the language does not take")
        kernels, paddings = items(args, "kernel_size"), items(args, "padding")
        if len(paddings) == 1:
            paddings = paddings * len(kernels)
        if len(kernels) == 1:
            kernels = kernels * len(paddings)
        for kernel, padding in zip(kernels, paddings):
            known_kernel, known_padding = _constant(a, kernel), _constant(a, padding)
            if known_kernel is not None and known_padding is not None:
                a.require(2 * known_padding <= known_kernel, "padding",
                          f"padding ({known_padding}) must be at most half of kernel_size ({known_kernel})")
            elif known_padding != 0 and all(isinstance(v, (Expr, int)) and not isinstance(v, bool)
                                            for v in (kernel, padding)):
                # an argument's: checked when built (torch refuses it only in forward)
                (kernel,), (padding,) = as_exprs(kernel), as_exprs(padding)
                a.condition(Cond("cmp", ("<=", 2 * padding, kernel)), "padding",
                            "padding must be at most half of kernel_size")

    return check


def _constant(a, value):
    if not isinstance(value, Expr):
        return None
    n = a.view.normal(value)
    return n.value if n.is_const else None


def _check_adaptive(spatial: int):
    def check(a, args):
        check_lengths(a, args, ("output_size",), spatial)
        a.at_least("output_size", 1)

    return check


# Torch's order, so that positional arguments mean what they mean to torch.
_MAX = ("kernel_size: size, stride: size = None, padding: size = 0, dilation: size = 1, return_indices: bool = false, "
        "ceil_mode: bool = false")
_AVG = ("kernel_size: size, stride: size = None, padding: size = 0, ceil_mode: bool = false, "
        "count_include_pad: bool = true")
_WINDOWS = ("[b, c, *spatial] is [b, c, *spatial'], each spatial' = floor((size + 2*padding - dilation*(kernel_size-1)"
            " - 1) / stride) + 1 (ceil with ceil_mode, torch's rule for a last window in the padding); "
            "stride defaults to kernel_size; padding at most half the kernel")
_ADAPTIVE = "[b, c, *spatial] is [b, c, *output_size]; a None entry keeps that dimension"

family("Pooling")
for _spatial in (1, 2, 3):
    _rank = _spatial + 2
    _dims = {1: "[b, c, n]", 2: "[b, c, h, w]", 3: "[b, c, t, h, w]"}[_spatial]
    _input = {1: "input x: [b, c, n]", 2: "input x: [b, c, h, w]", 3: "input x: [b, c, t, h, w]"}[_spatial]
    layer(f"max_pool{_spatial}d", f"MaxPool{_spatial}d", _MAX, _pool(_spatial), min_rank=_rank, max_rank=_rank,
          check=_check_pool(_spatial), doc=f"max over sliding windows of {_dims}", shape_doc=_WINDOWS,
          example=f"{_input}\nlayer pool = max_pool{_spatial}d(3, stride=2, padding=1)\npool(x)")
    _avg_signature = _AVG + (", divisor_override: int = None" if _spatial > 1 else "")
    layer(f"avg_pool{_spatial}d", f"AvgPool{_spatial}d", _avg_signature, _pool(_spatial), min_rank=_rank,
          max_rank=_rank, check=_check_pool(_spatial),
          doc=f"mean over sliding windows of {_dims}; count_include_pad=false leaves the padding out of the mean",
          shape_doc=_WINDOWS,
          example=f"{_input}\nlayer pool = avg_pool{_spatial}d(2, ceil_mode=true)\npool(x)")
for _spatial in (1, 2, 3):
    _rank = _spatial + 2
    _input = {1: "input x: [b, c, n]", 2: "input x: [b, c, h, w]", 3: "input x: [b, c, t, h, w]"}[_spatial]
    for _kind in ("avg", "max"):
        layer(f"adaptive_{_kind}_pool{_spatial}d", f"Adaptive{_kind.capitalize()}Pool{_spatial}d",
              "output_size: output_size", _adaptive(_spatial), min_rank=_rank, max_rank=_rank,
              check=_check_adaptive(_spatial),
              doc=f"{_kind} pool to a fixed output size (1: global); one size, or one per spatial dimension",
              shape_doc=_ADAPTIVE, example=f"{_input}\nlayer pool = adaptive_{_kind}_pool{_spatial}d(1)\npool(x)")
