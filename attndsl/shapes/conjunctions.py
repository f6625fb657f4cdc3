"""Conjunctions of conditions on a block's arguments and inputs: simplified
(`make_guard`, which also knows when one can never hold) and written out for people
(`render_cond`, `render_guard`: `ratio > 1 and mask given`).

The checker's world views (world_view.py) and the tools (cost formulas, graphs, hovers)
share them.
"""

from __future__ import annotations

from .. import symbolic as sym
from ..ir import Cond, elements_source
from ..symbolic import Expr

Guard = frozenset  # of Cond, all of which must hold


def make_guard(conds) -> Guard | None:
    """A conjunction, flattened and simplified; None when it can never hold."""
    flat: set[Cond] = set()
    stack = list(conds)
    while stack:
        cond = stack.pop()
        if cond.op == "and":
            stack.extend(cond.args)
        elif cond.op == "const":
            if not cond.args[0]:
                return None
        elif cond.op == "not" and cond.args[0].op == "const":
            if cond.args[0].args[0]:
                return None
        elif _decided(cond) is not None:
            if not _decided(cond):
                return None
        else:
            flat.add(cond)
    for cond in flat:
        if Cond("not", (cond,)) in flat:
            return None
        if cond.op == "not" and cond.args[0].op == "and" and _conjuncts(cond.args[0]) <= flat:
            return None  # `not (a and b)` with both a and b
    for cond in [c for c in flat if c.op == "or"]:  # absorption: (x or y) and x is x
        others = flat - {cond}
        if any(_conjuncts(disjunct) <= others for disjunct in cond.args):
            flat.discard(cond)
    return frozenset(flat)


_COMPARE = {"==": lambda d: d == 0, "!=": lambda d: d != 0, "<": lambda d: d < 0, "<=": lambda d: d <= 0,
            ">": lambda d: d > 0, ">=": lambda d: d >= 0}


def _decided(cond: Cond) -> bool | None:
    """A comparison of two sizes that differ by a constant (`d/h != d/h`) is decided."""
    inner, negated = (cond.args[0], True) if cond.op == "not" else (cond, False)
    if inner.op != "cmp":
        return None
    operator, left, right = inner.args
    difference = left - right
    if not difference.is_const:
        return None
    return _COMPARE[operator](difference.value) != negated


def _conjuncts(cond: Cond) -> set:
    return set().union(*(_conjuncts(a) for a in cond.args)) if cond.op == "and" else {cond}


# ---------------------------------------------------------------------------- rendering


def render_expr(expr: Expr, order=None) -> str:
    return sym.render(expr, str, style="math", order=order)


_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def render_cond(cond: Cond, order=None) -> str:
    op, args = cond.op, cond.args
    if op == "const":
        return "true" if args[0] else "false"
    if op in ("arg", "flag"):
        return args[0]
    if op == "present":
        return f"{args[0]} given"
    if op == "kind":  # a layer kind given as an argument
        return f"{args[0]} is {args[1]}"
    if op == "text":
        return f'{args[0]} == "{args[1]}"'
    if op == "has":
        return f'"{args[1]}" in {args[0]}'
    if op == "is_none":
        return f"{args[0]} is None"
    if op == "module_flag":
        return f"{args[0]}.{args[1]}"
    if op == "cmp":
        return f"{render_expr(args[1], order)} {args[0]} {render_expr(args[2], order)}"
    if op == "not":
        inner = args[0]
        if inner.op == "cmp":
            return render_cond(Cond("cmp", (_NEGATED[inner.args[0]], *inner.args[1:])), order)
        if inner.op == "present":
            return f"{inner.args[0]} not given"
        if inner.op in ("kind", "is_none"):
            return render_cond(inner, order).replace(" is ", " is not ", 1)
        if inner.op == "text":
            return f'{inner.args[0]} != "{inner.args[1]}"'
        if inner.op == "has":
            return f'"{inner.args[1]}" not in {inner.args[0]}'
        text = render_cond(inner, order)
        return f"not {text}" if inner.op in ("arg", "flag") else f"not ({text})"
    if op in ("and", "or"):
        parts = [render_cond(a, order) for a in args]
        plain = ("cmp", "not", "arg", "flag", "present", "kind", "is_none", "text", "has", "written")
        return f" {op} ".join(p if " " not in p or a.op in plain else f"({p})" for p, a in zip(parts, args))
    if op == "written":  # as the spec wrote it
        return args[0].text
    if op == "all_elems":
        elements, var, inner = args
        source = elements_source(elements, lambda e: render_expr(e, order) if isinstance(e, Expr) else e)
        return f"all({render_cond(inner, order)} for {var} in {source})"
    return op


def render_guard(conds, order=None, *, sort: bool = True) -> str:
    """A conjunction: `a and b > 1`, an `or` among them in brackets."""
    parts = [f"({render_cond(c, order)})" if c.op == "or" else render_cond(c, order) for c in conds]
    return " and ".join(sorted(parts) if sort else parts)
