"""`return` inside `if`: rewritten, before lowering, into one `return` after the `if`.

    if not use_attention:               if not use_attention:
        return x                            out = x
    y = attend(x)              ->       else:
    return y                                y = attend(x)
                                            out = y
                                        return out

The statements after an `if` that returns in one branch belong to the other branch (the
way Python runs them); each `return` becomes an assignment of the values it returns, and
the block returns them once, after the `if`: the dataflow's join of the branches, as an
`if`/`else` that assigns on both sides is. The rewrite works on the syntax tree, so the
checker, the interpreter and the generated code see only the joined form.

Refused, each with its place: statements after a `return` in the same body (they never
run); an `if` whose two branches both go on to what follows it while a `return` hides
deeper in one of them (what follows would have to be written twice); returns of
different numbers of values; a path that reaches the end of the block without one.
"""

from __future__ import annotations

from .. import syntax as ast
from ..diagnostics import Span


class ReturnProblem(Exception):
    def __init__(self, message: str, span: Span, help: str | None = None):
        super().__init__(message)
        self.message, self.span, self.help = message, span, help


def join_returns(body: list[ast.Stmt], taken: set[str]) -> list[ast.Stmt]:
    """`body` with its returns inside `if`s joined into one at the end (unchanged if none);
    `taken`: the names the block already uses, which the joined values must not reuse."""
    if not any(isinstance(stmt, ast.If) and _returns(stmt) for stmt in body):
        return body
    _check_reachable(body)
    paths = _ending(body)
    if not _ends(paths):
        last = body[-1]
        raise ReturnProblem("the block can reach its end without a `return` (where this `if` returns on one "
                            "branch only)", last.span, help="end the block with a `return` after the `if`")
    returns = list(_tail_returns(paths))
    counts = {len(r.values) for r in returns}
    if len(counts) > 1:
        odd = next(r for r in returns if len(r.values) != len(returns[0].values))
        raise ReturnProblem(f"this `return` gives {len(odd.values)} value(s), and the first gives "
                            f"{len(returns[0].values)}", odd.span, help="every `return` of a block gives as many values")
    names = _fresh_names(counts.pop(), taken)
    last = returns[-1]
    return _assigned(paths, names) + [ast.Return(last.span, [ast.Name(last.span, name) for name in names])]


def _ending(stmts: list[ast.Stmt]) -> list[ast.Stmt]:
    """`stmts` with every path ending in a `return`: what follows an `if` that returns on
    one side goes into its other side."""
    for index, stmt in enumerate(stmts):
        if not (isinstance(stmt, ast.If) and _returns(stmt)):
            continue
        rest = stmts[index + 1:]
        through = [branch for branch in (stmt.body, stmt.orelse) if not _ends(branch)]
        if len(through) > 1 and rest:
            raise ReturnProblem("both branches of this `if` go on to the statements after it, and one returns "
                                "inside: they would run on some paths only", stmt.span,
                                help="return in one branch and go on in the other, or assign and return once after")
        body = _ending(stmt.body if _ends(stmt.body) else stmt.body + rest)
        orelse = _ending(stmt.orelse if _ends(stmt.orelse) else stmt.orelse + rest)
        return stmts[:index] + [ast.If(stmt.span, stmt.condition, body, orelse, comments=stmt.comments)]
    return stmts


def _check_reachable(stmts: list[ast.Stmt]) -> None:
    for index, stmt in enumerate(stmts):
        if isinstance(stmt, ast.Return) and index + 1 < len(stmts):
            raise ReturnProblem("this statement comes after a `return`, and never runs", stmts[index + 1].span)
        if isinstance(stmt, ast.If):
            _check_reachable(stmt.body)
            _check_reachable(stmt.orelse)


def _returns(stmt: ast.Stmt) -> bool:
    """Whether a `return` is anywhere under `stmt`."""
    if isinstance(stmt, ast.Return):
        return True
    return isinstance(stmt, ast.If) and any(_returns(s) for s in stmt.body + stmt.orelse)


def _ends(stmts: list[ast.Stmt]) -> bool:
    """Whether every path through `stmts` ends in a `return`."""
    if not stmts:
        return False
    last = stmts[-1]
    return isinstance(last, ast.Return) or isinstance(last, ast.If) and _ends(last.body) and _ends(last.orelse)


def _tail_returns(stmts: list[ast.Stmt]):
    for stmt in stmts:
        if isinstance(stmt, ast.Return):
            yield stmt
        elif isinstance(stmt, ast.If):
            yield from _tail_returns(stmt.body)
            yield from _tail_returns(stmt.orelse)


def _assigned(stmts: list[ast.Stmt], names: list[str]) -> list[ast.Stmt]:
    """Each `return a, b` as `out_0 = a` and `out_1 = b`."""
    out: list[ast.Stmt] = []
    for stmt in stmts:
        if isinstance(stmt, ast.Return):
            out += [ast.Assign(value.span, [(name, stmt.span)], value, comments=stmt.comments if index == 0 else [])
                    for index, (name, value) in enumerate(zip(names, stmt.values))]
        elif isinstance(stmt, ast.If):
            out.append(ast.If(stmt.span, stmt.condition, _assigned(stmt.body, names), _assigned(stmt.orelse, names),
                              comments=stmt.comments))
        else:
            out.append(stmt)
    return out


def _fresh_names(count: int, taken: set[str]) -> list[str]:
    """`out` (or `out_0`, `out_1`, ... for several values), with a number after it where the
    block already has such a name."""
    stems = ["out"] if count == 1 else [f"out_{index}" for index in range(count)]
    suffix, number = "", 1
    while any(stem + suffix in taken for stem in stems):
        number += 1
        suffix = f"_{number}"
    return [stem + suffix for stem in stems]
