"""The op registry: each tensor op of the language is declared once, in the module of its family.

`registry` holds the declaration machinery (`OpDef`, `ParamSpec`, `op()`, `OPS`); the
other modules declare ops by family. Importing this package imports them all, in the
order in which the documentation lists them.
"""

# Each family module fills OPS when imported; this order is the order of the documentation.
from . import arithmetic  # noqa: F401  isort: skip
from . import activations  # noqa: F401  isort: skip
from . import reductions  # noqa: F401  isort: skip
from . import layout  # noqa: F401  isort: skip
from . import views  # noqa: F401  isort: skip
from . import padding  # noqa: F401  isort: skip
from . import windows  # noqa: F401  isort: skip
from . import resampling  # noqa: F401  isort: skip
from . import spectral  # noqa: F401  isort: skip
from . import stochastic  # noqa: F401  isort: skip
from . import masking  # noqa: F401  isort: skip
from . import logic  # noqa: F401  isort: skip
from . import constants  # noqa: F401  isort: skip
from . import integers  # noqa: F401  isort: skip
from . import indexing  # noqa: F401  isort: skip
from . import selection  # noqa: F401  isort: skip
from . import fused  # noqa: F401  isort: skip
from .broadcasting import broadcast
from .layout import render_list, render_rearrange
from .registry import (
    ADD,
    ATOM,
    COMPARE,
    LOWEST,
    MUL,
    OPS,
    POWER,
    UNARY,
    ListShape,
    OpDef,
    ParamSpec,
    Shape,
    axes_of,
    normalize_axis,
    op,
    parse_signature,
    same_shape,
)

__all__ = [
    "ADD", "ATOM", "COMPARE", "LOWEST", "MUL", "OPS", "POWER", "UNARY", "ListShape", "OpDef", "ParamSpec", "Shape",
    "axes_of", "broadcast", "normalize_axis", "op", "parse_signature", "render_list", "render_rearrange",
    "same_shape",
]
