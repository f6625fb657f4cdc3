"""Layers named like an argument: `layer dropout = dropout(dropout)`, `layer bn = batch_norm2d(c)`
under `if bn:`. The published modules do this (`self.dropout = nn.Dropout(dropout)`), and
their `state_dict` keys carry the name, so the spec must be able to.

The name keeps both meanings, told apart by how it is used: called (`bn(x)`) or reached
into (`mlp.fc1`), it is the layer; anywhere else (sizes, conditions, arguments of other
layers) it is the argument's value. Code generation keeps the value in `__init__`'s local
and gives the attribute to the layer (see attndsl/codegen/block.py, `argument_attribute`).

A param may be named like a bool argument too, declared under `if <name>:` only
(`bias=True` → `self.bias = nn.Parameter(...)`, else None: PyG's and many hand-written
layers): in a condition the name is the argument; in the dataflow, under that `if`, the
param.
"""

from __future__ import annotations

from .. import syntax as ast
from ..diagnostics import Span
from ..ir import Cond, LayerInfo
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

    def _param_of_flag(self, name: str, info) -> bool:
        """Whether `param <name>` may share the name of the argument `name`: a bool argument,
        and the param declared under `if <name>:` and nothing else."""
        arg = next((a for a in self.ir.args if a.name == name), None)
        return arg is not None and arg.type == "bool" and tuple(info.guard) == (Cond("arg", (name,)),) \
            and name not in self.param_named_args

    def _name_param_like_argument(self, name: str, info, span: Span) -> None:
        self.param_named_args[name] = info

    def _argument_param(self, node: ast.Name):
        """The param `node` means in the dataflow, where it also names a bool argument; None
        where it means the argument (a condition; outside the `if` that declares the param)."""
        info = self.param_named_args.get(node.id)
        if info is None or self._deciding or not self._implied(info.guard):
            return None
        return info
