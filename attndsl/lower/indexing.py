"""Lowering of subscripts: `y[:, :, :h]`, `x[..., 0]`, `q[:, None]` (attndsl/ops/indexing.py)."""

from __future__ import annotations

from .. import syntax as ast
from ..ops.selection import index_origin, unclamped_input
from ..symbolic import Expr
from .values import ListArg, Tensor


class IndexingLowering:
    def _expr_Subscript(self, node: ast.Subscript) -> Tensor:
        value = self._expr(node.value)
        if isinstance(value, ListArg):
            return self._list_item(node, value)
        if not isinstance(value, Tensor):
            raise self.error("E0113", "only tensors are indexed", node.value.span)
        items, gathered = [], []
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
                index = self._expr(item)
                if isinstance(index, Tensor):
                    gathered.append((item, index))
                    items.append(("tensor",))
                else:
                    items.append(("index", self._whole_index(item, index, "an index")))
        if gathered:
            return self._gather(node, value, items, gathered)
        return Tensor(self._add("subscript", [value.node], node.span, items=tuple(items)))

    def _gather(self, node: ast.Subscript, table: Tensor, items: list, gathered: list) -> Tensor:
        """`table[index]`, `x[:, index]`: one integer buffer, or positions computed in forward
        (`topk`'s), pick along one axis; the other items are slices (with an index or `None`
        beside it, torch moves the picked axes)."""
        if len(gathered) > 1:
            raise self.error("E0113", "a subscript gathers with one tensor", gathered[1][0].span,
                             help="to pick pairs (`table[rows, cols]`), merge the two axes and pick with one flat "
                                  "index: `buffer flat = rows * J + cols` (J the size of axis j), then "
                                  "`rearrange(table, \"i j d -> (i j) d\")[flat]`; `table[rows][:, cols]` would pick "
                                  "every row with every column")
        (item, index), = gathered
        if any(other[0] in ("index", "new") for other in items):
            raise self.error("E0113", "a gather's other items are slices (`:`, `a:b`, `...`)", node.span,
                             help="slice or index in a subscript of its own, before or after the gather")
        if self._is_mask(index.node):
            raise self.error("E0113", "selecting by a mask is not part of the language: the result's shape would "
                             "depend on the values", item.span,
                             help="keep the shape and select with where(mask, x, y) or masked_fill(x, mask, value)")
        if self.ir.graph.nodes[index.node]["op"] != "buffer" and \
                index_origin(self.ir, index.node)[0] not in ("positions", "clamped"):
            unclamped = unclamped_input(self.ir, index.node)
            if unclamped is not None:
                raise self.error("E0113", unclamped[0], item.span, help=unclamped[1])
            raise self.error("E0113", "a gather's index is a buffer, whose values are checked once, when the module "
                             "is built, to lie within the axis, positions computed by topk, sort, argsort, argmax "
                             "or argmin, or an integer tensor clamped to [0, k] (each reshaped, sliced or "
                             "expanded)", item.span,
                             help="build it with `buffer index = ...` (arange and integer arithmetic), or clamp "
                                  "what forward computes: `clamp(i, min=0, max=k - 1)`")
        return Tensor(self._add("lookup", [table.node, index.node], node.span, items=tuple(items)))

    def _is_mask(self, node: int) -> bool:
        """A boolean input or a comparison (before the checker knows every element type)."""
        attrs = self.ir.graph.nodes[node]
        if attrs["op"] == "input":
            return next(i for i in self.ir.inputs if i.node == node).dtype == "bool"
        return attrs["op"] in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not")

    def _index_value(self, node: ast.Node, what: str) -> Expr:
        return self._whole_index(node, self._expr(node), what)

    def _whole_index(self, node: ast.Node, value, what: str) -> Expr:
        if isinstance(value, Tensor):
            raise self.error("E0113", f"{what} must be a number; a tensor gathers only as an index",
                             node.span, help="gather with `table[index]`, an integer buffer as the index")
        if not isinstance(value, Expr):
            raise self.error("E0113", f"{what} must be an integer expression", node.span)
        self._require_whole(node, value, what)
        return value

    def _slice_step(self, node: ast.Node) -> int | Expr:
        """A constant (`::2`) or a whole number of the arguments (LeViT's `::stride`), at
        least 1 (a check the shape checker makes, when the module is built)."""
        value = self._expr(node)
        if isinstance(value, Expr) and not value.is_const:
            self._require_whole(node, value, "a slice's step")
            return value
        if not (isinstance(value, Expr) and value.is_const and value.value.denominator == 1 and value.value >= 1):
            raise self.error("E0115", "a slice's step must be a whole number, at least 1", node.span)
        return int(value.value)

    def _list_item(self, node: ast.Subscript, value: ListArg) -> Expr:
        """`out_chs[2]`: an item of a list argument, a whole number once the module is built
        (CoAtNet's stage widths). The list must be long enough: checked in __init__."""
        item = node.items[0] if len(node.items) == 1 else None
        index = None if item is None or isinstance(item, (ast.Slice, ast.Ellipsis_)) else self._expr(item)
        if isinstance(index, Expr) and not index.is_const and index.symbols() <= self._index_names():
            return self._list_item_by_loop(node, item, value, index)
        if not (isinstance(index, Expr) and index.is_const and index.value.denominator == 1 and index.value >= 0):
            raise self.error("E0113", f"an item of the list argument `{value.name}` is taken by a whole number "
                             "computed from the arguments, a constant or a loop's variable", node.span,
                             help=f"e.g. {value.name}[0], or {value.name}[i] in `for i in range(len({value.name}))`")
        self._require_whole(item, index, "a list index")  # `out_chs[2.0]` is rendered as written
        position = int(index.value)
        self._note_precondition("items", Expr.symbol(f"len({value.name})") - (position + 1), node.span)
        symbol = f"{value.name}[{position}]"
        self.ir.list_items.add(symbol)
        return Expr.symbol(symbol)

    def _index_names(self) -> set[str]:
        """What a list item may be taken by: a loop's variable, a whole-number argument or `let`."""
        return {name for name, entry in self.scope.items() if entry[0] == "loopvar"
                or entry[0] in ("arg", "let") and isinstance(entry[1], Expr) and name not in self.float_symbols}

    def _list_item_by_loop(self, node: ast.Subscript, item: ast.Node, value: ListArg, index: Expr) -> Expr:
        """`sr_ratios[i]` in `[... for i in range(len(sr_ratios))]` (PVT's stages, which index
        several lists by one i), or by an argument (a stage's index: `dims[i - 1]`): an item,
        whose bounds are checked when the module is built, for every element of a loop where
        its range does not prove them (`all(len(ws) >= i + 1 for i in ...)`)."""
        self._require_whole(item, index, "a list index")
        self._note_precondition("not_negative", index, item.span)
        self._note_precondition("items", Expr.symbol(f"len({value.name})") - (index + 1), node.span)
        return Expr.atom("item", Expr.symbol(value.name), index)
