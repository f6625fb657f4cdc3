"""`attndsl lsp`: a language server on stdin/stdout for any editor (LSP, via pygls).

Diagnostics on open and on every change (the compiler's, with their codes and help),
hover (the symbolic shape of a value at that point; a layer's kind, arguments,
parameters and `state_dict` entries; an op's or a layer kind's signature), go to
definition, and completion of ops, layer kinds, names and keywords. The answers come
from `lsp_features.py`; this module only speaks the protocol. pygls is an optional
dependency (`pip install 'attndsl[lsp]'`), imported only here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..cli import UsageError


def run(args) -> int:
    try:
        server = make_server()
    except ImportError:
        raise UsageError("`attndsl lsp` needs pygls: pip install 'attndsl[lsp]'")
    # The protocol gets its own copy of stdout, which pygls closes at `exit`; anything
    # else printed meanwhile goes to stderr instead of corrupting the protocol stream.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    saved, sys.stdout = sys.stdout, sys.stderr
    try:
        server.start_io(stdout=protocol_out)
    finally:
        sys.stdout = saved
    return 0


def _path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def make_server():
    from lsprotocol import types
    from pygls.lsp.server import LanguageServer

    from .. import __version__
    from .lsp_features import Document, completions, definition, hover

    server = LanguageServer("attndsl", __version__)
    documents: dict[str, Document] = {}

    def refresh(uri: str) -> None:
        text = server.workspace.get_text_document(uri).source
        documents[uri] = document = Document.analyze(text, _path(uri))
        diagnostics = [_diagnostic(types, d) for d in document.diagnostics if d.span is not None]
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))

    def document(uri: str) -> Document:
        if uri not in documents:
            refresh(uri)
        return documents[uri]

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams):
        refresh(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams):
        refresh(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams):
        documents.pop(params.text_document.uri, None)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(params: types.HoverParams):
        position = params.position
        text = hover(document(params.text_document.uri), position.line, position.character)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def on_definition(params: types.DefinitionParams):
        position = params.position
        doc = document(params.text_document.uri)
        span = definition(doc, position.line, position.character)
        if span is None:
            return None
        # a block imported from another spec is defined in that spec's file
        uri = params.text_document.uri if span.path == doc.path else Path(span.path).resolve().as_uri()
        return types.Location(uri=uri, range=_range(types, span))

    kinds = {"keyword": types.CompletionItemKind.Keyword, "op": types.CompletionItemKind.Function,
             "function": types.CompletionItemKind.Function,
             "layer": types.CompletionItemKind.Class, "name": types.CompletionItemKind.Variable,
             "block": types.CompletionItemKind.Module}

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."]))
    def on_completion(params: types.CompletionParams):
        position = params.position
        found = completions(document(params.text_document.uri), position.line, position.character)
        return types.CompletionList(is_incomplete=False, items=[
            types.CompletionItem(label=label, kind=kinds[kind], detail=detail) for label, kind, detail in found])

    return server


def _range(types, span):
    return types.Range(start=types.Position(line=span.line - 1, character=span.column - 1),
                       end=types.Position(line=span.end_line - 1, character=max(span.end_column - 1, span.column)))


def _diagnostic(types, diagnostic):
    severity = types.DiagnosticSeverity.Error if diagnostic.is_error else types.DiagnosticSeverity.Warning
    message = diagnostic.message + (f"\nhelp: {diagnostic.help}" if diagnostic.help else "")
    return types.Diagnostic(range=_range(types, diagnostic.span), message=message, severity=severity,
                            code=diagnostic.code, source="attndsl")
