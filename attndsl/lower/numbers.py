"""Lowering of what the constructor computes with numbers beyond arithmetic:

- functions of numbers: `int`, `round`, `ceil`, `floor`, `abs`, `log`, `log2` (ECA's
  kernel size `int(abs(log2(c) + b) / gamma)`), kept in the canonical form as atoms;
- conditional values, `let k = t if t % 2 == 1 else t + 1`: one `let` per branch, each
  under its condition (exactly as an `if`/`else` of two lets), rendered as written;
- optional arguments, `inter_channels: int | None = None`, tested with `is None` /
  `is not None`, and usable as a number only where such a test says it is one;
- the values of a constant tensor, `tensor([0, 6, 1])` (FcaNet's frequency tables): a
  list of numbers, nested for a matrix, or a `list[int]` argument.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .. import syntax as ast
from ..evaluate import INTEGER_ATOMS, LARGEST_EXP, integral
from ..ir import Cond, LetInfo, negate
from ..spec_expr import expr as spec_expr
from ..symbolic import Atom, Expr
from .helpers import _float_source, _label, _symbols_of
from .values import ListArg, Literal, Tensor

# name in specs -> atom of the canonical form; the atom renders as the Python that computes it
NUMBER_FUNCTIONS = {"int": "int", "round": "round", "ceil": "math.ceil", "floor": "math.floor", "abs": "abs",
                    "log": "math.log", "log2": "math.log2", "exp": "math.exp"}
# exp's argument is checked to be at most this, exactly where math.exp overflows (a power of two
# scales it in the rendered check: the comparison is exact for an int and a float alike)
EXP_LIMIT = Expr.const(Fraction(LARGEST_EXP))
_EXACT = {"int": math.trunc, "round": round, "math.ceil": math.ceil, "math.floor": math.floor, "abs": abs}


def is_none(name: str) -> Cond:
    return Cond("is_none", (name,))


def float_symbols_outside_integers(expr: Expr, floats: set[str]) -> set[str]:
    """The float arguments `expr` depends on, except inside int()/round()/ceil()/floor()."""
    found: set[str] = set()
    for monomial in expr.terms:
        for factor, _ in monomial:
            if isinstance(factor, str):
                found |= {factor} & floats
            elif factor.op not in INTEGER_ATOMS:
                for arg in factor.args:
                    found |= float_symbols_outside_integers(arg, floats)
    return found


def number_function(name: str, value: Expr, exact: bool) -> Expr:
    """`name(value)`, folded when `value` is a constant computed exactly (in Python, from
    ints: a float computation may round across a whole number, as 0.29 * 100 does)."""
    atom = NUMBER_FUNCTIONS[name]
    if value.is_const and exact:
        constant = value.value
        if atom in _EXACT:
            return Expr.const(Fraction(_EXACT[atom](constant)))
        if atom == "math.exp":  # exp(0) is the only whole exp of a rational number
            return Expr.const(1) if constant == 0 else Expr({((Atom(atom, (value,)), 1),): Fraction(1)})
        exponent = _exact_log2(constant) if atom == "math.log2" else 0 if constant == 1 else None
        if exponent is not None:
            return Expr.const(exponent)
    return Expr({((Atom(atom, (value,)), 1),): Fraction(1)})


def _divided_exactly(node: ast.Node, value: Expr) -> bool:
    """One true division of two whole numbers made by `+ - * // %` (`ceil(19 / 2)`): Python
    rounds the quotient of two ints to the nearest float, and a quotient of numbers this
    small that is not whole lies further from every whole number than that rounding goes,
    so ceil() and the like of the float are those of the exact value, and fold."""
    if isinstance(node, ast.UnaryOp) and node.op == "-":
        return _divided_exactly(node.operand, -value)
    if not (isinstance(node, ast.BinOp) and node.op == "/" and value.is_const):
        return False

    def whole(part) -> bool:  # Python's exact int arithmetic
        if isinstance(part, ast.Number):
            return part.is_int
        if isinstance(part, ast.UnaryOp):
            return part.op == "-" and whole(part.operand)
        if isinstance(part, ast.BinOp):
            return part.op in ("+", "-", "*", "//", "%") and whole(part.left) and whole(part.right)
        return False

    small = max(abs(value.value.numerator), value.value.denominator) < 2**26
    return small and whole(node.left) and whole(node.right)


def _dims(row) -> tuple[int, ...]:
    """The shape of a row of tensor()'s values (() for a number)."""
    return (len(row), *_dims(row[0])) if isinstance(row, tuple) else ()


def _exact_log2(value: Fraction) -> int | None:
    for number, sign in ((value.numerator, 1), (value.denominator, -1)):
        if number & (number - 1):  # not a power of two
            return None
    return value.numerator.bit_length() - value.denominator.bit_length()


class NumberLowering:
    # ------------------------------------------------------------------ lists of numbers
    def _tensor_values(self, node: ast.Node, value) -> tuple:
        """`tensor(values)`: (the values, as nested tuples of numbers, or the name of the
        `list[int]` argument; whether the tensor is floating point). A rectangular list, nested
        once per dimension, of numbers; floating point where any number is a Python float as
        written (`0.5`, a float argument), else int64, as torch.tensor does."""
        if isinstance(value, ListArg):
            return value.name, False
        if not isinstance(node, (ast.ListExpr, ast.TupleExpr)) or not isinstance(value, (list, tuple)):
            raise self.error("E0113", "tensor() takes a list of numbers, or a list[int] argument", node.span,
                             help="e.g. tensor([0, 6, 1]), tensor([[1, 0], [0, 1]]) or tensor(kernels)")
        floating = False

        def walk(items: list, nodes: list):
            nonlocal floating
            if not items:
                raise self.error("E0113", "tensor() takes at least one number per list", node.span)
            nested = [isinstance(child, (ast.ListExpr, ast.TupleExpr)) for child in nodes]
            if any(nested) and not all(nested):
                raise self.error("E0113", "tensor()'s list mixes numbers and lists", node.span,
                                 help="each row of a matrix is a list: tensor([[1, 0], [0, 1]])")
            if all(nested):
                rows = [walk(list(item), list(child.items)) for item, child in zip(items, nodes)]
                if len({_dims(row) for row in rows}) != 1:
                    raise self.error("E0113", "tensor()'s rows differ in length: a tensor is rectangular",
                                     node.span)
                return tuple(rows)
            for item, child in zip(items, nodes):
                if not isinstance(item, (Expr, Literal)):
                    raise self.error("E0113", "an entry of tensor() must be a number", child.span,
                                     help="a constant, an argument, a `let` or a size")
                floating = floating or isinstance(item, Literal) or self._python_float(child, item)[0]
            return tuple(items)

        return walk(list(value), list(node.items)), floating

    # ------------------------------------------------------------------ functions of numbers
    def _number_function(self, name: str, node: ast.Call, values: list) -> Expr:
        if node.kwargs or len(values) != 1 or not isinstance(values[0], Expr):
            raise self.error("E0112", f"{name}() on numbers takes one number", node.span)
        value = values[0]
        if name in ("log", "log2"):
            self._note_precondition("positive", value, node.args[0].span)
        if name == "exp":  # math.exp raises OverflowError past a float's range: refused, as a ValueError
            self._note_precondition("exp_range", EXP_LIMIT - value, node.args[0].span,
                                    f"{spec_expr(node.args[0])} must be at most {float(EXP_LIMIT.value)!r} "
                                    "(its exponential must fit in a float)")
        exact = _float_source(node.args[0]) is None or _divided_exactly(node.args[0], value)
        return number_function(name, value, exact=exact)

    def _power(self, node: ast.BinOp, left: Expr, right: Expr) -> Expr:
        """`d ** -0.5`, `x ** 3`, `x ** 1.5`, `d ** -0.25` (Performer's normaliser): whole, half
        and quarter constant exponents, as square roots."""
        from .. import symbolic as sym

        if not right.is_const and not right.symbols() & (self.float_lets() | set(self.float_symbols)):
            return self._whole_power(node, left, right)
        quadrupled = 4 * right.value if right.is_const else None
        if quadrupled is None or quadrupled.denominator != 1 or abs(quadrupled) > 256:
            raise self.error("E0119", "`**` takes a constant exponent, a whole number, half or quarter (`0.5`, `-0.5`, "
                             "`1.5`, `-0.25`), at most 64 in size, or a whole number >= 0 the arguments give "
                             "(`2 ** floor(log2(heads))`)", node.right.span)
        quarters = int(quadrupled)
        base, power = left, quarters // 4
        if quarters % 4:
            self._note_precondition("nonnegative", left, node.left.span)
            base, power = sym.sqrt(left), quarters // 2
            if quarters % 2:
                base, power = sym.sqrt(base), quarters
        if power < 0:
            self._note_precondition("nonzero", left, node.left.span)
            if not base.is_monomial:
                return sym.truediv(Expr.const(1), base ** -power)
        return base ** power

    def _whole_power(self, node: ast.BinOp, base: Expr, exponent: Expr) -> Expr:
        """`2 ** floor(log2(heads))` (ALiBi's slopes): an exponent computed from the arguments,
        a whole number, at least 0 (checked when the module is built); an opaque number to
        the checker, which Python computes as the spec writes it."""
        self._require_whole(node.right, exponent, "an exponent")
        # A negative one would make Python's power a float (`10 ** -2` is 0.01), which the
        # checker, counting it a whole number (a size may be one), does not follow.
        self._note_precondition("not_negative", exponent, node.right.span,
                                what=f"the exponent {spec_expr(node.right)} must not be negative (an exponent "
                                     "computed from the arguments is a whole number >= 0)")
        from .. import symbolic as sym

        return sym.power(base, exponent)

    # ------------------------------------------------------------------ conditional values
    def _expr_IfExp(self, node: ast.IfExp):
        condition = self._condition(node.condition, allow_presence=True)
        if condition.op == "const":
            skipped = node.orelse if condition.args[0] else node.body
            self._warn_never_runs(node.condition, condition.args[0], skipped.span)
            return self._expr(node.body if condition.args[0] else node.orelse)
        # Tensors: each branch computed only where its condition holds, joined as an `if` joins.
        outer = list(self.guard)
        branches = []
        for branch, holds in ((node.body, condition), (node.orelse, negate(condition))):
            self.guard[:] = outer + [holds]
            try:
                value = self._expr(branch)
            finally:
                self.guard[:] = outer
            if not isinstance(value, Tensor):
                if branches or not isinstance(value, Expr):
                    raise self.error("E0113", "both values of `a if c else b` in the dataflow are tensors",
                                     branch.span)
                loop = self._element is not None and self._element[1] in ast.names_in(node.condition)
                raise self.error("E0113", "a number chosen by a condition is written in a `let`", node.span,
                                 help="a `let` cannot read the loop variable: write the choice as arithmetic, e.g. "
                                 "`(i % 2) * (ws // 2)` for `0 if i % 2 == 0 else ws // 2`" if loop else
                                 "e.g. `let k = t if t % 2 == 1 else t + 1`, then use `k`")
            branches.append(value.node)
        phi = self.ir.add_node("phi", branches, span=node.span, guard=tuple(outer), condition=condition, inline=True)
        self.ir.graph.nodes[phi]["name"] = "chosen"  # until an assignment names it
        return Tensor(phi)

    def _let_branches(self, value: ast.Node, guard: tuple) -> list[tuple[tuple, Expr]]:
        """The (guard, value) of each branch of a nested conditional value, in order; a choice
        inside a call or an operation (`max(t if t % 2 == 1 else t + 1, 3)`) splits the value
        into one per side, each with the choice replaced by that side."""
        inner = None if isinstance(value, ast.IfExp) or _is_or(value) else _first_choice(value)
        if isinstance(inner, ast.IfExp):
            value = ast.IfExp(inner.span, inner.condition, ast.replaced(value, inner, inner.body),
                              ast.replaced(value, inner, inner.orelse))
        chosen = value if _is_or(value) else inner
        if _is_or(chosen):  # `qk_scale or head_dim ** -0.5`: the first value where it is true, else the rest
            first, rest = chosen.values[0], chosen.values[1:]
            rest = rest[0] if len(rest) == 1 else ast.BoolOp(chosen.span, "or", rest)
            self.guard[:] = list(guard)
            truth = self._number_truth(first)
            if truth is not None:
                if truth.op == "const":
                    return self._let_branches(ast.replaced(value, chosen, first if truth.args[0] else rest), guard)
                return self._let_branches(ast.replaced(value, chosen, first), guard + (truth,)) + \
                    self._let_branches(ast.replaced(value, chosen, rest), guard + (negate(truth),))
        if not isinstance(value, ast.IfExp):
            self.guard[:] = list(guard)
            result = self._expr(value)
            if not isinstance(result, Expr):
                raise self.error("E0113", "`let` binds a number computed from the arguments", value.span)
            return [(guard, result)]
        self.guard[:] = list(guard)
        condition = self._condition(value.condition)
        if condition.op == "const":
            return self._let_branches(value.body if condition.args[0] else value.orelse, guard)
        return self._let_branches(value.body, guard + (condition,)) + \
            self._let_branches(value.orelse, guard + (negate(condition),))

    def _optional_number(self, node: ast.Node) -> bool:
        """Whether `node` names an argument `x: int | None` or `x: float | None`."""
        return isinstance(node, ast.Name) and node.id in self.optional_args \
            and self.scope.get(node.id, ("",))[0] == "arg" \
            and any(a.name == node.id and a.type in ("int", "float") for a in self.ir.args)

    def _number_truth(self, node: ast.Node) -> Cond | None:
        """Python's truth of a number, as `or` reads it: not None (an optional argument) and not
        0 (`qk_scale or head_dim ** -0.5`, timm's and Swin's default scale); None where `node`
        is no number (a condition: `let` then says it binds a number)."""
        given = (negate(is_none(node.id)),) if self._optional_number(node) else ()
        outer = list(self.guard)
        self.guard += list(given)
        try:
            value = self._expr(node)
        finally:
            self.guard[:] = outer
        if not isinstance(value, Expr):
            return None
        nonzero = Cond.const(value.value != 0) if value.is_const else Cond("cmp", ("!=", value, Expr.const(0)))
        return Cond("and", given + (nonzero,)) if given else nonzero

    def _let_conditional(self, stmt: ast.Let) -> None:
        outer = list(self.guard)
        try:
            branches = self._let_branches(stmt.value, tuple(outer))
        finally:
            self.guard[:] = outer
        read = sorted(_symbols_of([value for _, value in branches] + [stmt.value]) & self._input_sizes())
        if read:  # the language's lets of input sizes are one expression each (README: what it cannot do)
            raise self.error("E0113", f"a `let` of input sizes is one expression: a choice (`a if c else b`, `a or b`) "
                             f"with `{read[0]}`, the size of an input, is not in the language", stmt.value.span,
                             help="choose between tensors instead (`y = x[:, :k] if k is not None else x`), or "
                                  "declare the size with the input the choice is about")
        for guard, value in branches:
            self._built_in_init(stmt.value.span, "a `let`", value, stmt.value)
        self._bind(stmt.name, "let", Expr.symbol(stmt.name), stmt.span)
        for guard, value in branches:
            # Each branch keeps the whole conditional as its source: it is rendered (and
            # interpreted) once, as written; the checker sees one value per branch.
            self.ir.lets.append(LetInfo(stmt.name, value, stmt.span, guard, stmt.value))

    # ------------------------------------------------------------------ optional arguments
    def _none_test(self, node: ast.Compare) -> Cond:
        subject = node.left
        entry = self.scope.get(subject.id) if isinstance(subject, ast.Name) else None
        if entry is not None and entry[0] == "input_opt":
            present = Cond("present", (subject.id,))
            return present if node.op == "is not" else negate(present)
        if entry is None or entry[0] != "arg" or subject.id not in self.optional_args:
            raise self.error("E0113", "`is None` tests an optional argument (`x: int | None = None`) or an "
                             "optional input", subject.span)
        test = is_none(subject.id)
        return test if node.op == "is" else negate(test)

    def _check_not_none(self, node: ast.Name) -> None:
        """An optional argument is a number only where a test says it is not None."""
        if node.id in self.optional_args and not self._implied((negate(is_none(node.id)),)):
            raise self.error("E0106", f"argument `{node.id}` may be None here", node.span,
                             labels=[_label(self.scope[node.id][2], "declared optional here")],
                             help=f"choose a value for None: `let {node.id}_ = {node.id} if {node.id} is not None "
                             f"else ...`, or use it under `if {node.id} is not None:`")

    def _python_float(self, node: ast.Node, value: Expr) -> tuple[bool, bool]:
        """(float, folded): whether the number is a Python float as the spec writes it, which
        turns an integer tensor it meets into float (`index * 0.5`): a float as written (`2.0`,
        `/`, `** 0.5`), a float argument, or a `let` that is a float; and whether, so, its
        canonical form still renders as a Python int (`4 / 2` folds to 2) and needs `2.0`."""
        floats = set(self.float_symbols) | self.float_lets()
        for let in self.ir.lets:  # in order: a let reads earlier ones
            if not integral(let.value, floats):
                floats.add(let.name)
        renders_int = integral(value, floats)
        floating = _float_source(node) is not None or not renders_int
        return floating, floating and renders_int

    def float_lets(self) -> set[str]:
        """The lets whose definition, as written, is a float in Python (`let m = max(5., c)`),
        directly or through an earlier such let: their value may be whole, but Python keeps
        the float."""
        floats: set[str] = set()
        for let in self.ir.lets:  # in order: a let reads earlier ones
            if let.source is not None and _float_source(let.source, floats) is not None:
                floats.add(let.name)
        # A `let` of input sizes is computed in forward as written: `n / 2`, like `sqrt(n)`, is a
        # float there (2.5 for n = 5, not the 2 of an int form), which no size may be.
        for name, source in self.forward_let_asts.items():
            if _float_source(source, floats) is not None:
                floats.add(name)
        return floats

    def _let_expansions(self, value: Expr, limit: int = 16) -> list[Expr]:
        """`value` with its lets replaced by their definitions: one expansion per combination
        of the branches of conditional lets (at most `limit`)."""
        from .. import symbolic as sym

        definitions: dict[str, list[Expr]] = {}
        for let in self.ir.lets:
            definitions.setdefault(let.name, []).append(let.value)
        pending, done = [value], []
        for _ in range(8 * limit):
            if not pending:
                break
            expr = pending.pop()
            names = sorted(expr.symbols() & set(definitions))
            if not names:
                done.append(expr)
                continue
            for branch in definitions[names[0]][:limit]:
                if len(pending) < limit:
                    try:
                        pending.append(sym.substitute(expr, {names[0]: branch}))
                    except ZeroDivisionError:
                        pass  # `dim // factor` with `let factor = 0`: the shape checker reports it (E0203)
        return done + pending


def is_choice(node: ast.Node) -> bool:
    """Whether a `let`'s value chooses: `a if c else b` or `a or b`, itself or inside it."""
    return isinstance(node, ast.IfExp) or _is_or(node) or _first_choice(node) is not None


def _is_or(node) -> bool:
    """`a or b` where a `let` computes a number: the first of its values that is true."""
    return isinstance(node, ast.BoolOp) and node.op == "or"


def _first_choice(node) -> ast.IfExp | ast.BoolOp | None:
    """The first `a if c else b` or `a or b` inside an expression (in reading order), or None
    (a condition is never read: the choice of an `if` is found before its condition)."""
    for child in ast.children(node):
        if isinstance(child, ast.IfExp) or _is_or(child):
            return child
        found = _first_choice(child)
        if found is not None:
            return found
    return None
