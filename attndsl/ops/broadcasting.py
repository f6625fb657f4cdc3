"""torch's broadcasting rule, shared by the elementwise ops and masked_fill."""

from __future__ import annotations

from fractions import Fraction

from .. import symbolic as sym
from ..ir import Cond, elements_source
from ..symbolic import Atom, Expr
from .registry import MUL, Shape


def broadcast(ctx, node, shapes, attrs, trailing: int = 0) -> Shape:
    """torch's broadcasting: aligned from the right, each pair of dims equal or one of them 1.
    `trailing`: how many axes of the tensors follow the ones given (a matmul's two), so that
    messages count the tensors' axes from the end."""
    shapes = [s for s in shapes if s is not None]
    if not shapes:
        return ()
    rank = max(len(s) for s in shapes)
    padded = [(Expr.const(1),) * (rank - len(s)) + tuple(s) for s in shapes]
    result = []
    for axis in range(rank):
        dims = [s[axis] for s in padded]
        chosen = dims[0]
        for index, dim in enumerate(dims[1:], start=1):
            chosen = _broadcast_pair(ctx, chosen, dim, axis - rank - trailing, (0, index))
        result.append(chosen)
    return tuple(result)


def _broadcast_pair(ctx, a: Expr, b: Expr, axis: int, operands) -> Expr:
    if ctx.is_one(b):
        return a
    if ctx.is_one(a):
        return b
    na, nb = ctx.normal(a), ctx.normal(b)
    if ctx.checker.is_opaque(na) or ctx.checker.is_opaque(nb):
        # The display walk, past an `if` whose branches differ: the size shown is the first
        # one's; the walk notes that the real one depends on the branch (so the worlds that
        # follow see every condition at once).
        if na == nb:
            return a
        ctx.checker.uncertain.setdefault(ctx.node, set()).add(ctx.node)
        return ctx.checker.opaque_size(a, b)
    if na == nb or (na.is_const and nb.is_const):
        ctx.expect_equal(a, b, f"broadcast dimension {axis}", operands=operands)
        return a
    if ctx.view.known_zero(na - nb):  # a `require a == b` said so (W0006's own help)
        return a
    # Sizes that may differ: torch takes them when equal or when either is 1, and so do we.
    # Most often the author meant them equal; a `require` says so and silences this.
    one = Expr.const(1)
    equal, a_one, b_one = (Cond("cmp", ("==", a, b)), Cond("cmp", ("==", a, one)), Cond("cmp", ("==", b, one)))
    if na.is_const or nb.is_const:
        fixed, free = (a, b) if na.is_const else (b, a)
        condition, result = Cond("or", (equal, Cond("cmp", ("==", free, one)))), fixed
    else:
        condition = Cond("or", (equal, a_one, b_one))
        bounded = ctx.view.at_least(a, 1) and ctx.view.at_least(b, 1)
        # max(a, b) when neither can be 0; torch broadcasts 0 against 1 to 0. Named (like a
        # conv's output size) so that shapes and checks stay short.
        result = sym.maximum(a, b) if bounded else sym.maximum(a, b) * sym.minimum(sym.minimum(a, b), one)
        result = ctx.derive(result, a)
        ctx.checker.broadcast_sizes.update(name for name in result.symbols() if _a_broadcast(ctx, name))
    ctx.checker.require(condition, f"broadcast dimension {axis}: {_math(a)} and {_math(b)} must be equal or 1",
                        node=ctx.node, element=ctx.element)
    difference = na - nb
    dims = ctx.checker.knowledge.dims
    declared = {Expr.symbol(d) for d in ctx.checker.ir.dim_origin}  # a required input's sizes, as declared
    if difference.symbols() & dims and not (na in declared and not nb.symbols() & dims or
                                            nb in declared and not na.symbols() & dims):
        return result  # sizes of inputs (or computed from them): the caller's tensors decide, as in torch
    # They differ by an amount set by the arguments alone, or a declared size of an input meets
    # one the arguments set (Swin's `n` against a bias table's `wh*ww`): the author most likely
    # meant them equal, and a `require` says so (and makes the checks go away).
    if (a.symbols() | b.symbols()) & ctx.checker.broadcast_sizes:
        return result  # a size an earlier broadcast made: what settles that one (its W0006) settles this
    claimed = _as_written(ctx, a - b, difference)
    positive = sym.Expr({m: c for m, c in claimed.terms.items() if c > 0})
    negative = sym.Expr({m: -c for m, c in claimed.terms.items() if c < 0})
    claim = _remainder_claim(claimed) or f"{_python(positive)} == {_python(negative)}"
    loop = next((layer for layer in ctx.checker.ir.layers if layer.loop_var in difference.symbols()), None)
    if loop is not None:  # a size of one element of a layer list: the claim is about each
        elements = elements_source(loop.elements, lambda e: e if isinstance(e, str) else _python(e))  # `ks`, `range(n)`
        claim = f"all([{claim} for {loop.loop_var} in {elements}])"
    optional = sorted(a.name for a in ctx.checker.ir.args if a.optional and a.name in difference.symbols())
    if optional:  # `require k == ...` is refused where k may be None (E0106)
        claim = " or ".join(f"{name} is None" for name in optional) + f" or {claim}"
    if claimed.is_const:  # `c` against `c + 1`: never equal, so one of them is 1 wherever this runs
        ctx.warn("W0006", f"broadcast dimension {axis} pairs {_math(a)} with {_math(b)}, which are never equal: "
                 "torch broadcasts them only where one is 1", help="if they should be equal, one of the two sizes "
                 "is written wrong")
        return result
    ctx.warn("W0006", f"broadcast dimension {axis} pairs {_math(a)} with {_math(b)}: torch allows them to be equal "
             "or either to be 1", help=f"if they must be equal, say so: `require {claim}`")
    return result


def _a_broadcast(ctx, name: str) -> bool:
    """Whether `name` is a size a broadcast named (`max(a, b)`, not a conv's output size)."""
    definition = ctx.checker.ir.derived.get(name)
    return definition is not None and any(isinstance(factor, sym.Atom) and factor.op == "max"
                                          for monomial in definition.terms for factor, _ in monomial)


def _as_written(ctx, raw: Expr, normal: Expr) -> Expr:
    """The difference a suggested `require` states, in the names the spec wrote (`rot % 2 == 0`
    of `let rot = int(head_dim * factor)`), where they are names a spec can write; else its
    normal form, whose lets are written out (and whose float arithmetic, in Python, may
    round otherwise than the `let` does)."""
    ir = ctx.checker.ir
    writable = set(ir.dim_origin) | {a.name for a in ir.args} | {let.name for let in ir.lets} | set(ir.list_items)
    return raw if raw.terms and raw.symbols() <= writable else normal


def _remainder_claim(difference: Expr) -> str | None:
    """`k % 2 == 1` where the sizes differ by `k - 2*(k // 2) - 1` (an odd kernel's padded
    size against the map's), not that expanded equality."""
    for sign in (1, -1):
        signed = difference * sign
        for monomial, coefficient in signed.terms.items():
            factor = monomial[0][0] if len(monomial) == 1 and monomial[0][1] == 1 else None
            if not (isinstance(factor, Atom) and factor.op == "floordiv" and factor.args[1].is_const and
                    coefficient == -factor.args[1].value):
                continue
            dividend, divisor = factor.args
            rest = signed - dividend + divisor * Expr({monomial: Fraction(1)})
            if rest.is_const:
                written = _python(dividend)
                written = written if sym.precedence(dividend) >= MUL else f"({written})"  # `(f * k + w) % 2`
                return f"{written} % {_python(divisor)} == {_python(-rest)}"
    return None


def _math(expr: Expr) -> str:
    """A size in a message, as a shape comment shows it: `(hh - k + 1)*(ww - k + 1)`, not its
    expanded terms."""
    return sym.render(expr, str, style="shape")


def _python(expr: Expr) -> str:
    """A size as a spec writes it (a `require` to paste): Python's, with `ceil`, not `math.ceil`."""
    return sym.render(expr, str, style="python").replace("math.", "")
