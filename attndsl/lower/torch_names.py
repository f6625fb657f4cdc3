"""How a spec writes what PyTorch code spells another way: the help of the errors someone
porting a module meets first (`x.view(...)`, `torch.bmm(a, b)`, `F.softmax(x)`,
`q, k = qk.unbind(0)`). One table, read by the lowering of names, attributes and calls."""

from __future__ import annotations

import re

from ..layers import LAYERS
from ..ops import OPS

_RESHAPE = ('a shape changes with `rearrange`, which names every axis: '
            '`rearrange(x, "b n (h d) -> b h n d", h=heads)`')
_MATMUL = "a matrix product is written `a @ b` (batched too)"

# PyTorch functions and tensor methods the language has no function of the same name for.
SPELLED_OTHERWISE = {
    "view": _RESHAPE,
    "reshape": _RESHAPE,
    "permute": 'axes move with `rearrange(x, "b c h w -> b h w c")`, or two of them with `transpose(x, 1, 2)`',
    "bmm": _MATMUL,
    "mm": _MATMUL,
    "repeat": "`expand(x, ...)` broadcasts an axis of size 1 without copying; `cat([x, x], dim=d)` copies",
    "clone": "a spec never writes into a tensor, so a value needs no copy: use it as it is",
    "size": "sizes have names: declare them with the input (`input x: [b, c, h, w]`) and use `c`",
    "type_as": "a tensor takes its inputs' dtype; ops that make one (`ones`, `arange`) take `like=`",
    "to": "a tensor takes its inputs' dtype and device; ops that make one (`ones`, `arange`) take `like=`",
    # a module's randomness is its parameters' initialisation (and dropout's, in training)
    **{name: "a spec draws nothing at random but where a param starts: `param w: [m, d] = randn` (or "
             "`init w = normal(std=...)`) draws it once, when the module is built"
       for name in ("randn", "rand", "randint", "randn_like", "rand_like", "normal", "randperm", "bernoulli")},
    "range": "a `for` loop and a comprehension run over a layer list, a list argument, `range(n)` of layers, "
             "or tensors; positions as a tensor are `arange(n)`",
    # indices computed from the data beyond positions (topk, sort, argmax: in the language)
    **{name: "only positions index: those `topk`, `sort`, `argsort`, `argmax` and `argmin` give, picked by "
             "`gather` or `x[:, index]` and written by `scatter(x, dim, index, value)`; a mask of the values "
             "compared (`x == max(x, dim=-1, keepdim=true)`) often says the same"
       for name in ("scatter_add", "index_select", "nonzero", "masked_select", "kthvalue", "unique",
                    "searchsorted", "bucketize", "take_along_dim")},
    "repeat_interleave": "each item repeated `r` times along an axis: `expand` a new axis of size `r` and merge "
                         "it, `rearrange(expand(k[:, :, None], (-1, -1, r, -1, -1)), \"b g r n d -> b (g r) n d\")`",
    "enumerate": "a loop over a layer list zips it with what varies per pass: `for conv, g in zip(convs, "
                 "unbind(gates, dim=1)):`; a pass that depends on its index is a layer list's "
                 "`[... for i in range(n)]`",
    "linspace": "evenly spaced values: `float(arange(m)) / (m - 1)` (and `arange(start, end, step)`)",
    "flip": "an axis reversed is not in the language yet: a gather by a `buffer` of reversed positions, "
            "`x[:, rev]` with `buffer rev = l - 1 - arange(l)` for a length `l` the arguments give, reads it",
    "glu": "`a, g = chunk(x, 2, dim=d)`, then `a * sigmoid(g)`",
}

# Names a module's code reaches PyTorch's functions through.
MODULE_NAMES = ("torch", "F", "nn", "functional", "np", "numpy", "math", "einops")


def spelling_help(name: str) -> str | None:
    """How the spec writes `name`, a PyTorch function or method: None if it is not one we know."""
    if name in SPELLED_OTHERWISE:
        return SPELLED_OTHERWISE[name]
    if name.endswith("_") and name[:-1] in OPS and OPS[name[:-1]].callable_by_name:
        return f"a spec never writes into a tensor: `{name[:-1]}(...)` makes a new one"
    return None


def as_function(name: str) -> str | None:
    """`softmax(x, ...)`: how a method call or a `torch.`/`F.` call of an op is written, or None."""
    if name in OPS and OPS[name].callable_by_name:
        return f"write `{name}(x, ...)`, the tensor its first argument"
    return spelling_help(name)


def layer_kind_of(class_name: str) -> str | None:
    """The layer kind of a PyTorch module class: `nn.LayerNorm` is `layer_norm`, `nn.Conv2d` is
    `conv2d`, `nn.ReLU` is `relu`; None if the language has none."""
    for kind in (re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", class_name).lower(), class_name.lower()):
        if kind in LAYERS or kind == "sequential":
            return kind
    return None
