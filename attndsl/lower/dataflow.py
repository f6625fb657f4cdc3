"""Lowering of the dataflow statements: assignments, `return`, and compile-time `if` with its merges."""

from __future__ import annotations


from .. import syntax as ast
from ..diagnostics import Span
from ..ir import Cond, cannot_hold, complementary, negate
from ..symbolic import Expr
from .values import (Tensor, TensorList)


class DataflowLowering:
    def _stmt_Assign(self, stmt: ast.Assign) -> None:
        value = self._expr(stmt.value)
        names = stmt.targets
        if isinstance(value, list) and len(names) == 1:  # `outs = []`: a list a loop appends to
            return self._accumulator(names[0][0], names[0][1], value)
        if len(names) > 1:
            if not (isinstance(value, tuple) and len(value) == len(names)):
                count = len(value) if isinstance(value, tuple) else 1
                raise self.error("E0118", f"{len(names)} names on the left but the right side gives {count} value(s)",
                                 stmt.span)
            values = value
        else:
            if isinstance(value, tuple):
                raise self.error("E0118", f"the right side gives {len(value)} values; unpack them into as many names",
                                 stmt.span)
            values = (value,)
        for (name, span), item in zip(names, values):
            if isinstance(item, (Tensor, TensorList)):
                self._bind(name, "tensor", item, span)
                attrs = self.ir.graph.nodes[item.node]
                attrs.setdefault("var_names", []).append(name)
                chosen = attrs["op"] == "phi" and attrs["attrs"].get("inline") and attrs["name"] == "chosen"
                if (attrs["name"] is None or chosen) and attrs["op"] not in ("input",):
                    attrs["name"] = name  # (`y = a if flag else b` names the choice)
                if not attrs["comments"]:
                    attrs["comments"] = list(stmt.comments)
            elif isinstance(item, Expr):
                self._bind(name, "scalar", item, span)
            else:
                raise self.error("E0113", "only tensors and numbers can be assigned in the dataflow", stmt.value.span)

    def _stmt_Return(self, stmt: ast.Return) -> None:
        if self.guard:
            raise self.error("E0116", "`return` cannot be inside `if`; assign in both branches and return after",
                             stmt.span)
        outputs = []
        for value_node in stmt.values:
            value = self._expr(value_node)
            if not isinstance(value, Tensor):
                raise self.error("E0113", "a block returns tensors", value_node.span)
            outputs.append(value.node)
        if len(outputs) == 1 and not self.ir.graph.nodes[outputs[0]]["comments"]:
            self.ir.graph.nodes[outputs[0]]["comments"] = list(stmt.comments)
        self.ir.outputs = outputs
        self.ir.return_span = stmt.span
        self.returned = True

    def _stmt_If(self, stmt: ast.If) -> None:
        condition = self._condition(stmt.condition, allow_presence=True)
        if condition.op == "const":
            for inner in stmt.body if condition.args[0] else stmt.orelse:
                self._statement(inner)
            return
        before = dict(self.scope)
        self.guard.append(condition)
        try:
            self._suite(stmt.body)
        finally:
            self.guard.pop()
        after_then = self.scope
        self.scope = dict(before)
        self.guard.append(negate(condition))
        try:
            self._suite(stmt.orelse)
        finally:
            self.guard.pop()
        after_else = self.scope
        self.scope = dict(before)
        self._merge(before, after_then, after_else, condition, stmt.span)

    def _merge(self, before, after_then, after_else, condition: Cond, span: Span) -> None:
        for name in sorted(set(after_then) | set(after_else)):
            then_value, else_value = after_then.get(name), after_else.get(name)
            if then_value == else_value:
                if then_value is not None:
                    self.scope[name] = then_value
                continue
            if "poison" in (then_value or ("",))[0] + "|" + (else_value or ("",))[0]:
                self.scope[name] = ("poison", None, span)  # one branch failed: already reported
                continue
            joined = self._join_complement(then_value, else_value, condition, span)
            if joined is not None:
                joined_node = self.ir.graph.nodes[joined[1].node]
                joined_node["name"] = name
                self.scope[name] = joined
                continue
            if then_value is None or else_value is None:
                defined = then_value or else_value
                if defined[0] in ("param", "layer", "let"):
                    self.scope[name] = defined  # declarations keep their guard
                    continue
                if self._never_taken(negate(condition) if then_value is not None else condition):
                    # `require mode in ["avg", "max"]` then `if mode == "avg": ... elif mode == "max": ...`:
                    # the path that leaves the name undefined cannot happen.
                    self.scope[name] = defined
                    continue
                # Defined on one path only: using it later is an error (see _name), unless a
                # later `if` on the complement defines it too (_join_complement).
                where = condition if then_value is not None else negate(condition)
                self.scope[name] = ("branch_only", (condition, then_value is not None, defined[1], where), defined[2])
                continue
            if then_value[0] != "tensor" or else_value[0] != "tensor":
                self.scope[name] = then_value if then_value[0] in ("param", "layer", "let") else \
                    ("branch_only", (condition, True, then_value[1], condition), then_value[2])
                continue
            node = self.ir.add_node("phi", [then_value[1].node, else_value[1].node], span=span,
                                    guard=tuple(self.guard), condition=condition)
            self.ir.graph.nodes[node]["name"] = name
            self.scope[name] = ("tensor", Tensor(node), then_value[2])

    def _never_taken(self, branch: Cond) -> bool:
        """Whether the `require`s made so far rule out `branch` under the current guard."""
        requires = tuple(r.condition for r in self.ir.requires if all(c in self.guard for c in r.guard))
        return cannot_hold((*self.guard, branch, *requires))

    def _join_complement(self, then_value, else_value, condition: Cond, span: Span):
        """`if flag: y = a` then `if not flag: y = b`: the second `if` defines on one branch what
        the first defined exactly on the other, so `y` is defined after it (a tensor joined from
        both)."""
        for mine, other, holds in ((then_value, else_value, condition), (else_value, then_value, negate(condition))):
            if mine is None or other is None or mine[0] != "tensor" or other[0] != "branch_only":
                continue
            _, _, value, where = other[1]
            if isinstance(value, Tensor) and isinstance(mine[1], Tensor) and complementary(where, holds):
                branches = [mine[1].node, value.node] if holds == condition else [value.node, mine[1].node]
                node = self.ir.add_node("phi", branches, span=span, guard=tuple(self.guard), condition=condition)
                return ("tensor", Tensor(node), mine[2])
        return None
