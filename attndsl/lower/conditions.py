"""Lowering of conditions: what an `if`, a `require` or a choice `a if c else b` decides,
as a `Cond` over the arguments (and, in forward, the inputs' presence and the flags);
`all([... for k in X])` over a list argument or a range; a number `in` a list of numbers."""

from __future__ import annotations

from .. import syntax as ast
from ..evaluate import integral
from ..guards import Written
from ..ir import Cond, negate, reads_forward
from ..symbolic import Expr
from .helpers import _float_source
from .numbers import is_none
from .values import ListArg, Tensor


class ConditionLowering:
    _element = None  # inside `all([... for k in X])`: (X, "k")
    _deciding = 0  # inside a condition: a name shared by a bool argument and a param is the argument

    def _condition(self, node: ast.Node, allow_presence: bool = False) -> Cond:
        if allow_presence and isinstance(node, ast.Name) and self.scope.get(node.id, ("",))[0] == "input_opt":
            return Cond("present", (node.id,))
        if allow_presence and isinstance(node, ast.BoolOp) and any(
                isinstance(v, ast.Name) and self.scope.get(v.id, ("",))[0] == "input_opt" for v in node.values):
            # `if use and y:`: the optional input's presence is a part of the condition
            return Cond(node.op, tuple(self._condition(v, allow_presence=True) for v in node.values))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "all":
            comp = node.args[0] if len(node.args) == 1 else None
            if not isinstance(comp, ast.ListComp):
                raise self.error("E0113", "all() takes a list comprehension, e.g. all([k % 2 == 1 for k in kernels])",
                                 node.span)
            self._one_loop_var(comp, "a list of numbers")
            iterable = self._all_elements(comp.iterable)
            saved, outer_element = self.scope.get(comp.var), self._element
            self._check_loop_var(comp.var, comp.var_span)
            self.scope[comp.var] = ("loopvar", Expr.symbol(comp.var), comp.var_span)
            self._element = (iterable, comp.var)  # what evaluating the condition needs, it needs per element
            try:
                inner = self._condition(comp.element)
            finally:
                self._element = outer_element
                if saved is None:
                    self.scope.pop(comp.var, None)
                else:
                    self.scope[comp.var] = saved
            return Cond("all_elems", (iterable, comp.var, inner))
        if self._optional_number(node):
            return self._number_truth(node)  # `if qk_scale:`, as Python reads it: not None and not 0
        if isinstance(node, ast.Compare) and node.op in ("==", "!=") and self._optional_number(node.left) and \
                not self._implied((negate(is_none(node.left.id)),)):
            # `lr == 0.0` of `lr: float | None`: false where it is None, as in Python (and `!=` true)
            absent = is_none(node.left.id)
            self.guard.append(negate(absent))
            try:
                compared = self._condition(node)
            finally:
                self.guard.pop()
            return Cond("and", (negate(absent), compared)) if node.op == "==" else Cond("or", (absent, compared))
        self._deciding += 1
        try:
            value = self._expr(node)
        finally:
            self._deciding -= 1
        if isinstance(value, Cond):
            if not allow_presence and reads_forward(value):
                raise self.error("E0113", "a flag input is known in forward only: it decides an `if` of forward, "
                                 "not a `let` or a `require`", node.span,
                                 help="choose between tensors with `if` in forward")
            return value
        if isinstance(value, Tensor):
            # A mask holds a truth value per element: `if` and `require` decide once.
            raise self.error("E0113", "a tensor cannot decide an `if` or a `require`: a comparison of tensors is a "
                             "mask, true or false per element", node.span,
                             help="select with where(mask, a, b) or masked_fill(x, mask, value)")
        raise self.error("E0113", "a condition must be a comparison or a bool argument", node.span)

    def _exact_in_python(self, node: ast.Node, value: Expr) -> bool:
        """Whether Python computes this side of a comparison exactly, as the checker does:
        int arithmetic (no float constant, `/`, sqrt, float let, float argument), or a float
        argument alone (`p > 0`: Python compares a float and an int exactly)."""
        if isinstance(node, ast.Name) and node.id in self.float_symbols:
            return True
        floats = set(self.float_symbols) | self.float_lets()
        return _float_source(node, floats) is None and integral(value, floats)

    def _written_comparison(self, node: ast.Compare) -> Cond | None:
        """A comparison Python evaluates in floats, kept as written (guards.Written says why);
        one of constants is decided now, as Python decides it (`0.1 * 3 > 0.3` holds)."""
        from ..codegen.expressions import InternalError, source_expr
        from ..interpret.values import source_value

        names = tuple(dict.fromkeys(n.id for n in _values_named(node)))
        try:
            text = source_expr(node, lambda name: name)[0]
        except InternalError:
            return None  # not a number of the constructor's (left to the exact form)
        if not names:
            try:
                return Cond.const(bool(source_value(node, {})))
            except Exception:  # a Refusal, a ZeroDivisionError: Python decides it when built
                return None
        # the numbers it reads, by value (a sub-block's are substituted by its caller's); a
        # list argument (`len(ks)`) is read by its name
        values = {name: self._expr(ast.Name(node.span, name)) for name in names}
        values = {name: value for name, value in values.items() if isinstance(value, Expr)}
        return Cond("written", (Written(text, node, tuple(values)), *values.values()))

    def _all_elements(self, node: ast.Node):
        """What `all([... for k in X])` runs over: a list[int] argument (by its name), or
        `range(n)`, n a whole number the arguments give (the count, an Expr)."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
                and len(node.args) == 1 and not node.kwargs:
            count = self._expr(node.args[0])
            if isinstance(count, Expr) and not (count.symbols() & self.float_symbols):
                return count
        else:
            iterable = self._expr(node)
            if isinstance(iterable, ListArg):
                return iterable.name
        raise self.error("E0113", "all() loops over a list[int] argument or a `range(n)`", node.span,
                         help="e.g. all([k % 2 == 1 for k in kernels]) or all([c % (i + 1) == 0 for i in range(n)])")

    def _number_in(self, node: ast.Compare) -> Cond:
        """`stride in [1, 2]` (AugmentedConv's assert): equal to one of the numbers written out;
        `not in`: to none of them."""
        left = self._expr(node.left)
        if isinstance(left, Expr) and isinstance(node.right, (ast.ListExpr, ast.TupleExpr)) and node.right.items:
            items = [self._expr(item) for item in node.right.items]
            if all(isinstance(item, Expr) for item in items):
                tests = [compared_numbers("==" if node.op == "in" else "!=", left, item) for item in items]
                return tests[0] if len(tests) == 1 else Cond("or" if node.op == "in" else "and", tuple(tests))
        raise self.error("E0113", f"`{node.op}` tests a number in a list of numbers (`stride in [1, 2]`), a str "
                         "argument in a list of strings, or a string in a list[str] argument", node.span)


def _values_named(node: ast.Node) -> list[ast.Name]:
    """The names of values under `node`, in order: not a called function's (`sqrt`), nor `inf`."""
    if isinstance(node, ast.Name):
        return [] if node.id == "inf" else [node]
    found = []
    for child in ast.children(node):
        if not (isinstance(node, ast.Call) and child is node.func):
            found += _values_named(child)
    return found


def compared_numbers(op: str, left: Expr, right: Expr) -> Cond:
    """`left op right` on numbers: decided now where both are constants."""
    if left.is_const and right.is_const:
        result = {"==": left.value == right.value, "!=": left.value != right.value, "<": left.value < right.value,
                  "<=": left.value <= right.value, ">": left.value > right.value, ">=": left.value >= right.value}
        return Cond.const(result[op])
    return Cond("cmp", (op, left, right))
