"""`attndsl lsp`: a client speaking LSP (JSON-RPC over stdio) to the server in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from attndsl.tools.lsp_features import Document, completions, definition, hover

from .mechanisms import REPO_ROOT, SPECS_DIR

pytest.importorskip("pygls")


class Client:
    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "attndsl", "lsp"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT)
        self.next_id = 0

    def send(self, method: str, params, *, request: bool = True):
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()
        return self.next_id if request else None

    def receive(self) -> dict:
        headers = {}
        while True:
            line = self.process.stdout.readline()
            assert line, f"the server closed its output: {self.process.stderr.read().decode()[-2000:]}"
            if line == b"\r\n":
                break
            key, value = line.decode().split(":", 1)
            headers[key.strip().lower()] = value.strip()
        return json.loads(self.process.stdout.read(int(headers["content-length"])))

    def request(self, method: str, params):
        wanted = self.send(method, params)
        while True:
            message = self.receive()
            if message.get("id") == wanted:
                return message["result"]

    def notification(self, method: str) -> dict:
        while True:
            message = self.receive()
            if message.get("method") == method:
                return message["params"]


BROKEN = "block B():\n    input x: [b, n, 16]\n    layer fc = linear(32, 8)\n    return fc(x)\n"
FIXED = "block B():\n    input x: [b, n, 16]\n    layer fc = linear(16, 8)\n    y = fc(x)\n    return sigmoid(y)\n"


def test_a_session():
    client = Client()
    try:
        capabilities = client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        assert {"hoverProvider", "definitionProvider", "completionProvider"} <= set(capabilities["capabilities"])
        client.send("initialized", {}, request=False)
        uri = "file:///tmp/b.attn"
        client.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "attn", "version": 1,
                                                               "text": BROKEN}}, request=False)
        (problem,) = client.notification("textDocument/publishDiagnostics")["diagnostics"]
        assert problem["code"] == "E0201" and problem["range"]["start"] == {"line": 3, "character": 11}
        client.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                               "contentChanges": [{"text": FIXED}]}, request=False)
        assert client.notification("textDocument/publishDiagnostics")["diagnostics"] == []
        position = {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 19}}  # the `y` in sigmoid(y)
        assert client.request("textDocument/hover", position)["contents"]["value"] == "`y`: [b, n, 8]"
        layer = {"textDocument": {"uri": uri}, "position": {"line": 3, "character": 9}}  # `fc` in fc(x)
        assert "linear(in_features=16, out_features=8, bias=true)" in client.request("textDocument/hover", layer)[
            "contents"]["value"]
        target = client.request("textDocument/definition", position)
        assert target["range"]["start"] == {"line": 3, "character": 4}  # where y is assigned
        items = client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                            "position": {"line": 4, "character": 12}})["items"]
        labels = {item["label"] for item in items}
        assert {"sigmoid", "softmax", "sum"} <= labels and "linear" not in labels  # the prefix is `s`
        client.request("shutdown", None)
        client.send("exit", None, request=False)
        status = client.process.wait(timeout=30)
        assert status == 0, client.process.stderr.read().decode()[-3000:]
    finally:
        if client.process.poll() is None:
            client.process.kill()


def test_features_on_the_catalogue():
    source = (SPECS_DIR / "sdpa.attn").read_text(encoding="utf-8")
    document = Document.analyze(source, "specs/sdpa.attn")
    lines = source.split("\n")
    use = next(i for i, line in enumerate(lines) if "att = drop(softmax(att" in line)
    column = lines[use].index("softmax(att") + len("softmax(")
    # after both `if`s: the joined value, unconditional
    assert hover(document, use, column) == "`att`: [b, h, nq, nk]"
    masked = next(i for i, line in enumerate(lines) if "masked_fill(att" in line)
    assert hover(document, masked, 8) == "`att`: [b, h, nq, nk]  (if attention_mask given)"
    assert hover(document, use, lines[use].index("softmax")).startswith("op `softmax(x: tensor, dim: axis)`")
    layer_line = next(i for i, line in enumerate(lines) if "layer fc_q" in line)
    assert hover(document, layer_line, lines[layer_line].index("linear")).startswith("layer kind `linear(")
    span = definition(document, use, lines[use].index("drop("))
    assert (span.line, lines[span.line - 1][span.column - 1:span.end_column - 1]) == (
        next(i for i, line in enumerate(lines) if "layer drop" in line) + 1, "drop")
    labels = {label for label, _, _ in completions(document, use, 4)}
    assert {"queries", "fc_q", "att", "rearrange", "layer_norm", "ScaledDotProductAttention"} <= labels


def test_completion_offers_what_a_spec_can_call():
    """Ops written as operators (`add` is `+`, `matmul` is `@`) and the ones only passes make
    (a fused attention) are not offered; the ops called by name and the size functions are."""
    from attndsl.ops import OPS

    source = "block B(c: int):\n    input x: [b, c]\n    return x\n"
    document = Document.analyze(source, "b.attn")
    offered = {label: kind for label, kind, _ in completions(document, 2, 4)}  # no prefix: everything
    hidden = {name for name, op in OPS.items() if not op.callable_by_name}
    assert {"add", "mul", "matmul", "subscript", "scaled_dot_product_attention"} <= hidden
    assert not hidden & {label for label, kind in offered.items() if kind != "keyword"}  # `buffer` is a keyword
    assert {name for name, op in OPS.items() if op.callable_by_name} <= {n for n, k in offered.items() if k == "op"}
    assert offered["len"] == offered["int"] == "function" and offered["sqrt"] == offered["floor"] == "op"
    by_prefix = {label for label, _, _ in completions(Document.analyze(source.replace("return x", "return su"),
                                                                        "b.attn"), 2, 13)}
    assert "sum" in by_prefix and not {"sub", "subscript"} & by_prefix


def test_definition_of_a_comprehension_or_loop_variable_is_its_binding():
    source = (SPECS_DIR / "psa.attn").read_text(encoding="utf-8")
    document = Document.analyze(source, str(SPECS_DIR / "psa.attn"))
    lines = source.split("\n")
    use = next(i for i, line in enumerate(lines) if "for conv, group in zip" in line)

    def defined(word: str, column: int) -> tuple[int, str]:
        span = definition(document, use, column)
        return span.line - 1, lines[span.line - 1][span.column - 1:span.end_column - 1]

    assert defined("conv", lines[use].index("conv(group)")) == (use, "conv")
    assert defined("group", lines[use].index("group) for")) == (use, "group")
    # a `for` loop's variable, used in its body
    source = (SPECS_DIR / "infini_attention.attn").read_text(encoding="utf-8")
    document = Document.analyze(source, str(SPECS_DIR / "infini_attention.attn"))
    lines = source.split("\n")
    loop = next(i for i, line in enumerate(lines) if "for qs, ks, vs in zip" in line)
    body = next(i for i in range(loop + 1, len(lines)) if "ks" in lines[i])
    span = definition(document, body, lines[body].index("ks"))
    assert (span.line - 1, span.column - 1) == (loop, lines[loop].index("ks"))
