"""`attndsl fmt [--check] SPEC...`: the canonical layout of a spec.

Written over the AST, with comments and blank lines taken from the text (`spec_text`):
one statement a line (a statement written over several lines is joined; one longer than
100 characters is split at argument boundaries, `fmt_wrap`), four spaces a
level, single spaces around operators and after commas, `true`/`false`, two blank
lines between blocks, at most one blank line between statements (kept where the author
put one), none at the start of a suite. Comments stay where the parser attaches them
(above a statement, or at the end of its line), so the comments that reach generated
code are unchanged; a comment the parser attaches to nothing stays unattached: one inside
the brackets of a statement (or of a block's header) written over several lines stays
there, with the item it follows (`fmt_wrap.place_comments`), else goes above the
statement, a blank line apart; one followed by a blank line stays so. Docstrings are kept
as written. `parse(fmt(x)) == parse(x)` up to spans, and `fmt(fmt(x)) == fmt(x)`.
"""

from __future__ import annotations

from pathlib import Path

from .. import syntax as ast
from ..cli import read_spec
from ..diagnostics import DiagnosticSink, print_diagnostics
from ..files import write_atomically
from ..spec_expr import expr
from .fmt_wrap import doc, groups_in, header_doc, lay_out, place_comments, statement_doc
from .spec_text import SpecText, scan

INDENT = "    "
FOR = getattr(ast, "For", ())  # `for attn, ff in layers:` in forward (a newer grammar's)


class FormatError(Exception):
    """The text does not parse: there is no AST to format from."""

    def __init__(self, sink: DiagnosticSink):
        super().__init__("the spec has syntax errors")
        self.sink = sink


def format_spec(source: str, path: str = "<spec>") -> str:
    from ..parser import parse

    sink = DiagnosticSink()
    spec = parse(source, path, sink)
    if spec is None:
        raise FormatError(sink)
    return _Layout(spec, source).render()


class _Layout:
    def __init__(self, spec: ast.Spec, source: str):
        self.spec = spec
        self.text: SpecText = scan(source)
        self.attached = _attached_lines(spec, self.text)
        self.placed: set[int] = set()  # comment lines already written (or placed in a statement's doc)
        self.docs: dict[int, list] = {}  # id(stmt) -> its doc, with the comments inside its brackets
        self.out: list[str] = []

    # ------------------------------------------------------------------ output
    def emit(self, depth: int, line: str, trailing: int | None = None) -> None:
        """A line of output, with the comment at the end of source line `trailing` unless that
        comment belongs elsewhere (the parser attaches it to the statement below)."""
        if trailing in self.text.comments and trailing not in self.placed and (
                trailing in self.attached.trailing or trailing not in self.attached):
            line += f"  # {self.text.comments[trailing].text}"
            self.placed.add(trailing)
        self.out.append((INDENT * depth + line).rstrip())

    def with_inner_comments(self, doc: list, depth: int, lines: range) -> list:
        """`doc` with the unattached comments on `lines` (inside its brackets) put where they
        were; those that cannot be are left for `inner_comments` (above the statement)."""
        inner = [self.text.comments[n] for n in lines if n in self.text.comments and n not in self.attached
                 and n not in self.placed]
        unplaced = place_comments(doc, inner)
        dropped: list = []
        lay_out(doc, len(INDENT) * depth, dropped)  # a comment in a group that stays on one line
        if dropped:  # one group of a line breaks: the comments go above the statement instead
            return self.without_inner_comments(doc)
        self.placed |= {c.line for c in inner} - {c.line for c in unplaced}
        return doc

    @staticmethod
    def without_inner_comments(doc: list) -> list:
        for part in groups_in(doc):
            part.above, part.after, part.closing = {}, {}, []
        return doc

    def emit_doc(self, depth: int, doc: list, trailing: int | None = None, *, last: bool = False) -> None:
        """A statement, split at argument boundaries where longer than the width (`fmt_wrap`);
        the comment at the end of its first source line ends its first line (with `last`,
        the comment of its last source line ends its last line: a block's `):`)."""
        first, *rest = lay_out(doc, len(INDENT) * depth)
        if last and rest:
            self.out += [(INDENT * depth + line).rstrip() for line in [first] + rest[:-1]]
            self.emit(depth, rest[-1], trailing)
            return
        self.emit(depth, first, trailing)
        self.out += [(INDENT * depth + line).rstrip() for line in rest]

    def blank(self) -> None:
        if self.out and self.out[-1] != "":
            self.out.append("")

    def comment(self, depth: int, line: int) -> None:
        self.emit(depth, f"# {self.text.comments[line].text}".rstrip())
        self.placed.add(line)

    def free_comments(self, depth: int, before: int, *, keep_free: bool) -> None:
        """Unattached comments above `before` not written yet; a blank line after them when
        the next line is a statement, which they would otherwise attach to."""
        lines = [n for n in sorted(self.text.comments) if n < before and n not in self.placed and n not in self.attached]
        for index, line in enumerate(lines):
            if index and self.text.blank_between(lines[index - 1], line):
                self.blank()
            self.comment(depth, line)
        if lines and keep_free:
            self.blank()

    # ------------------------------------------------------------------ file and blocks
    def render(self) -> str:
        items = sorted(self.spec.imports + self.spec.blocks, key=lambda item: item.span.line)
        for index, item in enumerate(items):
            if isinstance(item, ast.Import):
                # imports one a line, together; two blank lines after them, as between blocks
                if index and not isinstance(items[index - 1], ast.Import):
                    self.separate()
                above = [n for n in self.text.comments if n < item.span.line and n not in self.placed]
                self.free_comments(0, item.span.line, keep_free=False)
                if above and self.text.blank_between(max(above), item.span.line):
                    self.blank()  # a heading comment stays apart from the imports, as written
                self.emit(0, f"from {item.module} import {', '.join(name for name, _ in item.names)}",
                          trailing=item.span.line)
                continue
            lead = self.attached.get(("block", id(item)), [])
            first = lead[0] if lead else item.span.line
            if index:
                self.separate()
            self.free_comments(0, first, keep_free=True)
            for line in lead:
                self.comment(0, line)
            self.block(item)
        self.free_comments(0, 10**9, keep_free=False)
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(self.out) + "\n"

    def separate(self) -> None:
        """Two blank lines, as between top-level definitions in Python."""
        while self.out and self.out[-1] == "":
            self.out.pop()
        self.out += ["", ""]

    def block(self, block: ast.Block) -> None:
        header_end = self.text.colon_at_or_after(block.span.line)
        close = self._header_close(header_end)
        header = header_doc(block, close)
        # the comment after the header's `):` ends its last line; those among its arguments
        # stay with them
        last = header_end if header_end in self.text.comments and \
            self.text.comments[header_end].column >= close[1] else header_end + 1
        header = self.with_inner_comments(header, 0, range(block.span.line, last))
        self.emit_doc(0, header, trailing=header_end, last=True)
        # Comments inside a header written over several lines: under it (above it, they
        # would join the block's own comments).
        self.inner_comments(1, block.span.line, header_end - 1, keep_free=block.doc is None)
        previous_end = header_end
        if block.doc is not None:
            doc_start, doc_end = next(((s, e) for s, e in self.text.long_strings if s > header_end),
                                      (header_end + 1, header_end + 1))
            self.free_comments(1, doc_start, keep_free=False)
            self.emit(1, f'"""{block.doc}"""', trailing=doc_end)
            previous_end = doc_end
        self.suite(block.body, 1, previous_end)

    def _header_close(self, header_end: int) -> tuple[int, int]:
        """The line and column after the `)` of a block's header (before its `:`)."""
        line = self.lines_of(header_end)
        code = line[:self.text.comments[header_end].column - 1] if header_end in self.text.comments else line
        return header_end, len(code.rstrip().removesuffix(":").rstrip()) + 1

    def inner_comments(self, depth: int, first: int, last: int, keep_free: bool = True) -> None:
        """Unattached comments inside a construct written over several lines, on their own lines."""
        lines = [n for n in range(first, last + 1) if n in self.text.comments and n not in self.attached
                 and n not in self.placed]
        for line in lines:
            self.comment(depth, line)
        if lines and keep_free:
            self.blank()

    # ------------------------------------------------------------------ statements
    def suite(self, body: list[ast.Stmt], depth: int, previous_end: int) -> None:
        for index, stmt in enumerate(body):
            above = self.attached.get(("above", id(stmt)), [])
            start = above[0] if above else stmt.span.line
            pending = [n for n in self.text.comments if previous_end < n < start and n not in self.placed
                       and n not in self.attached]
            first_visible = min(pending + [start])
            if self.text.blank_between(previous_end, first_visible) and (index or pending):
                self.blank()
            self.free_comments(depth, start, keep_free=True)
            # Unattached comments inside the statement's brackets stay there; those that cannot
            # go above it, before its own comments.
            if _is_simple(stmt):
                self.docs[id(stmt)] = self.with_inner_comments(
                    statement_doc(stmt), depth, range(stmt.span.line + 1, stmt.span.end_line + 1))
            self.inner_comments(depth, stmt.span.line + 1, self._header_end(stmt))
            for line in above:
                self.comment(depth, line)
            previous_end = self.statement(stmt, depth)

    def _header_end(self, stmt: ast.Stmt) -> int:
        if isinstance(stmt, ast.If):
            return self.text.colon_at_or_after(stmt.condition.span.end_line)
        if isinstance(stmt, FOR):
            return self.text.colon_at_or_after(stmt.iterable.span.end_line)
        if isinstance(stmt, ast.LayerBlock):  # its span runs on to the next statement's line
            return last_line(stmt)
        return stmt.span.end_line

    def statement(self, stmt: ast.Stmt, depth: int) -> int:
        """Write one statement; return the last source line it took."""
        if isinstance(stmt, ast.If):
            return self.if_chain(stmt, depth, "if")
        if isinstance(stmt, FOR):  # a loop in forward
            targets = ", ".join(name for name, _ in stmt.targets)
            self.emit_doc(depth, [f"for {targets} in "] + doc(stmt.iterable) + [":"], trailing=stmt.span.line)
            return self._body(stmt.body, depth + 1, self._header_end(stmt))
        if isinstance(stmt, ast.LayerBlock):  # comments among its children go above it (see suite)
            self.emit(depth, f"layer {stmt.name} = {stmt.kind}:", trailing=stmt.span.line)
            self.children(stmt.children, depth + 1)
            return last_line(stmt)
        stmt_doc = self.docs.pop(id(stmt), None) or statement_doc(stmt)
        self.emit_doc(depth, stmt_doc, trailing=stmt.span.line)  # the comment on its first line is its own
        return stmt.span.end_line

    def children(self, children: list, depth: int) -> None:
        for child in children:
            if isinstance(child, ast.ChildLoop):
                self.emit(depth, f"for {child.var} in {expr(child.iterable)}:", trailing=child.span.line)
                self.children(child.body, depth + 1)
            else:
                name = "".join(part if isinstance(part, str) else f"{{{expr(part)}}}" for part in child.name)
                self.emit_doc(depth, [f"{name} = "] + doc(child.value), trailing=child.span.line)

    def if_chain(self, stmt: ast.If, depth: int, keyword: str) -> int:
        header_end = self._header_end(stmt)
        self.emit_doc(depth, [f"{keyword} "] + doc(stmt.condition) + [":"], trailing=stmt.span.line)
        end = self._body(stmt.body, depth + 1, header_end)
        if not stmt.orelse:
            return end
        if len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If) and stmt.orelse[0].span.line > end \
                and self._is_elif(stmt.orelse[0]):
            elif_ = stmt.orelse[0]
            above = self.attached.get(("above", id(elif_)), [])
            self.free_comments(depth, above[0] if above else elif_.span.line, keep_free=False)
            self.inner_comments(depth, elif_.span.line + 1, self._header_end(elif_))
            for line in above:
                self.comment(depth, line)
            return self.if_chain(elif_, depth, "elif")
        else_line = self.text.colon_at_or_after(end + 1)
        self.free_comments(depth, else_line, keep_free=False)
        self.emit(depth, "else:", trailing=else_line)
        return self._body(stmt.orelse, depth + 1, else_line)

    def _is_elif(self, stmt: ast.If) -> bool:
        return self.lines_of(stmt.span.line).lstrip().startswith("elif")

    def lines_of(self, line: int) -> str:
        return self.spec.source.split("\n")[line - 1] if line - 1 < len(self.spec.source.split("\n")) else ""

    def _body(self, body: list[ast.Stmt], depth: int, header_end: int) -> int:
        self.suite(body, depth, header_end)
        return last_line(body[-1]) if body else header_end


def _is_simple(stmt: ast.Stmt) -> bool:
    """A statement of one doc (`fmt_wrap.statement_doc`), not a header with a suite."""
    return not isinstance(stmt, (ast.If, ast.LayerBlock) + ((FOR,) if isinstance(FOR, type) else FOR))


def last_line(stmt: ast.Stmt) -> int:
    """The last source line of a statement (an If's span runs on to the next statement's line)."""
    if isinstance(stmt, ast.If):
        return last_line((stmt.orelse or stmt.body)[-1])
    if isinstance(stmt, FOR):
        return last_line(stmt.body[-1])
    if isinstance(stmt, (ast.LayerBlock, ast.ChildLoop)):
        return last_line((stmt.children if isinstance(stmt, ast.LayerBlock) else stmt.body)[-1])
    return stmt.span.end_line


def _attached_lines(spec: ast.Spec, text: SpecText) -> dict:
    """The comment lines the parser attaches, found by its own rule (attndsl/parser.py):
    a block takes the comment lines right above it; a statement takes the comment lines
    right above it not taken yet, and the comment at the end of its first line (a comment
    at the end of a line of code is no comment line: not the one that ends a statement
    written over several lines, which is inside it)."""
    comments = text.comments
    taken: set[int] = set()
    attached: dict = {("trailing",): set()}

    def visit(stmts):
        for stmt in stmts:
            above, probe = [], stmt.span.line - 1
            while probe in comments and comments[probe].own_line and probe not in taken:
                above.append(probe)
                probe -= 1
            above.sort()
            taken.update(above)
            attached[("above", id(stmt))] = above
            if stmt.span.line in comments:
                taken.add(stmt.span.line)
                attached[("trailing",)].add(stmt.span.line)
            if isinstance(stmt, ast.If):
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, FOR):
                visit(stmt.body)

    for block in spec.blocks:
        lead, probe = [], block.span.line - 1
        while probe in comments and comments[probe].own_line:
            lead.append(probe)
            probe -= 1
        attached[("block", id(block))] = sorted(lead)
        taken.update(lead)
        visit(block.body)
    return _Attached(attached, taken)


class _Attached(dict):
    """The attachments by node, and `line in attached` for any attached comment line."""

    def __init__(self, by_node: dict, lines: set[int]):
        super().__init__(by_node)
        self.lines = lines
        self.trailing = by_node[("trailing",)]

    def __contains__(self, key) -> bool:
        return key in self.lines if isinstance(key, int) else super().__contains__(key)


# ---------------------------------------------------------------------------- the command


def run(args) -> int:
    status = 0
    for name in args.specs:
        path = Path(name)
        source, problems = read_spec(path)
        if source is None:
            print_diagnostics(problems, {})
            status = 1
            continue
        try:
            formatted = format_spec(source, path.as_posix())
        except FormatError as error:
            print_diagnostics(error.sink.items, {path.as_posix(): source})
            status = 1
            continue
        if formatted == source:
            continue
        if args.check:
            print(f"would reformat {path.as_posix()}")
            status = 1
        else:
            write_atomically(path, formatted)
            print(f"reformatted {path.as_posix()}")
    return status
