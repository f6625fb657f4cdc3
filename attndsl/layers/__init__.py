"""The layer registry: each `layer` kind of the language is declared once, in the module of its family.

`registry` holds the declaration machinery (`LayerDef`, `layer()`, `LAYERS`); the other
modules declare kinds by family. Importing this package imports them all, in the order
in which the documentation lists them.
"""

# Each family module fills LAYERS when imported; this order is the order of the documentation.
from . import linear  # noqa: F401  isort: skip
from . import convolution  # noqa: F401  isort: skip
from . import normalization  # noqa: F401  isort: skip
from . import pooling  # noqa: F401  isort: skip
from . import activations  # noqa: F401  isort: skip
from .registry import LAYERS, LayerDef, families, kind_named, layer, names_of

__all__ = ["LAYERS", "LayerDef", "families", "kind_named", "layer", "names_of"]
