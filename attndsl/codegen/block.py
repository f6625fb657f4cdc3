"""One block rendered: the state shared by the emitters of `__init__`, `forward`, checks and signatures."""

from __future__ import annotations

import math
import re
from fractions import Fraction

from .. import symbolic as sym
from ..guards import written_values
from ..ir import BlockIR, Cond, elements_source, list_item
from ..ranks import pack_of
from ..lower import Literal
from ..ops import ATOM, UNARY
from ..symbolic import Expr
from ..formatting import LINE_LENGTH
from .text import comment_text, float_text, placed_shape_comments, python_string
from .expressions import (_NEGATED, InternalError, source_expr)
from .checks import CheckEmitter
from .forward import ForwardEmitter
from .init import InitEmitter
from .inits import InitCodeEmitter
from .sequentials import SequentialEmitter
from .layer_kinds import LayerKindEmitter
from .loops import LoopEmitter
from .signatures import SignatureEmitter
from .options import Options
from .shape_display import ShapeDisplay


# The columns before a method's body in templates/torch/class.py.j2.
BODY_INDENT = 8

# Conditions `not` needs no brackets around: `not self.bn.track_running_stats`, not `not (...)`.
_BARE_UNDER_NOT = ("arg", "flag", "const", "all_elems", "module_flag", "training")


class BlockRenderer(InitEmitter, ForwardEmitter, CheckEmitter, SignatureEmitter, InitCodeEmitter, SequentialEmitter,
                    LayerKindEmitter, LoopEmitter, ShapeDisplay):
    def __init__(self, ir: BlockIR, options: Options, blocks: dict[str, BlockIR]):
        self.ir = ir
        self.options = options
        self.blocks = blocks
        self.graph = ir.graph
        self.used_attributes: set[str] = set()
        self.used_dims: set[str] = set()
        self.names: dict[int, str] = {}
        self.copies: list = []
        self.loop_variables: dict[int, list[str]] = {}  # a `for` loop's node -> its variables' names
        self.arg_names = {a.name for a in ir.args}
        self.let_names = {l.name for l in ir.lets}
        # Arguments whose attribute a layer took (`layer bn = batch_norm2d(c)` with `bn: bool`).
        # layers and params named like an argument (attndsl/lower/layer_names.py)
        self.layer_named_args = self.arg_names & ({l.name for l in ir.layers} | {p.name for p in ir.params})
        self.needs_ordered_dict = False
        self.float_symbols = getattr(ir, "float_symbols", set())
        self.derived_locals: dict[str, str] = {}
        self.rank_classes: dict[tuple, tuple[str, tuple]] = {}  # (rank argument, classes) -> (local, classes)
        # Display order of symbols: the inputs' dims as declared, then the arguments.
        ranked = [name for name, _ in sorted(ir.dim_origin.items(),
                                             key=lambda item: ([i.name for i in ir.inputs].index(item[1][0]),
                                                               item[1][1]))]
        ranked += [a.name for a in ir.args] + [l.name for l in ir.lets]
        self.rank = {name: index for index, name in enumerate(ranked)}

    def order(self, symbol: str):
        return (self.rank.get(symbol, len(self.rank)),)

    def math(self, expr: Expr) -> str:
        return sym.render(expr, self._math_name, style="math", order=self.order)

    def _math_name(self, symbol: str) -> str:
        """A size as messages name it: `spatial[0]` for a size of a pack, as the code reads it."""
        pack = pack_of(symbol, self.ir.packs) if self.ir.packs else None
        return symbol if pack is None else f"{pack[0]}[{pack[1]}]"

    def forward_name(self, symbol: str) -> str:
        if symbol.startswith("len(") and symbol.endswith(")"):
            inner = symbol[4:-1]
            self.used_attributes.add(inner)
            return f"len(self.{self.argument_attribute(inner)})"
        item = list_item(symbol)
        if item is not None:  # an item of a list argument: `out_chs[2]`
            self.used_attributes.add(item[0])
            return f"self.{self.argument_attribute(item[0])}[{item[1]}]"
        if symbol in self.arg_names or symbol in self.let_names:
            self.used_attributes.add(symbol)
            return f"self.{self.argument_attribute(symbol)}"
        if symbol in self.ir.derived:
            return self.derived_name(symbol)
        pack = pack_of(symbol, self.ir.packs)
        if pack is not None:  # a size of `*spatial`: an item of the list unpacked from the input's shape
            self.used_dims.add(pack[0])
            return f"{pack[0]}[{pack[1]}]"
        self.used_dims.add(symbol)
        return symbol

    def argument_attribute(self, name: str) -> str:
        """The attribute forward reads an argument from: its name, unless a layer has it;
        then `<name>_value` (a bool that says whether the layer exists is read off the
        layer instead: see `exists_by_argument`)."""
        if name not in self.layer_named_args:
            return name
        taken = self.arg_names | self.let_names | {l.name for l in self.ir.layers} | {p.name for p in self.ir.params} \
            | {b.name for b in self.ir.buffers}
        attribute = f"{name}_value"
        while attribute in taken:
            attribute += "_"
        return attribute

    def exists_by_argument(self, name: str) -> bool:
        """`layer bn = ...` under `if bn:`, or `layer norm = norm(c)` under `if norm is not
        None:` (and nowhere else): the attribute is None without the layer, as published code
        has it, and forward tests `self.bn is not None`."""
        if name not in self.layer_named_args:
            return False
        arg = next(a for a in self.ir.args if a.name == name)
        if arg.type == "layer" and arg.optional:
            given = Cond("not", (Cond("is_none", (name,)),))
            return all(l.guard == (given,) for l in self.ir.declarations(name))
        declared = self.ir.declarations(name) or [p for p in self.ir.params if p.name == name]
        return arg.type == "bool" and all(d.guard == (Cond("arg", (name,)),) for d in declared)

    def init_name(self, symbol: str) -> str:
        if symbol.startswith("len(") and symbol.endswith(")"):
            return f"len({symbol[4:-1]})"
        if symbol in self.ir.derived:
            return self.derived_name(symbol)
        return symbol

    def derived_name(self, symbol: str) -> str:
        """A local for a size the checker named (`H'` is `H_out`), computed where a check needs it."""
        name = self.derived_locals.get(symbol)
        if name is None:
            stem = symbol if symbol in self.ir.forward_lets else symbol.rstrip("'") + "_out"
            # A size named from `len(ks)` or `out_chs[2]` (`len(ks)'`): an identifier all the same
            stem = re.sub(r"_+", "_", re.sub(r"\W", "_", stem)).strip("_")
            if not stem.isidentifier():  # `_0'` leaves `0_out`: a name may not start with a digit
                stem = f"size_{stem}"
            taken = (set(self.ir.dim_origin) | set(self.ir.optional_dims) | self.arg_names | self.let_names
                     | {i.name for i in self.ir.inputs} | set(self.names.values()) | set(self.derived_locals.values()))
            name, count = stem, 1
            while name in taken:
                count += 1
                name = f"{stem}{count}"
            self.derived_locals[symbol] = name
        return name

    def derived_definitions(self, symbols: list[str], names) -> list[str]:
        """`H_out = ...` for each checker-named size a check reads, before the check (in the
        order `derived_dependencies` gives)."""
        return [f"{self.derived_name(s)} = {sym.render(self.ir.derived[s], names, order=self.order)}" for s in symbols]

    def derived_dependencies(self, symbols: set[str]) -> list[str]:
        """The checker-named sizes among `symbols`, with those their definitions read
        (`h''` is defined from `h'`), each after what it reads."""
        derived = self.ir.derived
        ordered: list[str] = []

        def visit(symbol: str) -> None:
            if symbol in ordered or symbol in self.ir.forward_lets:  # those open forward
                return
            for inner in sorted(derived[symbol].symbols() & set(derived)):
                visit(inner)
            ordered.append(symbol)

        for symbol in sorted(symbols & set(derived)):
            visit(symbol)
        return ordered

    def _expand_derived(self, expr: Expr) -> Expr:
        """A size in the sizes it is computed from, with no checker-named size left (`h''` is
        defined from `h'`): their locals are made only where a check needs them, which may
        be one branch of an `if`."""
        return sym.expand(expr, {name: value for name, value in self.ir.derived.items()
                                 if name not in self.ir.forward_lets})

    def forward_let_lines(self) -> list[tuple[str, list[str]]]:
        """`a = int(n**0.5)`: the lets of input sizes, computed once the sizes are known, each
        (name, its lines); as the spec wrote them (`(ws - W % ws) % ws`, not its normal form;
        `n / 2` a float, which the checker lets no size be: lower/numbers.py float_lets), whose
        value is the one the checker knows."""
        lets = []
        for name in self.ir.forward_lets:
            source = self.ir.forward_let_sources.get(name)
            if source is not None:
                lets.append((name, [f"{self.derived_name(name)} = {source_expr(source, self.forward_name)[0]}"]))
            else:
                lets.append((name, self.derived_definitions([name], self.forward_name)))
        return lets

    def forward_lets_read(self, symbols: set[str]) -> set[str]:
        """The lets of input sizes that `symbols` read, directly or through the sizes the
        checker named from them."""
        found, todo, seen = set(), list(symbols), set()
        while todo:
            symbol = todo.pop()
            if symbol in seen:
                continue
            seen.add(symbol)
            if symbol in self.ir.forward_lets:
                found.add(symbol)
            definition = self.ir.derived.get(symbol)
            if definition is not None:
                todo += list(definition.symbols())
        return found

    def runtime_only(self, expr: Expr) -> bool:
        """A size only the run time knows: it reads the join of an if/else (`c|2*c`),
        maybe through a size named from one (`h'` of a conv on it)."""
        return bool(self._expand_derived(expr).symbols() & set(self.ir.opaque))

    def dim(self, expr: Expr) -> str:
        return sym.render(self._expand_derived(expr), self.forward_name, style="python", order=self.order)

    def dims(self, exprs) -> str:
        """Sizes for a reshape: one size the reader cannot check at a glance becomes -1."""
        exprs = list(exprs)
        hidden = set(self.ir.derived) | set(self.ir.opaque)
        unknowable = [i for i, e in enumerate(exprs) if self.runtime_only(e)]
        if len(unknowable) > 1:  # the checker reports these (E0206)
            raise InternalError("a reshape has more than one size that only the run time knows")
        unclear = unknowable or [i for i, e in enumerate(exprs) if e.symbols() & hidden]
        if not unclear and len(exprs) > 1:  # `(b*h*w // (p*p), p*p, c)` reads `(-1, p * p, c)`
            unclear = [i for i, e in enumerate(exprs) if _divides(e)]
        rendered = []
        for index, expr in enumerate(exprs):
            rendered.append("-1" if len(unclear) == 1 and index == unclear[0] else self.dim(expr))
        return ", ".join(rendered)

    def axes(self, value) -> str:
        if isinstance(value, tuple):
            return "(" + ", ".join(str(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        return str(value)

    def scalar(self, value, names=None, folded: bool = False) -> tuple[str, int]:
        """A number as Python; `folded`: a float the canonical form made whole (`4 / 2`), kept
        a float (`2.0`), since it turns an integer tensor into float."""
        names = names or self.forward_name
        if isinstance(value, Literal):
            text = 'float("inf")' if value.value > 0 else 'float("-inf")'
            return text, ATOM
        if value.is_const and (folded or value.value.denominator == 1 and abs(value.value) >= 2**63):
            # a float the canonical form made whole (`4 / 2`, `-1e30`): written as Python writes it,
            # a float, which keeps an integer tensor float and fits where a 64-bit int would not
            text = float_text(value.value)
            return text, UNARY if text.startswith("-") else ATOM
        text = sym.render(value, names, style="float", order=self.order)
        if folded:
            return f"float({text})", ATOM
        return text, sym.precedence(value, style="float")

    @staticmethod
    def wrap(rendered: tuple[str, int], needed: int) -> str:
        text, precedence = rendered
        return text if precedence >= needed else f"({text})"

    def condition(self, cond: Cond, names) -> str:
        if cond.op == "const":
            return "True" if cond.args[0] else "False"
        if cond.op == "arg":
            if names == self.forward_name and self.exists_by_argument(cond.args[0]):
                self.used_attributes.add(cond.args[0])
                return f"self.{cond.args[0]} is not None"
            return names(cond.args[0])
        if cond.op in ("text", "has"):  # `self.pooling_type == "att"`, `"channel_add" in self.fusion_types`
            word = python_string(cond.args[1])
            return f"{names(cond.args[0])} == {word}" if cond.op == "text" else f"{word} in {names(cond.args[0])}"
        if cond.op == "present":
            return f"{cond.args[0]} is not None"
        if cond.op == "flag":  # an input of forward: its own name there
            return cond.args[0]
        if cond.op == "is_none":  # an optional argument
            if names == self.forward_name and self.exists_by_argument(cond.args[0]):
                self.used_attributes.add(cond.args[0])
                return f"self.{cond.args[0]} is None"
            return f"{names(cond.args[0])} is None"
        if cond.op == "training":
            return "self.training"
        if cond.op == "module_flag":  # what the built layer holds (a partial may have set it)
            return f"self.{cond.args[0]}.{cond.args[1]}"
        if cond.op == "not":
            inner = cond.args[0]
            if inner.op == "present":
                return f"{inner.args[0]} is None"
            if inner.op == "is_none":
                if names == self.forward_name and self.exists_by_argument(inner.args[0]):
                    self.used_attributes.add(inner.args[0])
                    return f"self.{inner.args[0]} is not None"
                return f"{names(inner.args[0])} is not None"
            if inner.op == "arg" and names == self.forward_name and self.exists_by_argument(inner.args[0]):
                self.used_attributes.add(inner.args[0])
                return f"self.{inner.args[0]} is None"
            if inner.op in ("text", "has"):
                word = python_string(inner.args[1])
                return f"{names(inner.args[0])} != {word}" if inner.op == "text" else \
                    f"{word} not in {names(inner.args[0])}"
            if inner.op == "cmp":  # `ratio <= 1` reads better than `not (ratio > 1)`
                op, left, right = inner.args
                return self.condition(Cond("cmp", (_NEGATED[op], left, right)), names)
            text = self.condition(inner, names)
            return f"not {text}" if inner.op in _BARE_UNDER_NOT else f"not ({text})"
        if cond.op in ("and", "or"):
            parts = []
            for part in cond.args:
                text = self.condition(part, names)
                parts.append(f"({text})" if part.op in ("and", "or") and part.op != cond.op else text)
            return f" {cond.op} ".join(parts)
        if cond.op == "cmp":
            op, (left, right) = cond.args[0], _fractions_cleared(*cond.args[1:])
            return f"{self._compared(left, names)} {op} {self._compared(right, names)}"
        if cond.op == "written":  # as the spec wrote it, Python's floats deciding (guards.Written)
            values = written_values(cond)

            def written_name(name: str) -> str:
                return self._written_name(values[name], names) if name in values else names(name)

            return source_expr(cond.args[0].node, written_name)[0]
        if cond.op == "all_elems":
            elements, var, inner = cond.args
            body = self.condition(inner, lambda s: s if s == var else names(s))
            source = elements_source(elements, lambda e: self._compared(e, names) if isinstance(e, Expr) else names(e))
            return f"all({body} for {var} in {source})"
        raise InternalError(f"unknown condition {cond.op}")

    def _written_name(self, value: Expr, names) -> str:
        """A name a written comparison reads: an argument, a let, a size by its name; a value
        the lowering substituted (a sub-block's argument), in brackets."""
        text = self._compared(value, names)
        return text if text.isidentifier() or text.startswith("self.") and text[5:].isidentifier() else f"({text})"

    def _compared(self, expr: Expr, names) -> str:
        """A side of a comparison, with its true value: `//` only where the division is a
        whole number (a size); a fraction or a float argument keeps `/` (`1/2` is not `1 // 2`)."""
        whole = _whole(expr) and not expr.symbols() & self.float_symbols
        return sym.render(expr, names, style="python" if whole else "float", order=self.order)

    def render(self) -> dict:
        forward = self.forward_lines()  # first: it decides which attributes __init__ keeps
        init = self.init_lines()
        return {
            "name": self.ir.name,
            # Comments above the block stay above the class (when they are not its docstring).
            "comments": [comment_text(c) for c in self.ir.comments if self.ir.doc and comment_text(c)],
            "docstring": self.docstring(),
            "init_signature": self.init_signature(),
            "init_body": placed_shape_comments(init, BODY_INDENT, LINE_LENGTH),
            "forward_signature": self.forward_signature(),
            "forward_body": placed_shape_comments(forward, BODY_INDENT, LINE_LENGTH),
        }


def _fractions_cleared(left: Expr, right: Expr) -> tuple[Expr, Expr]:
    """`d/12 + (k//2)/12 < 5/6` as `d + k // 2 < 10`: both sides times the lcm of their
    coefficients' denominators (positive: the same comparison), so that Python compares
    whole numbers exactly, not floats rounded (`0.0833 * 8 + 0.0833 * 2 < 0.8333` holds)."""
    scale = math.lcm(*(Fraction(c).denominator for side in (left, right) for c in side.terms.values()))
    return (left, right) if scale == 1 else (left * scale, right * scale)


def _whole(expr: Expr) -> bool:
    """No fraction anywhere in it, inside max/min/floor divisions included."""
    for monomial, coefficient in expr.terms.items():
        if coefficient.denominator != 1:
            return False
        for factor, exponent in monomial:
            if exponent < 0 or (not isinstance(factor, str) and not all(_whole(a) for a in factor.args)):
                return False
    return True


def _divides(expr: Expr) -> bool:
    """Whether a size is a quotient (`h*w/(p*p)`, `(h - k) // s + 1`): the one size of a
    reshape that is, is left to -1, as hand-written reshapes do."""
    return any(exponent < 0 or (not isinstance(factor, str) and factor.op == "floordiv")
               for monomial in expr.terms for factor, exponent in monomial)
