"""Property tests of `attndsl.symbolic` against sympy and against Python arithmetic.

The module's contract: two expressions are equal exactly when their canonical forms are
equal (so `==`, `hash` and `str` must not depend on how an expression was built), the
operations fold constants with Python's integer semantics, and `render` is faithful.

Expressions are generated as small trees and built twice: as `Expr` and as sympy
expressions (sympy is imported here only, never on the compile path).  Opaque atoms
(`//`, `%`, `max`, `min`) become uninterpreted sympy functions, so sympy checks the
polynomial part while the atoms' own folding is checked against Python semantics.

Each property runs ~200 examples; set ATTNDSL_FUZZ_EXAMPLES (e.g. 5000) for a long run.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction

import pytest
import sympy
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from attndsl import symbolic as sym
from attndsl.symbolic import Expr, Facts

EXAMPLES = int(os.environ.get("ATTNDSL_FUZZ_EXAMPLES") or 200)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("ATTNDSL_FUZZ_RANDOM"),  # reproducible in CI; set it for new examples
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

SYMS = ("b", "c", "h", "w", "g")
S = {name: sympy.Symbol(name) for name in SYMS}
OPAQUE = {op: sympy.Function(op.upper()) for op in ("floordiv", "max", "min")}
FROM_SYMPY_OPS = {"FLOORDIV": sym.floordiv, "MAX": sym.maximum, "MIN": sym.minimum}


def ident(name: str) -> str:
    return name


# ---------------------------------------------------------------------------- trees
# ("sym", name) | ("const", int) | (op, left, right) for op in add/sub/mul and the
# atoms floordiv/mod/max/min | ("div", tree, monomial) | ("pow", tree, 0..3), where a
# monomial is (nonzero int coefficient, ((symbol, exponent 1..2), ...)).

leaves = st.one_of(
    st.sampled_from(SYMS).map(lambda s: ("sym", s)),
    st.integers(-3, 5).map(lambda v: ("const", v)),
)


def monomials(coefficients=(1, 2, 3, -1, -2, 4, 6)):
    return st.tuples(
        st.sampled_from(coefficients),
        st.lists(st.tuples(st.sampled_from(SYMS), st.integers(1, 2)), max_size=2).map(tuple),
    )


def trees(*, atoms: bool = False, max_leaves: int = 8, coefficients=(1, 2, 3, -1, -2, 4, 6), divide: bool = True):
    mono = monomials(coefficients)

    def flat(children):
        options = [st.tuples(st.sampled_from(["add", "sub", "mul"]), children, children)]
        if divide:
            options.append(st.tuples(st.just("div"), children, mono))
        if atoms:
            options.append(st.tuples(st.sampled_from(["floordiv", "mod", "max", "min"]), children, children))
        return st.one_of(options)

    small = st.recursive(leaves, flat, max_leaves=3)  # powers of small trees: degrees stay low

    def extend(children):
        return st.one_of(flat(children), st.tuples(st.just("pow"), small, st.integers(0, 3)))

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def mono_expr(mono) -> Expr:
    coefficient, factors = mono
    result = Expr.const(coefficient)
    for name, exponent in factors:
        result = result * Expr.symbol(name) ** exponent
    return result


def mono_sympy(mono):
    coefficient, factors = mono
    result = sympy.Integer(coefficient)
    for name, exponent in factors:
        result = result * S[name] ** exponent
    return result


def to_expr(t) -> Expr:
    kind = t[0]
    if kind == "sym":
        return Expr.symbol(t[1])
    if kind == "const":
        return Expr.const(t[1])
    if kind == "div":
        return to_expr(t[1]).exact_div(mono_expr(t[2]))
    if kind == "pow":
        return to_expr(t[1]) ** t[2]
    a, b = to_expr(t[1]), to_expr(t[2])
    return {
        "add": lambda: a + b,
        "sub": lambda: a - b,
        "mul": lambda: a * b,
        "floordiv": lambda: sym.floordiv(a, b),
        "mod": lambda: sym.mod(a, b),
        "max": lambda: sym.maximum(a, b),
        "min": lambda: sym.minimum(a, b),
    }[kind]()


def build(t) -> Expr:
    """to_expr, rejecting trees that divide by a constant zero while being built."""
    try:
        return to_expr(t)
    except ZeroDivisionError:
        assume(False)


def to_sympy(t):
    kind = t[0]
    if kind == "sym":
        return S[t[1]]
    if kind == "const":
        return sympy.Integer(t[1])
    if kind == "div":
        return to_sympy(t[1]) / mono_sympy(t[2])
    if kind == "pow":
        return to_sympy(t[1]) ** t[2]
    a, b = to_sympy(t[1]), to_sympy(t[2])
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    if kind == "mod":
        return a - b * OPAQUE["floordiv"](a, b)
    return OPAQUE[kind](a, b)


def from_sympy(e) -> Expr:
    """Canonicalise a sympy expression through sympy's own expansion, term by term."""
    e = sympy.expand(e)
    result = Expr.const(0)
    for term in sympy.Add.make_args(e):
        coefficient, rest = term.as_coeff_Mul()
        assert coefficient.is_Rational, term
        value = Expr.const(Fraction(int(coefficient.p), int(coefficient.q)))
        for factor in sympy.Mul.make_args(rest):
            if factor == 1:
                continue
            base, exponent = factor.as_base_exp()
            assert exponent.is_Integer, factor
            if base.is_Symbol:
                base_expr = Expr.symbol(base.name)
            else:
                base_expr = FROM_SYMPY_OPS[type(base).__name__](*(from_sympy(a) for a in base.args))
            exponent = int(exponent)
            value = value * base_expr**exponent if exponent > 0 else value.exact_div(base_expr**-exponent)
        result = result + value
    return result


def ref_eval(t, values) -> Fraction:
    """The tree's value with Python semantics (floor division), in exact rationals."""
    kind = t[0]
    if kind == "sym":
        return Fraction(values[t[1]])
    if kind == "const":
        return Fraction(t[1])
    if kind == "div":
        coefficient, factors = t[2]
        divisor = Fraction(coefficient)
        for name, exponent in factors:
            divisor *= Fraction(values[name]) ** exponent
        return ref_eval(t[1], values) / divisor
    if kind == "pow":
        return ref_eval(t[1], values) ** t[2]
    a, b = ref_eval(t[1], values), ref_eval(t[2], values)
    return {
        "add": lambda: a + b,
        "sub": lambda: a - b,
        "mul": lambda: a * b,
        "floordiv": lambda: Fraction(a // b),
        "mod": lambda: a % b,
        "max": lambda: max(a, b),
        "min": lambda: min(a, b),
    }[kind]()


def reference(t, values) -> Fraction:
    try:
        return ref_eval(t, values)
    except ZeroDivisionError:
        assume(False)


def has_atoms(t) -> bool:
    kind = t[0]
    if kind in ("floordiv", "mod", "max", "min"):
        return True
    if kind in ("sym", "const"):
        return False
    if kind in ("div", "pow"):
        return has_atoms(t[1])
    return has_atoms(t[1]) or has_atoms(t[2])


def tree_atom_args_integral(t, values) -> bool:
    """Every argument of every `//`, `%`, max, min in the tree has an integer value."""
    kind = t[0]
    if kind in ("sym", "const"):
        return True
    if kind in ("div", "pow"):
        return tree_atom_args_integral(t[1], values)
    if kind in ("floordiv", "mod", "max", "min"):
        if any(ref_eval(child, values).denominator != 1 for child in t[1:]):
            return False
    return tree_atom_args_integral(t[1], values) and tree_atom_args_integral(t[2], values)


def atoms_of(expr: Expr):
    for monomial in expr.terms:
        for factor, _ in monomial:
            if isinstance(factor, sym.Atom):
                yield factor
                for arg in factor.args:
                    yield from atoms_of(arg)


def atom_args_integral(expr: Expr, values) -> bool:
    for atom in atoms_of(expr):
        for arg in atom.args:
            try:
                if sym.evaluate(arg, values).denominator != 1:
                    return False
            except (ZeroDivisionError, ValueError):
                return False
    return True


values_st = st.fixed_dictionaries({name: st.integers(1, 12) for name in SYMS})
small_values_st = st.fixed_dictionaries({name: st.integers(1, 4) for name in SYMS})


def same_form(a: Expr, b: Expr) -> None:
    assert a == b, (str(a), str(b))
    assert hash(a) == hash(b)
    assert str(a) == str(b)
    assert sym.render(a, ident) == sym.render(b, ident)


# ---------------------------------------------------------------------------- 1. canonical form


@FUZZ
@given(trees(atoms=True))
@example(("add", ("sym", "c"), ("pow", ("sym", "c"), 2)))  # str once depended on term order
@example(("mul", ("floordiv", ("add", ("sym", "c"), ("pow", ("sym", "c"), 2)), ("sym", "h")),
          ("floordiv", ("add", ("sym", "c"), ("sym", "h")), ("sym", "h"))))
def test_canonical_form_matches_sympy_expansion(t):
    """Building directly and building from sympy's expansion give one canonical form."""
    expr = build(t)
    same_form(expr, from_sympy(to_sympy(t)))


@FUZZ
@given(trees(max_leaves=4), trees(max_leaves=4), st.booleans(), st.data())
def test_equality_agrees_with_sympy(t1, t2, rebuild, data):
    if rebuild:  # half the pairs are equal by construction
        t2 = scramble(t1, data.draw)
    a, b = to_expr(t1), to_expr(t2)
    difference = to_sympy(t1) - to_sympy(t2)
    equal = sympy.expand(difference) == 0 or sympy.simplify(difference) == 0  # expand: cheap when it is 0
    assert (a == b) == equal, (t1, t2, str(a), str(b))
    assert ((a - b) == Expr.const(0)) == equal
    if equal:
        same_form(a, b)


def scramble(t, draw):
    """An equal tree built another way: commuted, re-associated, distributed, padded."""
    flip = lambda: draw(st.booleans())  # noqa: E731
    kind = t[0]
    if kind in ("sym", "const"):
        choice = draw(st.integers(0, 3))
        if choice == 1:  # x = (x + z) - z
            z = draw(leaves)
            return ("sub", ("add", t, z), z)
        if choice == 2:  # x = (x * m) / m
            m = draw(monomials())
            return ("div", ("mul", t, ("mul", ("const", m[0]), _product(m[1]))), m)
        if choice == 3:
            return ("mul", ("const", 1), t) if flip() else ("add", ("const", 0), t)
        return t
    if kind == "div":
        inner = scramble(t[1], draw)
        coefficient, factors = t[2]
        factors = tuple(reversed(factors)) if flip() else factors
        if flip():  # x / m = x * (1 / m)
            return ("mul", inner, ("div", ("const", 1), (coefficient, factors)))
        return ("div", inner, (coefficient, factors))
    if kind == "pow":
        base, n = t[1], t[2]
        if flip():  # x**n = x * x * ... (each copy built differently)
            result = ("const", 1)
            for _ in range(n):
                result = ("mul", scramble(base, draw), result) if flip() else ("mul", result, scramble(base, draw))
            return result
        return ("pow", scramble(base, draw), n)
    a, b = scramble(t[1], draw), scramble(t[2], draw)
    if kind in ("add", "mul", "max", "min") and flip():
        a, b = b, a
    if kind == "sub" and flip():  # a - b = a + (-1) * b
        return ("add", a, ("mul", ("const", -1), b))
    if kind == "add" and a[0] == "add" and flip():  # (x + y) + b = x + (y + b)
        return ("add", a[1], ("add", a[2], b))
    if kind == "mul" and b[0] == "add" and flip():  # a * (x + y) = a*x + a*y
        return ("add", ("mul", a, b[1]), ("mul", scramble(a, draw), b[2]))
    if kind == "mul" and a[0] == "mul" and flip():  # (x * y) * b = x * (y * b)
        return ("mul", a[1], ("mul", a[2], b))
    return (kind, a, b)


def _product(factors):
    result = ("const", 1)
    for name, exponent in factors:
        result = ("mul", result, ("pow", ("sym", name), exponent))
    return result


@FUZZ
@given(trees(atoms=True), st.data())
def test_canonical_form_independent_of_construction_order(t, data):
    expr = build(t)
    other = scramble(t, data.draw)
    if not has_atoms(t):  # the rewrites themselves are sound
        assert sympy.expand(to_sympy(t) - to_sympy(other)) == 0
    same_form(expr, build(other))


@FUZZ
@given(trees(max_leaves=6), st.integers(1, 5), st.sampled_from(SYMS))
def test_nonzero_change_is_seen(t, delta, name):
    """x and x + delta*s^k differ; x + s - s and x agree."""
    expr = to_expr(t)
    bump = Expr.const(delta) * Expr.symbol(name) ** (delta % 3)
    assert expr + bump != expr
    assert expr + bump - bump == expr
    assert hash(expr + bump - bump) == hash(expr)


def test_atom_order_does_not_depend_on_argument_spelling():
    """Regression: the order of factors and terms followed insertion order for ties."""
    c, h = Expr.symbol("c"), Expr.symbol("h")
    same_form(c + c * c, c * c + c)
    x1, x2 = sym.floordiv(c + c * c, h), sym.floordiv(c * c + c, h)
    y = sym.floordiv(c + h, h)
    same_form(x1, x2)
    same_form(x1 * y, x2 * y)
    same_form(sym.maximum(c + c * c, h), sym.maximum(h, c * c + c))


# ---------------------------------------------------------------------------- 2. evaluate


@FUZZ
@given(trees(atoms=True), values_st)
@example(("floordiv", ("div", ("sym", "c"), (2, ())), ("const", 1)), {n: 3 for n in SYMS})
@example(("floordiv", ("mul", ("max", ("sym", "c"), ("div", ("sym", "h"), (2, ()))), ("sym", "g")), ("sym", "g")),
         {"b": 1, "c": 1, "h": 5, "w": 1, "g": 3})
def test_evaluate_matches_python_semantics(t, values):
    expected = reference(t, values)
    expr = build(t)
    value = sym.evaluate(expr, values)
    assert value == expected, (t, str(expr))
    if not has_atoms(t):
        assert value == to_sympy(t).subs({S[n]: v for n, v in values.items()})


@FUZZ
@given(trees(atoms=True), values_st, st.sampled_from(SYMS))
def test_evaluate_without_a_value_refuses_or_is_right(t, values, missing):
    """A symbol left out: a ValueError, or the right value if it truly drops out."""
    expected = reference(t, values)
    expr = build(t)
    partial = {n: v for n, v in values.items() if n != missing}
    try:
        value = sym.evaluate(expr, partial)
    except ValueError:
        assert missing in expr.symbols()
    else:
        assert value == expected, (t, str(expr))


def test_evaluate_refuses_what_it_cannot_compute():
    c, g = Expr.symbol("c"), Expr.symbol("g")
    assert sym.evaluate(sym.sqrt(c), {"c": 9}) == 3
    with pytest.raises(ValueError):
        sym.evaluate(sym.sqrt(c), {"c": 2})  # irrational: once silently 0
    with pytest.raises(ValueError):
        sym.evaluate(c + g, {"c": 2})  # g unknown: once silently 2
    with pytest.raises((ValueError, ZeroDivisionError)):
        sym.evaluate(c.exact_div(g), {"c": 2, "g": 0})


# ---------------------------------------------------------------------------- 3. constant folding


@FUZZ
@given(st.integers(-60, 60), st.integers(-12, 12))
def test_integer_folding_matches_python(a, b):
    x, y = Expr.const(a), Expr.const(b)
    assert sym.maximum(x, y) == max(a, b)
    assert sym.minimum(x, y) == min(a, b)
    if b == 0:
        with pytest.raises(ZeroDivisionError):
            sym.floordiv(x, y)
        with pytest.raises(ZeroDivisionError):
            sym.mod(x, y)
        return
    assert sym.floordiv(x, y) == a // b
    assert sym.mod(x, y) == a % b
    assert sym.ceildiv(x, y) == -(-a // b)
    assert sym.floordiv(x, y).is_const and sym.mod(x, y).is_const


@FUZZ
@given(st.fractions(min_value=-20, max_value=20, max_denominator=12),
       st.fractions(min_value=-20, max_value=20, max_denominator=12).filter(bool))
def test_rational_folding_matches_python(a, b):
    assert sym.floordiv(Expr.const(a), Expr.const(b)) == a // b
    assert sym.mod(Expr.const(a), Expr.const(b)) == a % b
    assert sym.maximum(Expr.const(a), Expr.const(b)) == max(a, b)
    assert sym.minimum(Expr.const(a), Expr.const(b)) == min(a, b)


@FUZZ
@given(st.integers(0, 400))
def test_sqrt_folds_perfect_squares_only(n):
    root = sym.sqrt(Expr.const(n))
    if math.isqrt(n) ** 2 == n:
        assert root == math.isqrt(n)
    else:
        assert not root.is_const


# ---------------------------------------------------------------------------- 4. render


def python_eval(text: str, values):
    return eval(text, {"__builtins__": {}, "max": max, "min": min}, dict(values))  # noqa: S307


@FUZZ
@given(trees(atoms=True), values_st)
@example(("floordiv", ("sym", "h"), ("mul", ("sym", "c"), ("sym", "c"))), {"b": 1, "c": 2, "h": 8, "w": 1, "g": 1})
@example(("sub", ("sym", "b"), ("add", ("sym", "c"), ("sym", "h"))), {n: 2 for n in SYMS})
@example(("floordiv", ("sym", "b"), ("mul", ("const", 2), ("sym", "g"))), {"b": 9, "c": 1, "h": 1, "w": 1, "g": 2})
def test_render_python_round_trip(t, values):
    """`//` stands for exact division: faithful wherever the values divide exactly."""
    expected = reference(t, values)
    expr = build(t)
    assume(expected.denominator == 1 and atom_args_integral(expr, values))
    assert sym.evaluate(expr, values) == expected
    text = sym.render(expr, ident, style="python")
    assert python_eval(text, values) == expected, (text, t)
    reordered = sym.render(expr, ident, style="python", order=lambda s: -SYMS.index(s))  # display order only
    assert python_eval(reordered, values) == expected, (reordered, t)


@FUZZ
@given(trees(atoms=True, coefficients=(1, 2, 4, -1, -2)), values_st)
@example(("sub", ("sym", "b"), ("mul", ("sub", ("sym", "c"), ("sym", "h")), ("add", ("sym", "w"), ("const", 2)))),
         {n: i + 2 for i, n in enumerate(SYMS)})
def test_render_float_round_trip(t, values):
    """`/` is true division; atoms still floor.  (Dyadic coefficients keep floats exact.)"""
    expected = reference(t, values)
    expr = build(t)
    assume(atom_args_integral(expr, values))
    text = sym.render(expr, ident, style="float")
    got = python_eval(text, values)
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9), (text, t, float(expected))


def test_render_parenthesises():
    """Regression: a divisor or a root argument that is a power of one factor."""
    b, c, g, h = (Expr.symbol(n) for n in "bcgh")
    values = {"b": 9, "c": 2, "g": 2, "h": 8}
    cases = [
        (sym.floordiv(h, c * c), 2),
        (sym.floordiv(b, 2 * g), 2),
        (b - (c + h), -1),
        (-(b * c) + h * g, -2),
        ((b + c) * (h - g), 66),
        (sym.floordiv(h - b, g), -1),
        (sym.floordiv(h, -g), -4),
    ]
    for expr, expected in cases:
        for style in ("python", "float"):
            assert python_eval(sym.render(expr, ident, style=style), values) == expected, (style, str(expr))
    assert python_eval(sym.render(sym.sqrt(c * c), ident), {"c": 3}) == 3  # was `c * c ** 0.5`
    quotient = sym.floordiv(h.exact_div(g), Expr.const(1).exact_div(c))  # (h/g) // (1/c)
    assert python_eval(sym.render(quotient, ident, style="float"), {"h": 7, "g": 2, "c": 3}) == 10  # (3.5 // (1/3))
    assert python_eval(sym.render(sym.sqrt(Expr.const(Fraction(1, 4))), ident, style="float"), {}) == 0.5


# ---------------------------------------------------------------------------- 5. facts


def test_facts_fold_known_divisions():
    c, g, h = Expr.symbol("c"), Expr.symbol("g"), Expr.symbol("h")
    facts = Facts()
    assert sym.floordiv(c, g, facts) == Expr.atom("floordiv", c, g)
    facts.add_integer(c.exact_div(g))
    assert sym.floordiv(c, g, facts) == c.exact_div(g)
    assert sym.floordiv(3 * c, g, facts) == (3 * c).exact_div(g)
    assert sym.floordiv(c + g * h, g, facts) == c.exact_div(g) + h
    assert sym.floordiv(c, 2 * g, facts) != c.exact_div(2 * g)  # c/g known, c/(2g) is not
    assert sym.mod(c, g, facts) == 0
    assert sym.floordiv(c, g) == Expr.atom("floordiv", c, g)  # facts are not global


def test_what_facts_remember_is_forgotten_when_they_learn():
    """Floor divisions and re-folds are kept per Facts; a new integer fact must reach both."""
    c, g, h = Expr.symbol("c"), Expr.symbol("g"), Expr.symbol("h")
    facts = Facts()
    written = Expr.atom("floordiv", c + h, g) + 1
    assert sym.simplify(written, facts) == written
    assert sym.floordiv(c + h, g, facts) == Expr.atom("floordiv", c + h, g)
    facts.add_integer((c + h).exact_div(g))
    assert sym.simplify(written, facts) == (c + h).exact_div(g) + 1
    assert sym.floordiv(c + h, g, facts) == (c + h).exact_div(g)
    memo: dict = {}
    assert sym.substitute(written, {"h": Expr.const(2)}, facts, memo) == Expr.atom("floordiv", c + 2, g) + 1
    assert memo and sym.substitute(written, {"h": Expr.const(2)}, facts, memo) is memo[written]


def test_floordiv_without_facts():
    c = Expr.symbol("c")
    assert sym.floordiv(2 * c, Expr.const(2)) == c
    assert sym.floordiv(6 * c, Expr.const(-3)) == -2 * c
    half = sym.floordiv(c, Expr.const(2))
    assert half != c.exact_div(2)
    assert not half.is_const and half.is_monomial
    assert isinstance(next(iter(half.terms))[0][0], sym.Atom)
    assert sym.mod(c, Expr.const(2)) == c - 2 * half
    assert sym.ceildiv(c, Expr.const(2)) == -sym.floordiv(-c, Expr.const(2))


def test_floordiv_does_not_fold_non_integers():
    """Regression: `x // 1 == x` and `(x*g) // g == x` only when x is an integer."""
    c, g, h = Expr.symbol("c"), Expr.symbol("g"), Expr.symbol("h")
    assert sym.floordiv(c.exact_div(2), Expr.const(1)) != c.exact_div(2)
    assert sym.floordiv(sym.sqrt(c) * g, g) != sym.sqrt(c)
    assert sym.floordiv(sym.maximum(c, h.exact_div(2)) * g, g) != sym.maximum(c, h.exact_div(2))
    assert sym.floordiv(sym.maximum(c, h) * g, g) == sym.maximum(c, h)
    assert sym.floordiv(sym.floordiv(c, h) * g, g) == sym.floordiv(c, h)
    facts = Facts()
    facts.add_integer(c.exact_div(2))
    assert sym.floordiv(c.exact_div(2), Expr.const(1), facts) == c.exact_div(2)


@FUZZ
@given(trees(atoms=True, max_leaves=6), monomials(), values_st)
def test_floordiv_folding_is_sound(t, divisor, values):
    """(x*m) // m is floor(x) for any x, whatever it folds to."""
    expected = reference(t, values)
    expr, m = build(t), mono_expr(divisor)
    folded = sym.floordiv(expr * m, m)
    assert sym.evaluate(folded, values) == math.floor(expected), str(folded)
    assert sym.evaluate(sym.floordiv(expr, Expr.const(1)), values) == math.floor(expected)


@FUZZ
@given(trees(max_leaves=6), st.integers(-3, 3), st.permutations(SYMS))
def test_facts_make_quotients_exact(t, k, names):
    """With n/d known integral, (k*n + d*q) // d is k*n/d + q for integral q."""
    numerator, denominator = names[:2]
    n, d = Expr.symbol(numerator), Expr.symbol(denominator)
    facts = Facts()
    facts.add_integer(n.exact_div(d))
    q = to_expr(t)
    assume(facts.is_integer(q))
    assert sym.floordiv(k * n + d * q, d, facts) == (k * n).exact_div(d) + q


def test_a_whole_term_plus_a_constant_floors_to_the_term_plus_the_constants_floor():
    """`x[..., 1::2]` of an even `d` has `d/2` elements: `(1 - d) // 2` is `-d/2` once `d/2` is
    known whole, and `(-d) // 2` too (a whole multiple of a known whole term)."""
    d = Expr.symbol("d")
    facts = Facts()
    facts.add_integer(d.exact_div(2))
    assert facts.is_integer(-d.exact_div(2)) and facts.is_integer(3 * d.exact_div(2))
    assert not facts.is_integer(d.exact_div(4)) and not facts.is_integer(d.exact_div(3))
    assert sym.floordiv(-d, Expr.const(2), facts) == -d.exact_div(2)
    assert sym.floordiv(1 - d, Expr.const(2), facts) == -d.exact_div(2)
    assert sym.ceildiv(d - 1, Expr.const(2), facts) == d.exact_div(2)
    assert sym.floordiv(d + 3, Expr.const(2), facts) == d.exact_div(2) + 1
    assert sym.floordiv(d + 3, Expr.const(4), facts) == Expr.atom("floordiv", d + 3, Expr.const(4))
    assert sym.floordiv(1 - d, Expr.const(2)) == Expr.atom("floordiv", 1 - d, Expr.const(2))  # no fact, no fold
    for value in range(-12, 13, 2):  # every even d: the folds are Python's floor divisions
        for numerator, divisor in ((-d, 2), (1 - d, 2), (d + 3, 2), (d - 7, 2), (5 - 3 * d, 2)):
            folded = sym.floordiv(numerator, Expr.const(divisor), facts)
            assert sym.evaluate(folded, {"d": value}) == sym.evaluate(numerator, {"d": value}) // divisor


def test_a_product_of_known_whole_quotients_is_whole():
    """Swin's window count `H*W/(ws*ws)` once `H % ws == 0` and `W % ws == 0`: (H/ws)*(W/ws)."""
    H, W, ws = (Expr.symbol(n) for n in ("h", "w", "g"))
    facts = Facts()
    facts.add_integer(H.exact_div(ws))
    facts.add_integer(W.exact_div(ws))
    assert facts.is_integer((H * W).exact_div(ws * ws)) and facts.is_integer((H * H * W).exact_div(ws * ws))
    assert facts.is_integer(3 * (H * W).exact_div(ws))  # (H/ws) * W
    assert not facts.is_integer(H.exact_div(ws * ws)) and not facts.is_integer((H * W).exact_div(ws * ws * ws))
    assert sym.floordiv(H * W, ws * ws, facts) == (H * W).exact_div(ws * ws)
    for h, w, g in ((6, 4, 2), (9, 3, 3), (4, 8, 4)):  # wherever the facts hold, the fold is Python's
        assert sym.evaluate(sym.floordiv(H * W, ws * ws, facts), {"h": h, "w": w, "g": g}) == (h * w) // (g * g)


@FUZZ
@given(trees(max_leaves=5), st.integers(-7, 7), st.integers(1, 4), st.integers(-6, 6), st.permutations(SYMS))
def test_floors_of_whole_terms_plus_constants_are_sound(t, constant, divisor, multiple, names):
    """With n/m known whole, (w + c) // m folds only to values equal to Python's floor division
    wherever the fact holds."""
    n = Expr.symbol(names[0])
    facts = Facts()
    facts.add_integer(n.exact_div(divisor))
    numerator = multiple * n + divisor * to_expr(t) + constant
    folded = sym.floordiv(numerator, Expr.const(divisor), facts)
    for whole in range(-3, 4):
        values = {name: 2 for name in SYMS}
        values[names[0]] = whole * divisor  # where the fact holds
        try:
            whole = sym.evaluate(numerator, values)
        except (ZeroDivisionError, ValueError):
            continue
        if whole.denominator == 1:
            assert sym.evaluate(folded, values) == math.floor(whole / divisor), str(folded)


# ---------------------------------------------------------------------------- 6. substitute / simplify


def denominator_symbols(expr: Expr) -> set[str]:
    return {f for m in expr.terms for f, e in m if isinstance(f, str) and e < 0}


@FUZZ
@given(trees(max_leaves=6), st.fixed_dictionaries({}, optional={n: trees(max_leaves=4) for n in SYMS}))
def test_substitute_matches_sympy(t, mapping_trees):
    expr = to_expr(t)
    mapping = {n: to_expr(m) for n, m in mapping_trees.items()}
    # Expr can only divide by monomials: what lands in a denominator must stay one.
    assume(all(mapping[n].is_monomial for n in denominator_symbols(expr) if n in mapping))
    result = sym.substitute(expr, mapping)
    expected = sympy.expand(to_sympy(t).xreplace({S[n]: to_sympy(m) for n, m in mapping_trees.items()}))
    same_form(result, from_sympy(expected))


@FUZZ
@given(trees(atoms=True, max_leaves=5),
       st.fixed_dictionaries({n: trees(atoms=True, max_leaves=2, divide=False) for n in SYMS}),
       small_values_st)
@example(("div", ("sym", "c"), (1, (("g", 1),))), {n: ("sym", n) for n in SYMS} | {"g": ("add", ("sym", "h"), ("sym", "w"))},
         {"b": 1, "c": 4, "h": 1, "w": 1, "g": 1})
def test_substitute_then_evaluate_is_evaluate_of_substituted_values(t, mapping_trees, values):
    """evaluate(substitute(x, m)) == x evaluated at m's values, wherever the divisions are exact."""
    expr = build(t)
    mapping = {n: build(m) for n, m in mapping_trees.items()}
    inner = {}
    for n, m in mapping_trees.items():
        inner[n] = reference(m, values)
    # Symbols stand for integers (folds such as c // (1/b) == b*c rely on it): map to integers.
    assume(all(v.denominator == 1 for v in inner.values()))
    expected = reference(t, inner)
    assume(expected.denominator == 1 and tree_atom_args_integral(t, inner))
    result = sym.substitute(expr, mapping)
    value = sym.evaluate(result, values)
    assert value == expected, (str(expr), {n: str(m) for n, m in mapping.items()}, str(result))


@FUZZ
@given(trees(max_leaves=4), trees(max_leaves=4), trees(max_leaves=3), st.sampled_from([1, 2, 3, -2]),
       st.sampled_from(SYMS), values_st)
def test_substitute_sum_into_denominator_is_exact(r, q, s, k, name, values):
    """x = (k*S*R)/(k*g) + Q with g := S (a sum, say): evaluates to (R + Q)[g := S]."""
    r_expr, q_expr, s_expr = to_expr(r), to_expr(q), to_expr(s)
    assume(name not in s_expr.symbols())
    divisor = sym.evaluate(s_expr, values)
    assume(divisor != 0)
    try:
        expected = sym.evaluate(r_expr + q_expr, {**values, name: divisor})
    except (ValueError, ZeroDivisionError):
        assume(False)
    assume(expected.denominator == 1)  # `//` stands for an exact division
    g = Expr.symbol(name)
    expr = (k * s_expr * r_expr).exact_div(k * g) + q_expr
    result = sym.substitute(expr, {name: s_expr})
    assert sym.evaluate(result, values) == expected, (str(expr), str(s_expr), str(result))


def test_substitute_sum_into_denominator():
    """Regression: c/g with g := h + w was c * (1 // (h + w)), which is 0."""
    c, g, h, w = (Expr.symbol(n) for n in "cghw")
    result = sym.substitute(c.exact_div(g), {"g": h + w})
    assert sym.evaluate(result, {"c": 12, "h": 1, "w": 2}) == 4
    total = sym.substitute((c + h).exact_div(2 * g), {"g": h + w})  # only the sum divides
    assert sym.evaluate(total, {"c": 3, "h": 1, "w": 1}) == 1
    assert sym.substitute(c.exact_div(g), {"g": 2 * h}) == c.exact_div(2 * h)


@FUZZ
@given(trees(atoms=True, max_leaves=6))
def test_simplify_and_empty_substitute_are_identities(t):
    expr = build(t)
    same_form(sym.simplify(expr, Facts()), expr)
    same_form(sym.substitute(expr, {}), expr)
    same_form(sym.substitute(expr, {n: Expr.symbol(n) for n in SYMS}), expr)


def test_simplify_refolds_with_new_facts():
    c, g, h, w = (Expr.symbol(n) for n in "cghw")
    facts = Facts()
    split = sym.floordiv(c, g, facts)
    assert split == Expr.atom("floordiv", c, g)
    facts.add_integer(c.exact_div(g))
    assert sym.simplify(split * h + 1, facts) == c.exact_div(g) * h + 1
    # An atom in a denominator that re-folds to a sum: w / ((c*h + c) // g).
    facts = Facts()
    total = c * h + c
    ratio = w.exact_div(sym.floordiv(total, g, facts))
    facts.add_integer(total.exact_div(g))
    refolded = sym.simplify(ratio, facts)
    assert sym.evaluate(refolded, {"c": 2, "h": 1, "g": 1, "w": 8}) == 2  # was w * (1 // (c*h/g + c/g)) == 0


def test_a_product_of_two_sums_is_displayed_factored():
    """The number of windows of a padded map, as a shape comment shows it."""
    from attndsl.symbolic import Expr, render

    b, H, W, pb, pr, ws = (Expr.symbol(n) for n in ("b", "H", "W", "pad_b", "pad_r", "ws"))
    windows = (b * (H + pb) * (W + pr)).exact_div(ws * ws)
    assert render(windows, str, style="shape") == "b*(H + pad_b)*(W + pad_r)/(ws*ws)"
    assert render(b * (H + pb) * (W + pr), str, style="shape") == "b*(H + pad_b)*(W + pad_r)"
    assert render(b * (H + pb) * (W + pr), str, style="math") == "H*W*b + H*b*pad_r + W*b*pad_b + b*pad_b*pad_r"  # math (cost formulas): terms
    assert render(windows, str, style="python").startswith("(H * W * b + ")  # code: as computed
    # a sum that is no such product stays a sum
    assert render(H * W + H * pr + W * pb, str, style="shape") == "H*W + H*pad_r + W*pad_b"


def test_factored_display_keeps_the_value():
    """Random products, displayed: the text evaluates to the product's value, and a product
    of two sums over different sizes (as a padded map's windows are) is shown factored."""
    import random

    from attndsl.symbolic import Expr, render

    rng = random.Random(7)
    names = ["a", "b", "c", "d", "e", "f"]
    factored = disjoint_cases = 0

    def poly(pool):
        terms = Expr.const(rng.randint(0, 2))
        for _ in range(rng.randint(1, 3)):
            term = Expr.const(rng.choice([1, 2, 3, -1]))
            for name in rng.sample(pool, rng.randint(1, 2)):
                term = term * Expr.symbol(name)
            terms = terms + term
        return terms

    for case in range(300):
        disjoint = case % 2 == 0
        left, right = (poly(names[:3]), poly(names[3:])) if disjoint else (poly(names), poly(names))
        expr = left * right * (Expr.symbol("f") if rng.random() < 0.3 else Expr.const(1))
        values = {n: rng.randint(-5, 5) for n in names}
        text = render(expr, str, style="shape")
        expected = render(expr, str, style="python")
        assert eval(text.replace("/", "//"), {}, dict(values)) == eval(expected, {}, dict(values)), (text, expected)
        if disjoint and len(left.terms) >= 2 and len(right.terms) >= 2 and len(expr.terms) >= 4:
            disjoint_cases += 1
            factored += text.count("(") >= 2
    assert disjoint_cases > 50 and factored == disjoint_cases
