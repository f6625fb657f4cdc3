"""The error-code catalogue: what each code means, and a minimal spec that produces it.

`attndsl explain E0201` prints an entry; docs/errors.md is rendered from this table
(tests/test_errors.py keeps the two in step and compiles every example, checking that
it reports its code at the line and column given here).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorDoc:
    code: str
    title: str
    explanation: str
    example: str
    line: int
    column: int


_HEAD = "block B(d: int = 4):\n    input x: [b, n, d]\n"

CATALOGUE: list[ErrorDoc] = [
    ErrorDoc("E0001", "unexpected character",
             "The lexer met a character that no token of the language starts with.",
             _HEAD + "    return x $ 2\n", 3, 14),
    ErrorDoc("E0002", "syntax error",
             "The parser met a token where the grammar allows none of its kind; `help:` lists what would fit.",
             _HEAD + "    y = sigmoid(x\n    return y\n", 4, 5),
    ErrorDoc("E0003", "no block",
             "A spec defines at least one `block`.",
             "# only a comment\n", 1, 1),
    ErrorDoc("E0004", "chained comparison",
             "`a < b < c` is not supported; write `a < b and b < c`.",
             "block B(d: int = 4):\n    input x: [b, n, d]\n    require 1 < d < 8\n    return x\n", 3, 13),
    ErrorDoc("E0005", "positional argument after a keyword argument",
             "As in Python, positional arguments come first.",
             _HEAD + "    return softmax(dim=1, x)\n", 3, 27),
    ErrorDoc("E0006", "not a spec file",
             "The file is binary (it holds NUL bytes) or larger than any spec could be (1 MB).",
             "\x00", 1, 1),
    ErrorDoc("E0007", "not UTF-8",
             "Specs are UTF-8 text; the position is the first byte that does not decode.",
             "# caf\udce9\n", 1, 6),
    ErrorDoc("E0008", "nested too deeply",
             "An expression nests deeper than the compiler's recursion allows; split it into assignments.",
             _HEAD + "    return " + "(" * 3000 + "x" + ")" * 3000 + "\n", 1, 1),
    ErrorDoc("E0101", "unknown name",
             "A name that is not an argument, input, param, layer, `let` or earlier assignment.",
             _HEAD + "    return x * scal\n", 3, 16),
    ErrorDoc("E0102", "unknown function or layer kind",
             "Calls go to the ops of the language (softmax, rearrange, ...), layer kinds in `layer` "
             "declarations (linear, conv2d, ...), blocks of the same file or imported from another, or a "
             "sequential's named children.",
             _HEAD + "    return softmx(x, dim=-1)\n", 3, 12),
    ErrorDoc("E0103", "defined twice",
             "A block, argument, input, param or layer name is defined a second time.",
             _HEAD + "    param x: [d] = zeros\n    return x\n", 3, 5),
    ErrorDoc("E0104", "a block uses itself",
             "Blocks used as layers may not form a cycle; a block cannot contain itself.",
             "block B(d: int = 4):\n    input x: [b, d]\n    layer inner = B(d)\n    return inner(x)\n", 3, 19),
    ErrorDoc("E0105", "reserved name",
             "Names the generated module relies on (self, torch, nn, F, OrderedDict, super, forward), Python "
             "keywords and dunder names cannot name values, so nothing from a spec can hijack the generated code.",
             _HEAD + "    self = x * 2\n    return self\n", 3, 5),
    ErrorDoc("E0106", "defined on one branch only",
             "A value assigned inside `if` without an `else` is undefined on the other path.",
             "block B(d: int = 4, gate: bool = true):\n    input x: [b, d]\n    if gate:\n"
             "        y = sigmoid(x)\n    return y\n", 5, 12),
    ErrorDoc("E0107", "nothing to import",
             "`from sdpa import ScaledDotProductAttention` reads `sdpa.attn` beside the spec and takes "
             "the named blocks (with the blocks they use) into this spec's module. The file is not there, "
             "or has no block of that name.",
             "from attention_blocks import Gate\n" + _HEAD + "    return x\n", 1, 6),
    ErrorDoc("E0108", "specs import each other",
             "Imports may not form a cycle (`a.attn` imports `b`, which imports `a`); a spec cannot import "
             "itself. Move the shared blocks into a spec that imports neither.",
             "from example import B\n" + _HEAD + "    return x\n", 1, 6),
    ErrorDoc("E0111", "bad argument declaration",
             "Argument types are int, float, bool and list[int]; defaults are literals of that type.",
             "block B(d: int = 1.5):\n    input x: [b, d]\n    return x\n", 1, 18),
    ErrorDoc("E0112", "wrong arguments in a call",
             "Too many positional arguments, an unknown or repeated keyword, or a missing required argument "
             "(`help:` suggests the closest keyword).",
             _HEAD + "    return softmax(x, dims=-1)\n", 3, 23),
    ErrorDoc("E0113", "a value of the wrong kind",
             "A tensor where a number is needed, a number where a tensor is needed, a layer list used as a "
             "layer, and so on.",
             _HEAD + "    return sigmoid(d)\n", 3, 20),
    ErrorDoc("E0114", "unknown param initialiser",
             "A param starts as zeros, ones or randn, or from an initialiser call such as normal(std=0.02) "
             "(attndsl/inits.py; see E0120).",
             _HEAD + "    param w: [d] = zero\n    return x * w\n", 3, 20),
    ErrorDoc("E0115", "constant required",
             "Axes, chunk counts and op flags are fixed when the spec is compiled: write a literal.",
             _HEAD + "    return softmax(x, dim=d)\n", 3, 27),
    ErrorDoc("E0116", "statement in the wrong place",
             "Inputs are declared at the top level of a block, and a block ends with a `return`; a `return` "
             "inside `if` is joined with the others into one after the `if`, so nothing may follow it in its "
             "body, every return gives as many values, and at most one branch of an `if` that returns inside "
             "may go on to what follows it.",
             "block B(d: int = 4):\n    input x: [b, d]\n    y = x * 2\n", 1, 1),
    ErrorDoc("E0117", "bad rearrange or einsum pattern",
             "A rearrange pattern is `left -> right` over axis names, parenthesised groups and 1; each axis "
             "appears once on each side. An einsum equation is one or two operands' axis names separated by "
             "',', then `->` and the result's axes, each named in an operand.",
             _HEAD + "    return rearrange(x, \"b n d -> b d\")\n", 3, 28),
    ErrorDoc("E0118", "wrong number of names",
             "The names on the left of `=` must match the number of values on the right.",
             _HEAD + "    a, b2, c2 = chunk(x, 2, dim=2)\n    return a\n", 3, 5),
    ErrorDoc("E0119", "bad arithmetic on numbers",
             "Division by zero, a non-constant exponent or one that is not whole, half or quarter (`0.5`, `-0.5`, "
             "`-0.25`), the logarithm of a number that is not positive, an exponential too large for a float, or an "
             "operator numbers do not have.",
             _HEAD + "    let e = d // 0\n    return x\n", 3, 13),
    ErrorDoc("E0120", "bad initialisation",
             "An `init` names a parameter the layer does not have (or one an argument switches off, such as "
             "`bias=false`), an initialiser that does not exist, arguments torch would refuse (a negative `std`, "
             "an empty interval, an unknown `mode`), or a fan-based initialiser (kaiming, xavier) for a tensor "
             "of rank below 2. The initialisers and their arguments are torch.nn.init's.",
             _HEAD + "    layer fc = linear(d, d, bias=false)\n    init fc.bias = zeros()\n    return fc(x)\n", 4, 13),
    ErrorDoc("E0201", "shape mismatch",
             "Two dimensions that must be equal are provably different. The labels show where each operand's "
             "shape came from.",
             "block B():\n    input x: [b, n, 16]\n    layer fc = linear(8, 2)\n    return fc(x)\n", 4, 12),
    ErrorDoc("E0202", "rank mismatch",
             "A tensor has a different number of dimensions than the op, layer or pattern expects.",
             _HEAD + "    return rearrange(x, \"b c h w -> b (c h w)\")\n", 3, 12),
    ErrorDoc("E0203", "not divisible",
             "A split (rearrange group, chunk, shuffle, group norm) needs a size that divides evenly.",
             "block B():\n    input x: [b, 6]\n    p, q, r, s = chunk(x, 4, dim=1)\n    return p\n", 3, 18),
    ErrorDoc("E0204", "axis or index out of range",
             "An axis (`dim=`) outside -rank..rank-1 of its tensor; a slice or an index past its axis; a `topk` "
             "whose `k` exceeds its axis; a gather whose positions may lie past the axis it picks from (positions "
             "computed along a larger axis, or an index with no known bound).",
             _HEAD + "    return softmax(x, dim=3)\n", 3, 12),
    ErrorDoc("E0205", "dimension is not a whole number",
             "A param's dimension evaluates to a fraction, a negative number or an absurd size; use `//` for "
             "integer division.",
             _HEAD + "    param w: [3 / 2] = zeros\n    return x\n", 3, 5),
    ErrorDoc("E0206", "rearrange sizes cannot be inferred",
             "A group with more than one axis of unknown size, or a size given for an axis the pattern "
             "does not have.",
             _HEAD + "    return rearrange(x, \"b n (h k) -> b h n k\")\n", 3, 12),
    ErrorDoc("E0207", "the example does not fit",
             "An `example` is what readers and tests run: its sizes must match the inputs' declared shapes, "
             "and its arguments must satisfy every `require` and every check the module makes.",
             "block B(d: int = 4):\n    input x: [b, d]\n    example(x=[2, 5])\n    return x\n", 3, 5),
    ErrorDoc("E0208", "a size the generated code cannot name",
             "A check depends on a size that has no name where the check runs: the output size of each "
             "element of a layer list, where elements differ (`f * k + w` over `k`). Say what holds for every "
             "element with `require all([...])`, or give the size a name the block has.",
             "block B(c: int = 4, w: int = 3, f: int = 2, n: int = 2):\n    input x: [b, c, hh, ww]\n"
             "    layer convs = [conv2d(c, c, f * k + w, padding=(f * k + w) // 2, groups=c) for k in range(n)]\n"
             "    acc = x\n    for conv in convs:\n        x = conv(x)\n        acc = acc + x\n    return acc\n",
             7, 15),
    ErrorDoc("E0209", "wrong element type",
             "A boolean mask where a floating-point tensor is needed, or the reverse: `masked_fill` takes a "
             "mask declared `bool[...]` (or made by a comparison); layers and arithmetic take floating point.",
             "block B(d: int = 4):\n    input x: [b, d]\n    input m: [b, d]\n"
             "    return masked_fill(x, m, 0)\n", 4, 12),
    ErrorDoc("E0210", "too many shape-changing conditions",
             "Each `if` whose branches give a value different shapes doubles the combinations the checker "
             "walks; more than 8 independent ones are refused.",
             "block B(" + ", ".join(f"f{i}: bool = true" for i in range(9)) + "):\n    input x: [b, d]\n"
             + "".join(f"    if f{i}:\n        x = cat([x, x], dim=1)\n    else:\n        x = x * 2\n" for i in range(9))
             + "    return x\n", 1, 1),
    ErrorDoc("E0211", "an in-place layer could be seen",
             "A layer built with `inplace=true` writes its result over its input. That is allowed only where "
             "nothing can tell: the input is read nowhere else (not a block input, param or output), and it was "
             "made by a layer or op whose result autograd does not keep for the backward pass (linear, conv, "
             "norms, pools, `+ - * / @`, cat, and gelu, silu, elu and the like, which keep their input; not "
             "relu, sigmoid, tanh or softmax). Dropout and identity may return what they were given, so the "
             "rule applies to that. Drop `inplace=true` otherwise: the values are the same.",
             _HEAD + "    layer act = relu(inplace=true)\n    return act(x)\n", 4, 12),
    ErrorDoc("W0001", "unused argument",
             "A constructor argument nothing reads (kept when the published signature has it).",
             "block B(d: int = 4, unused: int = 2):\n    input x: [b, d]\n    return x\n", 1, 21),
    ErrorDoc("W0002", "unused input",
             "A forward input nothing reads.",
             "block B(d: int = 4):\n    input x: [b, d]\n    input y: [b, d]\n    return x\n", 3, 5),
    ErrorDoc("W0003", "unused param",
             "A param nothing reads (it still appears in the state_dict).",
             _HEAD + "    param w: [d] = zeros\n    return x\n", 3, 5),
    ErrorDoc("W0004", "unused layer, let or buffer",
             "A layer never called (it still appears in the state_dict), a `let` never read, or a buffer "
             "nothing reads (it is still built).",
             _HEAD + "    layer fc = linear(d, d)\n    return x\n", 3, 5),
    ErrorDoc("W0005", "shadowed name",
             "A comprehension's loop variable hides a name of the block inside the comprehension.",
             "block B(d: int = 4, kernels: list[int] = [1, 3]):\n    input x: [b, d]\n"
             "    layer fc = linear(d, d)\n    layer fcs = [linear(d, d) for k in kernels]\n"
             "    return stack([fc(fc(x)) for fc in fcs], dim=0)\n", 5, 33),
    ErrorDoc("W0006", "sizes that broadcast",
             "Two sizes computed from arguments, or a declared size of a required input and a size computed "
             "from arguments, meet in an elementwise op without being provably equal: torch takes them when "
             "they are equal or when either is 1, and so does the module. Most often they were meant to be "
             "equal; `require a == b` says so and silences the warning.",
             "block B(c: int = 4, k: int = 4):\n    input x: [b, c]\n    param w: [k] = ones\n"
             "    return x * w\n", 4, 12),
    ErrorDoc("W0007", "a name hides a function",
             "A value or a `let` named like a function of the language (`mean`, `softmax`, ...): after it, the "
             "function cannot be called by that name in the block. (A layer named after its kind, "
             "`layer softmax = softmax(dim=-1)`, is the language's idiom; calling it like the function is "
             "E0112, which says so. An input keeps the published forward's name, `cos` or `sin`, and is not "
             "warned of; a call of the function it hides is an error that says so.)",
             _HEAD + "    mean = x * 2\n    return mean\n", 3, 5),
    ErrorDoc("W0008", "the defaults do not build",
             "A block without an `example(...)` whose every argument has a default: `Block()` would raise in "
             "`__init__` (a `require` or a check that the defaults break). An example that builds, or "
             "defaults that do, silences it.",
             "block B(d: int = 10, h: int = 3):\n    input x: [b, d]\n    require d % h == 0\n"
             "    return x\n", 1, 1),
    ErrorDoc("W0009", "channels on another axis",
             "A conv or a batch or instance norm takes its channels from dim 1, and the size it was given is "
             "the input's last dimension instead (a `[b, n, d]` sequence into `batch_norm1d(d)`): the module "
             "then requires dim 1 to be that size too, which is almost always a forgotten transpose.",
             "block B(d: int = 8):\n    input x: [b, n, d]\n    layer bn = batch_norm1d(d)\n    return bn(x)\n",
             4, 12),
    ErrorDoc("W0010", "a branch that never runs",
             "An `if` (or `a if c else b`) whose condition is decided when the spec is compiled (`if false:`, "
             "`if 2 <= 2:`): the branch it rules out is neither built nor checked, so a mistake there (an "
             "unknown name, shapes that do not fit) goes unseen.",
             "block B(d: int = 4):\n    input x: [b, d]\n    y = x\n    if false:\n        y = x * 2\n"
             "    return y\n", 5, 9),
]

BY_CODE = {doc.code: doc for doc in CATALOGUE}


def explain(code: str) -> str | None:
    doc = BY_CODE.get(code)
    if doc is None:
        return None
    example = "\n".join("    " + line for line in doc.example.splitlines())
    return f"{doc.code}: {doc.title}\n\n{doc.explanation}\n\nA spec that produces it:\n\n{example}\n"


def render_markdown(messages: dict[str, str]) -> str:
    """docs/errors.md: every code, its explanation, example, and the message it gives."""
    out = ["# attndsl error codes", "",
           "Generated from `attndsl/errors.py` (`python -m attndsl.errors > docs/errors.md`); "
           "`attndsl explain CODE` prints one entry.", ""]
    for doc in CATALOGUE:
        out += [f"## {doc.code}: {doc.title}", "", doc.explanation, "", "```", _printable(doc.example).rstrip("\n"),
                "```", "", "gives", "", "```", messages.get(doc.code, "").rstrip("\n"), "```", ""]
    return "\n".join(out)


def _printable(text: str) -> str:
    """Control characters spelled out; only a line no one could read (E0008's thousands of
    parentheses) is shortened, visibly, never a message."""
    shown = "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)
    return "\n".join(line if len(line) <= 300 else f"{line[:60]} [... {len(line) - 80} characters ...] {line[-20:]}"
                     for line in shown.split("\n"))


def example_messages() -> dict[str, str]:
    """Compile each example as a user would and capture the rendered diagnostic."""
    import os
    import tempfile
    from pathlib import Path

    from .cli import read_spec
    from .compiler import analyze
    from .diagnostics import render_all

    messages = {}
    with tempfile.TemporaryDirectory() as folder:
        for doc in CATALOGUE:
            path = Path(folder) / "example.attn"
            path.write_bytes(doc.example.encode("utf-8", "surrogateescape"))
            text, problems = read_spec(path)
            if text is None:
                diagnostics, sources = problems, {}
            else:
                _, sink = analyze(text, "example.attn")
                diagnostics, sources = sink.items, {"example.attn": text}
            relevant = [d for d in diagnostics if d.code == doc.code] or diagnostics
            rendered = _printable(render_all(relevant[:1], sources))
            messages[doc.code] = rendered.replace(path.as_posix(), "example.attn").replace(os.sep + "example", "example")
    return messages


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(example_messages()), end="")
