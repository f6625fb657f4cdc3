"""The pipeline, end to end: text → AST → IR → checked shapes → passes → Python → formatted.

Each stage collects diagnostics in one sink; a stage runs only when the stages before
it succeeded, so one run reports every independent error of the first failing stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import CompileError, Diagnostic, DiagnosticSink
from .files import read_spec_text


@dataclass
class CompileResult:
    code: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    blocks: list = field(default_factory=list)
    # the text of every imported spec, by display path (for showing their diagnostics)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code is not None and not any(d.is_error for d in self.diagnostics)


def analyze(source: str, path: str) -> tuple[list, DiagnosticSink]:
    """Parse, lower and shape-check; the IR comes back only if there were no errors."""
    try:
        return _analyze(source, path)
    except RecursionError:
        return [], _too_deep(path)


def _too_deep(path: str) -> DiagnosticSink:
    from .diagnostics import Span

    sink = DiagnosticSink()
    sink.error("E0008", "the spec nests expressions too deeply to compile", Span(path, 1, 1, 1, 2),
               help="split the expression into several assignments")
    return sink


def _analyze(source: str, path: str) -> tuple[list, DiagnosticSink]:
    from .lower import lower_spec
    from .parser import parse
    from .shapes import check_shapes

    sink = DiagnosticSink()
    spec = parse(source, path, sink)
    if spec is None:
        return [], sink
    if spec.imports:
        from dataclasses import replace

        from .imports import resolve_imports

        with_imported = resolve_imports(spec, path, sink)
        if with_imported is None:
            return [], sink
        spec = replace(spec, blocks=with_imported)
    blocks = lower_spec(spec, path, sink)
    if sink.has_errors:
        return [], sink
    from .inplace import check_inplace
    from .lint import lint_block

    by_name = {block.name: block for block in spec.blocks}
    for ir in blocks:
        if by_name[ir.name].span.path == path:  # an imported block's warnings are its own spec's
            lint_block(by_name[ir.name], ir, sink)
        check_inplace(ir, sink)
    check_shapes(blocks, sink)
    if sink.has_errors:
        return [], sink
    return blocks, sink


def compile_source(source: str, path: str = "<spec>", *, runtime_checks: bool = True, format: bool = True,
                   optimize: bool = True) -> CompileResult:
    """Compile a spec's text. `optimize=False` leaves out the optimising passes (attention
    fusion, layout and constant folding, reassociation): the module as the spec reads.
    `format=False` returns the rendered text unformatted, for a caller that formats many
    modules in one go (`formatting.format_many`)."""
    from .codegen import Options, render_module
    from .passes import run_passes

    blocks, sink = analyze(source, path)
    if not blocks:
        return CompileResult(None, sink.items, sources=sink.sources)
    for ir in blocks:
        run_passes(ir, optimize=optimize)
    try:
        code = render_module(blocks, Options(runtime_checks=runtime_checks, source_name=path))
        if format:
            from .formatting import format_python

            code = format_python(code)
    except RecursionError:
        return CompileResult(None, sink.items + _too_deep(path).items, sources=sink.sources)
    return CompileResult(code, sink.items, blocks, sink.sources)


def compile_file(path: str | Path, *, runtime_checks: bool = True, optimize: bool = True) -> str:
    """Compile a spec file and return the generated module's source; raise CompileError."""
    path = Path(path)
    source = read_spec_text(path)
    display = _display_path(path)
    result = compile_source(source, display, runtime_checks=runtime_checks, optimize=optimize)
    if not result.ok:
        raise CompileError([d for d in result.diagnostics], {display: source, **result.sources})
    return result.code


def _display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()
