"""Lowering of the dataflow statements: assignments, `return`, and compile-time `if` with its merges."""

from __future__ import annotations


from dataclasses import dataclass

from .. import syntax as ast
from ..diagnostics import Span
from ..ir import Cond, cannot_hold, complementary, guard_includes, negate
from ..symbolic import Expr
from ..spec_expr import expr as spec_expr
from .values import (Tensor, TensorList)

# Names whose declaration keeps its own guard (a use checks it against the use's guard),
# rather than becoming a value defined on one branch only.
_DECLARATIONS = ("param", "layer", "let", "buffer")


@dataclass(frozen=True)
class BranchOnly:
    """A name assigned on some paths only: its value, and the whole guard under which it is
    assigned. A use where that guard holds may read it (`if flag: y = ...` then a later
    `if flag: z = y`); any other use is an error (attndsl/lower/expressions.py)."""

    kind: str
    value: object
    guard: tuple


class DataflowLowering:
    def _stmt_Assign(self, stmt: ast.Assign) -> None:
        names = stmt.targets
        self.unpacked = (stmt.value, len(names))  # `q, k = unbind(qk)`: the call gives as many as named
        try:
            value = self._expr(stmt.value)
        finally:
            self.unpacked = None
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
            if name == "_" and len(names) > 1:  # `_, index = topk(...)`: a result left unused, as in Python
                continue
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
            if isinstance(value_node, ast.TupleExpr):  # `return (x,)`: Python's 1-tuple
                raise self.error("E0113", "a block returns its tensors, not a tuple of one", value_node.span,
                                 help="`return x` gives the tensor; a caller that indexes `outputs[0]` would take "
                                 "its first row")
            value = self._expr(value_node)
            if isinstance(value, tuple) and value and all(isinstance(v, Tensor) for v in value):
                outputs += [v.node for v in value]  # `return inner(x)` of a block that returns two: both
                continue
            if not isinstance(value, Tensor):
                raise self.error("E0113", "a block returns tensors", value_node.span)
            outputs.append(value.node)
        # above the `return` line (not on its value, which may be a name computed lines before)
        self.ir.return_comments = list(stmt.comments)
        self.ir.outputs = outputs
        self.ir.return_span = stmt.span
        self.returned = True

    def _warn_never_runs(self, condition: ast.Node, value: bool, skipped: Span) -> None:
        """A branch an `if` rules out when the spec is compiled is neither built nor checked:
        a typo there would pass unseen. (Not where it tests an argument: a rank argument's
        `if dimension == 3:` is decided for each rank the block is built at.)"""
        if ast.names_in(condition):
            return
        text = spec_expr(condition)
        why = f"the condition is `{text}`" if text in ("true", "false") else \
            f"`{text}` is always {'true' if value else 'false'}"
        self.sink.warning("W0010", f"this branch never runs ({why}), so it is not checked", skipped,
                          help="remove the branch, or test an argument or input")

    def _stmt_If(self, stmt: ast.If) -> None:
        condition = self._condition(stmt.condition, allow_presence=True)
        if condition.op == "const":
            skipped = stmt.orelse if condition.args[0] else stmt.body
            if skipped:
                self._warn_never_runs(stmt.condition, condition.args[0], skipped[0].span)
            for inner in stmt.body if condition.args[0] else stmt.orelse:
                self._statement(inner)
            return
        self.ir.if_comments.setdefault(condition, []).extend(stmt.comments)  # above the generated `if`
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
                if defined[0] in _DECLARATIONS:
                    self.scope[name] = defined  # declarations keep their guard
                    continue
                where = condition if then_value is not None else negate(condition)
                if self._implied((where,)):
                    # `require mode in ["avg", "max"]` then `if mode == "avg": ... elif mode == "max": ...`:
                    # the path that leaves the name undefined cannot happen.
                    self.scope[name] = defined
                    continue
                # Defined on one path only: a later use must be on that path (see _name), unless
                # a later `if` on the complement defines it too (_join_complement).
                self.scope[name] = self._branch_only(defined, where)
                continue
            if then_value[0] != "tensor" or else_value[0] != "tensor":
                self.scope[name] = then_value if then_value[0] in _DECLARATIONS else \
                    self._branch_only(then_value, condition)
                continue
            node = self.ir.add_node("phi", [then_value[1].node, else_value[1].node], span=span,
                                    guard=tuple(self.guard), condition=condition)
            self.ir.graph.nodes[node]["name"] = name
            self.scope[name] = ("tensor", Tensor(node), then_value[2])

    def _branch_only(self, entry: tuple, where: Cond) -> tuple:
        kind, value, span = entry
        if kind == "branch_only":  # assigned under an inner `if`: its guard says more already
            return entry
        return ("branch_only", BranchOnly(kind, value, (*self.guard, where)), span)

    def _implied(self, conditions) -> bool:
        """Whether every condition holds wherever the statement being lowered runs: the
        enclosing `if`s say so (however spelled), or, with the `require`s made so far, no
        arguments make one of them false (`require not qk_norm or norm_layer is not None` makes
        `norm_layer` given under `if qk_norm:`). `__init__` checks the requires first."""
        guard = tuple(self.guard)
        if all(guard_includes(guard, c) for c in conditions):
            return True
        requires = tuple(r.condition for r in self.ir.requires if all(c in guard for c in r.guard))
        if not requires and not guard:
            return False
        needed = conditions[0] if len(conditions) == 1 else Cond("and", tuple(conditions))
        return cannot_hold((*guard, *requires, negate(needed)))

    def _join_complement(self, then_value, else_value, condition: Cond, span: Span):
        """`if flag: y = a` then `if not flag: y = b`: the second `if` defines on one branch what
        the first defined exactly on the other, so `y` is defined after it (a tensor joined from
        both)."""
        for mine, other, holds in ((then_value, else_value, condition), (else_value, then_value, negate(condition))):
            if mine is None or other is None or mine[0] != "tensor" or other[0] != "branch_only":
                continue
            value, guard = other[1].value, other[1].guard
            where = guard[-1] if guard[:-1] == tuple(self.guard) else None
            if (isinstance(value, Tensor) and isinstance(mine[1], Tensor) and where is not None
                    and complementary(where, holds)):
                branches = [mine[1].node, value.node] if holds == condition else [value.node, mine[1].node]
                node = self.ir.add_node("phi", branches, span=span, guard=tuple(self.guard), condition=condition)
                return ("tensor", Tensor(node), mine[2])
        return None
