"""The differential oracle: a generated module against the interpreter (attndsl.interpret).

For one spec and one *case* (constructor arguments and input shapes, each input given or
left out) the two semantics must agree, in eval mode and in training mode (dropout set to
p=0 in both):

- both refuse: the generated module with its *own* ValueError (a message that starts
  with the name of one of the file's blocks), the interpreter with anything; or
- both return outputs of the same shapes, equal in float64 to 1e-10 relative (or 1e-12
  absolute: the compiler folds scalars exactly, see ATOL), and those shapes are the
  checker's: the output node's symbolic shape evaluated with the case's sizes (through
  lets, checker-named dims and if/else joins). In training mode the
  buffers (BatchNorm statistics) must be equal afterwards too.

Weights: the generated module's params and buffers are randomised (order 0.1-1), then
loaded into the interpreted module with strict=True (which also proves the state_dict
keys equal). A disagreement raises `Disagreement`, whose `signature` (stage, kind)
groups findings of one kind for minimisation and reporting.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction

import networkx as nx
import torch
from torch import nn

import attndsl
from attndsl import interpret
from attndsl.interpret import InterpreterBug
from attndsl.interpret.values import Unbound, cond_value, expr_value

from .fuzzing import example_arguments, load_module

RTOL = 1e-10
# The compiler folds scalar arithmetic exactly (rationals) where Python rounds in float64:
# `(5 * r) % (r / n)` is 0 in the module and 2.2e-15 in the interpreter. With inputs and
# parameters of order 1, an absolute difference below this is rounding, not a value.
ATOL = 1e-12


@dataclass
class Case:
    args: dict  # constructor keyword arguments
    inputs: dict  # input name -> shape (list of ints); an optional input left out is absent
    bool_inputs: frozenset = frozenset()  # inputs drawn as boolean masks
    seed: int = 0
    sizes_inputs: frozenset = frozenset()  # `spatial_size: sizes[p, q]`: given as the tuple itself
    int_inputs: frozenset = frozenset()  # `ids: long[b, n]`: int64, some values outside any axis (INT_RANGE)

    def to_json(self) -> dict:
        data = {"args": self.args, "inputs": self.inputs}
        if self.bool_inputs:
            data["bool_inputs"] = sorted(self.bool_inputs)
        if self.sizes_inputs:
            data["sizes_inputs"] = sorted(self.sizes_inputs)
        if self.int_inputs:
            data["int_inputs"] = sorted(self.int_inputs)
        return data

    @staticmethod
    def from_json(data: dict) -> "Case":
        return Case(dict(data["args"]), {k: v if isinstance(v, int) else list(v) for k, v in data["inputs"].items()},
                    frozenset(data.get("bool_inputs", ())), data.get("seed", 0),
                    frozenset(data.get("sizes_inputs", ())), frozenset(data.get("int_inputs", ())))


class Disagreement(AssertionError):
    def __init__(self, stage: str, kind: str, detail: str):
        super().__init__(f"[{stage}] {kind}: {detail}")
        self.stage, self.kind, self.detail = stage, kind, detail

    @property
    def signature(self) -> tuple[str, str]:
        return (self.stage, self.kind)


@dataclass
class Compiled:
    """A spec compiled both ways: the generated classes and the interpreter's program."""

    source: str
    namespace: dict
    program: interpret.Program
    main: str
    blocks: list = field(default_factory=list)
    code: str = ""

    @property
    def ir(self):
        return self.program.blocks[self.main]


def compile_both(source: str, path: str = "diff.attn", format: bool = False, optimize: bool = True) -> Compiled | None:
    """None when the spec has errors (the checker refuses it: nothing to compare). The
    generated module is optimised (attention fusion, layout and constant folding...) unless
    `optimize=False`: the passes are held to the interpreter too."""
    result = attndsl.compile_source(source, path, format=format, optimize=optimize)
    if not result.ok:
        return None
    program = interpret.load(source, path)
    return Compiled(source, load_module(result.code), program, program.order[-1], list(program.order), result.code)


# ---------------------------------------------------------------------------- running one side


def _own_refusal(error: BaseException, compiled: Compiled) -> bool:
    return isinstance(error, ValueError) and any(str(error).startswith(f"{b}: ") for b in compiled.blocks)


def _attempt(function):
    """(result, None) or (None, error); an InterpreterBug is never a refusal."""
    try:
        return function(), None
    except InterpreterBug:
        raise
    except Exception as error:  # noqa: BLE001 - a refusal of any kind
        return None, error


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"


def _interpreter_refusal(stage: str, error) -> None:
    """What the interpreter computes with Python's arithmetic (lets, requires, sizes) it
    refuses with its Refusal: a ZeroDivisionError or OverflowError from it is a bug to report,
    not a refusal. Torch's own errors from the layers it runs (a batch norm of one value in
    training) still count as refusals: the interpreter leaves those to torch."""
    if isinstance(error, ArithmeticError) and not isinstance(error, interpret.Refusal):
        raise Disagreement(stage, f"interpreter raised {type(error).__name__}", _describe(error))


def _judge_refusals(stage: str, compiled: Compiled, generated_error, interpreted_error) -> bool:
    """True when both refused (agreement); raises on a disagreement; False when both ran."""
    _interpreter_refusal(stage, interpreted_error)
    if generated_error is not None and not _own_refusal(generated_error, compiled):
        raise Disagreement(stage, f"generated raised {type(generated_error).__name__}",
                           f"{_describe(generated_error)}; interpreter: "
                           f"{_describe(interpreted_error) if interpreted_error else 'ran'}")
    if generated_error is not None and interpreted_error is None:
        raise Disagreement(stage, "generated refused, interpreter ran", _describe(generated_error))
    if generated_error is None and interpreted_error is not None:
        kind = "interpreter refused, generated ran"
        if _in_dead_code(compiled, interpreted_error):
            kind += " (in dead code)"
        raise Disagreement(stage, kind, _describe(interpreted_error))
    return generated_error is not None


def _in_dead_code(compiled: Compiled, error: BaseException) -> bool:
    """Whether the interpreter failed on a node no output depends on (the generated
    module leaves such nodes out, and with them torch's errors)."""
    trace = getattr(error, "attndsl_trace", None)
    if not trace or trace[-1][0] != compiled.main:
        return False
    ir = compiled.ir
    node = trace[-1][1]
    return not any(node == output or node in nx.ancestors(ir.graph, output) for output in ir.outputs)


def randomize(module: nn.Module, seed: int) -> None:
    """Every floating param and buffer of the state to random values of order 0.1-1
    (running_var positive). Non-persistent buffers (a spec's `buffer`: constants made from
    the arguments, never loaded) keep their values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict(keep_vars=True).items():
            if not tensor.dtype.is_floating_point:
                continue
            magnitude = 0.1 + 0.9 * torch.rand(tensor.shape, generator=generator, dtype=torch.float64)
            sign = torch.where(torch.rand(tensor.shape, generator=generator, dtype=torch.float64) < 0.5, -1.0, 1.0)
            value = magnitude if name.endswith("running_var") else magnitude * sign
            tensor.copy_(value.to(tensor.dtype))


# An integer input's values (`ids: long[b, n]`): unknown to the checker, so some are negative
# and some past the small axes a case has, and an index made of them must be clamped.
INT_RANGE = (-3, 10)


def make_inputs(case: Case) -> dict:
    generator = torch.Generator().manual_seed(case.seed + 1)
    inputs = {}
    for name, shape in case.inputs.items():
        if isinstance(shape, int):  # a flag (a bool), a size
            inputs[name] = shape
        elif name in case.sizes_inputs:
            inputs[name] = tuple(shape)
        elif name in case.bool_inputs:
            inputs[name] = torch.rand(shape, generator=generator, dtype=torch.float64) < 0.3
        elif name in case.int_inputs:
            inputs[name] = torch.randint(*INT_RANGE, shape, generator=generator)
        else:
            inputs[name] = torch.randn(shape, generator=generator, dtype=torch.float64)
    return inputs


def _clone(inputs: dict) -> dict:
    return {name: value.clone() if isinstance(value, torch.Tensor) else value for name, value in inputs.items()}


def _no_dropout(module: nn.Module) -> None:
    for child in module.modules():
        if isinstance(child, nn.modules.dropout._DropoutNd):  # nn.Dropout, nn.Dropout2d
            child.p = 0.0


# ---------------------------------------------------------------------------- comparing


def _outputs(value) -> list:
    return list(value) if isinstance(value, tuple) else [value]


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_complex():  # a spectrum (rfft2): its real and imaginary parts, each within the tolerance
        return _close(torch.view_as_real(a), torch.view_as_real(b))
    if a.dtype == torch.bool or not a.dtype.is_floating_point:
        return torch.equal(a, b)
    infinite = torch.isinf(b)
    if not torch.equal(torch.isnan(a), torch.isnan(b)) or not torch.equal(torch.isinf(a), infinite) \
            or not torch.equal(a[infinite], b[infinite]):
        return False
    finite = torch.isfinite(b)
    a, b = a[finite], b[finite]
    if not b.numel():
        return True
    scale = b.abs().max().item()
    return bool(((a - b).abs() <= RTOL * b.abs() + RTOL * scale + ATOL).all())


def _compare(stage: str, generated, interpreted, expected_shapes) -> None:
    got, want = _outputs(generated), _outputs(interpreted)
    if len(got) != len(want):
        raise Disagreement(stage, "output count differs", f"generated {len(got)}, interpreter {len(want)}")
    for index, (a, b) in enumerate(zip(got, want)):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            raise Disagreement(stage, "output is not a tensor", f"output {index}: {type(a).__name__}, {type(b).__name__}")
        if tuple(a.shape) != tuple(b.shape):
            raise Disagreement(stage, "output shapes differ", f"output {index}: generated {tuple(a.shape)}, "
                               f"interpreter {tuple(b.shape)}")
        expected = expected_shapes[index] if index < len(expected_shapes) else None
        if expected is not None and (len(expected) != a.dim() or any(
                e is not None and e != s for e, s in zip(expected, a.shape))):
            raise Disagreement(stage, "output shape is not the inferred one",
                               f"output {index}: {tuple(a.shape)}, inferred {expected}")
        if not _close(a, b):
            real = (torch.view_as_real(a), torch.view_as_real(b)) if a.is_complex() else (a, b)
            difference = (real[0].double() - real[1].double()).abs().nan_to_num(nan=float("inf")).max().item() \
                if a.numel() else 0
            nan = " (NaN in the interpreter's output only)" if torch.isnan(b).any() and not torch.isnan(a).any() else ""
            raise Disagreement(stage, "values differ", f"output {index}: max |difference| {difference:.3g}{nan}")


# ---------------------------------------------------------------------------- the inferred shapes


def expected_output_shapes(ir, case: Case) -> list:
    """The checker's output shapes at the case's sizes; an axis it cannot name is None."""
    env: dict = {}
    for arg in ir.args:
        value = case.args.get(arg.name, arg.default)
        env[arg.name] = value
        if arg.type == "list[int]" and isinstance(value, list):
            env[f"len({arg.name})"] = len(value)
    # forward's truths: the inputs given, the flags set (by the case, else by their default)
    flags = {info.name: case.inputs.get(info.name, info.default) for info in ir.inputs if info.dtype == "flag"}
    present = frozenset(name for name in case.inputs if name not in flags) | {name for name, on in flags.items() if on}
    for let in ir.lets:
        try:
            if all(cond_value(c, env, present) for c in let.guard):
                env[let.name] = expr_value(let.value, env)
        except (Unbound, ZeroDivisionError, ValueError, TypeError):
            pass
    for symbol, (name, axis) in ir.dim_origin.items():
        shape = case.inputs.get(name)
        shape = [shape] if isinstance(shape, int) else shape  # `input H: int` is given the size itself
        if shape is not None and axis < len(shape):
            env[symbol] = shape[axis]
    joins = _joins(ir)

    def value(dim, depth=0):
        for _ in range(16):
            missing = [s for s in dim.symbols() if s not in env]
            if not missing:
                break
            for symbol in missing:
                if symbol in ir.derived:
                    env[symbol] = value(ir.derived[symbol], depth + 1)
                elif symbol in joins and depth < 16:
                    condition, then_dim, else_dim = joins[symbol]
                    env[symbol] = value(then_dim if cond_value(condition, env, present) else else_dim, depth + 1)
                else:
                    raise Unbound(symbol)
        result = expr_value(dim, env)
        return result.numerator if isinstance(result, Fraction) and result.denominator == 1 else result

    # The checker's shapes in the world (truth of each shape-changing `if`) these values select.
    world_shapes = {}
    for world, node_shapes in getattr(ir, "world_shapes", []):
        try:
            if all(cond_value(atom, env, present) == value_ for atom, value_ in world.items()):
                world_shapes = node_shapes
                break
        except (Unbound, ZeroDivisionError, ValueError, TypeError):
            continue
    shapes = []
    for output in ir.outputs:
        shape = world_shapes.get(output) or ir.graph.nodes[output]["shape"]
        axes = []
        for dim in shape:
            try:
                axes.append(value(dim))
            except (Unbound, ZeroDivisionError):
                axes.append(None)  # a size the caller's checker cannot name (a sub-block's join)
        shapes.append(tuple(axes))
    return shapes


def _joins(ir) -> dict:
    """Opaque join symbol -> (condition, then-dim, else-dim), read off the phi nodes."""
    joins = {}
    opaque = set(getattr(ir, "opaque", ()))
    for node in ir.graph.nodes:
        attrs = ir.graph.nodes[node]
        if attrs["op"] != "phi" or attrs.get("shape") is None:
            continue
        then_node, else_node = ir.operands(node)
        then_shape, else_shape = ir.graph.nodes[then_node]["shape"], ir.graph.nodes[else_node]["shape"]
        if then_shape is None or else_shape is None:  # a branch no world shaped alike (the display walk left it)
            continue
        for dim, a, b in zip(attrs["shape"], then_shape, else_shape):
            names = dim.symbols()
            if len(names) == 1 and next(iter(names)) in opaque:
                joins.setdefault(next(iter(names)), (attrs["attrs"]["condition"], a, b))
    return joins


# ---------------------------------------------------------------------------- one case


def _same_first_values(compiled: Compiled, generated, interpreted) -> None:
    """A param whose first value the spec computes (`param w: [d] = ...`) starts the same in
    both: compared before the weights are randomised for the comparison of outputs."""
    mine = dict(generated.named_parameters())
    theirs = dict(interpreted.named_parameters())
    for param in compiled.ir.params:
        if param.value is None or param.name not in mine:
            continue
        if param.name not in theirs or not torch.allclose(mine[param.name].double(), theirs[param.name].double(),
                                                          rtol=1e-6, atol=1e-7, equal_nan=True):
            raise Disagreement("init", "a param's first value differs", param.name)


def run_case(compiled: Compiled, case: Case) -> str:
    """"both refused (init)", "both refused (eval)", ... or "agree"; raises Disagreement."""
    generated_cls = compiled.namespace[compiled.main]
    torch.manual_seed(case.seed)
    generated, generated_error = _attempt(lambda: generated_cls(**case.args))
    torch.manual_seed(case.seed)
    interpreted, interpreted_error = _attempt(lambda: compiled.program.build(compiled.main, **case.args))
    if generated_error is not None and interpreted_error is None and _own_refusal(generated_error, compiled):
        # Refusing when built what every call would refuse is fine: the interpreter must refuse these inputs.
        return _refused_early(compiled, generated_error, interpreted, case)
    if _judge_refusals("init", compiled, generated_error, interpreted_error):
        return "both refused (init)"
    _same_first_values(compiled, generated, interpreted)
    generated, interpreted = generated.double(), interpreted.double()
    randomize(generated, case.seed)
    try:
        interpreted.load_state_dict(generated.state_dict(), strict=True)
    except RuntimeError as error:
        raise Disagreement("init", "state_dict keys differ", str(error).splitlines()[0][:300])
    inputs = make_inputs(case)
    expected = None
    outcome = "agree"
    for mode in ("eval", "train"):
        generated.train(mode == "train")
        interpreted.train(mode == "train")
        if mode == "train":
            _no_dropout(generated)
            _no_dropout(interpreted)
        # one seed before each: the random draws of a train-mode op (stochastic_depth) agree
        torch.manual_seed(case.seed)
        got, generated_error = _attempt(lambda: generated(**_clone(inputs)))
        torch.manual_seed(case.seed)
        want, interpreted_error = _attempt(lambda: interpreted(**_clone(inputs)))
        if _judge_refusals(mode, compiled, generated_error, interpreted_error):
            outcome = f"both refused ({mode})" if outcome == "agree" else outcome
            continue
        if expected is None:
            expected = expected_output_shapes(compiled.ir, case)
        _compare(mode, got, want, expected)
        if mode == "train":
            mine, theirs = generated.state_dict(), interpreted.state_dict()
            for key in mine:
                if not _close(mine[key].double(), theirs[key].double()):
                    raise Disagreement(mode, "buffers differ after forward", key)
    return outcome


def _refused_early(compiled: Compiled, generated_error, interpreted, case: Case) -> str:
    inputs = make_inputs(case)
    for mode in ("eval", "train"):
        interpreted.train(mode == "train")
        _no_dropout(interpreted)
        _, interpreted_error = _attempt(lambda: interpreted.double()(**_clone(inputs)))
        _interpreter_refusal(mode, interpreted_error)
        if interpreted_error is None:
            raise Disagreement("init", "generated refused, interpreter ran",
                               f"{_describe(generated_error)} (the interpreter's {mode} forward ran)")
    return "both refused (init, interpreter in forward)"


def mask_inputs(ir) -> frozenset:
    """Inputs declared boolean (`input mask: bool[...]`): drawn as masks."""
    return frozenset(info.name for info in ir.inputs if getattr(info, "dtype", "float") == "bool")


def int_inputs(ir) -> frozenset:
    """Inputs declared integer (`input ids: long[...]`): drawn in INT_RANGE."""
    return frozenset(info.name for info in ir.inputs if getattr(info, "dtype", "float") == "int")


def check_examples(compiled: Compiled) -> None:
    """Every `example(...)` of the main block gives inputs of the declared shapes (a run-time
    fact it breaks is its business: the module may refuse it)."""
    ir = compiled.ir
    masks = mask_inputs(ir)
    for index, example in enumerate(ir.examples):
        args = example_arguments(ir, example)
        shapes = {i.name: example[i.name] for i in ir.inputs if i.name in example}
        case = Case(args, shapes, frozenset(masks) & set(shapes),
                    sizes_inputs=frozenset(i.name for i in ir.inputs if i.dtype == "sizes") & set(shapes),
                    int_inputs=int_inputs(ir) & set(shapes))
        try:
            module = compiled.program.build(compiled.main, **args).double().eval()
            module(**make_inputs(case))
        except interpret.ContractRefusal as error:
            if getattr(error, "attndsl_trace", None):
                continue  # a block used as a layer refused what it was given: not the example's shapes
            raise Disagreement("example", "example contradicts the declared shapes",
                               f"example {index + 1}: {_describe(error)}")
        except InterpreterBug:
            raise
        except Exception:  # noqa: BLE001 - a refusal for another reason is allowed
            pass


# ---------------------------------------------------------------------------- regression files

_HEADER = re.compile(r"^# differential: (\{.*\})\s*$", re.MULTILINE)


def read_regression(text: str) -> tuple[Case, dict]:
    """The case (and the rest of the header: `expect`, `xfail`) of a regression spec."""
    match = _HEADER.search(text)
    if match is None:
        raise ValueError("a regression spec starts with a `# differential: {json}` line")
    data = json.loads(match.group(1))
    return Case.from_json(data), data


def write_regression(source: str, case: Case, **extra) -> str:
    header = json.dumps({**case.to_json(), **extra}, sort_keys=True)
    return f"# differential: {header}\n{source}"
