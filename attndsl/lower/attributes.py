"""Lowering of attribute expressions: a sequential layer's named child (`mlp.fc1`) and a
dtype's limits (`finfo(att).min`); a module path (`torch.softmax`) or a tensor method
(`x.softmax()`) is refused with the spec's way to write it."""

from __future__ import annotations

from .. import syntax as ast
from .helpers import _resolve_child
from .torch_names import MODULE_NAMES, as_function
from .values import DtypeLimit, LayerRef, Tensor, Value, suggest


class AttributeLowering:
    def _expr_Attribute(self, node: ast.Attribute) -> Value:
        if isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) and \
                node.value.func.id == "finfo":
            return self._dtype_limit(node)
        path, module = [node.attr], node.value
        while isinstance(module, ast.Attribute):  # `torch.nn.functional.softmax`
            path.insert(0, module.attr)
            module = module.value
        if isinstance(module, ast.Name) and module.id in MODULE_NAMES and module.id not in self.scope:
            dotted = ".".join([module.id] + path)
            raise self.error("E0101", f"`{dotted}`: a spec calls its ops by name, through no module", node.span,
                             help=as_function(node.attr) or "docs/language.md lists the ops and layers a spec has")
        named = isinstance(node.value, ast.Name) and node.value.id in self.layer_named_args
        base = self._argument_layer(node.value) if named else self._expr(node.value)
        if isinstance(base, LayerRef):
            spec = _resolve_child(base.info.spec, base.path) if base.info.spec else None
            names = [n for n, _ in spec.children] if spec and spec.kind == "sequential" else []
            if node.attr not in names:
                raise self.error("E0102", f"layer `{base.info.name}` has no child `{node.attr}`", node.span,
                                 help=suggest(node.attr, [n for n in names if n]))
            return LayerRef(base.info, base.path + (node.attr,))
        method = as_function(node.attr)
        if method is not None:  # `x.softmax(dim=-1)`, `x.view(b, -1)`
            raise self.error("E0113", f"`.{node.attr}(...)`: a spec calls no methods of tensors", node.span,
                             help=method)
        raise self.error("E0113", "attribute access is only for a sequential layer's named children", node.span)

    def _dtype_limit(self, node: ast.Attribute) -> DtypeLimit:
        """`finfo(att).max`, `finfo(att).min`: torch.finfo of a floating tensor's dtype."""
        call = node.value
        if len(call.args) != 1 or call.kwargs:
            raise self.error("E0112", "finfo() takes one tensor, whose dtype it describes", call.span)
        tensor = self._expr(call.args[0])
        if not isinstance(tensor, Tensor):
            raise self.error("E0113", "finfo() takes a tensor, whose floating dtype it describes", call.args[0].span)
        if node.attr not in ("max", "min"):
            raise self.error("E0113", f"finfo() gives `max` and `min`, not `{node.attr}`", node.span,
                             help="e.g. masked_fill(att, mask, -finfo(att).max)")
        return DtypeLimit(node.attr, tensor.node)
