"""A checked spec, ready to be interpreted: its IR per block, and its source per block.

The IR (from `attndsl.compiler.analyze`: parse, lower, check) gives the dataflow graph,
guards and declarations. The source (the same spec parsed once more) gives each
expression as it was written: the interpreter evaluates what the spec says, not the
canonical form the checker reduced it to, wherever the IR lets it find the source
(an IR node's span is the span of the expression it came from).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import syntax as ast
from ..compiler import analyze
from ..diagnostics import CompileError, DiagnosticSink
from ..files import read_spec_text
from ..ir import BlockIR
from ..parser import parse


@dataclass
class SourceIndex:
    """One block's AST, looked up by span."""

    by_span: dict = field(default_factory=dict)  # Span -> [AST nodes with that span, outermost first]
    input_shapes: dict = field(default_factory=dict)  # input name -> [dim AST]
    assigned: set = field(default_factory=set)  # names assigned in the dataflow (tensors or scalars)
    lets: dict = field(default_factory=dict)  # let name -> its value's AST (the last, if redefined)

    def find(self, span, kind=ast.Node):
        """The outermost AST node of type `kind` with exactly this span, or None."""
        return next((n for n in self.by_span.get(span, ()) if isinstance(n, kind)), None)


def _index_block(block: ast.Block) -> SourceIndex:
    index = SourceIndex()
    stack: list = [block]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
            continue
        if not isinstance(item, ast.Node):
            continue
        index.by_span.setdefault(item.span, []).append(item)
        if isinstance(item, ast.Input):
            index.input_shapes[item.name] = item.shape
        if isinstance(item, ast.Assign):
            index.assigned.update(name for name, _ in item.targets)
        if isinstance(item, ast.Let):
            index.lets[item.name] = item.value
        # Pre-order, children in field order: an outer node is listed before an inner one.
        stack.extend(reversed([v for v in vars(item).values() if isinstance(v, (ast.Node, list))]))
    return index


class Program:
    """Every block of one spec file, checked."""

    def __init__(self, source: str, path: str = "<spec>"):
        blocks, sink = analyze(source, path)
        if not blocks:
            raise CompileError([d for d in sink.items], {path: source, **sink.sources})
        spec = parse(source, path, DiagnosticSink())
        if spec.imports:  # the imported blocks' own syntax (analyze accepted the imports)
            from ..imports import resolve_imports

            spec.blocks = resolve_imports(spec, path, DiagnosticSink())
        self.path = path
        self.blocks: dict[str, BlockIR] = {ir.name: ir for ir in blocks}
        self.sources: dict[str, SourceIndex] = {b.name: _index_block(b) for b in spec.blocks}
        self.order = [b.name for b in spec.blocks]  # as written; the last is the file's main block

    def build(self, block: str | None = None, **kwargs):
        """An nn.Module that evaluates `block` (default: the file's last block)."""
        from .block import InterpretedBlock

        name = block or self.order[-1]
        if name not in self.blocks:
            raise KeyError(f"no block {name!r} in {self.path}; blocks: {', '.join(self.order)}")
        return InterpretedBlock(self, name, kwargs)


def load(source_or_path, path: str | None = None) -> Program:
    """A Program from spec text, or from a file (a Path, or a one-line str naming a file)."""
    if isinstance(source_or_path, Path) or ("\n" not in source_or_path and Path(source_or_path).is_file()):
        file = Path(source_or_path)
        return Program(read_spec_text(file), path or file.as_posix())
    return Program(source_or_path, path or "<spec>")
