"""Warnings about specs that compile but probably do not say what their author meant:
unused arguments, inputs, params, layers and `let`s, and loop variables that shadow
a name of the block. Runs on the AST (what was written) and the IR before passes.
"""

from __future__ import annotations

from . import syntax as ast
from .diagnostics import DiagnosticSink
from .ir import BlockIR


_NOT_READ = frozenset(("span", "targets", "name", "comments", "var_span"))  # fields that read no name


def _names_used(node, found: set[str]) -> None:
    """Every name read by an expression or statement (targets are not reads)."""
    pending = [node]  # a stack, not recursion: the walk visits every node of the block
    while pending:
        item = pending.pop()
        if isinstance(item, ast.Name):
            found.add(item.id)
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, ast.Node):
            pending += [value for field, value in vars(item).items()
                        if field not in _NOT_READ and isinstance(value, (ast.Node, list))]


def lint_block(block: ast.Block, ir: BlockIR, sink: DiagnosticSink) -> None:
    used: set[str] = set()
    for stmt in block.body:
        if isinstance(stmt, ast.Input):
            _names_used(stmt.shape, used)
        elif isinstance(stmt, ast.Example):
            continue
        else:
            _names_used(stmt, used)
    # An input's dims count as used: they bind sizes and are checked at run time. The factory
    # arguments (`device`, `dtype`) are used by every layer and param that takes them.
    used |= set(ir.factory.values()) if _builds_on_device(ir) else set()
    for arg in block.args:
        if arg.name not in used:
            sink.warning("W0001", f"argument `{arg.name}` is never used", arg.span,
                         help="keep it if callers pass it (the published signature has it); otherwise remove it")
    declared = {}
    for stmt in ast.statements(block.body):
        if isinstance(stmt, (ast.Input, ast.Param, ast.Layer, ast.Let, ast.Buffer)):
            declared.setdefault(stmt.name, stmt)
    kinds = {ast.Input: ("W0002", "input"), ast.Param: ("W0003", "param"), ast.Layer: ("W0004", "layer"),
             ast.Let: ("W0004", "let"), ast.Buffer: ("W0004", "buffer")}
    for name, stmt in declared.items():
        # `input H: sizes[hh]` is read by the names of its sizes
        sizes = {d.id for d in stmt.shape if isinstance(d, ast.Name)} if getattr(stmt, "dtype", None) == "sizes" else set()
        if name not in used and not sizes & used:
            code, kind = kinds[type(stmt)]
            sink.warning(code, f"{kind} `{name}` is never used", stmt.span)
    scope = {a.name for a in block.args} | set(declared)
    for node in _expressions(block.body):
        for name, span in node.targets if isinstance(node, ast.ListComp) else ():
            if name in scope:
                sink.warning("W0005", f"the loop variable `{name}` shadows `{name}` of the block", span,
                             help="rename the loop variable")


def _expressions(node):
    """Every AST node under `node` (a node or a list of them), in source order: each node
    before what it contains. A stack, not nested generators (one per node visited)."""
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending += reversed(item)
        elif isinstance(item, ast.Node):
            yield item
            pending += reversed([value for field, value in vars(item).items()
                                 if field != "span" and isinstance(value, (ast.Node, list))])


def _builds_on_device(ir: BlockIR) -> bool:
    """Whether the block builds something that takes `device`/`dtype`: a param, a layer with
    parameters (or a block used as a layer, which passes them on)."""
    from .inits import takes_factory
    from .layers import LAYERS

    def takes(spec) -> bool:
        if spec is None:
            return False
        if spec.kind == "block" or (spec.kind in LAYERS and takes_factory(spec.kind)):
            return True
        return any(takes(child) for _, child in spec.children)

    return bool(ir.params) or any(takes(info.spec) or takes(info.element) for info in ir.layers)
