"""`from sdpa import ScaledDotProductAttention`: blocks of another spec, used as one's own.

A spec names another spec of its own directory by its stem. The named blocks, and the
blocks of that spec they use, join this spec's blocks ahead of its own: they are checked
with it, and their classes are written into its module, which stays one standalone file
(a drop-in module imports nothing but torch). Their spans keep their own file, so
diagnostics and the generated shape comments point into the spec that defines them.

attndsl/cache.py reads the same `from ... import` lines (without parsing) so that editing
an imported spec recompiles the specs that use it.
"""

from __future__ import annotations

from pathlib import Path

from . import syntax as ast
from .diagnostics import DiagnosticSink
from .files import read_spec_text


def resolve_imports(spec: ast.Spec, path: str, sink: DiagnosticSink) -> list[ast.Block] | None:
    """This spec's blocks, after the blocks it imports; None when an import failed (the
    errors are in `sink`)."""
    imported = _Resolver(sink).blocks_for(spec, path, (_key(path),))
    if imported is None:
        return None
    return imported + spec.blocks


def _key(path: str) -> str:
    return Path(path).resolve().as_posix() if path != "<spec>" else path


class _Resolver:
    def __init__(self, sink: DiagnosticSink):
        self.sink = sink
        self.specs: dict[str, ast.Spec | None] = {}  # parsed once, by resolved path

    def blocks_for(self, spec: ast.Spec, path: str, chain: tuple[str, ...]) -> list[ast.Block] | None:
        """The blocks `spec`'s imports bring, in import order, each once."""
        found: list[ast.Block] = []
        ok = True
        for statement in spec.imports:
            blocks = self._import(statement, path, chain)
            if blocks is None:
                ok = False
                continue
            found += [b for b in blocks if not any(b is other for other in found)]
        return found if ok else None

    def _import(self, statement: ast.Import, path: str, chain) -> list[ast.Block] | None:
        directory = Path(path).parent
        target = (directory / f"{statement.module}.attn").as_posix()
        key = _key(target)
        if key in chain:
            cycle = " -> ".join([Path(p).stem for p in chain[chain.index(key):]] + [statement.module])
            self.sink.error("E0108", f"specs import each other in a cycle: {cycle}", statement.module_span,
                            help="move the shared blocks into a spec that imports neither")
            return None
        other = self._load(target, key, statement)
        if other is None:
            return None
        inherited = self.blocks_for(other, target, chain + (key,))
        if inherited is None:
            return None
        available = {b.name: b for b in inherited + other.blocks}
        wanted = []
        for name, span in statement.names:
            if name not in available:
                from .lower.values import suggest

                self.sink.error("E0107", f"{statement.module}.attn has no block `{name}`", span,
                                help=suggest(name, available) or
                                f"its blocks: {', '.join(sorted(available)) or 'none'}")
                return None
            wanted.append(available[name])
        return _with_dependencies(wanted, available)

    def _load(self, target: str, key: str, statement: ast.Import) -> ast.Spec | None:
        if key not in self.specs:
            self.specs[key] = self._parse(target, statement)
        return self.specs[key]

    def _parse(self, target: str, statement: ast.Import) -> ast.Spec | None:
        from .parser import parse

        try:
            source = read_spec_text(target)
        except FileNotFoundError:
            self.sink.error("E0107", f"no spec `{statement.module}` to import: {target} does not exist",
                            statement.module_span,
                            help="name a spec of this spec's directory by its file name without `.attn`")
            return None
        except (OSError, UnicodeDecodeError) as error:
            self.sink.error("E0107", f"cannot read {target}: {error}", statement.module_span)
            return None
        self.sink.sources[target] = source
        return parse(source, target, self.sink)


def _with_dependencies(wanted: list[ast.Block], available: dict[str, ast.Block]) -> list[ast.Block]:
    """`wanted` and every block of `available` they use, transitively, in `available`'s order."""
    needed: set[str] = set()
    pending = [b.name for b in wanted]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        pending += [used for used in ast.names_in(available[name]) if used in available and used not in needed]
    return [block for name, block in available.items() if name in needed]
