"""`from sdpa import ScaledDotProductAttention`: blocks of another spec of the same directory,
checked with the importing spec and written into its module (which stays standalone)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from attndsl import cli
from attndsl.compiler import analyze, compile_file

GATES = """\
# Gates other specs use.
block Inner(c: int):
    input x: [b, c]
    layer fc = linear(c, c)
    return sigmoid(fc(x))

block Gate(c: int, scale: float = 2.0):
    input x: [b, c]
    layer inner = Inner(c)
    return x * inner(x) * scale

block Unused(c: int):
    input x: [b, c]
    return x
"""

USER = """\
from gates import Gate

block Model(c: int = 4):
    input x: [b, c]
    layer gate = Gate(c, scale=0.5)
    layer out = linear(c, 3)
    return out(gate(x))
"""


def _write(directory: Path, **specs: str) -> None:
    for stem, text in specs.items():
        (directory / f"{stem}.attn").write_text(text, encoding="utf-8")


def _load(code: str) -> dict:
    namespace: dict = {}
    exec(compile(code, "<generated>", "exec"), namespace)
    return namespace


def test_an_imported_block_and_what_it_uses_join_the_module(tmp_path):
    _write(tmp_path, gates=GATES, user=USER)
    code = compile_file(tmp_path / "user.attn")
    namespace = _load(code)
    assert {"Inner", "Gate", "Model"} <= set(namespace) and "Unused" not in namespace
    assert code.index("class Inner") < code.index("class Gate") < code.index("class Model")
    # shape comments point into the spec that defines the line
    assert "gates.attn:10" in code and "user.attn:7" in code
    torch.manual_seed(0)
    model = namespace["Model"](c=4).double()
    assert list(model.state_dict()) == ["gate.inner.fc.weight", "gate.inner.fc.bias", "out.weight", "out.bias"]
    x = torch.randn(5, 4, dtype=torch.float64)
    fc = model.gate.inner.fc
    expected = model.out(x * torch.sigmoid(fc(x)) * 0.5)
    torch.testing.assert_close(model(x), expected)
    assert not torch.allclose(model(x), model.out(x * torch.sigmoid(fc(x)) * 2.0))  # the caller's scale


def test_imports_chain_and_a_block_comes_once(tmp_path):
    middle = "from gates import Gate, Inner\n\nblock Twice(c: int):\n    input x: [b, c]\n" \
             "    layer g = Gate(c)\n    layer i = Inner(c)\n    return g(x) + i(x)\n"
    top = "from middle import Twice\nfrom gates import Gate\n\nblock Top(c: int = 3):\n    input x: [b, c]\n" \
          "    layer t = Twice(c)\n    layer g = Gate(c)\n    return g(t(x))\n"
    _write(tmp_path, gates=GATES, middle=middle, top=top)
    code = compile_file(tmp_path / "top.attn")
    assert code.count("class Inner(") == code.count("class Gate(") == code.count("class Twice(") == 1
    module = _load(code)["Top"](c=3)
    assert module(torch.randn(2, 3)).shape == (2, 3)


@pytest.mark.parametrize("text,code,message,column", [
    ("from nowhere import Gate\n", "E0107", "no spec `nowhere` to import", 6),
    ("from gates import Gat\n", "E0107", "gates.attn has no block `Gat`", 19),
    ("from gates import Inner, Missing\n", "E0107", "has no block `Missing`", 26),
    ("from user import Model\n", "E0108", "specs import each other in a cycle: user -> user", 6),
])
def test_what_cannot_be_imported_is_said_at_the_name(tmp_path, text, code, message, column):
    _write(tmp_path, gates=GATES)
    source = text + "\nblock Model(c: int = 4):\n    input x: [b, c]\n    return x\n"
    (tmp_path / "user.attn").write_text(source, encoding="utf-8")
    _, sink = analyze(source, (tmp_path / "user.attn").as_posix())
    found = [(d.code, d.span.line, d.span.column) for d in sink.items]
    assert (code, 1, column) in found, sink.items
    assert any(message in d.message for d in sink.items)
    if "Gat\n" in text:
        assert any(d.help == "did you mean `Gate`?" for d in sink.items)


def test_a_cycle_through_two_specs(tmp_path):
    a = "from b import B\n\nblock A(c: int = 2):\n    input x: [n, c]\n    return x\n"
    b = "from a import A\n\nblock B(c: int = 2):\n    input x: [n, c]\n    return x\n"
    _write(tmp_path, a=a, b=b)
    _, sink = analyze(a, (tmp_path / "a.attn").as_posix())
    assert [d.code for d in sink.items] == ["E0108"]
    assert "a -> b -> a" in sink.items[0].message


def test_an_error_in_the_imported_spec_shows_its_own_line(tmp_path, capsys):
    _write(tmp_path, gates=GATES.replace("return x * inner(x) * scale", "return x * iner(x) * scale"), user=USER)
    assert cli.main(["check", str(tmp_path / "user.attn")]) == 1
    err = capsys.readouterr().err
    assert "error[E0102]" in err and f"{(tmp_path / 'gates.attn').as_posix()}:10:16" in err
    assert "return x * iner(x) * scale" in err  # the excerpt comes from gates.attn


def test_a_name_both_imported_and_defined_is_defined_twice(tmp_path):
    _write(tmp_path, gates=GATES)
    source = USER + "\nblock Gate(c: int):\n    input x: [b, c]\n    return x\n"
    _, sink = analyze(source, (tmp_path / "user.attn").as_posix())
    assert "E0103" in [d.code for d in sink.items]


def test_warnings_of_an_imported_block_stay_with_its_spec(tmp_path):
    gates = GATES.replace("block Gate(c: int, scale: float = 2.0):", "block Gate(c: int, scale: float = 2.0, "
                          "spare: int = 1):")
    _write(tmp_path, gates=gates, user=USER)
    _, own = analyze(gates, (tmp_path / "gates.attn").as_posix())
    _, importing = analyze(USER, (tmp_path / "user.attn").as_posix())
    assert "W0001" in [d.code for d in own.items] and not importing.items


def test_editing_an_imported_spec_recompiles_the_importer(tmp_path, capsys, monkeypatch):
    _write(tmp_path, gates=GATES, user=USER)
    monkeypatch.setenv("ATTNDSL_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert cli.main(["compile", str(tmp_path / "user.attn"), "-o", str(out)]) == 0
    assert cli.main(["compile", str(tmp_path / "user.attn"), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith("(unchanged)")
    _write(tmp_path, gates=GATES.replace("return x * inner(x) * scale", "return x * inner(x) / scale"))
    assert cli.main(["compile", str(tmp_path / "user.attn"), "-o", str(out)]) == 0
    assert not capsys.readouterr().out.strip().endswith("(unchanged)")
    assert "/ self.scale" in (out / "user.py").read_text(encoding="utf-8")


def test_the_catalogue_imports_instead_of_copying():
    """DANet and CoAtNet take ScaledDotProductAttention (and DANet the simplified one) from
    their own specs: the classes in their modules are those specs' classes, line for line
    (comments included, which name sdpa.attn)."""
    from tests.mechanisms import REPO_ROOT

    def classes(stem: str) -> dict[str, str]:
        """Each class of the module, with the comment lines above it."""
        text = (REPO_ROOT / "generated" / f"{stem}.py").read_text(encoding="utf-8")
        chunks = [chunk.strip("\n") for chunk in text.split("\n\n\n")]
        return {re.search(r"^class (\w+)\(", c, re.M).group(1): c for c in chunks if re.search(r"^class ", c, re.M)}

    sdpa, simplified = classes("sdpa"), classes("simplified_sdpa")
    danet, coatnet = classes("danet"), classes("coatnet")
    assert danet["ScaledDotProductAttention"] == sdpa["ScaledDotProductAttention"]
    assert danet["SimplifiedScaledDotProductAttention"] == simplified["SimplifiedScaledDotProductAttention"]
    assert coatnet["ScaledDotProductAttention"] == sdpa["ScaledDotProductAttention"]
    for stem in ("danet", "coatnet"):
        assert "block ScaledDotProductAttention" not in (REPO_ROOT / "specs" / f"{stem}.attn").read_text()


def test_the_command_line_compiles_an_importer_from_elsewhere(tmp_path):
    """Imports resolve beside the importing spec, not in the working directory."""
    (tmp_path / "specs").mkdir()
    _write(tmp_path / "specs", gates=GATES, user=USER)
    done = subprocess.run([sys.executable, "-m", "attndsl", "compile", "specs/user.attn", "-o", "out"],
                          cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "ATTNDSL_CACHE_DIR": str(tmp_path / "cache"),
                               # this checkout first, then the caller's path (dependencies
                               # installed with `pip --target`, as on the GPU machine)
                               "PYTHONPATH": os.pathsep.join(filter(None, [
                                   str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")]))})
    assert done.returncode == 0, done.stderr
    assert "class Gate" in (tmp_path / "out" / "user.py").read_text(encoding="utf-8")


def test_the_editor_shows_an_imported_specs_error_at_the_import(tmp_path):
    from attndsl.tools.lsp_features import Document

    _write(tmp_path, gates=GATES.replace("return x * inner(x) * scale", "return x * iner(x) * scale"), user=USER)
    document = Document.analyze(USER, (tmp_path / "user.attn").as_posix())
    (diagnostic,) = document.diagnostics
    assert diagnostic.code == "E0102" and diagnostic.span.path.endswith("user.attn")
    assert (diagnostic.span.line, diagnostic.span.column) == (1, 1)
    assert diagnostic.message.startswith(f"{(tmp_path / 'gates.attn').as_posix()}:10:16: unknown function")


def test_fmt_writes_imports_one_a_line_above_the_blocks(tmp_path):
    from attndsl.tools.fmt import format_spec

    messy = "# heading\n\nfrom  gates   import Gate,Inner\nfrom other import X\nblock Model(c: int = 4):\n" \
            "    input x: [b, c]\n    return x\n"
    tidy = format_spec(messy)
    assert tidy == ("# heading\n\nfrom gates import Gate, Inner\nfrom other import X\n\n\n"
                    "block Model(c: int = 4):\n    input x: [b, c]\n    return x\n")
    assert format_spec(tidy) == tidy


def test_the_editor_finds_and_describes_an_imported_block(tmp_path):
    from attndsl.tools.lsp_features import Document, completions, definition, hover

    _write(tmp_path, gates=GATES, user=USER)
    document = Document.analyze(USER, (tmp_path / "user.attn").as_posix())
    gates = (tmp_path / "gates.attn").as_posix()
    # on the import line and at the layer declaration: the block's name in gates.attn
    for line, column in ((0, 20), (4, 17)):
        span = definition(document, line, column)
        assert (span.path, span.line, span.column, span.end_column) == (gates, 7, 7, 11)
    assert hover(document, 4, 17).startswith("block `Gate(c: int, scale: float = 2.0)` (from gates.attn)")
    assert ("Gate", "block", "imported block") in completions(document, 4, 19)  # after `Ga`


def _split_blocks(text: str) -> list[str]:
    """A spec's text cut before each top-level `block` (with the comment lines just above it);
    the text before the first block (a heading) is dropped."""
    lines = text.split("\n")
    starts = []
    for index, line in enumerate(lines):
        if line.startswith("block "):
            start = index
            while start > 0 and lines[start - 1].startswith("#"):
                start -= 1
            starts.append(start)
    return ["\n".join(lines[a:b]).rstrip() + "\n" for a, b in zip(starts, starts[1:] + [len(lines)])]


def _without_places(code: str) -> str:
    """Generated code without what names the spec file: `x.attn:12` comments, "compiled from";
    each shape comment above its statement (a longer file name may have moved it there)."""
    code = re.sub(r"\w+\.attn(:\d+(-\d+)?)?", "SPEC", code)
    return re.sub(r"^( *)(\S.*?)  # (.*  SPEC)$", r"\1# \3\n\1\2", code, flags=re.M)


@pytest.mark.parametrize("stem", ["cbam", "bam", "cbam_res", "mobilevit_attention", "s2_attention", "gfnet",
                                  "halo", "muse", "triplet_attention", "aft_variants"])
def test_a_block_moved_to_another_spec_compiles_to_the_same_class(stem, tmp_path):
    """Metamorphic: move every block but the last of a catalogue spec into `parts.attn` and
    import what the last one uses. The module has the same classes, character for character
    up to the file names in comments, minus the blocks the last one does not need. (Compared
    before formatting: a longer file name in a comment can make the formatter fold a line.)"""
    from attndsl.compiler import compile_source
    from tests.mechanisms import REPO_ROOT

    def compiled(path: Path) -> str:
        result = compile_source(path.read_text(encoding="utf-8"), path.as_posix(), format=False)
        assert result.ok, result.diagnostics
        return _without_places(result.code)

    original = (REPO_ROOT / "specs" / f"{stem}.attn").read_text(encoding="utf-8")
    *parts, last = _split_blocks(original)
    assert parts, f"{stem}.attn has one block"
    names = [re.match(r"(?:#.*\n)*block (\w+)", part).group(1) for part in parts]
    used = [name for name in names if re.search(rf"\b{name}\b", last)]
    assert used, f"the last block of {stem}.attn uses no other"
    (tmp_path / "parts.attn").write_text("\n\n".join(parts), encoding="utf-8")
    (tmp_path / "whole.attn").write_text(f"from parts import {', '.join(used)}\n\n\n" + last, encoding="utf-8")
    moved, kept = compiled(tmp_path / "whole.attn"), compiled(REPO_ROOT / "specs" / f"{stem}.attn")

    def classes(code: str) -> dict[str, str]:
        chunks = [chunk.strip("\n") for chunk in code.split("\n\n\n")]
        return {re.search(r"^class (\w+)\(", c, re.M).group(1): c for c in chunks if re.search(r"^class ", c, re.M)}

    moved_classes, kept_classes = classes(moved), classes(kept)
    assert set(moved_classes) <= set(kept_classes) and set(used) <= set(moved_classes)
    for name, text in moved_classes.items():
        assert text == kept_classes[name], name
    assert list(moved_classes) == [n for n in kept_classes if n in moved_classes]  # the same order
