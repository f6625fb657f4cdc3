"""docs/language.md, the reference of every op and layer kind, generated from the registries.

    python -m attndsl.reference > docs/language.md

Each entry gives the signature, what the op does, its shape rule in words, and an
example: a spec fragment, compiled here, shown next to the Python it became (with the
shape the checker inferred). tests/test_language_doc.py keeps the file current, so an
example that stops compiling fails the tests.
"""

from __future__ import annotations

import ast

from .compiler import compile_source
from .layers import LAYERS
from .layers import families as layer_families
from .ops import OPS
from .ops.registry import families as op_families

_KINDS = [
    ("tensor", "a tensor, floating point; `tensor[bool]` a mask, `tensor[complex]` a spectrum, `tensor[number]` "
     "float or complex, `tensor[int]` integer (int64), `tensor[real]` float or integer, `tensor[countable]` "
     "integer or a mask, `tensor[any]` any"),
    ("tensors", "a list of tensors `[a, b]`, or a comprehension over a layer list `[f(x) for f in layers]` or over "
                "tensors `[f(t) for t in chunk(x, 2)]`"),
    ("operand", "a tensor or a number"),
    ("axis", "a constant axis, negative from the end (`-1`)"),
    ("axes", "a constant axis or a list of them (`[2, 3]`)"),
    ("count", "a constant whole number, at least 1"),
    ("int", "a whole number: a constant or an expression over the arguments (`c // groups`)"),
    ("ints / size", "a whole number, or one per dimension: `[1, 7]` (written as a tuple `(1, 7)` too)"),
    ("output_size", "as `size`, where `None` keeps that dimension: `[None, 1]`"),
    ("padding", "as `size`, or `\"same\"` / `\"valid\"`"),
    ("float / scalar", "a number (`0.5`, `1e-5`, an argument, `-inf`; masked_fill's value also `-finfo(x).max`)"),
    ("numbers", "a list of numbers, nested for a matrix (`[[1, 0], [0, 1]]`), or a `list[int]` argument"),
    ("bool", "`true` or `false` (or a bool argument, for layers)"),
    ("choice", "one of the strings listed in the op's signature"),
    ("pattern", "an einops pattern string"),
    ("sizes", "the keyword sizes of a pattern's axes (`g=groups`)"),
]

_CANNOT = """\
## What the language cannot do

- State: nothing carries over from one call to the next (Infini-attention's memory), and
  no parameter is replaced in `forward` (MUSE's and AFTLocal's quirks).
- In-place writes: only layers take `inplace=true`, and only where nothing can see the
  overwrite (E0211).
- Indexing with data computed in `forward` other than positions (a gather's or scatter's
  index is a buffer, checked once when the module is built, or positions computed by
  `topk`, `sort`, `argsort`, `argmax` or `argmin`, reshaped, sliced or expanded, never
  moved by arithmetic), a scatter of a tensor's values (only of one number), integer
  tensor inputs, casts other than `float()` (of an integer tensor or a mask), `long()`
  and the complex views, and shapes that depend on the values of a tensor. `einsum` takes one or two operands, without `...`.
- Loops in `forward` other than over layer lists (`for block in blocks:`, `for conv,
  norm in zip(convs, norms):`, their lengths checked equal), over the first axis of
  tensors (`for qs, ks in zip(q, k):`), or a number of alike passes (`for _ in
  range(iters):`): no `while`, no trip count read from data, no `convs[i]` by a loop's
  index.
- Imports (`from sdpa import ScaledDotProductAttention`) reach the specs of the same
  directory, by file name, and keep the block's name (no `as`).
- Strings are compared, not computed: a `str` argument is tested with `==`, `!=`, `in`
  and `not in` against strings written in the spec, or passed on to a block; a layer's
  own words (`padding_mode="reflect"`) are written in the spec, not taken from an argument.
- A `return` inside an `if` is joined with the block's others into one after the `if`
  (nothing may follow it in its branch); a layer declared on one branch of an `if` has no
  `None` on the other (but one named like a bool argument does); a value has one rank on
  both branches.
- Forward takes tensors (floating point, `bool[b, n]` masks, `long[b, n]` int64 ids or
  positions, which index only once clamped), sizes (`input H: int`, `input s: sizes[p,
  q]`) and flags (`input is_causal: bool = false`): no float or string, and no input that
  may be a bool or a float mask.
"""


def signature(name: str, params, returns: str = "") -> str:
    parts = []
    for param in params:
        kind = param.kind + (f"[{param.dtype}]" if param.dtype else "")
        text = f"{param.name}: {kind}"
        if not param.required:
            text += f" = {_value(param.default)}"
        parts.append(text)
    return f"{name}({', '.join(parts)}){returns}"


def _value(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return repr(value)


def compile_example(example: str) -> tuple[str, list[str]]:
    """The example as a spec, and the generated statements it became (init lines of layers,
    then forward's dataflow, each with its shape comment)."""
    lines = example.strip("\n").split("\n")
    # A first line `(h: int = 14, ...)` gives the block arguments (a param's shape needs them).
    arguments = lines.pop(0) if lines[0].startswith("(") else "()"
    body = lines[:-1] + [f"return {lines[-1]}"]
    spec = f"block Example{arguments}:\n" + "".join(f"    {line}\n" for line in body)
    result = compile_source(spec, "example.attn")
    if not result.ok:
        problems = "; ".join(d.message for d in result.diagnostics if d.is_error)
        raise ValueError(f"example does not compile: {problems}\n{spec}")
    return spec, _statements(result.code)


def _statements(code: str) -> list[str]:
    tree = ast.parse(code)
    source = code.split("\n")
    klass = next(node for node in tree.body if isinstance(node, ast.ClassDef))
    chosen = []
    for function in (n for n in klass.body if isinstance(n, ast.FunctionDef)):
        for statement in function.body:
            if function.name == "__init__" and _assigns_self(statement) and "nn." in ast.unparse(statement.value):
                chosen.append(_text(statement, source))
            elif function.name == "forward" and not isinstance(statement, ast.If) and not _reads_shape(statement):
                chosen.append(_text(statement, source))
    return chosen


def _assigns_self(statement) -> bool:
    return isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Attribute)


def _reads_shape(statement) -> bool:
    """`b, c, h, w = x.shape` or `w = x.shape[3]`: the sizes the checks read."""
    if not isinstance(statement, ast.Assign):
        return False
    value = statement.value.value if isinstance(statement.value, ast.Subscript) else statement.value
    return isinstance(value, ast.Attribute) and value.attr == "shape"


def _text(statement, source: list[str]) -> str:
    lines = source[statement.lineno - 1:statement.end_lineno]
    indent = len(lines[0]) - len(lines[0].lstrip())
    text = "\n".join(line[indent:] for line in lines)
    return text.split("  example.attn:")[0].rstrip()


def _entry(heading: str, title: str, doc: str, shape_doc: str, example: str) -> list[str]:
    out = [f"#### {heading}", ""] + ([f"`{title}`", ""] if title else [])
    out += [_sentence(doc), ""]
    if shape_doc:
        out += [f"Shape: {shape_doc}.", ""]
    if example:
        spec, generated = compile_example(example)
        out += ["```python", *spec.rstrip("\n").split("\n"), "```", "", "becomes", "", "```python",
                *"\n".join(generated).split("\n"), "```", ""]
    return out


def _sentence(doc: str) -> str:
    """A capital (unless the doc starts with a formula or a name, `x * sigmoid(x)`) and a full stop."""
    first = doc.split(" ")[0]
    if len(first) > 1 and first.isalpha():
        doc = doc[0].upper() + doc[1:]
    return doc if doc.endswith(".") else doc + "."


def render() -> str:
    out = ["# The attndsl language reference", "",
           "Generated from the op and layer registries (`attndsl/ops/`, `attndsl/layers/`) by "
           "`python -m attndsl.reference > docs/language.md`; each example is compiled, and shown with the "
           "Python it becomes and the shape the checker inferred. The tour of the language (blocks, "
           "arguments, `let`, `require`, `if`, comprehensions) is in the [README](../README.md); error codes "
           "are in [errors.md](errors.md).", "",
           "## Argument kinds", "", "The signatures below use these kinds:", "", "| kind | accepts |",
           "|---|---|"]
    out += [f"| `{kind}` | {text} |" for kind, text in _KINDS]
    out += ["", "On numbers (arguments, `let`), the operators `+ - * / // % **` and the functions `max`, `min`, "
            "`sqrt`, `len` are computed when the module is built.", "", "## Ops", "",
            "Called as functions in the dataflow: `y = softmax(x, dim=-1)`. The operators are written as "
            "operators (`x + y`), not by name.", ""]
    for family in op_families():
        members = [d for d in OPS.values() if d.family == family and not d.extra.get("internal")]
        if not members:
            continue
        out += [f"### {family}", ""]
        for definition in members:
            title = "" if definition.operator else signature(definition.name, definition.params)
            heading = f"`{definition.operator}` ({definition.name})" if definition.operator else definition.name
            out += _entry(heading, title, definition.doc or definition.name, definition.shape_doc,
                          definition.example)
    out += ["## Layers", "",
            "Declared with `layer name = kind(...)` (torch's argument names and defaults, so `state_dict` keys "
            "and reprs match torch's), then called on a tensor: `name(x)`. `sequential(a, b)` and "
            "`sequential(name=a, ...)` chain them; `[kind(...) for k in list_argument]` makes a list.", ""]
    for family in layer_families():
        out += [f"### {family}", ""]
        for definition in (d for d in LAYERS.values() if d.family == family):
            title = signature(definition.name, definition.params, f" → nn.{definition.torch_class}")
            out += _entry(definition.name, title, definition.doc or definition.name, definition.shape_doc,
                          definition.example)
    out += [_CANNOT]
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
