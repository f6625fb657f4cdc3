"""A small canonical form for integer shape arithmetic.

Dimensions are sums of terms `coefficient * monomial`, where a monomial is a product of
factors raised to integer powers (negative powers arise from exact division such as the
`c/g` of a rearrange that splits `(g c)`). A factor is a symbol (a dim like `h`, a
constructor argument like `groups`) or an opaque atom for what the form cannot expand
(`a // b` when `b` is not known to divide `a`, `max`, `min`, `%`, `sqrt`).

Two expressions are equal exactly when their canonical forms are equal, which is what
the shape checker needs; sympy would do the same but costs ~0.3 s to import on the
compile path. `tests/test_symbolic.py` property-tests this module against sympy.
"""

from __future__ import annotations

from .symbolic_core import Atom, Expr, Factor, Monomial, Scalar, as_expr  # noqa: F401
from .symbolic_facts import Facts  # noqa: F401
from .symbolic_ops import (ceildiv, evaluate, expand, floordiv, maximum, minimum, mod, power,  # noqa: F401
                           replace_factors, simplify, sqrt, substitute, truediv)
from .symbolic_render import precedence, render  # noqa: F401
