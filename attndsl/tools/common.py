"""What the tools share: a checked spec from a path, a block by name, and `NAME=VALUE` sizes.

Errors a user can cause are `UsageError`s (one line, exit 2); a spec with errors prints
its diagnostics and the command exits 1, as `attndsl check` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..cli import UsageError, read_spec
from ..diagnostics import print_diagnostics
from ..ir import BlockIR


@dataclass
class CheckedSpec:
    path: str
    source: str
    blocks: list[BlockIR]
    code: str | None = None  # the generated module, when compiled

    def block(self, name: str | None) -> BlockIR:
        """The named block; without a name, the last one (blocks used as layers come first)."""
        if name is None:
            return self.blocks[-1]
        for block in self.blocks:
            if block.name == name:
                return block
        names = ", ".join(b.name for b in self.blocks)
        raise UsageError(f"{self.path} has no block {name!r}; its blocks are {names}")


def layers_named(ir: BlockIR, name: str, guard=()) -> list:
    """The declarations of a layer that a call under `guard` may use: one, or one per
    branch when the layer is declared on both sides of an `if` (`layer act = identity()`
    / `else: layer act = conv1d(...)`)."""
    from ..shapes.conjunctions import make_guard

    found = ir.declarations(name)
    return [info for info in found if make_guard(list(info.guard) + list(guard)) is not None] or found[:1]


def _read(path: str | Path) -> tuple[str, str] | None:
    """A spec's display path and text; None, its problem printed, when it cannot be read."""
    path = Path(path)
    source, problems = read_spec(path)
    if source is None:
        print_diagnostics(problems, {})
        return None
    return path.as_posix(), source


def check_spec(path: str | Path) -> CheckedSpec | None:
    """Read, parse and check a spec; print its diagnostics. None when it has errors."""
    from ..compiler import analyze

    read = _read(path)
    if read is None:
        return None
    display, source = read
    blocks, sink = analyze(source, display)
    errors = [d for d in sink.items if d.is_error]
    if errors or not blocks:
        print_diagnostics(sink.items, {display: source, **sink.sources})
        return None
    return CheckedSpec(display, source, blocks)


def optimized(blocks: list[BlockIR]) -> list[BlockIR]:
    """The IR as `attndsl compile` hands it to code generation (the passes of attndsl.passes:
    attention fused into one call, matrix chains reassociated...), changed in place: the
    cost of what the generated module runs, not of the spec's literal dataflow."""
    from ..passes import run_passes
    from ..shapes.world_view import pin

    for ir in blocks:
        pin(ir)  # the checker's per-world shapes belong to the nodes it saw
        run_passes(ir)
    return blocks


def compile_spec(path: str | Path) -> CheckedSpec | None:
    """Like check_spec, and compile too (one analysis): `.code` is the generated module."""
    from ..compiler import compile_source

    read = _read(path)
    if read is None:
        return None
    display, source = read
    result = compile_source(source, display)
    if not result.ok:
        print_diagnostics(result.diagnostics, {display: source, **result.sources})
        return None
    return CheckedSpec(display, source, result.blocks, result.code)


_NAME = re.compile(r"[^\W\d]\w*")  # a name of the spec, Unicode letters too (`λc`)
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def parse_value(text: str, flag: str, item: str, *, names: bool = False):
    """An int, a float, true/false, a list of ints `[2, 64, 7, 7]` (the brackets optional),
    and with `names`, None, a name (a layer kind: `silu`; a str argument's word) or a list of
    names."""
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if names and text.lower() == "none":
        return None
    if names and _NAME.fullmatch(text):
        return text
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    parts = [p.strip() for p in inner.split(",")] if inner.strip() else []
    if (text.startswith("[") or "," in text) and all(_INT.fullmatch(p) for p in parts):
        return [int(p) for p in parts]
    if names and (text.startswith("[") or "," in text) and all(_NAME.fullmatch(p) for p in parts):
        return parts  # words, for a list[str] argument: `fusion_types=[channel_add,channel_mul]`
    raise UsageError(f"malformed {flag} {item!r}: the value must be a number, true/false{', a layer kind' if names else ''}"
                     " or a list like [2, 64, 7, 7]")


def parse_assignments(items: list[str] | None, flag: str, *, names: bool = False, words: dict | None = None) -> dict:
    """`["b=8", "x=[2,64,7,7]"]` -> {"b": 8, "x": [2, 64, 7, 7]}; a UsageError names a bad item.
    `words` gives the `str` and `list[str]` arguments by name: their values are taken as
    written (`mode=none` is the word "none", `mode=` or `mode=""` the empty string)."""
    values: dict = {}
    words = words or {}
    for group in items or []:
        for item in _split_items(group):
            name, equals, value = item.partition("=")
            name = name.strip()
            if not equals or not _NAME.fullmatch(name) or not value.strip() and name not in words:
                raise UsageError(f"malformed {flag} {item!r}: expected NAME=VALUE, e.g. {flag} b=8")
            if name in words:
                values[name] = _word_list(value) if words[name] == "list[str]" else _word(value)
            else:
                values[name] = parse_value(value, flag, item, names=names)
    return values


def _word(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'" else text


def _word_list(text: str) -> list[str]:
    inner = text.strip()
    inner = inner[1:-1] if inner.startswith("[") and inner.endswith("]") else inner
    return [_word(part) for part in inner.split(",")] if inner.strip() else []


def _split_items(group: str) -> list[str]:
    """`b=2 x=[1, 2]` given as one shell word still splits at the spaces outside brackets."""
    items, depth, current = [], 0, ""
    for char in group:
        depth += char == "["
        depth -= char == "]"
        if char.isspace() and depth == 0:
            if current:
                items.append(current)
            current = ""
        else:
            current += char
    return items + ([current] if current else [])
