"""Lowering of subscripts: `y[:, :, :h]`, `x[..., 0]`, `q[:, None]` (attndsl/ops/indexing.py)."""

from __future__ import annotations

from .. import syntax as ast
from ..symbolic import Expr
from .values import ListArg, Tensor


class IndexingLowering:
    def _expr_Subscript(self, node: ast.Subscript) -> Tensor:
        value = self._expr(node.value)
        if isinstance(value, ListArg):
            return self._list_item(node, value)
        if not isinstance(value, Tensor):
            raise self.error("E0113", "only tensors are indexed", node.value.span)
        items = []
        for item in node.items:
            if isinstance(item, ast.Ellipsis_):
                if ("ellipsis",) in items:
                    raise self.error("E0113", "`...` may appear once in a subscript", item.span)
                items.append(("ellipsis",))
            elif isinstance(item, ast.NoneLit):
                items.append(("new",))
            elif isinstance(item, ast.Slice):
                start, stop = (None if part is None else self._index_value(part, "a slice bound")
                               for part in (item.start, item.stop))
                items.append(("slice", start, stop, None if item.step is None else self._slice_step(item.step)))
            else:
                items.append(("index", self._index_value(item, "an index")))
        return Tensor(self._add("subscript", [value.node], node.span, items=tuple(items)))

    def _index_value(self, node: ast.Node, what: str) -> Expr:
        value = self._expr(node)
        if isinstance(value, Tensor):
            raise self.error("E0113", "indexing with a tensor is not part of the language: the result's shape "
                             "would depend on the values", node.span,
                             help="keep the shape and select with where(mask, x, y) or masked_fill(x, mask, value)")
        if not isinstance(value, Expr):
            raise self.error("E0113", f"{what} must be an integer expression", node.span)
        self._require_whole(node, value, what)
        return value

    def _slice_step(self, node: ast.Node) -> int:
        value = self._expr(node)
        if not (isinstance(value, Expr) and value.is_const and value.value.denominator == 1 and value.value >= 1):
            raise self.error("E0115", "a slice's step must be a constant whole number, at least 1", node.span)
        return int(value.value)

    def _list_item(self, node: ast.Subscript, value: ListArg) -> Expr:
        """`out_chs[2]`: an item of a list argument, a whole number once the module is built
        (CoAtNet's stage widths). The list must be long enough: checked in __init__."""
        item = node.items[0] if len(node.items) == 1 else None
        index = None if item is None or isinstance(item, (ast.Slice, ast.Ellipsis_)) else self._expr(item)
        if not (isinstance(index, Expr) and index.is_const and index.value.denominator == 1 and index.value >= 0):
            raise self.error("E0113", f"an item of the list argument `{value.name}` is taken by one constant index, "
                             "a whole number of at least 0", node.span, help=f"e.g. {value.name}[0]")
        position = int(index.value)
        self._note_precondition("items", Expr.symbol(f"len({value.name})") - (position + 1), node.span)
        symbol = f"{value.name}[{position}]"
        self.ir.list_items.add(symbol)
        return Expr.symbol(symbol)
