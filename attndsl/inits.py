"""The initialiser registry: how a spec says where a module's weights start, as the
published `init_weights` methods do (`init.normal_(m.weight, std=0.001)`,
`init.kaiming_normal_(m.weight, mode="fan_out")`, `init.constant_(m.bias, 0)`).

Written `param w: [n, d] = trunc_normal(std=0.02)`, or as a statement:

    init fc.weight = normal(std=0.001)         # one layer's parameter (a list: each element's)
    init linear.bias = zeros()                 # every module of that kind, sub-blocks included

Each initialiser is `torch.nn.init.<function>`, with torch's argument names and
defaults. Which parameters a layer kind has, and their shapes, come from the state each
layer kind declares (attndsl/layers, `state=`: its `state_dict` entries), so a misspelt
or absent parameter is a compile error, not an AttributeError.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .ops.registry import ParamSpec, parse_signature


@dataclass(frozen=True)
class Initializer:
    name: str  # in specs
    function: str  # torch.nn.init.<function>
    params: list[ParamSpec]
    fan: bool = False  # computes fan-in/fan-out: the tensor needs rank >= 2
    doc: str = ""
    rank: int | None = None  # the one rank it fills (eye: a matrix)


INITIALIZERS: dict[str, Initializer] = {}


def initializer(name: str, function: str, signature: str, *, fan: bool = False, doc: str = "",
                rank: int | None = None) -> None:
    INITIALIZERS[name] = Initializer(name, function, parse_signature(signature), fan, doc, rank)


_NONLINEARITY = "choice[linear|conv1d|conv2d|conv3d|sigmoid|tanh|relu|leaky_relu|selu]"

initializer("zeros", "zeros_", "", doc="all zeros")
initializer("ones", "ones_", "", doc="all ones")
initializer("constant", "constant_", "val: float", doc="every value `val`")
initializer("eye", "eye_", "", rank=2, doc="the identity: ones on the diagonal of a matrix (talking heads' mixing "
            "weights start as no mixing)")
initializer("normal", "normal_", "mean: float = 0.0, std: float = 1.0", doc="N(mean, std²)")
initializer("uniform", "uniform_", "a: float = 0.0, b: float = 1.0", doc="U(a, b)")
initializer("trunc_normal", "trunc_normal_", "mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0",
            doc="N(mean, std²), redrawn outside [a, b]")
initializer("kaiming_normal", "kaiming_normal_", f'a: float = 0, mode: choice[fan_in|fan_out] = "fan_in", '
            f'nonlinearity: {_NONLINEARITY} = "leaky_relu"', fan=True,
            doc="N(0, gain² / fan), He et al. 2015")
initializer("kaiming_uniform", "kaiming_uniform_", f'a: float = 0, mode: choice[fan_in|fan_out] = "fan_in", '
            f'nonlinearity: {_NONLINEARITY} = "leaky_relu"', fan=True, doc="U(-bound, bound), He et al. 2015")
initializer("xavier_normal", "xavier_normal_", "gain: float = 1.0", fan=True,
            doc="N(0, gain² · 2 / (fan_in + fan_out)), Glorot & Bengio 2010")
initializer("xavier_uniform", "xavier_uniform_", "gain: float = 1.0", fan=True,
            doc="U(-bound, bound), Glorot & Bengio 2010")


def layer_parameters(kind: str, args: dict) -> dict:
    """name -> (shape, condition under which it exists) of a layer kind's parameters."""
    from .layers import LAYERS

    definition = LAYERS.get(kind)
    if definition is None:
        return {}
    return {entry.key: (entry.shape, entry.flag) for entry in definition.state_entries(args) if entry.parameter}


@lru_cache(maxsize=None)
def takes_factory(kind: str) -> bool:
    """Whether a layer kind's torch class takes the factory arguments `device` and `dtype`:
    those that hold parameters do (nn.Linear, the convs and norms, nn.PReLU)."""
    return bool(kind_parameters(kind))


def kind_parameters(kind: str) -> dict:
    """name -> rank of a layer kind's parameters, whatever its arguments."""
    from .lower.helpers import _default_value
    from .layers import LAYERS
    from .symbolic import Expr

    definition = LAYERS[kind]
    sample = {}
    for param in definition.params:
        value = _default_value(param) if not param.required else None
        sample[param.name] = value if value is not None else Expr.symbol(param.name)
    return {name: len(shape) for name, (shape, _) in layer_parameters(kind, sample).items()}
