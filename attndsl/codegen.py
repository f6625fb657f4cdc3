"""IR → Python source. Every expression is rendered here from the op registry's
templates; the file layout comes from the Jinja templates in `templates/torch/`;
black formats the result. Codegen never re-derives a shape: it reads the shapes the
checker stored on the nodes.
"""

from __future__ import annotations

import inspect
import keyword
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from . import __version__
from . import symbolic as sym
from .ir import BlockIR, CheckInfo, Cond, LayerInfo, LayerSpec
from .layers import LAYERS
from .lower import Literal
from .naming import assign_names
from .ops import ADD, ATOM, COMPARE, LOWEST, MUL, OPS, UNARY, ListShape
from .resources import resource_dir
from .shapes import show
from .symbolic import Expr



@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(resource_dir("templates") / "torch")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


@dataclass
class Options:
    runtime_checks: bool = True
    source_name: str = "spec.attn"


@dataclass
class NodeView:
    """What a render template may read about the node it renders."""

    shape: tuple
    operand_shapes: list
    operand_ops: list


# ---------------------------------------------------------------------------- strings


def python_string(text: str) -> str:
    """A double-quoted Python literal for any text (user text is never pasted raw)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    escaped = "".join(c if c.isprintable() or c in "\\" else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
                      for c in escaped)
    return f'"{escaped}"'


def fstring(parts: list[tuple[str, str]]) -> str:
    """An f-string from ("text", ...) and ("code", ...) parts, escaping the text."""
    formatted = any(kind == "code" for kind, _ in parts)
    out = []
    for kind, value in parts:
        if kind == "text":
            literal = python_string(value)[1:-1]
            out.append(literal.replace("{", "{{").replace("}", "}}") if formatted else literal)
        else:
            out.append("{" + value + "}")
    body = "".join(out)
    return f'f"{body}"' if formatted else f'"{body}"'


def comment_text(text: str) -> str:
    """A user comment made safe for a `#` line (no line breaks can escape it)."""
    return "".join(c if c.isprintable() else " " for c in text).strip()


def docstring_text(text: str) -> str:
    cleaned = "".join(c if c.isprintable() or c == "\n" else " " for c in text)
    return cleaned.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


# ---------------------------------------------------------------------------- blocks


class BlockRenderer:
    def __init__(self, ir: BlockIR, options: Options, blocks: dict[str, BlockIR]):
        self.ir = ir
        self.options = options
        self.blocks = blocks
        self.graph = ir.graph
        self.used_attributes: set[str] = set()
        self.used_dims: set[str] = set()
        self.names: dict[int, str] = {}
        self.copies: list = []
        self.arg_names = {a.name for a in ir.args}
        self.let_names = {l.name for l in ir.lets}
        self.needs_ordered_dict = False
        self.float_symbols = getattr(ir, "float_symbols", set())
        # Display order of symbols: the inputs' dims as declared, then the arguments.
        ranked = [name for name, _ in sorted(ir.dim_origin.items(),
                                             key=lambda item: ([i.name for i in ir.inputs].index(item[1][0]),
                                                               item[1][1]))]
        ranked += [a.name for a in ir.args] + [l.name for l in ir.lets]
        self.rank = {name: index for index, name in enumerate(ranked)}

    def order(self, symbol: str):
        return (self.rank.get(symbol, len(self.rank)),)

    def show(self, shape) -> str:
        return show(shape, self.order)

    def math(self, expr: Expr) -> str:
        return sym.render(expr, str, style="math", order=self.order)

    # ------------------------------------------------------------------ names in code
    def forward_name(self, symbol: str) -> str:
        if symbol.startswith("len(") and symbol.endswith(")"):
            inner = symbol[4:-1]
            self.used_attributes.add(inner)
            return f"len(self.{inner})"
        if symbol in self.arg_names or symbol in self.let_names:
            self.used_attributes.add(symbol)
            return f"self.{symbol}"
        self.used_dims.add(symbol)
        return symbol

    @staticmethod
    def init_name(symbol: str) -> str:
        if symbol.startswith("len(") and symbol.endswith(")"):
            return f"len({symbol[4:-1]})"
        return symbol

    def _expand_derived(self, expr: Expr) -> Expr:
        if expr.symbols() & set(self.ir.derived):
            return sym.substitute(expr, self.ir.derived)
        return expr

    def dim(self, expr: Expr) -> str:
        return sym.render(self._expand_derived(expr), self.forward_name, style="python", order=self.order)

    def dims(self, exprs) -> str:
        """Sizes for a reshape: one size the reader cannot check at a glance becomes -1."""
        exprs = list(exprs)
        hidden = set(self.ir.derived) | set(self.ir.opaque)
        unknowable = [i for i, e in enumerate(exprs) if e.symbols() & set(self.ir.opaque)]
        if len(unknowable) > 1:  # the checker reports these (E0206)
            raise InternalError("a reshape has more than one size that only the run time knows")
        unclear = unknowable or [i for i, e in enumerate(exprs) if e.symbols() & hidden]
        rendered = []
        for index, expr in enumerate(exprs):
            rendered.append("-1" if len(unclear) == 1 and index == unclear[0] else self.dim(expr))
        return ", ".join(rendered)

    def axes(self, value) -> str:
        if isinstance(value, tuple):
            return "(" + ", ".join(str(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        return str(value)

    def scalar(self, value, names=None) -> tuple[str, int]:
        names = names or self.forward_name
        if isinstance(value, Literal):
            text = 'float("inf")' if value.value > 0 else 'float("-inf")'
            return text, ATOM
        text = sym.render(value, names, style="float", order=self.order)
        if value.is_const:
            return text, (UNARY if value.value < 0 else ATOM)
        precedence = ATOM if value.is_monomial and len(value.terms) == 1 and list(value.terms.values())[0] == 1 \
            and len(next(iter(value.terms))) == 1 and next(iter(value.terms))[0][1] == 1 else LOWEST
        return text, precedence

    @staticmethod
    def wrap(rendered: tuple[str, int], needed: int) -> str:
        text, precedence = rendered
        return text if precedence >= needed else f"({text})"

    # ------------------------------------------------------------------ conditions
    def condition(self, cond: Cond, names) -> str:
        if cond.op == "const":
            return "True" if cond.args[0] else "False"
        if cond.op == "arg":
            return names(cond.args[0])
        if cond.op == "present":
            return f"{cond.args[0]} is not None"
        if cond.op == "not":
            inner = cond.args[0]
            if inner.op == "present":
                return f"{inner.args[0]} is None"
            text = self.condition(inner, names)
            return f"not {text}" if inner.op in ("arg", "const") else f"not ({text})"
        if cond.op in ("and", "or"):
            parts = []
            for part in cond.args:
                text = self.condition(part, names)
                parts.append(f"({text})" if part.op in ("and", "or") and part.op != cond.op else text)
            return f" {cond.op} ".join(parts)
        if cond.op == "cmp":
            op, left, right = cond.args
            return f"{sym.render(left, names, order=self.order)} {op} {sym.render(right, names, order=self.order)}"
        if cond.op == "all_elems":
            list_name, var, inner = cond.args
            body = self.condition(inner, lambda s: s if s == var else names(s))
            return f"all({body} for {var} in {names(list_name)})"
        raise InternalError(f"unknown condition {cond.op}")

    # ------------------------------------------------------------------ __init__
    def init_lines(self) -> list[str]:
        lines: list[str] = ["super().__init__()"]
        for let in self.ir.lets:
            lines.append(f"{let.name} = {source_expr(let.source, self.init_name)[0]}")
        for check in self.ir.requires:
            test = _negated(check.source, self.init_name)
            message = fstring([("text", f"{self.ir.name}: {check.message}")])
            lines += [f"if {test}:", f"    raise ValueError({message})"]
        if self.options.runtime_checks:
            # Under the guards of what they check (a conv declared inside `if`).
            lines += self._guarded([(check.guard, self._check_lines(check, self.init_name, where="init"))
                                    for check in self.ir.checks if check.where == "init"], self.init_name)
        # Attributes read by forward, in argument order (then lets), like hand-written code.
        for name in [a.name for a in self.ir.args] + [l.name for l in self.ir.lets]:
            if name in self.used_attributes:
                lines.append(f"self.{name} = {name}")
        current: tuple = ()
        body: list[tuple[tuple, list[str]]] = []
        declarations = sorted(
            [(p.span.line, p.span.column, "param", p) for p in self.ir.params]
            + [(l.span.line, l.span.column, "layer", l) for l in self.ir.layers],
            key=lambda t: (t[0], t[1]),
        )
        for _, _, kind, item in declarations:
            statement = self._param_line(item) if kind == "param" else self._layer_line(item)
            comments = [f"# {comment_text(c)}" for c in item.comments if comment_text(c)]
            body.append((item.guard, comments + [statement]))
        lines += self._guarded(body, self.init_name)
        return lines

    def _param_line(self, param) -> str:
        dims = ", ".join(source_expr(d, self.init_name)[0] for d in param.shape_sources)
        return f"self.{param.name} = nn.Parameter(torch.{param.init}({dims or '()'}))"

    def _layer_line(self, info: LayerInfo) -> str:
        if info.element is not None:
            loop_var = info.loop_var if self._mentions(info.element, info.loop_var) else "_"
            element = self.layer_expr(info.element)
            return f"self.{info.name} = nn.ModuleList([{element} for {loop_var} in {info.iterable}])"
        return f"self.{info.name} = {self.layer_expr(info.spec)}"

    def _mentions(self, spec: LayerSpec, var: str) -> bool:
        for value in spec.args.values():
            if isinstance(value, Expr) and var in value.symbols():
                return True
        return any(self._mentions(child, var) for _, child in spec.children)

    def layer_expr(self, spec: LayerSpec) -> str:
        if spec.kind == "sequential":
            if spec.children and spec.children[0][0] is not None:
                self.needs_ordered_dict = True
                items = ", ".join(f"({python_string(name)}, {self.layer_expr(child)})" for name, child in spec.children)
                return f"nn.Sequential(OrderedDict([{items}]))"
            return f"nn.Sequential({', '.join(self.layer_expr(child) for _, child in spec.children)})"
        if spec.kind == "block":
            args = ", ".join(f"{name}={self._layer_arg(value, spec.sources.get(name))}" for name, value in spec.args.items())
            return f"{spec.block}({args})"
        definition = LAYERS[spec.kind]
        positional = [self._layer_arg(spec.args[name], spec.sources.get(name)) for name in spec.positional]
        keywords = []
        for param in definition.params:
            if param.name in spec.positional:
                continue
            value = spec.args.get(param.name)
            if not param.required and _is_default(value, param.default):
                continue
            keywords.append(f"{param.name}={self._layer_arg(value, spec.sources.get(param.name))}")
        return f"nn.{definition.torch_class}({', '.join(positional + keywords)})"

    def _layer_arg(self, value, source=None) -> str:
        if source is not None:
            return source_expr(source, self.init_name)[0]
        if isinstance(value, Expr):
            return sym.render(value, self.init_name, style="float" if value.symbols() & self.float_symbols or
                              (value.is_const and value.value.denominator != 1) else "python")
        if isinstance(value, Cond):
            return self.condition(value, self.init_name)
        if value is None:
            return "None"
        if isinstance(value, str):
            return python_string(value)
        if isinstance(value, (int, float)):
            return repr(value)
        if hasattr(value, "name"):  # a list argument
            return value.name
        raise InternalError(f"cannot render layer argument {value!r}")

    # ------------------------------------------------------------------ forward
    def plan_names(self, order: list[int]) -> set[int]:
        """Decide which nodes get a line of their own, and their names."""
        materialized: set[int] = set()
        in_loop = self._loop_bodies()
        for node in order:
            attrs = self.graph.nodes[node]
            op = attrs["op"]
            users = list(self.graph.successors(node))
            use_count = self.graph.out_degree(node)
            if op in ("input", "param", "scalar", "loop_layer", "phi") or node in in_loop:
                continue
            if op == "item":
                continue
            if node in self.ir.outputs and len(self.ir.outputs) == 1 and not attrs.get("var_names"):
                continue
            named = attrs["name"] is not None
            multi_output = OPS.get(op) is not None and OPS[op].outputs is not None
            feeds_phi = any(self.graph.nodes[u]["op"] == "phi" for u in users)
            guard_differs = any(self.graph.nodes[u]["guard"] != attrs["guard"] for u in users)
            if named or multi_output or feeds_phi or use_count > 1 or guard_differs or node in self.ir.outputs:
                materialized.add(node)
        reserved = set(self.ir.dim_origin) | {i.name for i in self.ir.inputs}
        naming = assign_names(self.ir, order, materialized, reserved)
        self.names = naming.names
        self.copies = naming.copies
        return materialized

    def _loop_bodies(self) -> set[int]:
        """Nodes inside a comprehension: after its loop variable, before its list."""
        import networkx as nx

        body: set[int] = set()
        for node in self.graph.nodes:
            if self.graph.nodes[node]["op"] == "list_comp":
                loop = self.ir.operands(node)[-1]
                body |= nx.descendants(self.graph, loop) & nx.ancestors(self.graph, node)
        return body

    def expression(self, node: int, materialized: set[int]) -> tuple[str, int]:
        attrs = self.graph.nodes[node]
        op = attrs["op"]
        if node in self.names and (node in materialized or op in ("input", "param", "item", "phi")):
            return self.names[node], ATOM
        if op == "scalar":
            return self.scalar(attrs["attrs"]["value"])
        if op == "loop_layer":
            return attrs["attrs"]["var"], ATOM
        operands = [self.expression(o, materialized) for o in self.ir.operands(node)]
        if op == "call_layer":
            return self._render_layer_call(attrs, operands), ATOM
        if op == "list_comp":
            layer = attrs["attrs"]["layer"]
            self.used_attributes.discard(layer)
            return f"[{operands[0][0]} for {attrs['attrs']['var']} in self.{layer}]", ATOM
        definition = OPS[op]
        view = NodeView(
            shape=attrs["shape"],
            operand_shapes=[self.graph.nodes[o]["shape"] for o in self.ir.operands(node)],
            operand_ops=[self.graph.nodes[o]["op"] for o in self.ir.operands(node)],
        )
        node_attrs = dict(attrs["attrs"])
        if "value" in node_attrs and op == "masked_fill":
            node_attrs["value"] = self.scalar(node_attrs["value"])[0]
        if op in ("cat", "stack") and len(operands) == 1 and view.operand_ops[0] == "list_comp":
            operands = [(operands[0][0], "list")]
        if callable(definition.render):
            return definition.render(self, view, operands, node_attrs)
        return _fill(definition.render, definition, operands, node_attrs, self), definition.precedence

    def _render_layer_call(self, attrs, operands) -> str:
        details = attrs["attrs"]
        arguments = ", ".join(text for text, _ in (operands[:-1] if details.get("element") else operands))
        if details.get("element"):
            return f"{details['var']}({arguments})"
        target = f"self.{details['layer']}"
        for child in details["path"]:
            # A child named like a Python keyword (EMSA's `in`) is reached with getattr.
            target = f'getattr({target}, "{child}")' if keyword.iskeyword(child) else f"{target}.{child}"
        return f"{target}({arguments})"

    def shape_comment(self, node: int) -> str:
        attrs = self.graph.nodes[node]
        shape = attrs["shape"]
        where = f"{Path(self.options.source_name).name}:{attrs['span'].line}"
        if OPS.get(attrs["op"]) is not None and OPS[attrs["op"]].outputs is not None:
            text = ", ".join(self.show(s) for s in shape)
        else:
            text = self.show(shape)
        return f"  # {text}  {where}"

    def forward_lines(self) -> list[str]:
        order = self.ir.topological()
        materialized = self.plan_names(order)
        statements: list[tuple[tuple, list[str]]] = []
        copies = {}
        for phi, guard, operand in self.copies:
            copies.setdefault(phi, []).append((guard, operand))
        for node in order:
            for guard, operand in copies.get(node, []):
                # A value that could not be computed into the phi's name is copied there.
                statements.append((guard, [f"{self.names[node]} = {self.expression(operand, materialized)[0]}"]))
            if node not in materialized:
                continue
            attrs = self.graph.nodes[node]
            text, _ = self._expression_unmaterialized(node, materialized)
            comments = [f"# {comment_text(c)}" for c in attrs["comments"] if comment_text(c)]
            if OPS.get(attrs["op"]) is not None and OPS[attrs["op"]].outputs is not None:
                items = {self.graph.nodes[u]["attrs"]["index"]: self.names[u] for u in self.graph.successors(node)}
                count = len(attrs["shape"])
                targets = ", ".join(items.get(i, "_") for i in range(count))
                line = f"{targets}{',' if count == 1 else ''} = {text}"
            else:
                line = f"{self.names[node]} = {text}"
            statements.append((attrs["guard"], comments + [line + self.shape_comment(node)]))
        lines = self._guarded(statements, self.forward_name)
        outputs = []
        for output in self.ir.outputs:
            outputs.append(self.expression(output, materialized)[0])
        return_line = "return " + ", ".join(outputs)
        if len(self.ir.outputs) == 1 and self.ir.outputs[0] not in materialized:
            output = self.graph.nodes[self.ir.outputs[0]]
            lines += [f"# {comment_text(c)}" for c in output["comments"] if comment_text(c)]
            return_line += self.shape_comment(self.ir.outputs[0])
        lines.append(return_line)
        prologue = self._prologue()
        return prologue + lines

    def _expression_unmaterialized(self, node, materialized):
        materialized.discard(node)
        try:
            return self.expression(node, materialized)
        finally:
            materialized.add(node)

    def _prologue(self) -> list[str]:
        """Unpack the dims forward uses, then the run-time checks of the inputs' contracts."""
        lines: list[str] = []
        checks: list[tuple[tuple, list[str]]] = []
        if self.options.runtime_checks:
            for check in self.ir.checks:
                if check.where == "forward":
                    checks.append((check.guard, self._check_lines(check, self.forward_name, where="forward")))
        ranks: list[str] = []
        contract: list[str] = []
        for info in self.ir.inputs:
            if info.optional or not self.options.runtime_checks:
                continue
            rank = len(info.shape)
            message = fstring([("text", f"{self.ir.name}: {info.name} must have {rank} dimensions "
                                        f"{self.show(info.shape)}, got "), ("code", f"{info.name}.dim()")])
            ranks.append(f"if {info.name}.dim() != {rank}:")
            ranks.append(f"    raise ValueError({message})")
            for axis, dim in enumerate(info.shape):
                origin = self.ir.dim_origin.get(str(dim)) if dim.is_monomial else None
                if origin == (info.name, axis):
                    continue
                expected = self.dim(dim)
                message = fstring([("text", f"{self.ir.name}: {info.name}.shape[{axis}] must be {self.math(dim)} = "),
                                   ("code", expected), ("text", ", got "), ("code", f"{info.name}.shape[{axis}]")])
                contract.append(f"if {info.name}.shape[{axis}] != {expected}:")
                contract.append(f"    raise ValueError({message})")
        unpack: list[str] = []
        for info in self.ir.inputs:
            if info.optional:
                continue
            targets = []
            for axis, dim in enumerate(info.shape):
                name = str(dim) if dim.is_monomial else None
                bound_here = self.ir.dim_origin.get(name) == (info.name, axis)
                targets.append(name if bound_here and name in self.used_dims else "_")
            used = [i for i, t in enumerate(targets) if t != "_"]
            if len(used) == 1 and len(targets) > 1:
                unpack.append(f"{targets[used[0]]} = {info.name}.shape[{used[0]}]")
            elif used:
                unpack.append(f"{', '.join(targets)} = {info.name}.shape")
        return ranks + unpack + contract + self._guarded(checks, self.forward_name)

    def _value(self, expr: Expr, code: str) -> list[tuple[str, str]]:
        """Message parts naming a size and showing its run-time value: `c = {c}`, or `8`."""
        if expr.is_const:
            return [("text", self.math(expr))]
        return [("text", f"{self.math(expr)} = "), ("code", code)]

    def _check_lines(self, check: CheckInfo, names, where: str) -> list[str]:
        block = self.ir.name
        condition = check.condition
        if isinstance(condition, Cond):
            if condition.op == "cmp":  # `if a < b:` reads better than `if not (a >= b):`
                op, left, right = condition.args
                test = self.condition(Cond("cmp", (_NEGATED[op], left, right)), names)
            else:
                test = f"not ({self.condition(condition, names)})"
            message = fstring([("text", f"{block}: {check.message}")])
            return [f"if {test}:", f"    raise ValueError({message})"]
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

    # ------------------------------------------------------------------ guards
    def _guarded(self, statements: list[tuple[tuple, list[str]]], names) -> list[str]:
        """Nest statements under `if` blocks for their guards; `else:` where it reads so."""
        lines: list[str] = []
        open_guard: list = []
        last_closed = None
        for guard, body in statements:
            guard = list(guard)
            common = 0
            while common < min(len(open_guard), len(guard)) and open_guard[common] == guard[common]:
                common += 1
            if common < len(open_guard):
                last_closed = (common, open_guard[common])
                open_guard = open_guard[:common]
            for depth in range(common, len(guard)):
                cond = guard[depth]
                indent = "    " * depth
                if last_closed and last_closed[0] == depth and cond == Cond("not", (last_closed[1],)):
                    lines.append(f"{indent}else:")
                else:
                    lines.append(f"{indent}if {self.condition(cond, names)}:")
                last_closed = None
                open_guard.append(cond)
            indent = "    " * len(open_guard)
            lines += [indent + line for line in "\n".join(body).split("\n")]
            last_closed = None if common == len(open_guard) else last_closed
        return lines

    # ------------------------------------------------------------------ signatures
    def init_signature(self) -> str:
        parts = ["self"]
        for arg in self.ir.args:
            annotation = {"list[int]": "list[int]"}.get(arg.type, arg.type)
            if arg.required:
                parts.append(f"{arg.name}: {annotation}")
            else:
                parts.append(f"{arg.name}: {annotation} = {_python_value(arg.default)}")
        return ", ".join(parts)

    def forward_signature(self) -> str:
        parts = ["self"]
        for info in self.ir.inputs:
            if info.optional:
                parts.append(f"{info.name}: torch.Tensor | None = None")
            else:
                parts.append(f"{info.name}: torch.Tensor")
        returns = "torch.Tensor" if len(self.ir.outputs) == 1 else \
            "tuple[" + ", ".join("torch.Tensor" for _ in self.ir.outputs) + "]"
        return f"{', '.join(parts)}) -> {returns}"

    def docstring(self) -> str:
        lines = []
        if self.ir.doc:
            lines.append(docstring_text(inspect.cleandoc(self.ir.doc)))
        elif self.ir.comments:
            lines.append(docstring_text("\n".join(self.ir.comments)))
        else:
            lines.append(f"{self.ir.name}, compiled from {Path(self.options.source_name).name}.")
        shapes = []
        for info in self.ir.inputs:
            shapes.append(f"    {info.name}: {self.show(info.shape)}" + (" (optional)" if info.optional else ""))
        for index, output in enumerate(self.ir.outputs):
            shape = self.graph.nodes[output]["shape"]
            shapes.append(f"    returns: {self.show(shape)}" if len(self.ir.outputs) == 1 else
                          f"    output {index}: {self.show(shape)}")
        if shapes:
            lines.append("Shapes:\n" + "\n".join(shapes))
        if self.ir.examples:
            rendered = []
            for example in self.ir.examples:
                rendered.append("    " + ", ".join(f"{k}={_python_value(v)}" for k, v in example.items()))
            lines.append("Examples:\n" + "\n".join(rendered))
        return "\n\n".join(lines)

    def render(self) -> dict:
        forward = self.forward_lines()  # first: it decides which attributes __init__ keeps
        init = self.init_lines()
        return {
            "name": self.ir.name,
            # Comments above the block stay above the class (when they are not its docstring).
            "comments": [comment_text(c) for c in self.ir.comments if self.ir.doc and comment_text(c)],
            "docstring": self.docstring(),
            "init_signature": self.init_signature(),
            "init_body": init,
            "forward_signature": self.forward_signature(),
            "forward_body": forward,
        }


_AST_PRECEDENCE = {"+": ADD, "-": ADD, "*": MUL, "/": MUL, "//": MUL, "%": MUL, "**": 14, "and": 4, "or": 3}


def source_expr(node, names) -> tuple[str, int]:
    """Render a constructor-time expression as the spec wrote it (names mapped, numbers
    canonical). Only validated AST nodes reach here, never raw spec text."""
    from . import syntax as ast

    if isinstance(node, ast.Name):
        return names(node.id), ATOM
    if isinstance(node, ast.Number):
        value = int(node.text) if node.text.isdigit() else float(node.text)
        return repr(value), ATOM
    if isinstance(node, ast.Bool):
        return ("True" if node.value else "False"), ATOM
    if isinstance(node, ast.NoneLit):
        return "None", ATOM
    if isinstance(node, ast.String):
        return python_string(node.value), ATOM
    if isinstance(node, ast.UnaryOp) and node.op == "-":
        text, precedence = source_expr(node.operand, names)
        return "-" + (text if precedence >= UNARY else f"({text})"), UNARY
    if isinstance(node, ast.BinOp):
        precedence = _AST_PRECEDENCE[node.op]
        left, lp = source_expr(node.left, names)
        right, rp = source_expr(node.right, names)
        right_assoc = node.op == "**"
        left = left if lp > precedence or (lp == precedence and not right_assoc) else f"({left})"
        right = right if rp > precedence or (rp == precedence and right_assoc) else f"({right})"
        return f"{left} {node.op} {right}", precedence
    if isinstance(node, ast.Compare):
        left = source_expr(node.left, names)
        right = source_expr(node.right, names)
        return f"{_paren(left, COMPARE + 1)} {node.op} {_paren(right, COMPARE + 1)}", COMPARE
    if isinstance(node, ast.BoolOp):
        precedence = _AST_PRECEDENCE[node.op]
        parts = [_paren(source_expr(v, names), precedence + 1) for v in node.values]
        return f" {node.op} ".join(parts), precedence
    if isinstance(node, ast.UnaryOp) and node.op == "not":
        return f"not {_paren(source_expr(node.operand, names), 5)}", 5
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "all":
        comp = node.args[0]
        inner = source_expr(comp.element, lambda n: n if n == comp.var else names(n))[0]
        return f"all({inner} for {comp.var} in {source_expr(comp.iterable, names)[0]})", ATOM
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("max", "min", "len"):
        args = ", ".join(source_expr(a, names)[0] for a in node.args)
        return f"{node.func.id}({args})", ATOM
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sqrt":
        text, precedence = source_expr(node.args[0], names)
        return (text if precedence >= ATOM else f"({text})") + " ** 0.5", 14
    raise InternalError(f"cannot render {type(node).__name__} at construction time")


_NEGATED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def _negated(node, names) -> str:
    """`not (cond)` as it reads best: a comparison flips its operator."""
    from . import syntax as ast

    if isinstance(node, ast.Compare):
        flipped = ast.Compare(node.span, _NEGATED[node.op], node.left, node.right)
        return source_expr(flipped, names)[0]
    if isinstance(node, ast.UnaryOp) and node.op == "not":
        return source_expr(node.operand, names)[0]
    return "not " + _paren(source_expr(node, names), 6)


def _paren(rendered: tuple[str, int], needed: int) -> str:
    text, precedence = rendered
    return text if precedence >= needed else f"({text})"


def _fill(template: str, definition, operands, attrs, renderer: BlockRenderer) -> str:
    """Fill a registry template: operands by parameter name, `:recv` marks a method receiver."""
    values = {}
    tensor_params = [p for p in definition.params if p.kind in ("tensor", "operand")]
    for param, rendered in zip(tensor_params, operands):
        values[param.name] = rendered
    out = template
    for name, rendered in values.items():
        out = out.replace("{" + name + ":recv}", renderer.wrap(rendered, ATOM))
        out = out.replace("{" + name + "}", rendered[0])
    for name, value in attrs.items():
        if "{" + name + "}" in out:
            out = out.replace("{" + name + "}", value if isinstance(value, str) else renderer.axes(value)
                              if isinstance(value, tuple) else str(value) if not isinstance(value, Expr) else
                              renderer.dim(value))
    return out


def _is_default(value, default) -> bool:
    if isinstance(value, Cond):
        return value.op == "const" and value.args[0] == default
    if isinstance(value, Expr):
        return (value.is_const and default is not None and not isinstance(default, bool)
                and float(value.value) == float(default))
    return value == default


def _python_value(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return "[" + ", ".join(_python_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class InternalError(Exception):
    """A compiler bug, never a user error."""


# ---------------------------------------------------------------------------- module


def render_module(blocks: list[BlockIR], options: Options) -> str:
    by_name = {b.name: b for b in blocks}
    classes = []
    needs_ordered_dict = False
    for ir in blocks:
        renderer = BlockRenderer(ir, options, by_name)
        classes.append(renderer.render())
        needs_ordered_dict |= renderer.needs_ordered_dict
    template = _environment().get_template("module.py.j2")
    return template.render(
        version=__version__,
        source=Path(options.source_name).name,
        classes=classes,
        needs_ordered_dict=needs_ordered_dict,
    )
