"""Lines longer than `WIDTH` split at argument boundaries, as black splits Python.

A line is laid out from a *doc*: text pieces and bracketed groups (a call's arguments, a
list's items, a block's parameters), whose flat rendering is exactly `spec_expr.expr`'s.
When the flat line is too long, the last group of the line whose first and last lines fit
opens it: the text up to its bracket stays on the first line, its items go one indented
line further (all on one line when they fit there, else one a line with a trailing comma,
each laid out the same way), and the closing bracket starts the last line with what
follows it. A line without a group (`require a and b, "..."`) stays long. The spec means
the same: the parser joins the lines inside brackets, and a trailing comma changes nothing
in a call, a list or a header (none is written in a subscript or a comprehension).

Comments written inside brackets stay there (`place_comments`): each goes with what it
follows on its line (an item: after its comma; a bracket that closes a group written over
several lines: after it), or, on a line of its own, above the item below it. A group that
holds one is laid out one item a line, as black does, and so is every group around it.
Only one group of a line breaks; a comment in another is given back to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import syntax as ast
from ..diagnostics import Span
from ..spec_expr import ADD, AND, NOT, OR, POSTFIX, UNARY, _BINARY, _item, expr, precedence, quote

WIDTH = 100
STEP = "    "


@dataclass
class Group:
    """`open item, item, ... close`: where a line may break."""

    open: str
    items: list[list]  # docs
    close: str
    trailing_comma: bool = True  # written after the last item when one a line (not in a subscript)
    spans: list = field(default_factory=list)  # each item's source span (None where it has none)
    span: Span | None = None  # from before the open bracket to after the close, where known
    # comments from the source (`place_comments`, `spec_text.Comment`s): on lines of their own above item i (i ==
    # len(items): above the close), at the end of item i's line, at the end of the close's
    above: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    closing: list = field(default_factory=list)

    def noted(self) -> bool:
        """It holds a comment, or one of its items does: it must break."""
        return bool(self.above or self.after or self.closing) or any(
            isinstance(part, Group) and part.noted() for item in self.items for part in item)

    def notes(self) -> list:
        """Every comment it and its items hold."""
        own = [c for lines in list(self.above.values()) + list(self.after.values()) + [self.closing] for c in lines]
        return own + [c for item in self.items for part in item if isinstance(part, Group) for c in part.notes()]


def flat(doc: list) -> str:
    return "".join(part if isinstance(part, str) else
                   part.open + ", ".join(flat(item) for item in part.items) + part.close for part in doc)


def lay_out(doc: list, indent: int, dropped: list | None = None) -> list[str]:
    """The doc's lines at `indent` characters (the first line's indent not included); the
    comments that found no place (in a group that stays on one line) go to `dropped`."""
    return [text + "".join(f"  # {c.text}" for c in notes) for text, notes in _lines(doc, indent, dropped)]


def _lines(doc: list, indent: int, dropped: list | None) -> list[list]:
    """[text, comments] a line."""
    line = flat(doc)
    groups = [index for index, part in enumerate(doc) if isinstance(part, Group) and part.items]
    forced = [at for at in groups if doc[at].noted()]
    if not forced and (indent + len(line) <= WIDTH or not groups):
        return [[line, []]]
    # the last group whose opening and closing lines fit (`[a, b] for _ in range(n)` opens
    # the list, not range's brackets), else the last one; the last with a comment before all
    ends = {at: (flat(doc[:at]) + doc[at].open, doc[at].close + flat(doc[at + 1:])) for at in groups}
    fitting = [at for at in groups if indent + max(len(ends[at][0]), len(ends[at][1])) <= WIDTH]
    at = (forced or fitting or groups)[-1]
    if dropped is not None:
        dropped += [c for other in forced if other != at for c in doc[other].notes()]
    group = doc[at]
    head, tail = ends[at]
    inner = indent + len(STEP)
    together = ", ".join(flat(item) for item in group.items)
    if not group.noted() and inner + len(together) <= WIDTH:
        body = [[together, []]]
    else:
        body = []
        for index, item in enumerate(group.items):
            body += [[f"# {c.text}", []] for c in group.above.get(index, [])]
            lines = _lines(item, inner, dropped)
            if index < len(group.items) - 1 or group.trailing_comma:
                lines[-1][0] += ","
            lines[-1][1] = lines[-1][1] + group.after.get(index, [])
            body += lines
        body += [[f"# {c.text}", []] for c in group.above.get(len(group.items), [])]
    return [[head, []]] + [[STEP + text, notes] for text, notes in body] + [[tail, list(group.closing)]]


def place_comments(doc: list, comments: list) -> list:
    """Put each comment (`spec_text.Comment`) of a statement's inner lines into the group of
    `doc` it belongs to; return those that have none."""
    return [comment for comment in comments if not _place(doc, comment)]


def _place(doc: list, comment) -> bool:
    where = (comment.line, comment.column)
    groups = list(groups_in(doc))
    # Only groups written over several lines take one (one written on one line stays so).
    groups = [group for group in groups if _extent(group) is not None and _extent(group).end_line > _extent(group).line]
    # what ends last on the comment's line before it: an item, or a group's closing bracket
    ends = [((span.end_line, span.end_column), 1, group.after, index) for group in groups
            for index, span in enumerate(group.spans) if span is not None and span.end_line == comment.line
            and span.end_column <= comment.column]
    ends += [((group.span.end_line, group.span.end_column), 0, group, None) for group in groups
             if group.span is not None and group.span.end_line == comment.line and group.span.end_column <= where[1]]
    if ends:
        _, _, target, index = max(ends, key=lambda end: end[:2])
        if index is None:
            target.closing.append(comment)
        else:
            target.setdefault(index, []).append(comment)
        return True
    # on a line of its own, or after an opening bracket: in the innermost group around it,
    # after the item it is inside, else above the item below it
    around = [group for group in groups if (_extent(group).line, _extent(group).column) < where
              < (_extent(group).end_line, _extent(group).end_column)]
    if not around:
        return False
    group = around[-1]  # the innermost: groups come outer ones first
    for index, span in enumerate(group.spans):
        if span is not None and (span.line, span.column) < where < (span.end_line, span.end_column):
            group.after.setdefault(index, []).append(comment)
            return True
    below = next((index for index, span in enumerate(group.spans)
                  if span is not None and (span.line, span.column) > where), len(group.items))
    group.above.setdefault(below, []).append(comment)
    return True


def groups_in(doc: list):
    """Every group of a doc, outer ones first."""
    for part in doc:
        if isinstance(part, Group):
            yield part
            for item in part.items:
                yield from groups_in(item)


def _extent(group: Group) -> Span | None:
    """Where a group is written: its brackets, else from its first item to its last."""
    if group.span is not None or not group.items:
        return group.span if group.items else None
    spans = [span for span in group.spans if span is not None]
    return Span(spans[0].path, spans[0].line, spans[0].column, spans[-1].end_line, spans[-1].end_column) \
        if spans else None


# ---------------------------------------------------------------------------- docs of expressions


def doc(node) -> list:
    """The doc of an expression; `flat(doc(node)) == expr(node)`."""
    if isinstance(node, ast.Call):
        arguments = node.args + node.kwargs
        return _wrapped(node.func, POSTFIX) + [Group("(", [doc(a) for a in arguments], ")", spans=_spans(arguments),
                                                     span=node.span)]
    if isinstance(node, ast.Keyword):
        return [f"{node.name}="] + doc(node.value)
    if isinstance(node, ast.ListExpr):
        return [Group("[", [doc(i) for i in node.items], "]", spans=_spans(node.items), span=node.span)]
    if isinstance(node, ast.Subscript):
        return _wrapped(node.value, POSTFIX) + [Group("[", [[_item(i)] for i in node.items], "]", False,
                                                      spans=_spans(node.items), span=node.span)]
    if isinstance(node, ast.Attribute):
        return _wrapped(node.value, POSTFIX) + [f".{node.attr}"]
    if isinstance(node, ast.ListComp):
        inner = doc(node.element) + [f" for {', '.join(name for name, _ in node.targets)} in "] + doc(node.iterable)
        whole = Span(node.span.path, node.element.span.line, node.element.span.column,
                     node.iterable.span.end_line, node.iterable.span.end_column)
        return [Group("[", [inner], "]", False, spans=[whole], span=node.span)]
    if isinstance(node, ast.BinOp):
        level = _BINARY[node.op]
        if node.op == "**":
            return _wrapped(node.left, POSTFIX) + [" ** "] + _wrapped(node.right, UNARY)
        return _wrapped(node.left, level) + [f" {node.op} "] + _wrapped(node.right, level + 1)
    if isinstance(node, ast.Compare):
        return _wrapped(node.left, ADD) + [f" {node.op} "] + _wrapped(node.right, ADD)
    if isinstance(node, ast.BoolOp):
        inner = NOT if node.op == "and" else AND
        out: list = []
        for index, value in enumerate(node.values):
            out += ([f" {node.op} "] if index else []) + _wrapped(value, inner)
        return out
    if isinstance(node, ast.UnaryOp):
        return (["not "] + _wrapped(node.operand, NOT)) if node.op == "not" else [node.op] + _wrapped(node.operand, UNARY)
    if isinstance(node, ast.IfExp):
        return _wrapped(node.body, OR) + [" if "] + _wrapped(node.condition, OR) + [" else "] + _wrapped(node.orelse, 0)
    return [expr(node)]  # names, numbers, strings, tuples: never split


def _wrapped(node, at_least: int) -> list:
    inner = doc(node)
    return inner if precedence(node) >= at_least else [Group("(", [inner], ")", False, spans=[node.span])]


# ---------------------------------------------------------------------------- docs of statements


def statement_doc(stmt) -> list:
    """The doc of a one-line statement (`fmt._Layout` writes the compound ones)."""
    if isinstance(stmt, ast.Input) and stmt.shape is None:  # a flag: `input is_causal: bool = false`
        return [f"input {stmt.name}: {stmt.dtype}"] + ([" = "] + doc(stmt.default) if stmt.default is not None else [])
    if isinstance(stmt, ast.Input):
        dtype = getattr(stmt, "dtype", None) or ""  # `bool[...]` for a mask
        return [f"input {stmt.name}: {dtype}", _shape(stmt.shape)] + ([" = None"] if stmt.optional else [])
    if isinstance(stmt, ast.Param):
        keyword = "frozen param" if getattr(stmt, "frozen", False) else "param"
        return [f"{keyword} {stmt.name}: ", _shape(stmt.shape), " = "] + doc(stmt.init)
    for kind, keyword in ((ast.Layer, "layer"), (ast.Let, "let"), (ast.Buffer, "buffer")):
        if isinstance(stmt, kind):
            keyword = "persistent buffer" if getattr(stmt, "persistent", False) else keyword
            return [f"{keyword} {stmt.name} = "] + doc(stmt.value)
    if isinstance(stmt, ast.Init):  # `init W[1].weight = ...`: a sequential's child by position
        target = "".join(f"[{name}]" if isinstance(name, int) else ("." if index else "") + name
                         for index, (name, _) in enumerate(stmt.target))
        return [f"init {target} = "] + doc(stmt.value)
    if isinstance(stmt, ast.Require):
        return ["require "] + doc(stmt.condition) + ([f", {quote(stmt.message)}"] if stmt.message is not None else [])
    if isinstance(stmt, ast.Example):
        return ["example", Group("(", [doc(k) for k in stmt.kwargs], ")", spans=_spans(stmt.kwargs), span=stmt.span)]
    if isinstance(stmt, ast.Assign):
        return [f"{', '.join(name for name, _ in stmt.targets)} = "] + doc(stmt.value)
    if type(stmt).__name__ == "ExprStmt":  # `outs.append(y)` in a loop
        return doc(stmt.value)
    if isinstance(stmt, ast.Return):
        out: list = ["return "]
        for index, value in enumerate(stmt.values):
            out += ([", "] if index else []) + doc(value)
        return out
    raise TypeError(f"cannot format {type(stmt).__name__}")


def header_doc(block, close: tuple[int, int] | None = None) -> list:
    """`block Name(arg: type = default, ...):`; `close`: the line and column after its `)`."""
    items, spans, marked = [], [], False
    for arg in block.args:
        if arg.keyword_only and not marked:  # `*`: the arguments after it are keyword-only
            items.append(["*"])
            spans.append(None)
            marked = True
        items.append([arg_text(arg)])
        spans.append(arg.span)
    span = Span(block.span.path, block.span.line, block.span.column, *close) if close else None
    return [f"block {block.name}", Group("(", items, ")", spans=spans, span=span), ":"]


def arg_text(arg) -> str:
    return f"{arg.name}: {arg.type}" + (f" = {expr(arg.default)}" if arg.default is not None else "")


def _shape(dims) -> Group:
    return Group("[", [doc(d) for d in dims], "]", spans=_spans(dims))


def _spans(nodes: list) -> list:
    return [getattr(node, "span", None) for node in nodes]
