"""Normalisation layers: batch norm (1d/2d/3d), instance norm, layer norm, group norm."""

from __future__ import annotations

from .registry import StateEntry, both_flags, channels, family, layer, per_axis, positions
from ..ir import Cond
from ..ops.rendering import as_exprs
from ..symbolic import Expr


def _affine_channels(ctx, args, shape):
    """With affine weights, torch's batch and instance norms index their weight, and fail
    (IndexError) on no channels, such as a linear layer's `channel // 16` of 0 features."""
    affine = args.get("affine", True)
    if affine is True or affine == Cond.const(True):
        ctx.expect_at_least(shape[1], 1, "a batch or instance norm with affine weights needs at least one channel")
    elif isinstance(affine, Cond) and affine.op != "const" and not ctx.view.at_least(shape[1], 1):
        ctx.checker.require(Cond("or", (Cond("not", (affine,)), Cond("cmp", (">=", shape[1], Expr.const(1))))),
                            "a batch or instance norm with affine weights needs at least one channel",
                            node=ctx.node, element=ctx.element)


def _norm_channels(ctx, args, shape):
    channels(ctx, shape, args["num_features"], "num_features")
    _affine_channels(ctx, args, shape)
    # In training a batch norm needs two values per channel to estimate a variance: torch
    # refuses exactly one (a batch of 1 on a 1x1 map); none (an empty map) it lets through.
    values = shape[0]
    for dim in shape[2:]:  # written with the sizes' names (`b * h_out * w_out`), not their formulas
        values = values * dim
    if not ctx.view.at_least(values, 2):
        # In eval mode it reads its running statistics, where it keeps them: without them
        # (`track_running_stats=false`) it takes the batch's in eval too.
        eval_mode = Cond("not", (Cond("training", ()),))
        running = args.get("track_running_stats", True)
        if ctx.kind_layer is not None:  # `partial(nn.BatchNorm2d, track_running_stats=False)`: as built
            running = Cond("module_flag", (ctx.kind_layer, "track_running_stats"))
        if running is False or running == Cond.const(False):
            statistics_kept = None
        elif running is True or running == Cond.const(True):
            statistics_kept = eval_mode
        else:
            statistics_kept = Cond("and", (eval_mode, running))
        not_one = Cond("cmp", ("!=", values, Expr.const(1)))
        # one value whatever the input (a [1, c, 1, 1] sum over the batch): eval mode only
        if statistics_kept is None:
            enough = not_one
        else:
            enough = statistics_kept if values == Expr.const(1) else Cond("or", (statistics_kept, not_one))
        ctx.checker.require(enough, "batch norm in training needs more than one value per channel"
                            if statistics_kept is eval_mode else "batch norm needs more than one value per "
                            "channel in training, and in eval without running statistics",
                            node=ctx.node, element=ctx.element)
    return shape


def _instance_norm(ctx, args, shape):
    channels(ctx, shape, args["num_features"], "num_features")
    _affine_channels(ctx, args, shape)
    # It normalises each map over its positions, train or eval: torch rejects a single one.
    count = positions(ctx, shape)
    written = Expr.const(1)
    for dim in shape[2:]:
        written = written * dim
    if count.is_const and count.value < 2:
        ctx.error("E0205", f"instance_norm2d normalises over the spatial positions, but {ctx.show(shape)} has "
                  f"only {count.value}", help="a global pool leaves one position: use layer_norm or batch_norm2d")
    ctx.expect_at_least(written, 2, "instance norm needs more than one position")
    return shape


def _layer_norm(ctx, args, shape):
    normalized = as_exprs(args["normalized_shape"])
    if len(normalized) > len(shape):
        ctx.error("E0202", f"layer_norm normalises the last {len(normalized)} dimensions, but the input has rank "
                  f"{len(shape)}")
    if len(normalized) == 1:
        ctx.expect_equal(shape[-1], normalized[0], "the last dimension of the input and normalized_shape")
    for index, size in enumerate(normalized):
        axis = len(shape) - len(normalized) + index
        if len(normalized) > 1:
            ctx.expect_equal(shape[axis], size, f"dimension {axis} of the input and normalized_shape[{index}]")
    return shape


def _group_norm(ctx, args, shape):
    channels(ctx, shape, args["num_channels"], "num_channels")
    per_group = ctx.divide(args["num_channels"], args["num_groups"], "num_channels into num_groups")
    # torch refuses, train or eval, a group that has one value in the whole batch (F.group_norm
    # checks the batch times the group's channels times the positions, as batch norm does).
    values = shape[0] * per_group * positions(ctx, shape)
    normal = ctx.normal(values)
    if normal == Expr.const(1):
        ctx.error("E0205", f"group_norm needs more than one value per group in the batch, but a group of "
                  f"{ctx.show(shape)} has only 1", help="use fewer groups")
    # torch refuses exactly one value, and lets none (an empty map) through, as for batch norm
    # (differential seed 22408003). Checked as written: a normal form may read facts of one
    # branch of an `if` (a world).
    if not ctx.view.at_least(values, 2):
        written = shape[0] * per_group  # with the sizes' names (`b * dim * h_out * w_out`), not their formulas
        for dim in shape[2:]:
            written = written * dim
        ctx.checker.require(Cond("cmp", ("!=", written, Expr.const(1))), "group_norm needs more than one value per "
                            "group in the batch (the batch times the group's channels times the positions)",
                            node=ctx.node, element=ctx.element)
    return shape


def _check_features(a, args):
    a.at_least("num_features", 0)
    a.number("eps")
    a.number("momentum", none_ok=True)


def _check_layer_norm(a, args):
    a.at_least("normalized_shape", 0)
    a.number("eps")


def _check_group_norm(a, args):
    a.at_least("num_groups", 1)
    a.at_least("num_channels", 0)
    a.number("eps")
    a.divisible("num_channels", "num_groups")


def _norm_state(count_arg: str, *, affine: str = "affine", stats_default: bool | None = None):
    """A norm's weight and bias, one each per feature, when its affine flag holds; the
    running statistics (buffers) of a batch or instance norm when it tracks them."""

    def state(args):
        features = per_axis(args[count_arg], 1)
        flag = args.get(affine, True)
        entries = [StateEntry("weight", features, flag)]
        entries.append(StateEntry("bias", features, both_flags(flag, args.get("bias", True))))
        if stats_default is not None:
            tracked = args.get("track_running_stats", stats_default)
            entries += [StateEntry("running_mean", features, tracked, parameter=False),
                        StateEntry("running_var", features, tracked, parameter=False),
                        StateEntry("num_batches_tracked", (), tracked, parameter=False)]
        return entries

    return state


_BATCH_NORM = ("num_features: int, eps: float = 1e-05, momentum: float = 0.1, affine: bool = true, "
               "track_running_stats: bool = true")
_SAME = "the shape of the input; dim 1 is num_features"
_BATCH_NORM_STATE = _norm_state("num_features", stats_default=True)

family("Normalisation")
layer("batch_norm1d", "BatchNorm1d", _BATCH_NORM, _norm_channels, min_rank=2, max_rank=3, check=_check_features,
      state=_BATCH_NORM_STATE, doc="batch norm over [b, c] or [b, c, length]", shape_doc=_SAME,
      example="(c: int = 8)\ninput x: [b, c]\nlayer bn = batch_norm1d(c)\nbn(x)")
layer("batch_norm2d", "BatchNorm2d", _BATCH_NORM, _norm_channels, min_rank=4, max_rank=4, check=_check_features,
      state=_BATCH_NORM_STATE, doc="batch norm over [b, c, h, w]", shape_doc=_SAME,
      example="(c: int = 8)\ninput x: [b, c, h, w]\nlayer bn = batch_norm2d(c, momentum=0.01)\nbn(x)")
layer("batch_norm3d", "BatchNorm3d", _BATCH_NORM, _norm_channels, min_rank=5, max_rank=5, check=_check_features,
      state=_BATCH_NORM_STATE, doc="batch norm over [b, c, t, h, w]", shape_doc=_SAME,
      example="(c: int = 8)\ninput x: [b, c, t, h, w]\nlayer bn = batch_norm3d(c)\nbn(x)")
layer("instance_norm2d", "InstanceNorm2d",
      "num_features: int, eps: float = 1e-05, momentum: float = 0.1, affine: bool = false, "
      "track_running_stats: bool = false", _instance_norm,
      state=_norm_state("num_features", stats_default=False),
      min_rank=4, max_rank=4, check=_check_features, doc="instance norm: each map of [b, c, h, w] over its positions",
      shape_doc=_SAME + "; at least 2 positions",
      example="(c: int = 8)\ninput x: [b, c, h, w]\nlayer norm = instance_norm2d(c)\nnorm(x)")
layer("layer_norm", "LayerNorm", "normalized_shape: size, eps: float = 1e-05, elementwise_affine: bool = true, "
      "bias: bool = true", _layer_norm, check=_check_layer_norm,
      state=_norm_state("normalized_shape", affine="elementwise_affine"),
      doc="layer norm over the last dimension, or the last several (`normalized_shape=(h, w)`)",
      shape_doc="the shape of the input, whose trailing dimensions are normalized_shape",
      example="(d: int = 16)\ninput x: [b, n, d]\nlayer ln = layer_norm(d)\nln(x)")
layer("group_norm", "GroupNorm", "num_groups: int, num_channels: int, eps: float = 1e-05, affine: bool = true",
      _group_norm, min_rank=2, check=_check_group_norm, state=_norm_state("num_channels"),
      doc="group norm: dim 1 split into num_groups groups",
      shape_doc="the shape of the input; dim 1 is num_channels, divisible by num_groups",
      example="(c: int = 8)\ninput x: [b, c, h, w]\nlayer gn = group_norm(2, c)\ngn(x)")
