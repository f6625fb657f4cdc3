"""Run-time checks (the prologue of `forward` and the checks of `__init__`) and their nesting under guards."""

from __future__ import annotations


from .. import symbolic as sym
from ..guards import cannot_hold, reads_written
from ..ir import CheckInfo, Cond, complementary, negate
from ..shapes.conditions import condition_symbols
from ..symbolic import Expr
from .text import comment_text, fstring
from .expressions import _NEGATED, _negated


class CheckEmitter:
    def _place_checks(self, statements: list, owners: list[int]) -> tuple[list, list, list]:
        """Forward's checks: those under a guard go at the top of the first block of the body
        under that guard (one `if self.flag:`, not two), unless that block comes after the
        statement the check protects (a check that only one world needs, of a node every
        world computes: it opens forward under its own `if`); the rest open forward.
        Rendered in their final order, so a size a check computes (`H_out`) is reused after it.
        Returns the prologue's checks, the statements with the rest placed, and the node each
        of those statements writes out (None for a check)."""
        checks = [c for c in self.ir.checks if c.where == "forward"] if self.options.runtime_checks else []
        inline: dict[int, list] = {}
        prologue = []
        for check in checks:
            target = None
            if check.guard:
                target = next((i for i, (guard, _) in enumerate(statements)
                               if tuple(guard[:len(check.guard)]) == tuple(check.guard)), None)
            if target is not None and target > self._first_reader(check.node, owners):
                target = None
            if target is None:
                prologue.append(check)
            else:
                inline.setdefault(target, []).append(check)
        prologue = _grouped_by_guard(prologue)
        defined: dict = {}
        rendered_prologue = [(c.guard, self._check_lines(c, self.forward_name, "forward", defined),
                              self.forward_lets_read(condition_symbols(c.condition)))  # placed among the lets
                             for c in prologue]
        placed, placed_owners = [], []
        for index, statement in enumerate(statements):
            for check in inline.get(index, []):
                placed.append((check.guard, self._check_lines(check, self.forward_name, "forward", defined)))
                placed_owners.append(None)
            placed.append(statement)
            placed_owners.append(owners[index])
        return rendered_prologue, placed, placed_owners

    def _first_reader(self, node: int | None, owners: list[int]) -> int:
        """The index of the first statement that computes `node` or reads its value (itself
        written inline there, or through later nodes); past the end when none does."""
        if node is None or node not in self.graph:
            return len(owners)
        import networkx as nx

        needing = nx.descendants(self.graph, node) | {node}
        return next((i for i, owner in enumerate(owners) if owner in needing), len(owners))

    def _prologue(self, checks: list) -> list[str]:
        """Each input's rank, element type and declared sizes (an optional one's when it is
        given), the sizes forward uses unpacked, then the checks that open forward (rendered
        already: they decided which sizes must be unpacked)."""
        sizes = {info.name: self._sizes(info, self.ir.optional_dim_origin if info.optional else self.ir.dim_origin)
                 for info in self.ir.inputs} if self.options.runtime_checks else {}
        lets = self.forward_let_lines()  # rendered before the sizes are unpacked: they read some
        lines: list[str] = []
        for info in self.ir.inputs:
            if not info.optional:
                lines += self._contract(info, check_sizes=False) if self.options.runtime_checks else []
        lines += self._unpack([i for i in self.ir.inputs if not i.optional], self.ir.dim_origin)
        for info in self.ir.inputs:
            if not info.optional:
                lines += sizes.get(info.name, [])
        for info in self.ir.inputs:
            if info.optional:
                body = (self._contract(info, check_sizes=False) if self.options.runtime_checks else []) + \
                    self._unpack([info], self.ir.optional_dim_origin) + sizes.get(info.name, [])
                if body:
                    lines.append(f"if {info.name} is not None:")
                    lines += ["    " + line for line in body]
        return lines + self._guarded(self._interleaved(checks, lets), self.forward_name)

    def _interleaved(self, checks: list, lets: list) -> list:
        """The checks that open forward, each before the first let of input sizes it needs to
        read and after those it reads: `if n == 2: raise` (that `n - 2` divides) before
        `a = c // (n - 2)`, `if a < 1: raise` after it. Each keeps its order among the checks."""
        statements, pending = [], list(checks)
        for index, (name, let_lines) in enumerate(lets):
            later = {later_name for later_name, _ in lets[index:]}
            ready = [c for c in pending if not (c[2] & later)]
            statements += [(guard, body) for guard, body, _ in ready]
            pending = [c for c in pending if c[2] & later]
            statements.append(((), let_lines))
        return statements + [(guard, body) for guard, body, _ in pending]

    def _contract(self, info, check_sizes: bool) -> list[str]:
        rank = len(info.shape)
        if info.dtype == "flag":  # a bool, as Python takes one: any value `if` can test
            return []
        if info.dtype == "size":  # `H`: a whole number of at least 1 (a bool is not one)
            message = fstring([("text", f"{self.ir.name}: {info.name} must be an int of at least 1, got "),
                               ("code", f"{info.name}!r")])
            return [f"if not isinstance({info.name}, int) or isinstance({info.name}, bool) or {info.name} < 1:",
                    f"    raise ValueError({message})"]
        if info.dtype == "sizes":  # `spatial_size=(a, b)`: so many whole sizes, each at least 1
            sizes = "1 size" if rank == 1 else f"{rank} sizes"
            message = fstring([("text", f"{self.ir.name}: {info.name} must be {sizes} of at least 1 "
                                        f"{self.show(info.shape)}, got "), ("code", f"{info.name}")])
            item = "item" if info.name == "size" else "size"  # Twins' `forward(x, size)`: not shadowed
            return [f"if not (isinstance({info.name}, (tuple, list)) and len({info.name}) == {rank} and "
                    f"all(isinstance({item}, int) and not isinstance({item}, bool) and {item} >= 1 "
                    f"for {item} in {info.name})):",
                    f"    raise ValueError({message})"]
        if info.dtype == "bool":
            kind, wrong = "boolean", f"{info.name}.dtype != torch.bool"
        elif info.dtype == "int":  # int64, as HF's ids and torch's index ops take (torch.int is int32)
            kind, wrong = "int64 (torch.long)", f"{info.name}.dtype != torch.long"
        else:
            kind, wrong = "floating-point", f"not {info.name}.is_floating_point()"
        declared, expected = self.show(self.input_shape(info)), str(rank)
        if info.pack:  # `[b, c, *spatial]`: as many more sizes as the rank argument says
            arg = self.ir.packs[info.pack]
            expected = self.dim(Expr.symbol(arg) + rank)
            rank = f"({rank} + {arg})"
        # Sizes of at least 1 are part of the contract: the checker's proofs rely on them.
        message = fstring([("text", f"{self.ir.name}: {info.name} must be a {rank}-d {kind} tensor "
                                    f"{declared} with no empty dimension, got "),
                           ("code", f"tuple({info.name}.shape)"), ("text", " "), ("code", f"{info.name}.dtype")])
        return [f"if {info.name}.dim() != {expected} or {wrong} or 0 in {info.name}.shape:",
                f"    raise ValueError({message})"]

    def _sizes(self, info, origins) -> list[str]:
        """Each declared size that is not the first appearance of its symbol must match."""
        lines = []
        for axis, dim in enumerate(info.shape):
            origin = origins.get(str(dim)) if dim.is_monomial else None
            if origin == (info.name, axis):
                continue
            expected = self.dim(dim)
            message = fstring([("text", f"{self.ir.name}: {info.name}.shape[{axis}] must be "),
                               *self._value(dim, expected), ("text", ", got "), ("code", f"{info.name}.shape[{axis}]")])
            lines += [f"if {info.name}.shape[{axis}] != {expected}:", f"    raise ValueError({message})"]
        return lines

    def _unpack(self, inputs, origins) -> list[str]:
        lines = []
        for info in inputs:
            if info.dtype == "size":  # the argument is the size, by its own name
                continue
            targets = []
            for axis, dim in enumerate(info.shape):
                name = str(dim) if dim.is_monomial else None
                bound_here = origins.get(name) == (info.name, axis)
                targets.append(name if bound_here and name in self.used_dims else "_")
            used = [i for i, t in enumerate(targets) if t != "_"]
            if info.pack and info.pack in self.used_dims:  # `b, _, *spatial = x.shape`
                lines.append(f"{', '.join(targets + ['*' + info.pack])} = {info.name}.shape")
            elif info.dtype == "sizes" and used:
                lines.append(f"{', '.join(targets)}{',' if len(targets) == 1 else ''} = {info.name}")
            elif len(used) == 1 and len(targets) > 1:
                lines.append(f"{targets[used[0]]} = {info.name}.shape[{used[0]}]")
            elif used:  # `(n,) = x.shape` of a 1-d input: unpacked, not the torch.Size itself
                lines.append(f"({targets[0]},) = {info.name}.shape" if len(targets) == 1 else
                             f"{', '.join(targets)} = {info.name}.shape")
        return lines

    def _value(self, expr: Expr, code: str) -> list[tuple[str, str]]:
        """Message parts naming a size and showing its run-time value: `c = {c}`, or `8`."""
        if expr.is_const:
            return [("text", self.math(expr))]
        return [("text", f"{self.math(expr)} = "), ("code", code)]

    def _check_lines(self, check: CheckInfo, names, where: str, defined: dict | None = None) -> list[str]:
        """The check's lines, after the sizes it reads that the checker named (`H_out = ...`),
        unless an earlier check under an enclosing guard computed them already."""
        used = self.derived_dependencies(condition_symbols(check.condition))
        if defined is not None:
            fresh = []
            for symbol in used:
                guard = defined.get(symbol)
                if guard is None or tuple(check.guard[:len(guard)]) != guard:
                    fresh.append(symbol)
                    defined[symbol] = tuple(check.guard)
            used = fresh
        return self.derived_definitions(used, names) + self._test_lines(check, names)

    def _test_lines(self, check: CheckInfo, names) -> list[str]:
        block = self.ir.name
        written = next((r for r in self.ir.forward_requires if r.span == check.span), None) \
            if check.kind == "require" else None
        if written is not None:  # `require n <= max_len`: tested as the spec writes it
            sizes = set(self.ir.dim_origin) | set(self.ir.forward_lets) | set(self.ir.optional_dims)
            message = fstring([("text", f"{block}: {check.message}")] + self._values_read(written.source, names, sizes))
            test = _negated(written.source, names, flip=not reads_written(written.condition))
            return [f"if {test}:", f"    raise ValueError({message})"]
        condition = check.condition
        if isinstance(condition, Cond):
            message_parts = [("text", f"{block}: {check.message}")]
            if condition.op == "const":  # a combination of arguments that can never work
                return [f"raise ValueError({fstring(message_parts)})"]
            if condition.op in ("and", "or"):  # `nk and mw must be equal or 1`, with their values
                symbols = sorted(condition_symbols(condition))
                if 1 <= len(symbols) <= 5:
                    for index, symbol in enumerate(symbols):
                        message_parts += [("text", (", with " if index == 0 else ", ") + f"{symbol} = "),
                                          ("code", sym.render(sym.Expr.symbol(symbol), names))]
            if condition.op == "cmp":
                _, left, right = condition.args
                symbols = sorted(left.symbols() | right.symbols())
                if right.is_const and len(symbols) == 1 and (left == sym.Expr.symbol(symbols[0]) or
                                                             symbols[0].startswith("len(")):
                    # `d` must be at least 1, got 0; `ws` must have at least 2 items, got 1
                    message_parts += [("text", ", got "), ("code", sym.render(sym.Expr.symbol(symbols[0]), names))]
                elif 1 <= len(symbols) <= 5:  # the sizes and arguments it read, by their spec names
                    for index, symbol in enumerate(symbols):
                        message_parts += [("text", (", with " if index == 0 else ", ") + f"{symbol} = "),
                                          ("code", sym.render(sym.Expr.symbol(symbol), names))]
            test = self.condition(_negation(condition), names)
            return [f"if {test}:", f"    raise ValueError({fstring(message_parts)})"]
        kind, a, b = condition
        left, right = sym.render(a, names), sym.render(b, names)
        if kind == "eq":
            message = fstring([("text", f"{block}: {check.message} must agree, but "), *self._value(a, left),
                               ("text", " and "), *self._value(b, right)])
            return [f"if {left} != {right}:", f"    raise ValueError({message})"]
        message = fstring([("text", f"{block}: {check.message} needs "), *self._value(a, left),
                           ("text", " to be divisible by "), *self._value(b, right)])
        # `%` binds like `*`: anything with an operator in it gets parentheses.
        wrapped_right = right if " " not in right else f"({right})"
        wrapped_left = left if " " not in left else f"({left})"
        return [f"if {wrapped_left} % {wrapped_right} != 0:", f"    raise ValueError({message})"]

    def _guarded(self, statements: list[tuple[tuple, list[str]]], names, if_comments: dict | None = None) -> list[str]:
        """Nest statements under `if` blocks for their guards; `else:` where it reads so. The
        spec's comments on an `if` (`if_comments`, by condition) go above the first `if` written
        for it, or for its negation (a spec `if` whose first branch computes nothing here),
        and are taken from the dict: once each."""
        lines: list[str] = []
        open_guard: list = []
        opened_by_else: list[bool] = []  # an `else:` has no `else:` of its own
        last_closed = None
        for guard, body in statements:
            guard = _without_implied(guard)
            common = 0
            while common < min(len(open_guard), len(guard)) and open_guard[common] == guard[common]:
                common += 1
            if common < len(open_guard):
                last_closed = (common, open_guard[common], opened_by_else[common])
                open_guard, opened_by_else = open_guard[:common], opened_by_else[:common]
            for depth in range(common, len(guard)):
                cond = guard[depth]
                indent = "    " * depth
                is_else = bool(last_closed) and last_closed[0] == depth and not last_closed[2] and \
                    complementary(last_closed[1], cond)
                if not is_else and if_comments:
                    said = if_comments.pop(cond, None) or if_comments.pop(negate(cond), None) or []
                    lines += [f"{indent}# {comment_text(c)}" for c in said if comment_text(c)]
                lines.append(f"{indent}else:" if is_else else f"{indent}if {self.condition(cond, names)}:")
                last_closed = None
                open_guard.append(cond)
                opened_by_else.append(is_else)
            indent = "    " * len(open_guard)
            lines += [indent + line for line in "\n".join(body).split("\n")]
            last_closed = None if common == len(open_guard) else last_closed
        return _elif(lines)


def _without_implied(guard) -> list:
    """A guard without the conditions its earlier ones imply: `if mode == "max" and r > 1:`
    needs no `if not (mode == "avg" and r > 1):` inside it (an argument equals one string)."""
    kept: list = []
    for condition in guard:
        if not cannot_hold(tuple(kept) + (negate(condition),)):
            kept.append(condition)
    return kept


def _grouped_by_guard(checks: list) -> list:
    """The checks with the same guards brought together, so that one `if self.dimension == 2:`
    holds them all. A check moves up only past checks whose guards cannot hold with its own
    (`dimension == 3` against `dimension == 2`): no call makes both, so every call still makes
    the same checks in the same order."""
    ordered: list = []
    for check in checks:
        place = best = len(ordered)
        best_shared = _shared_prefix(ordered[-1].guard, check.guard) if ordered else 0
        while place > 0 and cannot_hold(tuple(ordered[place - 1].guard) + tuple(check.guard)):
            place -= 1
            shared = _shared_prefix(ordered[place - 1].guard, check.guard) if place else 0
            if shared > best_shared:
                best, best_shared = place, shared
        ordered.insert(best, check)
    return ordered


def _shared_prefix(a, b) -> int:
    """How many `if`s two guards open alike."""
    shared = 0
    while shared < min(len(a), len(b)) and a[shared] == b[shared]:
        shared += 1
    return shared


def _negation(cond: Cond) -> Cond:
    """`not cond` as it reads best: comparisons flip, `and`/`or` swap (De Morgan)."""
    if cond.op == "cmp":
        operator, left, right = cond.args
        return _balanced(Cond("cmp", (_NEGATED[operator], left, right)))
    if cond.op in ("and", "or"):
        return Cond("or" if cond.op == "and" else "and", tuple(_negation(c) for c in cond.args))
    return negate(cond)


_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


def _balanced(cond: Cond) -> Cond:
    """A comparison with what it adds on the left and what it takes away on the right:
    `len(dims) < 2` and `h + pad < ksize`, not `len(dims) - 2 < 0` (the checker brings
    many checks to `difference op 0`). A comparison with a constant other than 0 keeps its
    left side but for its constant: `h - 1 < 1` reads `h < 2`."""
    operator, left, right = cond.args
    if not right.is_const:
        return cond
    if right.value != 0 and operator in ("==", "!="):  # `d + 1 != 1`: a size against 1, as written
        return cond
    if right.value != 0:  # `h - 1 < 1` reads `h < 2`; `c // 2 - c // 4 < 1` (a width) stays
        constant = left.terms.get((), 0)
        return Cond("cmp", (operator, left - constant, right - constant)) if constant else cond
    difference = left - right
    if difference.is_const:
        return cond
    gains = Expr({m: c for m, c in difference.terms.items() if c > 0})
    losses = Expr({m: -c for m, c in difference.terms.items() if c < 0})
    if gains.is_const and gains.value == 0:  # `0 < d` reads as `d > 0`
        return Cond("cmp", (_FLIPPED[operator], losses, gains))
    return Cond("cmp", (operator, gains, losses))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _elif(lines: list[str]) -> list[str]:
    """`else:` whose whole body is one `if` chain becomes `elif` (as `elif` clauses read)."""
    changed = True
    while changed:
        changed = False
        for index, line in enumerate(lines[:-1]):
            depth = _indent(line)
            following = lines[index + 1]
            if line.strip() != "else:" or _indent(following) != depth + 4 or not following.strip().startswith("if "):
                continue
            end = index + 1
            while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > depth):
                end += 1
            block = lines[index + 1:end]
            heads = [l for l in block if _indent(l) == depth + 4]
            if all(h.strip().startswith(("if ", "elif ")) or h.strip() == "else:" for h in heads) and \
                    sum(h.strip().startswith("if ") for h in heads) == 1:
                lines[index:end] = [" " * depth + "el" + following.strip()] + [l[4:] for l in block[1:]]
                changed = True
                break
    return lines
