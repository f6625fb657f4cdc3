"""Nothing from a spec reaches generated Python except validated identifiers and
canonically formatted numbers: hostile names are diagnostics, hostile text is escaped."""

from __future__ import annotations

import ast
import builtins

import pytest

import attndsl
from attndsl.compiler import analyze
from attndsl.layers import LAYERS
from attndsl.resources import resource_dir

BASE = """block B(d: int = 4):
    input x: [b, n, d]
    {stmt}
    return y
"""

# Names that would break or hijack the generated module if pasted as they are.
HOSTILE_NAMES = [
    "self", "torch", "nn", "F", "OrderedDict", "super", "forward", "None", "True", "False",
    "import", "class", "lambda", "return", "def", "__class__", "__import__", "__init__",
    "len", "max", "min", "all", "float", "int", "getattr", "ValueError",
]
MODULE_ATTRIBUTES = ["training", "parameters", "state_dict", "to", "cuda", "eval", "_parameters", "_modules"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_value_names_are_diagnostics(name):
    source = BASE.format(stmt=f"{name} = x * 2\n    y = {name}")
    blocks, sink = analyze(source, "b.attn")
    assert not blocks and sink.has_errors
    codes = {d.code for d in sink.items if d.is_error}
    assert codes & {"E0105", "E0002"}, codes


@pytest.mark.parametrize("name", MODULE_ATTRIBUTES)
def test_names_that_would_replace_module_attributes_are_diagnostics(name):
    for stmt in (f"param {name}: [d] = zeros", f"layer {name} = linear(d, d)"):
        blocks, sink = analyze(BASE.format(stmt=stmt + "\n    y = x"), "b.attn")
        assert sink.has_errors and any(d.code == "E0105" for d in sink.items), stmt
    source = f"block B({name}: int = 4):\n    input x: [b, n]\n    return x\n"
    assert analyze(source, "b.attn")[1].has_errors


@pytest.mark.parametrize("name", ["torch", "nn", "_Hidden", "class", "len"])
def test_hostile_block_names_are_diagnostics(name):
    source = f"block {name}(d: int = 4):\n    input x: [b, d]\n    return x\n"
    blocks, sink = analyze(source, "b.attn")
    assert sink.has_errors


HOSTILE_TEXT = [
    '"); import os; os.system("echo pwned',
    "{__import__('os').system('echo pwned')}",
    "\\\" + str(__import__('os')) + \\\"",
    "line\nbreak\tand tab",
    "\\",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_require_messages_are_escaped(text):
    literal = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    source = (
        "block B(d: int = 4):\n"
        "    input x: [b, d]\n"
        f'    require d > 2, "{literal}"\n'
        "    return x\n"
    )
    result = attndsl.compile_source(source, "b.attn")
    assert result.ok, result.diagnostics
    _assert_only_compiler_names(result.code, allowed_extra={"B", "d", "x", "b"})
    namespace: dict = {}
    exec(compile(result.code, "b", "exec"), namespace)
    with pytest.raises(ValueError) as raised:
        namespace["B"](d=1)
    # The message arrives as the very text the spec wrote, never as code.
    assert str(raised.value) == f"B: {text}, with d = 1"  # and the value the require read


@pytest.mark.parametrize("text", ['"""; import os', "\\", "x\\u0000y", "'''", "\x0c"])
def test_docstrings_and_comments_are_escaped(text):
    body = text.replace('"""', '\\"\\"\\"')
    source = (
        f"# comment {text}\n"
        "block B(d: int = 4):\n"
        f'    """doc {body}"""\n'
        "    input x: [b, d]\n"
        f"    y = x * 2  # {text}\n"
        "    return y\n"
    )
    result = attndsl.compile_source(source, "b.attn")
    if not result.ok:  # the lexer may refuse the text itself: also safe
        assert any(d.is_error for d in result.diagnostics)
        return
    _assert_only_compiler_names(result.code, allowed_extra={"B", "d", "x", "b", "y"})


def test_catalogue_modules_use_only_compiler_names():
    from tests.mechanisms import SPECS_DIR

    for path in sorted(SPECS_DIR.glob("*.attn")):
        blocks, _ = analyze(path.read_text(), path.as_posix())  # its imports are read beside it
        spec_names = set()
        for ir in blocks:
            spec_names |= {ir.name} | {a.name for a in ir.args} | {i.name for i in ir.inputs}
            spec_names |= {p.name for p in ir.params} | {l.name for l in ir.layers} | {l.name for l in ir.lets}
            spec_names |= set(ir.dim_origin) | set(ir.optional_dims) | {l.loop_var for l in ir.layers if l.loop_var}
            # sizes the checker named (`H'`) are computed into locals named after them (`H_out`)
            spec_names |= {name.rstrip("'") + "_out" + suffix for name in ir.derived for suffix in ("", "2", "3", "4")}
            spec_names |= {"attended"}  # the fused attention's result (attndsl/passes/fuse_attention.py)
            # names naming.py gives a value the spec did not name: its op's name, or a word for it
            # (`out` for a value returned among others)
            spec_names |= {"y", "product", "weights", "part", "out"} | {node["op"] for node in ir.graph.nodes.values()}
            spec_names |= set(ir.forward_lets)  # `let a = int(sqrt(n))`, computed in forward
            spec_names |= set(ir.packs)  # `b, _, *spatial = x.shape`
            for node in ir.graph.nodes.values():
                spec_names |= set(node.get("var_names", [])) | {node["attrs"].get("var")} - {None}
                if node["op"] == "loop_slice":  # a tensor a loop runs over: `branches` for `branch`
                    spec_names |= {node["attrs"]["var"] + "s", node["attrs"]["var"] + "es"}
        code = attndsl.compile_file(path)
        _assert_only_compiler_names(code, allowed_extra=spec_names)


# Everything the code generator itself may put in a module.
COMPILER_NAMES = {
    "torch", "nn", "OrderedDict", "collections", "self", "super", "ValueError", "float", "len", "max", "min",
    "all", "getattr", "_", "Module", "Parameter", "Tensor", "int", "list", "bool", "tuple", "F",
    "module", "isinstance",  # the published init_weights loop (`for module in self.modules()`)
    "i", "range",  # children named in a loop (`fc{i}`, attndsl/codegen/sequentials.py)
    "zip", "enumerate",  # forward loops over layer lists and tensors (attndsl/codegen/loops.py)
    "type",  # `act_layer: type[nn.Module]`, a layer kind argument's annotation
    "size",  # the check of a tuple of sizes: `all(isinstance(size, int) and size >= 1 for size in spatial_size)`
    # the class of a rank-generic layer: `conv_nd = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dimension]`
    *{kind[:-2].rstrip("_") + "_nd" for kind in LAYERS if kind.endswith("1d")},
}
# the functions written beside the classes (templates/torch/helpers/: `_attention_by_query_blocks`), names and all
COMPILER_NAMES |= {node.id if isinstance(node, ast.Name) else node.name if isinstance(node, ast.FunctionDef)
                   else node.arg
                   for path in sorted((resource_dir("templates") / "torch" / "helpers").glob("*.py.j2"))
                   for node in ast.walk(ast.parse(path.read_text(encoding="utf-8").replace("{{ query_block }}", "1")))
                   if isinstance(node, (ast.Name, ast.FunctionDef, ast.arg))}


def _assert_only_compiler_names(code: str, allowed_extra: set[str]) -> None:
    tree = ast.parse(code)
    allowed = COMPILER_NAMES | allowed_extra
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in allowed or node.id.endswith(("_2", "_3")), f"unexpected name {node.id!r}"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = {a.name for a in node.names} | {getattr(node, "module", None)} - {None}
            assert modules <= {"torch", "nn", "collections", "OrderedDict", "torch.nn.functional"}, modules
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"exec", "eval", "compile", "__import__", "open"} | (
                set(dir(builtins)) - COMPILER_NAMES
            ), f"unexpected call of {node.func.id}"
        elif isinstance(node, ast.JoinedStr):
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    for inner in ast.walk(value.value):
                        if isinstance(inner, ast.Call):
                            callee = inner.func
                            assert isinstance(callee, ast.Attribute) and callee.attr in ("dim", "min", "max", "item") or (
                                isinstance(callee, ast.Name) and callee.id in {"len", "max", "min", "tuple"}
                            ), "a call inside an error message"
