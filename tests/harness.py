"""The numeric comparison harness (DESIGN.md section 6), shared by the tests and the benchmark.

- :func:`load_generated` compiles ``specs/{stem}.attn`` fresh with ``attndsl.compile_file``
  and execs the source into a fresh module (cached per stem).
- :func:`randomize_` sets every floating parameter and buffer to random, well-scaled,
  non-trivial values (the default inits make several blocks inert).
- :func:`build_pair` builds reference + candidate, randomises the reference and loads its
  ``state_dict`` into the candidate with ``strict=True``.
- :func:`check_forward` / :func:`check_gradients` / :func:`check_train_mode` run the
  comparisons (eval outputs, float64 gradients, one training-mode step with its buffers)
  and raise :class:`AssertionError` with a precise message; :func:`check_all` runs them all.
- A forward may return a tensor or a tuple of tensors (:func:`outputs_of`).

The interface checks (signatures, state_dict shapes, batch independence) are in
``tests/interface.py``.

The comparisons are *relative to the reference's largest magnitude*:
``max|got - want| <= rtol * max|want|``; NaN/inf anywhere is a failure.
"""

from __future__ import annotations

import itertools
import linecache
import math
import sys
import types
from typing import Callable

import torch
from torch import nn

from .cases import REPO_ROOT, SPECS_DIR, Case

# --------------------------------------------------------------------------- loading

_GENERATED: dict[str, types.ModuleType] = {}
_counter = itertools.count()


def load_generated(stem: str) -> types.ModuleType:
    """Compile ``specs/{stem}.attn`` with the compiler in this checkout and exec it.

    The module is registered in ``sys.modules`` under a unique name before exec (so
    dataclasses, ``typing.get_type_hints`` etc. work) and its source is put in
    ``linecache`` so tracebacks show generated lines.  Cached per stem per process.
    Raises ImportError if attndsl is missing, ``attndsl.CompileError`` on a bad spec.
    """
    if stem in _GENERATED:
        return _GENERATED[stem]
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import attndsl  # noqa: PLC0415 - deliberately lazy: the references must not need it

    if not hasattr(attndsl, "compile_file"):
        raise ImportError(
            f"attndsl (from {getattr(attndsl, '__path__', '?')}) has no compile_file yet"
        )

    path = SPECS_DIR / f"{stem}.attn"
    if not path.is_file():
        raise FileNotFoundError(f"no spec for stem {stem!r}: {path} does not exist")
    source = attndsl.compile_file(path)
    if not isinstance(source, str):
        raise TypeError(
            f"attndsl.compile_file({path}) returned {type(source).__name__}, expected str"
        )

    name = f"_attndsl_generated_{stem}_{next(_counter)}"
    filename = f"<attndsl generated from specs/{stem}.attn>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    _GENERATED[stem] = module
    return module


def generated_class(case: Case) -> type:
    module = load_generated(case.stem)
    try:
        return getattr(module, case.class_name)
    except AttributeError:
        public = sorted(
            n
            for n, v in vars(module).items()
            if isinstance(v, type) and not n.startswith("_")
        )
        raise AssertionError(
            f"specs/{case.stem}.attn generates no class {case.class_name!r}; classes: {public}"
        ) from None


# --------------------------------------------------------------------------- randomising

_FAN_IN_MODULES = (nn.Linear, nn.modules.conv._ConvNd)


def randomize_(module: nn.Module, seed: int) -> nn.Module:
    """Set every floating parameter and buffer of ``module`` to random values, in place.

    - weights of Linear/Conv layers: random sign * U(0.5, 1.5) / sqrt(fan_in), so that
      activations stay O(1) (softmaxes neither saturate nor flatten, exp does not
      overflow) while every entry is non-zero and far from its default init;
    - BatchNorm ``running_var``: U(0.5, 1.5) (positive);
    - everything else (biases, norm affines, running means, free parameters such as
      SGE's weight/bias, ShuffleAttention's c/s weight/bias, AFT's position biases):
      random sign * U(0.1, 1);
    - integer buffers (``num_batches_tracked``) and non-persistent buffers (constants
      computed from the constructor's arguments, not in the state_dict) are left alone.
    Deterministic given ``seed`` and the state_dict names/shapes.
    """
    gen = torch.Generator().manual_seed(seed)

    def signed(shape, lo, hi):
        mag = lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float64)
        sign = torch.where(
            torch.rand(shape, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0
        )
        return mag * sign

    with torch.no_grad():
        for mod_name, mod in module.named_modules():
            tensors = list(mod.named_parameters(recurse=False)) + list(
                mod.named_buffers(recurse=False)
            )
            for name, t in tensors:
                if t is None or not t.dtype.is_floating_point:
                    continue
                if name in mod._non_persistent_buffers_set:
                    # a constant the module computes from its arguments (a spec's `buffer`,
                    # HaloAttention's one-hot position table): not state, never loaded
                    continue
                if name == "weight" and isinstance(mod, _FAN_IN_MODULES):
                    fan_in = t[0].numel()
                    value = signed(t.shape, 0.5, 1.5) / math.sqrt(fan_in)
                elif name == "running_var":
                    value = 0.5 + torch.rand(
                        t.shape, generator=gen, dtype=torch.float64
                    )
                else:
                    value = signed(t.shape, 0.1, 1.0)
                t.copy_(value.to(dtype=t.dtype, device=t.device))
    return module


def build_pair(
    case: Case, candidate_cls: type | Callable[..., nn.Module], seed: int | None = None
):
    """(reference, candidate): same ctor args, float64, eval, the reference randomised and
    its state_dict loaded into the candidate with strict=True."""
    seed = case.seed if seed is None else seed
    torch.manual_seed(seed)
    ref = case.build_reference().double().eval()
    randomize_(ref, seed)
    torch.manual_seed(seed + 1)
    cand = candidate_cls(**dict(case.kwargs)).double().eval()
    cand.load_state_dict(ref.state_dict(), strict=True)
    return ref, cand


# --------------------------------------------------------------------------- comparing


def assert_close_rel(got, want, rtol: float, what: str, floor: float = 1e-6) -> None:
    """``max|got - want| <= rtol * max(max|want|, floor)``; shapes, dtype and device must
    match; any non-finite value fails.  ``None`` stands for an all-zero gradient."""
    if want is None and got is None:
        return
    if want is None:
        want = torch.zeros_like(got)
    if got is None:
        got = torch.zeros_like(want)
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{what}: expected a tensor, got {type(got).__name__}")
    if got.shape != want.shape:
        raise AssertionError(
            f"{what}: shape {tuple(got.shape)} != reference {tuple(want.shape)}"
        )
    if got.dtype != want.dtype:
        raise AssertionError(f"{what}: dtype {got.dtype} != reference {want.dtype}")
    if got.device != want.device:
        raise AssertionError(f"{what}: device {got.device} != reference {want.device}")
    w = want.detach().to("cpu", torch.float64)
    g = got.detach().to("cpu", torch.float64)
    if not torch.isfinite(w).all():
        raise AssertionError(
            f"{what}: the REFERENCE has non-finite values (fix the test inputs)"
        )
    if not torch.isfinite(g).all():
        bad = (~torch.isfinite(g)).sum().item()
        raise AssertionError(
            f"{what}: {bad} non-finite values (NaN/inf) where the reference is finite"
        )
    scale = w.abs().max().item() if w.numel() else 0.0
    diff = (g - w).abs()
    err = diff.max().item() if diff.numel() else 0.0
    tol = rtol * max(scale, floor)
    if not err <= tol:
        idx = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
        raise AssertionError(
            f"{what}: max|got - ref| = {err:.3e} > {rtol:.0e} * max|ref| ({scale:.3e}); "
            f"relative error {err / max(scale, floor):.3e}; worst at index {idx}: "
            f"got {g[idx].item():.10g}, ref {w[idx].item():.10g}"
        )


def outputs_of(result) -> list[tuple[str, torch.Tensor]]:
    """A forward's result as (name, tensor) pairs: ``output`` for a single tensor,
    ``output[i]`` for each element of a tuple (Self_Attn_*, MultiHeadAttention)."""
    if isinstance(result, torch.Tensor):
        return [("output", result)]
    if isinstance(result, (tuple, list)) and all(
        isinstance(r, torch.Tensor) for r in result
    ):
        return [(f"output[{i}]", r) for i, r in enumerate(result)]
    raise AssertionError(
        f"forward returned {type(result).__name__}, expected a tensor or a tuple of tensors"
    )


def assert_outputs_close(got, want, rtol: float, what: str) -> None:
    """:func:`assert_close_rel` on every output of two forward results."""
    got_outs, want_outs = outputs_of(got), outputs_of(want)
    if len(got_outs) != len(want_outs):
        raise AssertionError(
            f"{what}: {len(got_outs)} outputs where the reference has {len(want_outs)}"
        )
    for (name, g), (_, w) in zip(got_outs, want_outs):
        assert_close_rel(g, w, rtol, f"{what} {name}")


def _clone_args(args, kwargs):
    return [a.detach().clone() for a in args], {
        k: v.detach().clone() for k, v in kwargs.items()
    }


# PyTorch's CUDA kernels of hardswish and hardsigmoid multiply by 1/6 rounded to float32
# (`const opmath_t one_sixth(1.0f / 6.0f)` in ActivationHardswishKernel.cu and
# ActivationHardsigmoidKernel.cu), in float64 too, so their float64 results are off by up
# to 3e-8 relative; their CPU kernels are exact. A module that calls them is compared in
# float64 on CUDA at that precision, which still fails any wrong formula.
_FLOAT_SIXTH_CALLS = ("F.hardswish(", "F.hardsigmoid(")
_FLOAT_SIXTH_LAYERS = (nn.Hardswish, nn.Hardsigmoid)
_FLOAT_SIXTH_RTOL = 1e-7


def float64_rtol(case: Case, candidate: nn.Module, device: str) -> float:
    """The float64 tolerance of ``candidate`` on ``device``: the case's, or
    :data:`_FLOAT_SIXTH_RTOL` on CUDA where the candidate calls a kernel that rounds 1/6."""
    if torch.device(device).type != "cuda":
        return case.rtol64
    module = sys.modules.get(type(candidate).__module__)
    source = "".join(linecache.getlines(getattr(module, "__file__", "") or ""))
    rounds_a_sixth = any(call in source for call in _FLOAT_SIXTH_CALLS) or any(
        isinstance(m, _FLOAT_SIXTH_LAYERS) for m in candidate.modules()
    )
    return max(case.rtol64, _FLOAT_SIXTH_RTOL) if rounds_a_sixth else case.rtol64


def check_forward(
    case: Case, candidate_cls, device: str, dtype: torch.dtype, seed: int | None = None
) -> None:
    """Forward outputs agree (rtol64 / rtol32), the candidate does not mutate its inputs,
    and calling it twice gives the same output (no state changed by forward)."""
    ref, cand = build_pair(case, candidate_cls, seed)
    ref = ref.to(device=device, dtype=dtype)
    cand = cand.to(device=device, dtype=dtype)
    rtol = float64_rtol(case, cand, device) if dtype == torch.float64 else case.rtol32
    args, kwargs = case.make_inputs(dtype=dtype, device=device, seed=seed)
    with torch.no_grad():
        rargs, rkwargs = _clone_args(args, kwargs)
        want = ref(*rargs, **rkwargs)
        cargs, ckwargs = _clone_args(args, kwargs)
        got = cand(*cargs, **ckwargs)
        for name, before, after in zip(case.inputs, args, cargs):
            if not torch.equal(before, after):
                raise AssertionError(f"{case.id}: forward mutated its input {name!r}")
        for name in kwargs:
            if not torch.equal(kwargs[name], ckwargs[name]):
                raise AssertionError(f"{case.id}: forward mutated its input {name!r}")
        cargs, ckwargs = _clone_args(args, kwargs)
        got_again = cand(*cargs, **ckwargs)
    tag = f"{case.id} [{device}, {str(dtype).replace('torch.', '')}]"
    assert_outputs_close(got, want, rtol, tag)
    assert_outputs_close(
        got_again,
        got,
        1e-12,
        f"{tag} second call vs first call (forward changed state?)",
    )


def _forward_backward(module: nn.Module, case: Case, device: str, seed: int | None):
    """float64 forward of ``module`` on the case's inputs, then backward of
    ``sum_i sum(out_i * R_i)`` (R_i fixed random, one per output).  Returns the result
    and the gradients of every input, differentiable extra and parameter, by name."""
    args, kwargs = case.make_inputs(
        dtype=torch.float64, device=device, seed=seed, requires_grad=True
    )
    result = module(*args, **kwargs)
    proj_gen = torch.Generator().manual_seed((case.seed if seed is None else seed) + 7)
    loss = 0
    for _, out in outputs_of(result):
        R = torch.randn(out.shape, generator=proj_gen, dtype=torch.float64)
        loss = loss + (out * R.to(device)).sum()
    module.zero_grad(set_to_none=True)
    loss.backward()
    grads = {f"input {n}": a.grad for n, a in zip(case.inputs, args)}
    grads.update({f"input {n}": t.grad for n, t in kwargs.items() if t.requires_grad})
    grads.update({f"param {n}": p.grad for n, p in module.named_parameters()})
    return result, grads


def _compare_gradients(got: dict, want: dict, rtol: float, tag: str) -> list[str]:
    errors = []
    # A gradient that is zero in exact arithmetic (AFT's fc_k.bias: a constant shift of
    # every key cancels in the softmax-like ratio) is rounding noise whose size follows
    # the other gradients, so its scale floor comes from them, not an absolute number.
    overall = max(
        (g.detach().abs().max().item() for g in want.values() if g is not None and g.numel()),
        default=0.0,
    )
    for name in want:
        try:
            assert_close_rel(
                got[name], want[name], rtol, f"{tag} grad of {name}",
                floor=max(1e-6, 1e-3 * overall),
            )
        except AssertionError as e:
            errors.append(str(e))
    return errors


def _check_same_parameter_names(ref: nn.Module, cand: nn.Module, tag: str) -> None:
    ref_params = dict(ref.named_parameters())
    cand_params = dict(cand.named_parameters())
    if set(ref_params) != set(cand_params):
        raise AssertionError(
            f"{tag}: parameter names differ: only in reference {sorted(set(ref_params) - set(cand_params))}, "
            f"only in generated {sorted(set(cand_params) - set(ref_params))}"
        )


def check_gradients(
    case: Case, candidate_cls, device: str, seed: int | None = None
) -> None:
    """float64 gradients of ``sum(out * R)`` (R fixed random) w.r.t. every input (and
    differentiable extra) and every parameter, by state_dict name."""
    ref, cand = build_pair(case, candidate_cls, seed)
    ref = ref.to(device=device, dtype=torch.float64)
    cand = cand.to(device=device, dtype=torch.float64)
    tag = f"{case.id} [{device}, float64]"
    _check_same_parameter_names(ref, cand, tag)
    _, want = _forward_backward(ref, case, device, seed)
    _, got = _forward_backward(cand, case, device, seed)
    errors = _compare_gradients(got, want, float64_rtol(case, cand, device), tag)
    if errors:
        raise AssertionError(
            f"{len(errors)} of {len(want)} gradients differ:\n" + "\n".join(errors)
        )


def disable_dropout_(module: nn.Module) -> nn.Module:
    """Set ``p = 0`` on every dropout layer, in place: in training mode the two modules
    then compute deterministic, comparable values whatever order they draw numbers in."""
    for m in module.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.p = 0.0
    return module


def check_train_mode(
    case: Case, candidate_cls, device: str = "cpu", seed: int | None = None
) -> None:
    """One forward and backward in training mode (dropout off in both, DESIGN.md 6.5):
    outputs, the gradients of every input and parameter, and afterwards every
    ``state_dict`` entry (BatchNorm running statistics, ``num_batches_tracked``) agree.

    A block can be exact in eval mode and wrong here: a BatchNorm whose batch statistics
    are taken over another set of values, a running statistic not updated, another
    momentum."""
    ref, cand = build_pair(case, candidate_cls, seed)
    tag = f"{case.id} [{device}, float64, train mode]"
    _check_same_parameter_names(ref, cand, tag)
    runs = []
    for module in (ref, cand):
        module.to(device=device, dtype=torch.float64).train()
        disable_dropout_(module)
        runs.append(_forward_backward(module, case, device, seed))
    (want, want_grads), (got, got_grads) = runs
    rtol = float64_rtol(case, cand, device)
    assert_outputs_close(got, want, rtol, tag)
    errors = _compare_gradients(got_grads, want_grads, rtol, tag)
    cand_state = cand.state_dict()
    for name, value in ref.state_dict().items():
        after = cand_state[name]
        if value.dtype.is_floating_point:
            try:
                assert_close_rel(after, value, rtol, f"{tag} state {name} after forward")
            except AssertionError as e:
                errors.append(str(e))
        elif not torch.equal(after, value):
            errors.append(
                f"{tag} state {name} after forward: {after.tolist()} != reference {value.tolist()}"
            )
    if errors:
        raise AssertionError(
            f"{len(errors)} train-mode comparisons differ:\n" + "\n".join(errors)
        )


def check_all(
    case: Case, candidate_cls, device: str = "cpu", seed: int | None = None
) -> None:
    check_forward(case, candidate_cls, device, torch.float64, seed)
    check_forward(case, candidate_cls, device, torch.float32, seed)
    check_gradients(case, candidate_cls, device, seed)
    check_train_mode(case, candidate_cls, device, seed)
