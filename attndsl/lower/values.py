"""The values an expression of a spec can lower to, and the names a spec may not use."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ..ir import LayerInfo

ARG_TYPES = ("int", "float", "bool", "list[int]", "str", "list[str]", "layer", "device", "dtype")
PARAM_INITS = ("zeros", "ones", "randn")
SCALAR_FUNCTIONS = ("max", "min", "sqrt", "int", "round", "ceil", "floor", "abs", "log", "log2", "exp")
# Names that generated code relies on; a spec may not rebind them (issue: injection-safe output).
MAX_COUNT = 1024  # pieces of a chunk
MAX_SCALAR = 2**63  # a whole number combined with a tensor is a Python int: torch takes 64 bits
RESERVED = {"self", "torch", "nn", "F", "OrderedDict", "super", "forward", "None", "True", "False", "inf",
            # builtins the generated code calls
            "len", "max", "min", "all", "float", "int", "getattr", "ValueError", "round", "abs", "math",
            "isinstance", "range", "tuple", "zip", "enumerate", "list", "bool"}
# Arguments, params and layers become attributes of the nn.Module: they may not replace
# what nn.Module itself keeps there (`self.training = ...` would break train/eval).
MODULE_ATTRIBUTES = {
    "training", "forward", "parameters", "named_parameters", "buffers", "named_buffers", "children",
    "named_children", "modules", "named_modules", "state_dict", "load_state_dict", "to", "cuda", "cpu", "xpu",
    "ipu", "mtia", "type", "float", "double", "half", "bfloat16", "to_empty", "train", "eval", "zero_grad",
    "requires_grad_", "apply", "register_buffer", "register_parameter", "register_module", "add_module",
    "register_forward_hook", "register_forward_pre_hook", "register_backward_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_state_dict_pre_hook",
    "register_load_state_dict_post_hook", "get_submodule", "get_parameter", "get_buffer", "get_extra_state",
    "set_extra_state", "extra_repr", "share_memory", "compile", "dump_patches", "call_super_init",
    "T_destination", "set_submodule",
}

# Names of one leading underscore are nn.Module's own (`_modules`) or the interpreter's
# (attndsl/interpret/block.py); any other may name a layer or a param, as the published
# modules name theirs (MBConv's `_depthwise_conv`, `_bn1`).
PRIVATE_ATTRIBUTES = {
    "_apply", "_backward_hooks", "_backward_pre_hooks", "_buffers", "_call_impl", "_compiled_call_impl",
    "_forward_hooks", "_forward_hooks_always_called", "_forward_hooks_with_kwargs", "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs", "_get_backward_hooks", "_get_backward_pre_hooks", "_get_name",
    "_is_full_backward_hook", "_load_from_state_dict", "_load_state_dict_post_hooks", "_load_state_dict_pre_hooks",
    "_maybe_warn_non_full_backward_hook", "_modules", "_named_members", "_non_persistent_buffers_set",
    "_parameters", "_register_load_state_dict_pre_hook", "_register_state_dict_hook", "_replicate_for_data_parallel",
    "_save_to_state_dict", "_slow_forward", "_state_dict_hooks", "_state_dict_pre_hooks", "_version",
    "_wrapped_call_impl",
    # the interpreter's
    "_argument_source", "_bind_arguments", "_bind_inputs", "_buffer_tensor", "_build_block", "_call_layer",
    "_check_inputs", "_comprehension", "_comprehensions", "_construct", "_env", "_evaluate", "_ir", "_loops",
    "_make_param", "_name", "_nested", "_operand", "_order", "_plan", "_program", "_scalar", "_source",
    "_top_skip", "_walk",
}


# ---------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Tensor:
    node: int


@dataclass(frozen=True)
class TensorList:
    node: int


@dataclass(frozen=True)
class FactoryArg:
    """`device: device = None`, `dtype: dtype = None`: passed to every layer and param the
    block builds (torch's factory arguments), never a value of the spec."""

    name: str
    type: str  # "device" or "dtype"


@dataclass(frozen=True)
class ListArg:
    """A `list[int]` constructor argument (its length and elements are run-time values)."""

    name: str


@dataclass(frozen=True)
class StrArg:
    """A `str` constructor argument (`pooling_type: str = "att"`): compared with strings in
    conditions (`pooling_type == "att"`), or passed on to a block."""

    name: str


@dataclass(frozen=True)
class StrListArg:
    """A `list[str]` constructor argument (`fusion_types: list[str] = ["channel_add"]`):
    tested with `"channel_add" in fusion_types`, or passed on to a block."""

    name: str


@dataclass(frozen=True)
class LayerRef:
    info: LayerInfo
    path: tuple[str, ...] = ()  # child names inside a sequential


@dataclass(frozen=True)
class LayerElement:
    """The loop variable of `[f(x) for conv in convs]`: one element of a layer list."""

    var: str
    info: LayerInfo
    index: int | None = None  # `for attn, ff in layers:`: the element's child this variable is
    anchor: int | None = None  # the `loop` node of a `for` loop over the list (attndsl/lower/loops.py)


@dataclass(frozen=True)
class Literal:
    """A float that is not a finite rational (inf)."""

    value: float


@dataclass(frozen=True)
class DtypeLimit:
    """`-finfo(att).max`: the largest (or smallest) finite value of a tensor's floating dtype,
    known at run time only; a fill value that stays finite, unlike `-inf`, in any dtype."""

    which: str  # "max" or "min"
    node: int  # the tensor whose dtype it reads
    negative: bool = False

    def negated(self) -> "DtypeLimit":
        return DtypeLimit(self.which, self.node, not self.negative)


@dataclass(frozen=True)
class SizesInput:
    """`input spatial_size: sizes[p, q] = None`: sizes forward is given (GFNet's grid), read
    by their names; the input itself is no value of the dataflow."""

    name: str


Value = Any  # Tensor | TensorList | Expr | Cond | str | list | LayerRef | LayerElement | Literal | None


def suggest(name: str, candidates) -> str | None:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None

