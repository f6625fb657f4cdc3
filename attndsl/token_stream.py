"""A spec's tokens as Lark's contextual lexer and its indenter give them, in one loop.

Lark lexes a token in a chain of Python calls (the contextual lexer's generator, the
basic lexer's `next_token`, its scanner's `match`, the token's constructor, the line
counter, the indenter's generator): that was most of the time of a spec that parses
(attndsl/ast_reductions.py). `TokenStream` does the same steps in one loop, over Lark's
own per-state scanners and callbacks (the comments attndsl/parser.py collects, a keyword
told from a name), and hands each token to the parser as it comes: which terminals may
match next depends on the parser's state, as in Lark. Where Lark would raise (a character
no terminal matches, a dedent to a column no block starts at), it raises `NotLexed`: the
caller parses the spec again Lark's way, which reports the error.
"""

from __future__ import annotations

from lark import Token


class NotLexed(Exception):
    """Lark would raise here: the spec is parsed again Lark's way, which reports the error."""


class TokenStream:
    """The lexing of one Lark instance (contextual lexer, then an `Indenter` postlexer)."""

    def __init__(self, contextual, indenter):
        self.lexers = contextual.lexers  # parser state -> Lark's BasicLexer for what may come there
        self.plans: dict[int, tuple] = {}  # parser state -> what `_plan` reads off its lexer
        self.newline_type, self.indent_type, self.dedent_type = (indenter.NL_type, indenter.INDENT_type,
                                                                 indenter.DEDENT_type)
        self.opening, self.closing = set(indenter.OPEN_PAREN_types), set(indenter.CLOSE_PAREN_types)
        self.tab_len = indenter.tab_len

    @staticmethod
    def of(lark) -> TokenStream | None:
        """The stream for this Lark, or None where its insides are not the ones this copies
        (then Lark lexes: slower, the same tokens)."""
        from lark.indenter import Indenter

        connector = getattr(lark.parser, "lexer", None)
        contextual, indenter = getattr(connector, "lexer", None), getattr(connector, "postlexer", None)
        if not isinstance(indenter, Indenter) or not isinstance(getattr(contextual, "lexers", None), dict):
            return None
        return TokenStream(contextual, indenter)

    def _plan(self, state: int) -> tuple:
        """What lexing in a parser state needs of Lark's lexer for it: the compiled patterns
        (its scanner's, made when first needed, as Lark makes them), the callbacks, which
        terminals may span lines and which are skipped."""
        lexer = self.lexers[state]
        try:
            patterns = lexer.scanner._mres  # (building the scanner also sets `lexer.callback`)
            plan = (patterns, lexer.callback, lexer.newline_types, lexer.ignore_types)
        except AttributeError:  # another Lark's lexer: Lark lexes (see `of`)
            raise NotLexed() from None
        self.plans[state] = plan
        return plan

    def feed_all(self, text: str, state_stack: list, feed) -> Token | None:
        """Give every token of `text` to `feed` (the parser, whose `state_stack` says what may
        come next), as Lark's lexer thread would; the last token given, or None."""
        plans, end = self.plans, len(text)
        newline_type, indent_type, dedent_type = self.newline_type, self.indent_type, self.dedent_type
        opening, closing = self.opening, self.closing
        position, line, line_start = 0, 1, 0  # Lark's LineCounter
        paren_level, indent_levels = 0, [0]  # Lark's Indenter
        raw = given = None  # the last token the lexer made, the last one given to the parser
        while position < end:
            state = state_stack[-1]
            plan = plans.get(state) or self._plan(state)
            patterns, callbacks, newline_types, ignored_types = plan
            # BasicLexer.next_token: skip what the grammar ignores (spaces, comments, whose
            # callbacks still run), up to a token the parser is given.
            token = None
            while position < end:
                for pattern in patterns:
                    match = pattern.match(text, position, end)
                    if match:
                        break
                else:
                    raise NotLexed()  # Lark: UnexpectedCharacters
                value, kind = match.group(0), match.lastgroup
                ignored = kind in ignored_types
                made = None
                if not ignored or kind in callbacks:
                    made = _token(kind, value, position, line, position - line_start + 1)
                if kind in newline_types:
                    newlines = value.count("\n")
                    if newlines:
                        line += newlines
                        line_start = position + value.rindex("\n") + 1
                position += len(value)
                if made is not None:
                    made.end_line, made.end_column, made.end_pos = line, position - line_start + 1, position
                    if kind in callbacks:
                        made = callbacks[kind](made)
                    if not ignored:
                        if not isinstance(made, Token):
                            raise NotLexed()  # Lark: LexError
                        token = made
                        break
            if token is None:
                break  # the text ended in what the grammar ignores
            raw = token
            # Indenter._process and handle_NL: a line break outside brackets is given, then an
            # indent, or a dedent per block it closes.
            if token.type == newline_type:
                if paren_level == 0:
                    feed(token)
                    given = token
                    indent_text = token.rsplit("\n", 1)[1]
                    indent = indent_text.count(" ") + indent_text.count("\t") * self.tab_len
                    if indent > indent_levels[-1]:
                        indent_levels.append(indent)
                        given = Token.new_borrow_pos(indent_type, indent_text, token)
                        feed(given)
                    else:
                        while indent < indent_levels[-1]:
                            indent_levels.pop()
                            given = Token.new_borrow_pos(dedent_type, indent_text, token)
                            feed(given)
                        if indent != indent_levels[-1]:
                            raise NotLexed()  # Lark: DedentError (attndsl's _BadDedent)
            else:
                feed(token)
                given = token
            if token.type in opening:
                paren_level += 1
            elif token.type in closing:
                paren_level -= 1
                if paren_level < 0:
                    raise NotLexed()  # Lark: an assertion
        while len(indent_levels) > 1:
            indent_levels.pop()
            given = Token.new_borrow_pos(dedent_type, "", raw) if raw else Token(dedent_type, "", 0, 0, 0, 0, 0, 0)
            feed(given)
        return given


def _token(kind: str, value: str, position: int, line: int, column: int) -> Token:
    """`Token(kind, value, position, line, column)`, without the two calls Lark's constructor makes."""
    token = _new_string(Token, value)
    token.type, token.start_pos, token.value, token.line, token.column = kind, position, value, line, column
    token.end_line = token.end_column = token.end_pos = None
    return token


_new_string = str.__new__
