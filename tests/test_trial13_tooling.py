"""What trial 13's probe of the tools found (the no-op compile cache, the command line,
`attndsl cost`, the Python API, diagnostics, compile time), each pinned here."""

from __future__ import annotations

import pytest

from attndsl import cli

GATE = "block Gate(d: int):\n    input x: [b, d]\n    layer fc = linear(d, d)\n    return sigmoid(fc(x))\n"
MID_BODY = "\n\n\nblock Mid(d: int):\n    input x: [b, d]\n    layer g = Gate(d)\n    return x * g(x)\n"
TOP = "from b import Mid\n\n\nblock Top(d: int):\n    input x: [b, d]\n    layer m = Mid(d)\n    return m(x) + x\n"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNDSL_CACHE_DIR", str(tmp_path / "cache"))


def _main(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------- the no-op cache


@pytest.mark.parametrize("head", [" from c import Gate", "\ffrom c import Gate", "from\fc import Gate",
                                  "from \\\nc import Gate", "from c \\\nimport Gate", "from\\\n  c import Gate"])
def test_an_import_in_any_layout_the_parser_accepts_recompiles_when_the_imported_spec_changes(
        tmp_path, capsys, head):
    (tmp_path / "c.attn").write_text(GATE, encoding="utf-8")
    (tmp_path / "b.attn").write_text(head + MID_BODY, encoding="utf-8")
    out = tmp_path / "out"
    assert _main(capsys, "compile", tmp_path / "b.attn", "-o", out)[0] == 0
    (tmp_path / "c.attn").write_text(GATE.replace("linear(d, d)", "linear(d, d, bias=false)"), encoding="utf-8")
    assert _main(capsys, "compile", "--check", tmp_path / "b.attn", "-o", out)[0] == 1  # stale
    code, printed, _ = _main(capsys, "compile", tmp_path / "b.attn", "-o", out)
    assert code == 0 and "(unchanged)" not in printed
    assert "bias=False" in (out / "b.py").read_text(encoding="utf-8")


def test_the_imports_of_an_imported_spec_that_starts_with_a_byte_order_mark_are_followed(tmp_path, capsys):
    (tmp_path / "c.attn").write_text(GATE, encoding="utf-8")
    (tmp_path / "b.attn").write_bytes(b"\xef\xbb\xbf" + ("from c import Gate" + MID_BODY).encode("utf-8"))
    (tmp_path / "a.attn").write_text(TOP, encoding="utf-8")
    out = tmp_path / "out"
    assert _main(capsys, "compile", tmp_path / "a.attn", "-o", out)[0] == 0
    (tmp_path / "c.attn").write_text(GATE.replace("linear(d, d)", "linear(d, d, bias=false)"), encoding="utf-8")
    code, printed, _ = _main(capsys, "compile", tmp_path / "a.attn", "-o", out)
    assert code == 0 and "(unchanged)" not in printed
    assert "bias=False" in (out / "a.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("entry", ["[]", "null", "1", '"text"', '{"output": "%s", "diagnostics": 1}',
                                   '{"output": "%s", "diagnostics": [1]}', '{"output": "%s", "diagnostics": [{}]}',
                                   '{"output": "%s", "diagnostics": [{"severity": "warning", "code": "W0001", '
                                   '"message": "m", "span": [1, 2], "labels": [], "help": null}]}'])
def test_a_malformed_cache_entry_is_a_miss(tmp_path, capsys, entry):
    import hashlib

    from .mechanisms import SPECS_DIR

    out = tmp_path / "out"
    assert _main(capsys, "compile", SPECS_DIR / "se.attn", "-o", out)[0] == 0
    [saved] = (tmp_path / "cache").glob("*.json")
    produced = hashlib.sha256((out / "se.py").read_bytes()).hexdigest()
    saved.write_text(entry.replace("%s", produced), encoding="utf-8")
    code, printed, err = _main(capsys, "compile", SPECS_DIR / "se.attn", "-o", out)
    assert code == 0 and "internal error" not in err and printed.endswith("(unchanged)\n")
    assert '"output"' in saved.read_text(encoding="utf-8")  # the compile wrote the entry again


# ---------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("layout", ["-o under a file", "the module's path is a directory",
                                    "the module's path is a directory, --check"])
def test_an_output_that_cannot_be_written_is_a_usage_error(tmp_path, capsys, layout):
    from .mechanisms import SPECS_DIR

    (tmp_path / "afile").write_text("", encoding="utf-8")
    (tmp_path / "out" / "se.py").mkdir(parents=True)
    output = tmp_path / "afile" / "out" if layout == "-o under a file" else tmp_path / "out"
    check = ["--check"] if layout.endswith("--check") else []
    code, _, err = _main(capsys, "compile", *check, SPECS_DIR / "se.attn", "-o", output)
    assert code == 2 and "internal error" not in err
    assert ("afile is a file" in err) if layout == "-o under a file" else ("se.py is a directory" in err)


def test_one_spec_spelled_twice_compiles_once(tmp_path, capsys, monkeypatch):
    from .mechanisms import SPECS_DIR

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "se.attn").write_text((SPECS_DIR / "se.attn").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, printed, err = _main(capsys, "compile", "d/se.attn", "d/./se.attn", str(tmp_path / "d" / "se.attn"),
                               "-o", "out")
    assert code == 0, err
    assert printed == "d/se.attn -> out/se.py\n"
    code, printed, _ = _main(capsys, "check", "d/se.attn", "d/./se.attn")
    assert code == 0 and printed == "d/se.attn: ok\n"


# ---------------------------------------------------------------------------- the Python API


def test_the_python_api_reads_a_spec_with_a_byte_order_mark_as_the_command_line_does(tmp_path, capsys):
    import attndsl
    from attndsl.interpret.program import load as interpret

    spec = tmp_path / "b.attn"
    spec.write_bytes(b"\xef\xbb\xbfblock B(d: int):\n    input x: [b, d]\n    return x\n")
    assert _main(capsys, "check", spec)[0] == 0
    assert "class B(nn.Module)" in attndsl.compile_file(spec)
    assert attndsl.load(spec).__name__ == "B"
    assert "B" in interpret(spec).blocks


# ---------------------------------------------------------------------------- diagnostics


@pytest.mark.parametrize("odd", ["# x\rfrom c import Gate\n", "\f# a form feed\n", "# \u2028 a line separator\n"])
def test_a_diagnostic_shows_the_line_the_lexer_counted(odd):
    """Only `\\n` ends a line for the lexer: the snippet printer counted a lone `\\r` (in a
    comment), a form feed or U+2028 as one more, and showed the line above the error's."""
    import attndsl
    from attndsl.diagnostics import render_all

    source = odd + "\n\nblock Mid(d: int):\n    input x: [b, d]\n    layer g = Gate(d)\n    return x * g(x)\n"
    result = attndsl.compile_source(source, "b.attn")
    [error] = [d for d in result.diagnostics if d.is_error]
    assert (error.code, error.span.line) == ("E0102", 6)
    shown = render_all([error], {"b.attn": source})
    assert "6 |     layer g = Gate(d)" in shown and "\r" not in shown


# ---------------------------------------------------------------------------- attndsl cost

COST_SPEC = """block B(d: int = 64, h: int = 4, r: int = 8):
    input x: [b, n, d]
    example(d=64, h=4, r=8, x=[2, 5, 64])
    require d % h == 0, "d must be divisible by h"
    layer fc = linear(d, d // r)
    return fc(x)
"""


@pytest.mark.parametrize("size, says", [
    ("h=3", "d must be divisible by h (cost.attn:4:5)"),
    ("r=0", "`r` must not be zero"),
    ("d=-8", "`d` must be at least 0"),
    ("b=0", "the size b must be at least 1, got 0"),
    ("x=[2,0,64]", "the size n must be at least 1, got 0"),
    ("b=-1", "the size b must be at least 1, got -1"),
])
def test_cost_refuses_the_sizes_the_module_refuses(tmp_path, capsys, monkeypatch, size, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cost.attn").write_text(COST_SPEC, encoding="utf-8")
    code, printed, err = _main(capsys, "cost", "cost.attn", "--size", size)
    assert code == 2 and printed == "" and "internal error" not in err
    assert err.startswith("attndsl: error: B refuses ") and says in err


def test_cost_asks_only_for_names_size_takes(tmp_path, capsys):
    spec = tmp_path / "cost.attn"
    spec.write_text("block B(c: int, r: int = 4):\n    input x: [b, c]\n    let mid = c // r\n"
                    "    layer fc = linear(c, mid)\n    return fc(x)\n", encoding="utf-8")
    code, printed, _ = _main(capsys, "cost", spec)
    assert code == 0 and "(numbers need sizes for b, c: give them with --size NAME=VALUE)" in printed
    code, printed, _ = _main(capsys, "cost", spec, "--size", "b=2", "c=64")
    assert code == 0 and "FLOPs: 4,096" in printed


# ---------------------------------------------------------------------------- compile time


def _successor_lookups_while_naming(monkeypatch, statements: int) -> int:
    """How often naming asks the graph who reads a value, compiling `y = y + 1` so many times."""
    import attndsl
    from attndsl.codegen import forward

    counted = [0]
    real = forward.assign_names

    def counting(ir, *args, **kwargs):
        successors = ir.graph.successors

        def lookup(node):
            counted[0] += 1
            return successors(node)

        monkeypatch.setattr(ir.graph, "successors", lookup, raising=False)
        return real(ir, *args, **kwargs)

    monkeypatch.setattr(forward, "assign_names", counting)
    source = "block Big(d: int = 8):\n    input x: [b, d]\n    y = x\n" + "    y = y + 1\n" * statements + "    return y\n"
    assert attndsl.compile_source(source, "big.attn").ok
    return counted[0]


def test_naming_is_linear_in_the_statements(monkeypatch):
    """Each reassignment of `y` asked every earlier value of `y` whether it was still read:
    n(n-1)/2 questions (1,000 lines took 2.4 s, 3,000 took 18 s)."""
    small, large = (_successor_lookups_while_naming(monkeypatch, n) for n in (100, 400))
    assert large < 6 * small
