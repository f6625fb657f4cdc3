"""The fuzzing oracles: (a) :func:`check_compiles`, ``compile_source`` returns code or
diagnostics without raising, and the code it returns compiles and imports; (b)
:func:`check_runs`, the generated module, run on its ``example(...)``, returns outputs
of exactly the statically inferred shapes, or raises a ``ValueError`` from one of its own
run-time checks when (and only when) the example breaks a run-time fact.  Also the helpers
other tests use to run generated code (:func:`load_module`, :func:`example_arguments`).
"""

from __future__ import annotations

import traceback

from .errors import FuzzBug
from .facts import (
    _outside_contract,
    _too_large,
    _Unknown,
    _value,
    _world_output_shape,
    bindings_for,
    example_inputs,
    violated_facts,
)


def compile_spec(source: str, path: str):
    """compile_source, plus: the code it returns byte-compiles and its classes import."""
    import attndsl

    result = attndsl.compile_source(source, path)
    if result.code is not None:
        for diagnostic in result.diagnostics:
            if diagnostic.is_error:
                raise FuzzBug(f"code returned together with an error: {diagnostic}")
        try:
            compile(result.code, "<generated>", "exec")
        except SyntaxError as error:
            raise FuzzBug(f"generated code does not compile: {error}\n{result.code}") from error
    else:
        if not any(d.is_error for d in result.diagnostics):
            raise FuzzBug("no code and no error diagnostic")
        for diagnostic in result.diagnostics:
            if not (isinstance(diagnostic.code, str) and diagnostic.code and diagnostic.message):
                raise FuzzBug(f"malformed diagnostic {diagnostic!r}")
    return result


def example_arguments(ir, example: dict) -> dict:
    """The constructor arguments an `example(...)` gives, as the modules take them: a layer
    kind's name (`norm_layer=layer_norm`) as its class (`nn.LayerNorm`)."""
    from torch import nn

    from attndsl.ir import KindName
    from attndsl.layers import LAYERS

    args = {a.name: example[a.name] for a in ir.args if a.name in example}
    return {name: getattr(nn, LAYERS[value].torch_class) if isinstance(value, KindName) else value
            for name, value in args.items()}


def load_module(code: str) -> dict:
    namespace: dict = {"__name__": "attndsl_fuzz_generated"}
    exec(compile(code, "<generated>", "exec"), namespace)
    return namespace


def check_compiles(source: str, path: str = "<fuzz>"):
    """Oracle (a): returns the CompileResult; raises on an internal error."""
    result = compile_spec(source, path)
    if result.code is not None:
        try:
            load_module(result.code)
        except Exception as error:
            raise FuzzBug(f"generated module does not import: {error!r}\n{result.code}") from error
    return result


def check_runs(source: str, path: str = "fuzz.attn") -> str:
    """Oracle (b). Returns "diagnostics", "no-example", "ok", "runtime-check" (a check of the
    module refused the example), "torch-check" (torch refused it where the module's facts
    allow that), "outside-contract" or "too-large" (examples not run); raises on a bug."""
    import torch

    result = check_compiles(source, path)
    if result.code is None:
        return "diagnostics"
    ir = result.blocks[-1]
    if not ir.examples:
        return "no-example"
    namespace = load_module(result.code)
    cls = namespace[ir.name]
    outcome = "ok"
    for example in ir.examples:
        bindings = bindings_for(ir, example)
        if _too_large(ir, example, bindings, source):
            outcome = "too-large" if outcome == "ok" else outcome
            continue
        if _outside_contract(ir, example):
            outcome = "outside-contract" if outcome == "ok" else outcome
            continue
        broken = violated_facts(ir, example, bindings)
        kwargs = example_arguments(ir, example)
        inputs = example_inputs(ir, example, torch)
        try:
            with torch.no_grad():
                module = cls(**kwargs).eval()
                outputs = module(**inputs)
        except (RuntimeError, ValueError) as error:
            message = str(error)
            ours = message.startswith(f"{ir.name}: ")
            if ours and broken:
                outcome = "runtime-check"
                continue
            if isinstance(error, ValueError) and any(message.startswith(f"{b.name}: ") for b in result.blocks[:-1]):
                # A check of a block used as a layer: its facts are in its own terms (not
                # instantiated in the caller), so this oracle does not judge them.
                outcome = "runtime-check"
                continue
            if "enforce fail at alloc" in message or "can't allocate memory" in message:
                # Sizes the bounds above cannot see (a sub-block's default `H ** W`): too large to run.
                outcome = "too-large" if outcome == "ok" else outcome
                continue
            if "dropout probability" in message:
                # A dropout probability from an argument: left to nn.Dropout's own ValueError.
                outcome = "runtime-check"
                continue
            if message.startswith(("Expected more than 1 spatial element", "Expected more than 1 value per channel")):
                # A norm over a single position of a size known only at run time: left to torch.
                outcome = "torch-check"
                continue
            if getattr(ir, "opaque", None) and not ours:
                # Sizes joined from the branches of an `if` are left to torch by design.
                outcome = "torch-check"
                continue
            why = ("a run-time check fired though the example breaks no fact" if ours
                   else f"generated module raised {type(error).__name__}")
            raise FuzzBug(f"{why}: {error}\nexample: {example}\nfacts broken by the example: {broken}\n"
                          f"{_tb(error)}\n{result.code}") from error
        except Exception as error:
            raise FuzzBug(f"generated module raised {type(error).__name__}: {error}\nexample: {example}\n"
                          f"facts broken by the example: {broken}\n{_tb(error)}\n{result.code}") from error
        if broken:
            raise FuzzBug(f"the example breaks {broken} but the module ran\nexample: {example}\n{result.code}")
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        if len(outputs) != len(ir.outputs):
            raise FuzzBug(f"{len(outputs)} outputs, expected {len(ir.outputs)}")
        for index, (output, node) in enumerate(zip(outputs, ir.outputs)):
            inferred = _world_output_shape(ir, index, bindings) or ir.graph.nodes[node]["shape"]
            opaque = set(getattr(ir, "opaque", ()))
            expected = []
            for axis, dim in enumerate(inferred):
                try:
                    expected.append(_value(dim, bindings))
                except _Unknown as error:
                    if not dim.symbols() & opaque:
                        raise FuzzBug(f"cannot evaluate the inferred shape {inferred}: {error}\nexample: {example}")
                    # The join of an if/else: which branch ran is the module's business.
                    expected.append(output.shape[axis] if axis < output.dim() else None)
            expected = tuple(expected)
            if tuple(output.shape) != expected:
                raise FuzzBug(f"output shape {tuple(output.shape)} but the checker inferred "
                              f"{tuple(str(d) for d in inferred)} = {expected}\nexample: {example}\n{result.code}")
    return outcome


def _tb(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__)[-6:])
