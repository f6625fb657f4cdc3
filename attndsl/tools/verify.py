"""`attndsl verify SPEC --against FILE.py:Class [--block NAME] [--args K=V ...]`.

A differential test of a spec's module against a hand-written one, as the project's own
equivalence tests do it: both built with the same arguments in float64, every parameter
and buffer of the hand-written module set to random values and its `state_dict` loaded
into the spec's with strict=True (same keys, same shapes), then on the same random
inputs: outputs and the gradients of every input and parameter in eval mode; one
training step (dropout off, so that both are deterministic): outputs, gradients, the
buffers after it (BatchNorm's running statistics), the parameters after an SGD update,
and the outputs in eval mode after it. Exit 0 when all agree; exit 1 naming the first
difference (a key, a shape or a value).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from ..cli import UsageError
from .common import compile_spec, parse_assignments
from .verify_compare import Difference, compare, random_inputs

def run(args) -> int:
    reference_class = load_class(args.against)
    spec = compile_spec(args.spec)
    if spec is None:
        return 1
    ir = spec.block(args.block)
    words = {a.name: a.type for a in ir.args if a.type in ("str", "list[str]")}
    values = parse_assignments(args.args, "--args", names=True, words=words)  # None, a layer kind, a word
    kwargs, shapes = _arguments(ir, values)
    from ..api import load_code

    generated = getattr(load_code(spec.code, Path(spec.path).stem), ir.name)
    refused = _refused_by_spec(spec.path, ir.name, kwargs, shapes, _typed_inputs(ir))
    if refused is not None:
        print(f"{spec.path}: the arguments and inputs do not fit the spec: {refused}", file=sys.stderr)
        return 2
    try:
        summary = compare(reference_class, generated, kwargs, shapes, _typed_inputs(ir))
    except Difference as difference:
        print(f"{spec.path}: {ir.name} differs from {args.against}: {difference}", file=sys.stderr)
        return 1
    print(f"{spec.path}: {ir.name} matches {args.against} ({summary})")
    return 0


def load_class(target: str) -> type:
    """`FILE.py:Class`; a file inside a package (an __init__.py beside it) is imported as part
    of its package, so that its relative imports work."""
    file_name, colon, class_name = target.rpartition(":")
    if not colon or not file_name or not class_name.isidentifier():
        raise UsageError(f"--against {target!r}: expected FILE.py:Class, e.g. tests/references/se.py:SEAttention")
    path = Path(file_name)
    if not path.is_file():
        raise UsageError(f"--against: no such file: {path.as_posix()}")
    try:
        module = _import(path.resolve())
    except Exception as error:  # the user's module failed to import: one line, theirs
        raise UsageError(f"--against: importing {path.as_posix()} failed: {type(error).__name__}: {error}")
    found = getattr(module, class_name, None)
    if not isinstance(found, type):
        raise UsageError(f"--against: {path.as_posix()} has no class {class_name}")
    return found


def _import(path: Path):
    parts, folder = [path.stem], path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) > 1:
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
        return importlib.import_module(".".join(parts))
    if str(path.parent) not in sys.path:  # a lone file imports its neighbours, as `python FILE` would
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"attndsl_verify_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _arguments(ir, values: dict) -> tuple[dict, dict]:
    """Constructor kwargs and input shapes: the first example, overridden by --args."""
    known = {a.name for a in ir.args} | {i.name for i in ir.inputs}
    for name in values:
        if name not in known:
            raise UsageError(f"{ir.name} has no argument or input {name!r}; it has {', '.join(sorted(known))}")
    given = dict(ir.examples[0]) if ir.examples else {}
    given.update(values)
    kwargs = {a.name: _argument(a, given[a.name]) for a in ir.args if a.name in given}
    missing = [a.name for a in ir.args if a.required and a.name not in kwargs]
    shapes = {}
    for info in ir.inputs:
        shape = given.get(info.name)
        if info.dtype == "size" and shape is not None:  # an int, passed as it is
            if not isinstance(shape, int) or isinstance(shape, bool):
                raise UsageError(f"--args {info.name}: a size is a whole number")
            shapes[info.name] = shape
            continue
        if info.dtype == "flag":  # passed as given (`--args is_causal=true`), else left at its default
            if shape is not None and not isinstance(shape, bool):
                raise UsageError(f"--args {info.name}: a flag is true or false")
            if shape is not None:
                shapes[info.name] = shape
            elif info.default is None:
                missing.append(info.name)
            continue
        if shape is None:
            if not info.optional:
                missing.append(info.name)
            continue
        if not isinstance(shape, list):
            raise UsageError(f"--args {info.name}: an input's shape is a list, e.g. {info.name}=[2,64,7,7]")
        if info.dtype == "sizes":  # `sizes[H, W]`: a tuple of numbers, passed as it is (the spec checks them)
            shape = tuple(shape)
        shapes[info.name] = shape
    if missing:
        raise UsageError(f"{ir.name} needs {', '.join(missing)}: give them with --args K=V "
                         "(the block has no example to take them from)")
    return kwargs, shapes


def _argument(arg, value):
    """A constructor argument as the modules take it: a layer kind's name as its class."""
    if arg.type == "layer" and isinstance(value, str):
        from ..layers import LAYERS

        if value not in LAYERS:
            raise UsageError(f"--args {arg.name}: {value!r} is no layer kind")
        import torch.nn as nn

        return getattr(nn, LAYERS[value].torch_class)
    if arg.type in ("str", "list[str]") or value is None or arg.type == "layer":
        return value
    if isinstance(value, str):
        raise UsageError(f"--args {arg.name}: a {arg.type} argument, got the word {value!r}")
    return value


def _refused_by_spec(path: str, block: str, kwargs: dict, shapes: dict, typed: dict[str, str]) -> str | None:
    """Why the spec refuses these arguments or inputs, by its own semantics (the interpreter,
    not either module under test), or None: a comparison outside what the spec accepts
    proves nothing, whatever the two modules do with it."""
    import torch

    from ..interpret import Refusal, build

    try:
        module = build(path, block, **kwargs).double().eval()
        with torch.no_grad():
            module(**random_inputs(shapes, typed))
    except Refusal as refusal:
        return str(refusal)
    except Exception:  # the spec accepts them and torch fails: the comparison shows where
        return None
    return None


def _typed_inputs(ir) -> dict[str, str]:
    """The tensor inputs that are not floating point: masks ("bool") and ids ("int")."""
    return {info.name: info.dtype for info in ir.inputs if getattr(info, "dtype", "float") in ("bool", "int")}
