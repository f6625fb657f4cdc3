"""Lowering of masks and constant tensors: tensor comparisons, `and`/`or`/`not` on masks,
the `like` operand of ops that make tensors from sizes (arange, eye, ones, ...), and the
`buffer` statement, whose tensor is computed once, in `__init__`."""

from __future__ import annotations

from .. import syntax as ast
from ..ir import BufferInfo, Cond
from ..symbolic import Expr
from .helpers import _label
from .values import Tensor

_COMPARISON_OPS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_LOGIC_OPS = {"and": "logical_and", "or": "logical_or"}
# What a buffer, built before any input exists, may not read.
_NOT_IN_BUFFERS = {"tensor": "the value", "input_opt": "the input", "param": "the param", "layer": "the layer",
                   "dim": "the input size"}


class MaskLowering:
    _building_buffer: str | None = None  # what __init__ is computing (`buffer \`t\``), while it is

    # ------------------------------------------------------------------ comparisons and logic
    def _tensor_compare(self, node: ast.Compare, left, right) -> Tensor:
        operands = [self._operand(value, part) for value, part in ((left, node.left), (right, node.right))]
        return Tensor(self._add(_COMPARISON_OPS[node.op], operands, node.span))

    def _logic_value(self, node: ast.Node, whole: ast.Node | None = None):
        """An operand of `and`/`or`/`not` (`whole`): a condition on the arguments, or a mask."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "all":
            return self._condition(node)
        if self._optional_number(node):
            return self._number_truth(node)  # `not qk_scale`, `qk_scale and ...`: not None and not 0
        value = self._expr(node)
        if isinstance(value, (Cond, Tensor)):
            return value
        if isinstance(value, Expr):  # `output_dim or embed_dim` as a layer's argument or a param's size
            raise self.error("E0113", "a number chosen by `and`/`or` is written in a `let`", (whole or node).span,
                             help="e.g. `let out_dim = output_dim or embed_dim`, then use `out_dim`")
        raise self.error("E0113", "a condition must be a comparison or a bool argument", node.span)

    def _tensor_logic(self, node: ast.BoolOp, values: list) -> Tensor:
        for value, part in zip(values, node.values):
            if not isinstance(value, Tensor):
                # One side decided when the module is built, the other per element: say which is which.
                raise self.error("E0113", f"`{node.op}` of a mask and a condition on the arguments", part.span,
                                 help="test the arguments with an `if` around the mask's computation")
        result = values[0].node
        for value in values[1:]:
            result = self._add(_LOGIC_OPS[node.op], [result, value.node], node.span)
        return Tensor(result)

    def _tensor_not(self, node: ast.UnaryOp, value: Tensor) -> Tensor:
        return Tensor(self._add("logical_not", [value.node], node.span))

    # ------------------------------------------------------------------ tensors made from sizes
    def _like_operand(self, node: ast.Call) -> int | None:
        """The tensor whose device and dtype a tensor made in forward takes: the block's
        first floating-point input (none in a buffer, which moves with the module)."""
        if self._building_buffer is not None:
            return None
        for info in self.ir.inputs:
            if not info.optional and info.dtype == "float":
                return info.node
        raise self.error("E0113", f"{node.func.id}() in forward takes the device and dtype of a floating-point "
                         "input, and this block has none", node.span,
                         help="build it once with `buffer name = ...`, or pass `like=` a tensor")

    # ------------------------------------------------------------------ buffers
    def _check_buffer_use(self, node: ast.Name, kind: str) -> None:
        if self._building_buffer is not None and kind in _NOT_IN_BUFFERS:
            raise self.error("E0113", f"{self._building_buffer} is built with the module, before any input: "
                             f"it cannot use {_NOT_IN_BUFFERS[kind]} `{node.id}`", node.span,
                             help="a buffer is made from the arguments (arange, eye, ones, ... and other buffers)")

    def _stmt_Buffer(self, stmt: ast.Buffer) -> None:
        first = max(self.ir.graph.nodes, default=-1) + 1
        earlier = self._earlier_step(stmt)
        self._building_buffer = f"buffer `{stmt.name}`"
        try:
            value = self._expr(stmt.value)
        except BaseException:
            if earlier is not None:  # this step failed (its error is reported): the one before stays the buffer
                self.scope[stmt.name] = ("buffer", earlier, earlier.span)
            raise
        finally:
            self._building_buffer = None
        if earlier is not None:  # the step before this one is the buffer's value no more
            self.ir.graph.remove_node(earlier.node)
            self.ir.buffers.remove(earlier)
            del self.scope[stmt.name]
        if not isinstance(value, Tensor):
            raise self.error("E0113", f"buffer `{stmt.name}` must be a tensor", stmt.value.span,
                             help="e.g. `buffer causal = tril(ones([n, n])) == 0`")
        self._built_in_init(stmt.value.span, f"buffer `{stmt.name}`")
        self._made_in_init(first)
        leaf = self._add("buffer", [value.node], stmt.span, buffer=stmt.name)
        self.ir.graph.nodes[leaf]["name"] = stmt.name
        info = BufferInfo(stmt.name, leaf, value.node, tuple(self.guard), stmt.span, stmt.comments,
                          persistent=stmt.persistent, steps=() if earlier is None else earlier.steps + (earlier.value,))
        self._bind(stmt.name, "buffer", info, stmt.span)
        self.ir.buffers.append(info)

    def _made_in_init(self, first: int) -> None:
        """The nodes made since node `first` (a buffer's or a param's first value) are computed
        in __init__, from the arguments: never rendered in forward."""
        for created in [n for n in self.ir.graph.nodes if n >= first]:
            self.ir.graph.nodes[created]["phase"] = "init"

    def _earlier_step(self, stmt: ast.Buffer) -> BufferInfo | None:
        """`buffer t = t / (w - 1)` after `buffer t = ...`: a buffer built in steps (Swin-V2's
        coordinates table, scaled, then log-spaced), as `__init__` computes a local before it
        registers it. Within this statement `t` is the step before; nothing may have read it."""
        entry = self.scope.get(stmt.name)
        if entry is None or entry[0] != "buffer":
            return None
        info = entry[1]
        if info.guard != tuple(self.guard) or getattr(self, "_loop", None) is not None:
            raise self.error("E0103", f"buffer `{stmt.name}` is built in steps under the `if` of its first step only",
                             stmt.span, labels=[_label(info.span, "its first step")])
        readers = list(self.ir.graph.successors(info.node))
        if readers or stmt.persistent != info.persistent:
            read_at = sorted({self.ir.graph.nodes[r]["span"] for r in readers if self.ir.graph.nodes[r].get("span")},
                             key=lambda span: (span.line, span.column))
            raise self.error("E0103", f"buffer `{stmt.name}` is read before this step: a buffer built in steps is "
                             "read once it is whole" if readers else f"buffer `{stmt.name}` is persistent in one step "
                             "and not in another", stmt.span,
                             labels=[_label(info.span, "the step before")] + [_label(span, "read here")
                                                                             for span in read_at[:1]],
                             help=f"build what reads it after the last step of `{stmt.name}`, or name this step "
                                  "another buffer" if readers else None)
        self.scope[stmt.name] = ("buffer_step", Tensor(info.value), info.span)
        return info

    def _buffer_value(self, node: ast.Name, info: BufferInfo) -> Tensor:
        if not self._implied(info.guard):
            raise self.error("E0106", f"buffer `{node.id}` is declared under an `if` that does not enclose this use",
                             node.span, labels=[_label(info.span, "declared here")],
                             help="use it under the same condition as its declaration; a buffer that differs by "
                                  "an argument is one declaration with a choice: `buffer t = a if flag else b`")
        return Tensor(info.node)
