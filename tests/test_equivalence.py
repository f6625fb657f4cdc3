"""Generated modules vs hand-written references (DESIGN.md section 6).

Every spec is compiled fresh (``attndsl.compile_file``) and exec'd; for every case of
``tests/mechanisms.py``:
- interface: constructor and forward signatures (names, order, kinds, defaults), the
  state_dict keys and shapes, which entries are parameters vs buffers, their order,
  and the deterministic part of the initialisation;
- numerics: the reference is randomised, its state_dict loaded into the generated module
  with strict=True, then outputs (float64 tight, float32 loose) and float64 gradients of
  every input and parameter are compared, on CPU and on CUDA when available;
- training mode: one forward and backward with dropout off, then every buffer (BatchNorm
  running statistics) is compared too.
Cases waiting for their spec are in ``PENDING_CASES`` (see tests/mechanisms.py).
These tests fail (ImportError) until the compiler exists; that is intended.
"""

import pytest
import torch

from .harness import (
    build_pair,
    check_forward,
    check_gradients,
    check_train_mode,
    generated_class,
)
from .interface import (
    check_batch_independence,
    deterministic_init_names,
    signature_of,
    state_dict_shapes,
)
from .mechanisms import CASES, example_cases

ids = lambda c: c.id  # noqa: E731


def _diff_dicts(got: dict, want: dict) -> str:
    lines = []
    for k in sorted(set(want) - set(got)):
        lines.append(f"  missing in generated: {k} {want[k]}")
    for k in sorted(set(got) - set(want)):
        lines.append(f"  extra in generated:   {k} {got[k]}")
    for k in sorted(set(got) & set(want)):
        if got[k] != want[k]:
            lines.append(f"  {k}: generated {got[k]} != reference {want[k]}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- interface


@pytest.mark.parametrize("case", example_cases(), ids=ids)
def test_class_is_module(case):
    assert issubclass(generated_class(case), torch.nn.Module)


@pytest.mark.parametrize("case", example_cases(), ids=ids)
def test_constructor_signature(case):
    assert signature_of(generated_class(case).__init__) == signature_of(
        case.reference.__init__
    )


@pytest.mark.parametrize("case", example_cases(), ids=ids)
def test_forward_signature(case):
    assert signature_of(generated_class(case).forward) == signature_of(
        case.reference.forward
    )


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_state_dict_keys_and_shapes(case):
    torch.manual_seed(0)
    ref = case.build_reference()
    gen = generated_class(case)(**dict(case.kwargs))
    got, want = state_dict_shapes(gen), state_dict_shapes(ref)
    assert got == want, "state_dict differs:\n" + _diff_dicts(got, want)
    # parameters must be parameters (they get gradients, optimisers see them) and
    # buffers must be buffers.  Only the buffers in the state_dict count: a
    # non-persistent one (AFTLocal's band mask) is an implementation detail that a
    # module may equally compute in forward.
    assert sorted(n for n, _ in gen.named_parameters()) == sorted(
        n for n, _ in ref.named_parameters()
    )
    assert _persistent_buffers(gen) == _persistent_buffers(ref)


def _persistent_buffers(module):
    params = {n for n, _ in module.named_parameters()}
    return sorted(n for n in module.state_dict() if n not in params)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_state_dict_order(case):
    """Same order as the published module: ``parameters()`` order decides how an
    optimizer's state_dict maps onto the parameters, so a drop-in replacement keeps it.
    """
    torch.manual_seed(0)
    ref = case.build_reference()
    gen = generated_class(case)(**dict(case.kwargs))
    assert list(gen.state_dict()) == list(ref.state_dict())


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_deterministic_init(case):
    """Entries the published module initialises to fixed values (zeros/ones parameters,
    norm affines, BN running stats) start with the same values in the generated one."""
    fixed = deterministic_init_names(case)
    torch.manual_seed(0)
    gen_state = generated_class(case)(**dict(case.kwargs)).state_dict()
    for name, value in fixed.items():
        assert name in gen_state, f"missing {name}"
        assert torch.equal(
            gen_state[name].to(value.dtype), value
        ), f"initial value of {name} differs"


# ----------------------------------------------------------------------------- numerics


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_forward_float64(case, device):
    check_forward(case, generated_class(case), device, torch.float64)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_forward_float32(case, device):
    check_forward(case, generated_class(case), device, torch.float32)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_gradients_float64(case, device):
    check_gradients(case, generated_class(case), device)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_second_seed(case):
    """Another draw of weights and inputs (guards against a lucky draw)."""
    check_forward(
        case, generated_class(case), "cpu", torch.float64, seed=case.seed + 1000
    )


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_batch_independence(case):
    _, gen = build_pair(case, generated_class(case))
    check_batch_independence(gen, case)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_train_mode(case, device):
    """One forward and backward in training mode, dropout off: outputs, gradients and
    afterwards the BatchNorm running statistics agree (harness.check_train_mode)."""
    check_train_mode(case, generated_class(case), device)
