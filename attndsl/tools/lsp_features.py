"""What the language server knows about a spec, without any LSP machinery (testable alone).

`Document.analyze(text, path)` parses and checks the text once per edit; `hover`,
`definition` and `completions` answer for a position (0-based line and column, as LSP
counts). Definitions and names come from the AST, so they work while the spec still has
shape errors; shapes come from the checked IR when the spec checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import syntax as ast
from ..diagnostics import Diagnostic, DiagnosticSink, Span
from ..ir import BlockIR, display_name, elements_source
from ..layers import LAYERS
from ..lower.values import SCALAR_FUNCTIONS
from ..ops import OPS
from ..shapes import show
from ..shapes.conjunctions import render_cond, render_expr, render_guard
from ..shapes.world_view import shape_text
from .cost import symbol_order
from .formula import render_terms
from .values import dim_origins

KEYWORDS = ["block", "input", "param", "frozen", "layer", "let", "persistent", "buffer", "require", "example", "if", "elif",
            "else", "return", "for", "in", "and", "or", "not", "true", "false", "None", "zeros", "ones", "randn"]
_WORD = re.compile(r"[^\W\d]\w*")  # a name, Unicode letters too (`λc`)
# Called on sizes and arguments, not tensors (`let d = max(L, c // r)`, `len(kernels)`).
SIZE_FUNCTIONS = tuple(dict.fromkeys(SCALAR_FUNCTIONS + ("len", "all")))


@dataclass
class Document:
    source: str
    path: str
    spec: ast.Spec | None = None
    blocks: list[BlockIR] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # the blocks `from ... import` brings (their spans in their own specs), and those specs' text
    imported: list[ast.Block] = field(default_factory=list)
    imported_sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def analyze(cls, source: str, path: str) -> "Document":
        from ..compiler import analyze
        from ..parser import parse

        doc = cls(source, path)
        doc.spec = parse(source, path, DiagnosticSink())
        if doc.spec is not None and doc.spec.imports:
            from ..imports import resolve_imports

            sink = DiagnosticSink()
            resolved = resolve_imports(doc.spec, path, sink)  # this spec's own blocks come last
            doc.imported = resolved[:len(resolved) - len(doc.spec.blocks)] if resolved is not None else []
            doc.imported_sources = sink.sources
        try:
            doc.blocks, sink = analyze(source, path)
            doc.diagnostics = [_here(d, doc.spec, path) for d in sink.items]
        except Exception as error:  # a compiler bug must not take the editor's server down
            doc.diagnostics = [Diagnostic("error", "internal", f"attndsl internal error: {type(error).__name__}: "
                                          f"{error}", Span(path, 1, 1, 1, 2))]
        return doc

    # ------------------------------------------------------------------ lookups
    def word_at(self, line: int, column: int) -> tuple[str, int] | None:
        """The name under the cursor and the column it starts at."""
        lines = self.source.split("\n")
        if not 0 <= line < len(lines):
            return None
        for match in _WORD.finditer(lines[line]):
            if match.start() <= column <= match.end():
                return match.group(), match.start()
        return None

    def block_at(self, line: int) -> ast.Block | None:
        if self.spec is None:
            return None
        found = None
        for block in self.spec.blocks:
            if block.span.line - 1 <= line:
                found = block
        return found

    def ir(self, name: str) -> BlockIR | None:
        return next((b for b in self.blocks if b.name == name), None)

    def named_block(self, name: str) -> ast.Block | None:
        """A block of this spec, or one it imports."""
        own = self.spec.blocks if self.spec is not None else []
        return next((b for b in own + self.imported if b.name == name), None)


def _here(diagnostic: Diagnostic, spec, path: str) -> Diagnostic:
    """A diagnostic in a spec this one imports, shown at the `from ... import` line that
    brought it (the editor shows this document's diagnostics at this document's lines)."""
    span = diagnostic.span
    if span is None or span.path == path or spec is None or not spec.imports:
        return diagnostic
    stem = span.path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".attn")
    statement = next((i for i in spec.imports if i.module == stem), spec.imports[0])
    return Diagnostic(diagnostic.severity, diagnostic.code, f"{span}: {diagnostic.message}", statement.span,
                      help=diagnostic.help)


def _declarations(block: ast.Block) -> dict[str, tuple[str, ast.Node]]:
    """Names declared once in a block: arguments, inputs, params, layers, lets."""
    found: dict[str, tuple[str, ast.Node]] = {arg.name: ("argument", arg) for arg in block.args}
    for stmt in ast.statements(block.body):
        for kind, cls in (("input", ast.Input), ("param", ast.Param), ("layer", ast.Layer), ("let", ast.Let)):
            if isinstance(stmt, cls):
                found.setdefault(stmt.name, (kind, stmt))
    return found


def _assignments(block: ast.Block, name: str) -> list[tuple[Span, ast.Assign]]:
    return [(span, stmt) for stmt in ast.statements(block.body) if isinstance(stmt, ast.Assign)
            for target, span in stmt.targets if target == name]


def _loop_variable(block: ast.Block, name: str, line: int, column: int) -> Span | None:
    """Where `name` is bound, if a comprehension or `for` loop around the (1-based) position
    binds it: `conv` in `[conv(g) for conv, g in zip(convs, groups)]`. The innermost wins."""
    found, pending = None, list(block.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.ListComp, ast.For)) and _holds(node.span, line, column):
            found = next((span for target, span in node.targets if target == name), found)
        pending += ast.children(node)
    return found


def _holds(span: Span, line: int, column: int) -> bool:
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def _name_span(doc: Document, node_span: Span, name: str) -> Span:
    """Where `name` is written on its statement's first line (the AST keeps statement spans),
    in this document or in a spec it imports."""
    source = doc.source if node_span.path == doc.path else doc.imported_sources.get(node_span.path, "")
    lines = source.split("\n")
    text = lines[node_span.line - 1] if node_span.line <= len(lines) else ""
    match = re.search(rf"\b{re.escape(name)}\b", text[node_span.column - 1:])
    start = node_span.column + (match.start() if match else 0)
    return Span(node_span.path, node_span.line, start, node_span.line, start + len(name))


# ---------------------------------------------------------------------------- definition


def definition(doc: Document, line: int, column: int) -> Span | None:
    """Where the name under the cursor is defined: in this document, or (a block imported
    with `from ... import`) in another spec, whose path the span carries."""
    found = doc.word_at(line, column)
    block = doc.block_at(line)
    if found is None:
        return None
    word, _ = found
    if block is None:  # above the first block: an import names a block of another spec
        other = doc.named_block(word)
        return _name_span(doc, other.span, word) if other is not None else None
    bound = _loop_variable(block, word, line + 1, column + 1)
    if bound is not None:
        return bound
    earlier = [span for span, _ in _assignments(block, word) if span.line - 1 < line or
               (span.line - 1 == line and span.column - 1 <= column)]
    if earlier:
        return earlier[-1]
    declared = _declarations(block).get(word)
    if declared is not None:
        return _name_span(doc, declared[1].span, word)
    other = doc.named_block(word)
    if other is not None:
        return _name_span(doc, other.span, word)
    ir = doc.ir(block.name)
    if ir is not None and word in dim_origins(ir):
        input_name = dim_origins(ir)[word][0]
        info = next(i for i in ir.inputs if i.name == input_name)
        return info.span
    return None


# ---------------------------------------------------------------------------- hover


def hover(doc: Document, line: int, column: int) -> str | None:
    found = doc.word_at(line, column)
    block = doc.block_at(line)
    if found is None:
        return None
    word, start = found
    ir = doc.ir(block.name) if block is not None else None
    order = symbol_order(ir) if ir is not None else None
    if block is not None:
        value = _value_hover(doc, block, ir, word, line, start, order)
        if value:
            return value
        declared = _declarations(block).get(word)
        if declared is not None:
            return _declaration_hover(doc, ir, declared, order)
        if ir is not None and word in dim_origins(ir):
            input_name, axis = dim_origins(ir)[word]
            return f"dimension `{word}`: axis {axis} of input `{input_name}`"
    other = doc.named_block(word)
    if other is not None:
        args = ", ".join(_arg_text(a) for a in other.args)
        summary = (other.doc or "").strip().split("\n")[0]
        origin = "" if other.span.path == doc.path else f" (from {other.span.path.rsplit('/', 1)[-1]})"
        return f"block `{other.name}({args})`{origin}" + (f"\n\n{summary}" if summary else "")
    if word in OPS and OPS[word].callable_by_name:
        return _op_hover(word)
    if word in LAYERS or word == "sequential":
        return _layer_kind_hover(word)
    return None


def _value_hover(doc, block, ir, word, line, start, order) -> str | None:
    """The shape of a value of forward at this point: the assignment that reaches the cursor."""
    if ir is None:
        return None
    from .fmt import last_line

    # A join (phi) takes effect after its whole `if` (the If's span runs into the next line).
    if_ends = {stmt.span.line: last_line(stmt) for stmt in ast.statements(block.body) if isinstance(stmt, ast.If)}
    on_target = any(span.line - 1 == line and span.column - 1 == start for span, _ in _assignments(block, word))
    best, best_at = None, None
    for node, attrs in ir.graph.nodes(data=True):
        if attrs.get("name") != word or attrs["op"] in ("input", "param"):
            continue
        statement_line = attrs["span"].line
        at = if_ends.get(statement_line, statement_line) + 0.5 if attrs["op"] == "phi" else statement_line
        reaches = at - 1 < line or (on_target and statement_line - 1 == line and attrs["op"] != "phi")
        if reaches and (best_at is None or at >= best_at):
            best, best_at = node, at
    if best is None or ir.graph.nodes[best].get("shape") is None:
        return None
    guard = render_guard(ir.graph.nodes[best]["guard"], order, sort=False)
    return f"`{word}`: {shape_text(ir, best, order)}" + (f"  (if {guard})" if guard else "")


def _declaration_hover(doc, ir, declared, order) -> str:
    kind, node = declared
    if kind == "argument":
        return f"argument `{_arg_text(node)}`"
    if ir is None:  # the spec does not check yet: what is written
        return f"{kind} `{node.name}`"
    if kind == "input":
        info = next(i for i in ir.inputs if i.name == node.name)
        if info.dtype == "flag":
            default = "" if info.default is None else f" = {'true' if info.default else 'false'}"
            return f"input `{info.name}`: bool{default} (a flag of forward)"
        optional = " (optional)" if info.optional else ""
        return f"input `{info.name}`: {info.element_type}{show(info.shape, order)}{optional}"
    if kind == "param":
        info = next(p for p in ir.params if p.name == node.name)
        return f"param `{info.name}`: {show(info.shape, order)} = {info.init}"
    if kind == "let":
        info = next(let for let in ir.lets if let.name == node.name)
        return f"let `{info.name}` = {render_expr(info.value, order)}"
    return _layer_hover(doc, ir, node.name, order)


def _layer_hover(doc, ir, name, order) -> str:
    lines = []
    for info in ir.declarations(name):  # one per branch of an `if` declaring it
        spec = info.spec or info.element
        kind = spec.block if spec.kind == "block" else spec.kind
        args = ", ".join(f"{k}={_argument_text(v, order)}" for k, v in spec.args.items())
        loop = (f" for {info.loop_var or '_'} in {elements_source(info.elements, lambda e: _argument_text(e, order))}"
                if info.element is not None else "")
        guard = render_guard(info.guard, order, sort=False)
        lines.append(f"layer `{name}`: {kind}({args}){loop}" + (f"  (if {guard})" if guard else ""))
        if spec.kind == "sequential":
            lines += [f"- {display_name(child_name) if child_name is not None else index}: {child.block or child.kind}"
                      for index, (child_name, child) in enumerate(spec.children)]
    from .state import state_entries

    blocks = {b.name: b for b in doc.blocks}
    entries = [e for e in state_entries(ir, blocks) if e.key.startswith(f"{name}.")]
    if entries:
        count = render_terms([t for t in _param_terms(entries)], order)
        lines.append(f"parameters: {count}")
        lines += [f"- `{e.key}` {show(e.shape, order)}" + ("" if e.parameter else " (buffer)")
                  + e.described(lambda x: render_expr(x, order)) for e in entries]
    return "\n".join(lines)


def _param_terms(entries):
    from .formula import Term, collect

    return collect(Term(e.guard, e.count(), e.loop) for e in entries if e.parameter)


def _argument_text(value, order) -> str:
    if hasattr(value, "terms"):
        return render_expr(value, order)
    if hasattr(value, "op"):
        return render_cond(value, order)
    return str(value)


def _arg_text(arg: ast.Arg) -> str:
    from ..spec_expr import expr

    return f"{arg.name}: {arg.type}" + (f" = {expr(arg.default)}" if arg.default is not None else "")


def _op_hover(name: str) -> str:
    op = OPS[name]
    params = ", ".join(f"{p.name}: {p.kind}" + ("" if p.required else f" = {p.default}") for p in op.params)
    return f"op `{name}({params})`" + (f"\n\n{op.doc}" if op.doc else "")


def _layer_kind_hover(name: str) -> str:
    if name == "sequential":
        return "layer kind `sequential(a, b, ...)` → nn.Sequential (children named with keywords)"
    layer = LAYERS[name]
    params = ", ".join(f"{p.name}: {p.kind}" + ("" if p.required else f" = {p.default}") for p in layer.params)
    return f"layer kind `{name}({params})` → nn.{layer.torch_class}" + (f"\n\n{layer.doc}" if layer.doc else "")


# ---------------------------------------------------------------------------- completion


def completions(doc: Document, line: int, column: int) -> list[tuple[str, str, str]]:
    """(label, kind, detail) for the word being typed: "keyword", "op", "function", "layer", "name",
    "block". Only what a spec can write: ops called by name, not the operators' ops."""
    lines = doc.source.split("\n")
    text = lines[line][:column] if 0 <= line < len(lines) else ""
    prefix = re.search(r"[^\W\d]\w*$", text)
    prefix = prefix.group() if prefix else ""
    items: dict[str, tuple[str, str, str]] = {}

    def add(label, kind, detail):
        if label.startswith(prefix) and label not in items:
            items[label] = (label, kind, detail)

    block = doc.block_at(line)
    if block is not None:
        for name, (kind, _) in _declarations(block).items():
            add(name, "name", kind)
        for stmt in ast.statements(block.body):
            if isinstance(stmt, ast.Assign):
                for target, _ in stmt.targets:
                    add(target, "name", "value")
        ir = doc.ir(block.name)
        for dim in (dim_origins(ir) if ir else {}):
            add(dim, "name", "dimension")
    for name, op in sorted(OPS.items()):
        if op.callable_by_name:  # not `add` (written `+`), nor what the passes make (a fused attention)
            add(name, "op", op.doc or "op")
    for name in SIZE_FUNCTIONS:
        add(name, "function", "of sizes and arguments")
    for name, layer in sorted(LAYERS.items()):
        add(name, "layer", f"nn.{layer.torch_class}")
    add("sequential", "layer", "nn.Sequential")
    for other in (doc.spec.blocks if doc.spec else []) + doc.imported:
        add(other.name, "block", "block" if other.span.path == doc.path else "imported block")
    for word in KEYWORDS:
        add(word, "keyword", "keyword")
    return list(items.values())
