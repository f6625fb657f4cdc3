"""The checks a block's walks found, made into the list the module asks: the same check
under `if c:` and its `else` merged, checks that earlier ones imply dropped, an argument's
bounds kept at the strongest, and `x >= 0` followed by `x != 0` asked once as `x >= 1`."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

from ..guards import cannot_hold, negate, plain
from ..ir import BlockIR, CheckInfo, Cond
from ..symbolic import Expr
from .conditions import cond_symbols, decide, exact_bound, nonnegative_form
from .conjunctions import render_guard
from .disjoint import cannot_meet, whole_symbols
from .knowledge import Knowledge
from .worlds import literal


def merge_complementary(checks: list) -> list:
    """The same check under `if c:` and under its `else`: one check, with neither."""
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(checks):
            for j in range(i + 1, len(checks)):
                b = checks[j]
                if (a.condition, a.message, a.where, a.kind) != (b.condition, b.message, b.where, b.kind) or \
                        len(a.guard) != len(b.guard):
                    continue
                differ = [k for k, (x, y) in enumerate(zip(a.guard, b.guard)) if x != y]
                if len(differ) == 1 and literal(a.guard[differ[0]])[0] == literal(b.guard[differ[0]])[0]:
                    guard = a.guard[:differ[0]] + a.guard[differ[0] + 1:]
                    checks[i] = dataclasses.replace(a, guard=guard)
                    del checks[j]
                    changed = True
                    break
            if changed:
                break
    return checks


def init_position(ir: BlockIR, check) -> tuple:
    """Where `__init__` makes a check placed by position, as the key codegen sorts its
    statements by (a let or require at `((line, column), 1)`): at the check's position, but
    never before a let its condition or guard reads. An argument's bound guarded by the world
    literal `t <= 0` of `let t = ws * 0.5` opens `__init__` otherwise, before `t` exists."""
    read = set().union(*(_symbols_read(c) for c in (check.condition, *check.guard)))
    lets = [(let.span.line, let.span.column) for let in ir.lets if let.name in read]
    return max([(check.position, 0)] + [(where, 2) for where in lets])


def _symbols_read(condition) -> set:
    if isinstance(condition, tuple):  # ("divides", a, b)
        return set().union(*(part.symbols() for part in condition[1:] if isinstance(part, Expr)))
    return cond_symbols(condition)


def _emission_order(ir: BlockIR, check) -> tuple:
    """The order codegen makes the checks in (attndsl/codegen/init.py, checks.py)."""
    if check.where == "forward":
        return (3, 0)
    if check.position is not None:
        place = init_position(ir, check)
        return (1, place) if place != ((0, 0), 0) else (0, place)
    return (2, 0)


def without_redundant(ir: BlockIR, checks: list) -> list:
    """Checks that the ones made before them already imply are dropped (`d_k * h >= 0` after
    `d_k >= 0` and `h >= 1`); what is left is exactly what the module needs to ask. Again
    once a check became an argument's bound that opens `__init__` (`in_ch * k >= 1` read as
    `in_ch >= 1`): made earlier now, it may make a check under an `if` redundant."""
    checks = _unguarded_bounds_first(list(checks))
    for _ in range(3):
        pruned = _unguarded_bounds_first(_pruned(ir, list(checks)))
        if pruned == checks:
            break
        checks = pruned
    whole = whole_symbols(ir)
    return [_bound_where_it_holds(check, whole) for check in _merged_alternatives(checks)]


def _bound_where_it_holds(check, whole):
    """An argument's bound asked under an `if` on that argument that lets some value the
    bound refuses through says so: "`ws` must be at least 1 (where `ws != 0`)", as 0 is
    accepted. (Under `if k != 1:`, "`k` must be at least 1" is true as it stands.) Only a
    message changes here, so `cannot_meet` may read the negations as they are spelled."""
    if check.kind != "argument" or not check.guard or not isinstance(check.condition, Cond) or \
            check.condition.op != "cmp":
        return check
    refused, read = plain(negate(check.condition)), check.condition.args[1].symbols()
    if all(not cond_symbols(condition) & read or cannot_meet((refused, plain(negate(condition))), whole)
           for condition in check.guard):
        return check
    return dataclasses.replace(check, message=f"{check.message} (where `{render_guard(check.guard)}`)")


def _merged_alternatives(checks: list) -> list:
    """The same check under several `if`s that may hold together (`c >= 1` for the conv built
    under `if mode == "a":` and for the one under `if "x" in types:`): asked once, under the
    `or` of their conditions, where the first of them was. Under `if`s no call makes hold
    together (`dimension == 1`, `dimension == 2`) each stays in its own branch, where the
    module reads best. Only `__init__`'s checks of plain arithmetic move so (to where the
    first was): one that divides may need a check made after that place."""
    merged, placed, placed_guards = [], {}, {}
    for check in checks:
        key = (check.condition, check.message, check.where, check.kind, check.position)
        movable = check.guard and check.where == "init" and _plain_comparison(check.condition)
        first = merged[placed[key]] if movable and key in placed else None
        if first is None or any(cannot_hold(tuple(guard) + tuple(check.guard)) for guard in placed_guards[key]):
            if movable and first is None:
                placed[key], placed_guards[key] = len(merged), [check.guard]
            merged.append(check)
            continue
        placed_guards[key].append(check.guard)
        alternatives = _alternatives(first.guard) + (_conjunction(check.guard),)
        merged[placed[key]] = dataclasses.replace(first, guard=(Cond("or", alternatives),))
    return merged


def _plain_comparison(condition) -> bool:
    """A comparison of polynomials of the arguments (`c < 1`): nothing in it can fail to compute."""
    return isinstance(condition, Cond) and condition.op == "cmp" and \
        all(side.plain_symbols() is not None for side in condition.args[1:])


def _alternatives(guard: tuple) -> tuple:
    if len(guard) == 1 and isinstance(guard[0], Cond) and guard[0].op == "or":
        return guard[0].args
    return (_conjunction(guard),)


def _conjunction(guard: tuple) -> Cond:
    return guard[0] if len(guard) == 1 else Cond("and", tuple(guard))


def _pruned(ir: BlockIR, checks: list) -> list:
    knowledge = Knowledge(ir)
    for require in ir.requires:  # in the terms checks are in: a let's name (`kd`) by its value
        knowledge.learn(require.condition, require.guard, knowledge.view(frozenset(require.guard)).normal)
    ordered = sorted(enumerate(checks), key=lambda item: (_emission_order(ir, item[1]), item[0]))
    kept = set()
    nonzero: dict[int, CheckInfo] = {}  # a kept division's check that its divisor is not zero, asked before it
    equalities: list = []  # (guard, {a, b}) of each kept `a == b`: `b == a` after it asks it again
    for index, check in ordered:
        view = knowledge.view(frozenset(check.guard))
        check = checks[index] = _without_known_parts(check, view)
        if decide(check.condition, view) is True or _asked_before(check, view, equalities):
            continue
        earlier = _nonnegative_before(checks, kept, check, view)
        if earlier is not None:
            # `d >= 0`, then `d != 0`: the earlier check asks `d > 0`, for a whole number
            # `d >= 1` (`if d_k < 1:`, not `if d_k < 0:` and later `if d_k == 0:`)
            stronger = _positive(checks[earlier], view)
            checks[earlier] = stronger
            knowledge.learn(stronger.condition, stronger.guard, view.normal)
            continue
        check = checks[index] = _as_argument_check(ir, _without_common_factor(check), view)
        kept.add(index)
        condition = check.condition
        divisor_check = _divisor_not_zero(check, view)
        if divisor_check is not None:
            nonzero[index] = divisor_check
            knowledge.learn(divisor_check.condition, check.guard, view.normal)
        if isinstance(condition, tuple):
            if condition[0] == "eq":
                knowledge.learn_equal(condition[1], condition[2], check.guard)
                equalities.append((set(check.guard), frozenset(map(view.normal, condition[1:]))))
            elif view.normal(condition[2]).terms:  # (a divisor that is 0 here: this check refuses every call)
                knowledge.learn_divisible(view.normal(condition[1]), view.normal(condition[2]), check.guard)
        else:
            knowledge.learn(condition, check.guard, view.normal)
            for factor in _positive_factors(condition, view):
                knowledge.learn(Cond("cmp", (">=", factor, Expr.const(1))), check.guard, view.normal)
    return [made for i, c in enumerate(checks) if i in kept for made in ([nonzero[i]] if i in nonzero else []) + [c]]


def _divisor_not_zero(check, view) -> CheckInfo | None:
    """`a % b != 0` in `__init__` where the arguments alone do not make `b` nonzero: a check
    that `b != 0`, made before it. (A size the walk knew to be at least 1 through an input's,
    `d2 == a // 3` for a linear of `a // 3` features, is known only once forward runs.)"""
    condition = check.condition
    if check.where != "init" or not (isinstance(condition, tuple) and condition[0] == "divides"):
        return None
    divisor = condition[2]
    if view.nonzero(divisor):
        return None
    return dataclasses.replace(check, condition=Cond("cmp", ("!=", divisor, Expr.const(0))), source=None,
                               message=f"{divisor} must not be zero (it divides)")


def _positive_factors(condition, view) -> list[Expr]:
    """What a kept `dim_u * dim_v >= 1` proves beyond itself, with `dim_u >= 1` known: the
    product of the other factors is positive, so at least 1 where it is a whole number
    (`dim_v >= 1`), and a later check that asks it (a conv's kernel against `dim_v`
    channels) is not made again."""
    if not (isinstance(condition, Cond) and condition.op == "cmp" and condition.args[0] in (">=", ">")):
        return []
    target = nonnegative_form(*condition.args, view)
    if target is None:
        return []
    constant = target.terms.get((), 0)
    rest = target - constant
    if constant >= 0 or not rest.is_monomial or rest.is_const:
        return []
    ((monomial, coefficient),) = rest.terms.items()
    if coefficient <= 0:
        return []
    known = {factor for factor, exponent in monomial
             if exponent == 1 and view.at_least(Expr({((factor, 1),): 1}), 1)}
    others = tuple((factor, exponent) for factor, exponent in monomial if factor not in known)
    if not known or not others:
        return []
    product = Expr({others: 1})
    return [product] if view.is_integer(product) else []



def _unguarded_bounds_first(checks: list) -> list:
    """The arguments' bounds that open `__init__`, those made always before those made under
    an `if` (`dim_head < 0`, then `if causal:` ... `dim_head < 1`): each reads one argument,
    so their order changes nothing but which of two failing messages is given."""
    def opening(check) -> bool:
        return check.kind == "argument" and check.position == (0, 0)

    bounds = sorted((c for c in checks if opening(c)), key=lambda c: bool(c.guard))
    replaced = iter(bounds)
    return [next(replaced) if opening(c) else c for c in checks]


def _without_known_parts(check, view):
    """`0 <= p <= 1` under `if p > 0:` asked as `p <= 1`: the parts of a conjunction that
    hold where the check is made are not asked again."""
    condition = check.condition
    if not (isinstance(condition, Cond) and condition.op == "and"):
        return check
    open_parts = tuple(part for part in condition.args if decide(part, view) is not True)
    if len(open_parts) == len(condition.args) or not open_parts:
        return check  # (all of them known: the whole check is dropped as decided)
    return dataclasses.replace(check, condition=open_parts[0] if len(open_parts) == 1 else Cond("and", open_parts))


def _without_common_factor(check):
    """`3*dim` divisible by `3*heads` asked as `dim` divisible by `heads` (a split of
    `(t h c)` with t=3): the same question, in the sizes the caller passed."""
    condition = check.condition
    if not (isinstance(condition, tuple) and condition[0] == "divides"):
        return check
    _, a, b = condition
    coefficients = list(a.terms.values()) + list(b.terms.values())
    if not coefficients or any(Fraction(c).denominator != 1 for c in coefficients):
        return check
    common = math.gcd(*(int(c) for c in coefficients))
    if common <= 1:
        return check
    return dataclasses.replace(check, condition=("divides", a.exact_div(common), b.exact_div(common)))


def _asked_before(check, view, equalities: list) -> bool:
    """An equality of two sizes that a kept check, made wherever this one is, already asks
    (`hh*ww == n*n` after `n*n == hh*ww`: the knowledge cannot rewrite a product by another)."""
    condition = check.condition
    if not (isinstance(condition, tuple) and condition[0] == "eq"):
        return False
    sides = frozenset(map(view.normal, condition[1:]))
    return any(guard <= set(check.guard) and pair == sides for guard, pair in equalities)


def _nonnegative_before(checks: list, kept: set, check, view) -> int | None:
    """For a check `x != 0` in `__init__`, a kept one before it, under the same guard, that
    asks `x >= 0` (`a >= b` with a - b the same as x). In `__init__`, nothing but arithmetic
    runs between checks, so the earlier one may ask more."""
    condition = check.condition
    if check.where != "init" or not isinstance(condition, Cond) or condition.op != "cmp" or \
            condition.args[0] != "!=" or condition.args[2] != Expr.const(0):
        return None
    subject = _sign_core(view.normal(condition.args[1]), view)
    for index in sorted(kept):
        earlier = checks[index]
        if earlier.where != "init" or set(earlier.guard) != set(check.guard) or earlier.kind == "require" or \
                not isinstance(earlier.condition, Cond) or earlier.condition.op != "cmp" or \
                earlier.condition.args[0] != ">=":  # (a require is rendered as the spec writes it)
            continue
        left, right = earlier.condition.args[1:]
        if _sign_core(view.normal(left - right), view) == subject:
            return index
    return None


def _sign_core(expr: Expr, view) -> Expr:
    """A product without the factors known positive: zero exactly where it is (`head_dim`,
    `dim/heads` once `dim % heads == 0`, is zero where `dim` is, `heads` being at least 1)."""
    if not expr.is_monomial or expr.is_const:
        return expr
    ((monomial, coefficient),) = expr.terms.items()
    kept = tuple((f, e) for f, e in monomial if not (view.lower_bound(Expr({((f, 1),): 1})) or 0) > 0)
    return Expr({kept: 1 if coefficient > 0 else -1}) if kept else expr


def _positive(check, view):
    """`a >= b` asked as `a > b`, its message saying why; for whole numbers `a >= b + 1`, an
    argument's bound raised (`d_k` must be at least 1); else "nor zero" added to what it says."""
    left, right = check.condition.args[1:]
    whole = view.is_integer(left - right)
    condition = Cond("cmp", (">=", left, right + 1)) if whole else Cond("cmp", (">", left, right))
    if check.kind == "argument" and whole:
        return dataclasses.replace(check, condition=condition, message=f"`{left}` must be at least {right + 1}")
    return dataclasses.replace(check, condition=condition, message=f"{check.message}, nor zero")


def _as_argument_check(ir: BlockIR, check, view):
    """`d_v * h >= 0` once `h >= 1` is known says `d_v >= 0`: the check that names the argument."""
    condition = check.condition
    if check.where != "init" or not isinstance(condition, Cond) or condition.op != "cmp" or \
            condition.args[0] not in (">=", ">") or check.kind == "argument":
        return check
    target = nonnegative_form(*condition.args, view)
    if target is None:
        return check
    for arg in ir.args:
        if arg.type == "int" and arg.name in target.symbols():
            bound = exact_bound(target, arg.name, view)
            if bound is not None:
                cond = Cond("cmp", (">=", Expr.symbol(arg.name), Expr.const(bound)))
                # reading one argument alone, it is asked with the other arguments' bounds, first
                return CheckInfo(cond, f"`{arg.name}` must be at least {bound}", check.span, "init", check.guard,
                                 kind="argument", position=(0, 0))
    return check


def strongest_arguments(checks: list) -> list:
    """`groups >= 0` and later `groups >= 1`, both made first in __init__: keep the second."""
    strongest: dict = {}
    for check in checks:
        if check.kind == "argument" and check.position is not None:
            _, name, bound = check.condition.args
            key = (name, check.guard)
            if key not in strongest or bound.value > strongest[key].condition.args[2].value:
                strongest[key] = check
    return [c for c in checks if not (c.kind == "argument" and c.position is not None)
            or strongest[(c.condition.args[1], c.guard)] is c]
