"""The AST built while Lark's LALR parser reduces each rule, not from a tree afterwards.

attndsl/ast_builder.py turns a Lark tree into the AST; building the tree (with its
positions) and walking it again took more than half of parsing. Here the same builder's
methods run as the parser reduces, through callbacks that give them the positions Lark's
`propagate_positions` would have given the tree's nodes, over Lark's own table. Only a
spec that parses goes this way: on any error (a syntax error, a `SyntaxProblem`, a tree
too deep) attndsl/parser.py parses again the old way, which reports it as it always has.
"""

from __future__ import annotations

import threading
from functools import cache

from lark import Token, Tree

from .ast_builder import AstBuilder
from .token_stream import NotLexed, TokenStream

# A tree higher than this is built the old way (parse, then `transform`), whose recursion
# limit is what reports a spec nested too deeply (E0008); no real spec comes near it.
MAX_HEIGHT = 150


class NotParsed(Exception):
    """The spec does not parse: Lark's own parse reports where."""


class TooDeep(Exception):
    """The tree would be higher than MAX_HEIGHT."""


def pass_alone(raw):
    """The callback of `?expr: or_expr`: the child is the node, its container unchanged (it is
    the child's own). The parsing loop (`_Building.run`) leaves the value where it is."""
    return raw[0]


class Reduced:
    """A rule reduced on the parser's stack: its AST value, and the positions and height of
    the tree node Lark would have built, as its `propagate_positions` gives them: a node
    spans from its first child's container to its last's. A container is the text a node
    stands for in its parent: `(a + b)` passed through `atom` keeps its own span, while its
    container takes in the parentheses, so the comparison `(a + b) == c` starts at `(`."""

    __slots__ = ("value", "line", "column", "end_line", "end_column",
                 "container_line", "container_column", "container_end_line", "container_end_column", "height")

    def __init__(self, line, column, end_line, end_column, height: int):
        # A new node's container is itself; passing through a `?rule` widens it (`_pass_through`).
        self.line = self.container_line = line
        self.column = self.container_column = column
        self.end_line = self.container_end_line = end_line
        self.end_column = self.container_end_column = end_column
        self.height = height

    def meta(self):
        """The positions as a Lark `Meta`, for a rule with no method (it stays a Tree)."""
        tree = Tree("meta", [])
        if self.line is not None:
            tree.meta.line, tree.meta.column, tree.meta.empty = self.line, self.column, False
        if self.end_line is not None:
            tree.meta.end_line, tree.meta.end_column, tree.meta.empty = self.end_line, self.end_column, False
        return tree.meta


def _start(raw) -> tuple | None:
    for child in raw:
        if type(child) is not Reduced:
            return child.line, child.column  # a token
        if child.line is not None:  # an empty node takes no place
            return child.container_line, child.container_column
    return None


def _end(raw) -> tuple | None:
    for child in reversed(raw):
        if type(child) is not Reduced:
            return child.end_line, child.end_column
        if child.end_line is not None:
            return child.container_end_line, child.container_end_column
    return None


def _pass_through(node, raw):
    """`?atom: "(" expr ")"`: the node is the child's, its container now the whole rule's."""
    if type(node) is not Reduced:
        return node  # a token stays as it is
    start, end = _start(raw), _end(raw)
    if start is not None:
        if node.line is None:
            node.line, node.column = start
        node.container_line, node.container_column = start
    if end is not None:
        if node.end_line is None:
            node.end_line, node.end_column = end
        node.container_end_line, node.container_end_column = end
    return node


def _child_plan(rule) -> tuple[list, int]:
    """Which of a rule's symbols become children (Lark drops anonymous tokens such as `(`)
    and where `[item]` placeholders (None) go: (index, spliced, Nones before) per kept
    symbol, and the Nones after the last; as Lark's child filter with `maybe_placeholders`."""
    expansion, empty = rule.expansion, rule.options.empty_indices
    if empty:
        runs = "".join(str(int(flag)) for flag in empty).split("0")
        nones = [len(ones) for ones in runs]
    else:
        nones = [0] * (len(expansion) + 1)
    plan, pending = [], 0
    for index, symbol in enumerate(expansion):
        pending += nones[index]
        if rule.options.keep_all_tokens or not (symbol.is_term and symbol.filter_out):
            plan.append((index, not symbol.is_term and symbol.name.startswith("_"), pending))
            pending = 0
    return plan, pending + nones[len(expansion)]


def reductions(builder: AstBuilder, rules) -> dict | None:
    """Callbacks for Lark's LALR parser that build the AST as it reduces each rule, the
    same AST `transform` builds from the tree (a tree, its positions, then a walk over it
    took half the parse). None when some rule is of a shape this does not handle."""
    callbacks = {}
    for rule in rules:
        callback = _reduction(builder, rule)
        if callback is None:
            return None
        callbacks[rule] = callback
    return callbacks


def _reduction(builder: AstBuilder, rule):
    """The callback of one rule: Lark's child filter, `?rule` pass-through, positions and the
    builder's method for the rule, in one call (the most frequent shapes in fewer steps)."""
    name = rule.alias or rule.options.template_source or rule.origin.name
    plan, trailing = _child_plan(rule)
    spliced = rule.origin.name.startswith("_")  # a `_rule`: its children go into its parent's
    if rule.options.expand1 and not rule.alias:  # `?rule`: its one child is the node
        if len(plan) != 1 or plan[0][1] or plan[0][2] or trailing or spliced:
            return None
        if len(rule.expansion) == 1:
            return pass_alone
        single = plan[0][0]
        return lambda raw: _pass_through(raw[single], raw)
    if spliced and rule.options.expand1:
        return None
    method = None if spliced else getattr(builder, name, None)
    takes_meta = getattr(method, "takes_meta", False)
    passes_operand = getattr(method, "passes_lone_operand", False)

    def build(node, children):
        if node.height > MAX_HEIGHT:
            raise TooDeep()
        if spliced:
            node.value = children
        elif method is None:
            node.value = Tree(name, children, node.meta())
        else:
            node.value = method(node, children) if takes_meta else method(children)
        return node

    placeholders = [None] * trailing
    if len(rule.expansion) == 1 and plan == [(0, False, 0)] and method is not None:
        def reduce_one(raw):
            # One symbol (`name: NAME`, `or_op` of one operand): the most frequent reductions.
            child = raw[0]
            if type(child) is not Reduced:
                node = Reduced(child.line, child.column, child.end_line, child.end_column, 1)
                children = [child, *placeholders]
            elif child.line is None or child.end_line is None:
                return reduce(raw)
            elif passes_operand:
                # The new node would hold the child's value, span its container, be one higher:
                # the child becomes it. Its own span is read no more (its method has run).
                child.line, child.column = child.container_line, child.container_column
                child.end_line, child.end_column = child.container_end_line, child.container_end_column
                child.height += 1
                if child.height > MAX_HEIGHT:
                    raise TooDeep()
                return child
            else:
                node = Reduced(child.container_line, child.container_column, child.container_end_line,
                               child.container_end_column, child.height + 1)
                if node.height > MAX_HEIGHT:
                    raise TooDeep()
                children = [child.value, *placeholders]
            node.value = method(node, children) if takes_meta else method(children)
            return node
    else:
        reduce_one = None

    def reduce(raw):
        children = []
        height = 0
        for index, expand, nones in plan:
            if nones:
                children += [None] * nones
            child = raw[index]
            if expand:
                children += child.value
            else:
                children.append(child.value if type(child) is Reduced else child)
        children += placeholders
        for child in raw:
            if type(child) is Reduced and child.height > height:
                height = child.height
        start, end = _start(raw), _end(raw)
        node = Reduced(*(start or (None, None)), *(end or (None, None)), height if spliced else height + 1)
        return build(node, children)

    return reduce_one or reduce


def build_while_parsing(lark, source: str, path: str) -> list | None:
    """The spec's items; None where this Lark's insides are not the ones expected."""
    building = _building(lark)
    if building is None:
        return None
    with _building_lock:  # one builder, whose path is this spec's for the parse
        building.builder.path = path
        try:
            return building.run(source).value
        except NotLexed:
            raise NotParsed() from None


_building_lock = threading.Lock()


class _Building:
    """Lark's LALR loop (lark/parsers/lalr_parser_state.py), run over Lark's table with the
    AST builder's callbacks, for a spec that parses: an error stops it, and the caller
    parses again with Lark, which reports it. Lark's loop checks, on each action, what
    only a broken table could break; that was a fifth of the parse."""

    def __init__(self, shift, table, rules, builder: AstBuilder, callbacks: dict, tokens: TokenStream):
        self.table, self.builder, self.tokens = table, builder, tokens
        by_rule = {rule: (len(rule.expansion), rule.origin.name, callbacks[rule]) for rule in rules}
        # Lark's table, read once into the form the loop wants: per state and symbol, the state
        # to shift to (an int; a goto on a rule's name is one too) or the reduction itself
        # (size, rule name, callback), so that no action is unpacked, and no Rule hashed (a
        # Python-level `__hash__`), per token.
        self.actions = {state: {symbol: arg if action is shift else by_rule[arg]
                                for symbol, (action, arg) in row.items()}
                        for state, row in table.states.items()}

    def run(self, source: str):
        actions, end_state = self.actions, self.table.end_states["start"]
        # The lexer reads the parser's state (the top of the stack) to know which tokens may come.
        state_stack, value_stack = [self.table.start_states["start"]], []

        def feed(token, is_end=False):
            kind = token.type
            while True:
                try:
                    action = actions[state_stack[-1]][kind]
                except KeyError:
                    raise NotParsed() from None
                if type(action) is int:  # a shift, to that state
                    if is_end:
                        raise NotParsed()
                    state_stack.append(action)
                    value_stack.append(token)
                    return None
                size, origin, callback = action
                if callback is pass_alone:  # the value stays; only the state changes
                    state_stack[-1] = actions[state_stack[-2]][origin]
                    if is_end and state_stack[-1] == end_state:
                        return value_stack[-1]
                    continue
                if size:
                    children = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    children = []
                value_stack.append(callback(children))
                state_stack.append(actions[state_stack[-1]][origin])
                if is_end and state_stack[-1] == end_state:
                    return value_stack[-1]

        token = self.tokens.feed_all(source, state_stack, feed)
        return feed(Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1), True)


@cache
def _building(lark) -> _Building | None:
    """The table, and the callbacks that build the AST, made once."""
    try:
        from lark.grammar import Rule
        from lark.parsers.lalr_analysis import Shift

        table = lark.parser.parser.parser.parse_table
    except (ImportError, AttributeError):
        return None
    tokens = TokenStream.of(lark)
    if tokens is None:
        return None
    rules = {arg for actions in table.states.values() for _, arg in actions.values() if isinstance(arg, Rule)}
    builder = AstBuilder("")
    callbacks = reductions(builder, rules)
    return None if callbacks is None else _Building(Shift, table, rules, builder, callbacks, tokens)
