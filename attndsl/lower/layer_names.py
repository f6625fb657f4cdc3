"""Layers named like an argument: `layer dropout = dropout(dropout)`, `layer bn = batch_norm2d(c)`
under `if bn:`. The published modules do this (`self.dropout = nn.Dropout(dropout)`), and
their `state_dict` keys carry the name, so the spec must be able to.

The name keeps both meanings, told apart by how it is used: called (`bn(x)`) or reached
into (`mlp.fc1`), it is the layer; anywhere else (sizes, conditions, arguments of other
layers) it is the argument's value. Code generation keeps the value in `__init__`'s local
and gives the attribute to the layer (see attndsl/codegen/block.py, `argument_attribute`).
"""

from __future__ import annotations

from .. import syntax as ast
from ..diagnostics import Span
from ..ir import LayerInfo
from .helpers import _label
from .values import LayerRef


class LayerNameLowering:
    def _name_layer_like_argument(self, name: str, info: LayerInfo, span: Span) -> None:
        self.layer_named_args.setdefault(name, []).append(info)

    def _argument_layer(self, node: ast.Name) -> LayerRef:
        """The layer a call or attribute of `node` means, where `node` also names an argument."""
        declared = self.layer_named_args[node.id]
        fitting = [info for info in declared if self._implied(info.guard)]
        if not fitting and self._declared_on_each_branch(declared):
            # declared on each branch (S4D's `dropout(dropout) if dropout > 0 else identity()`): a use
            # after the `if` is checked once per branch, as a layer's of another name is
            return LayerRef(declared[0])
        if not fitting:
            raise self.error("E0106", f"layer `{node.id}` is declared under an `if` that does not enclose this use",
                             node.span, labels=[_label(info.span, "declared here") for info in declared],
                             help="use it under the same condition as its declaration")
        return LayerRef(fitting[-1])
