"""The comparison `attndsl verify` makes (attndsl/tools/verify.py): two modules built with the
same arguments in float64, the hand-written one's random state loaded into the spec's, then
outputs, gradients, a training step and the state after it compared."""

from __future__ import annotations

import math

RTOL = 1e-7  # relative to the largest magnitude of the hand-written module's values, float64
SEED = 20240601


class Difference(Exception):
    """The first place where the two modules disagree."""


def compare(reference_class, generated_class, kwargs: dict, shapes: dict, typed: dict[str, str]) -> str:
    import torch

    torch.manual_seed(SEED)
    try:
        reference = reference_class(**kwargs).double()
    except Exception as error:
        raise Difference(f"the hand-written module cannot be built with {kwargs}: {type(error).__name__}: {error}")
    try:
        generated = generated_class(**kwargs).double()
    except ValueError as error:  # the spec's own checks (a `require`, a size) refuse the arguments
        raise Difference(f"the spec's module refuses {kwargs}: {error}") from None
    _compare_built_buffers(reference, generated)
    randomize(reference, SEED)
    _load_state(reference, generated)
    inputs = random_inputs(shapes, typed)
    checked = 0
    for mode in ("eval", "train"):
        checked = _forward_backward(reference, generated, inputs, mode)
    _sgd_step(reference, generated)
    _compare_tensors("after the training step, parameter", dict(reference.named_parameters()),
                     dict(generated.named_parameters()))
    _compare_tensors("after the training step, buffer", _state_buffers(reference), _state_buffers(generated))
    _forward(reference, generated, inputs, "eval", tag="after the training step, ")
    keys = len(reference.state_dict())
    return (f"{keys} state_dict key{'s' * (keys != 1)}; outputs and {checked} gradient{'s' * (checked != 1)} in "
            "eval and in training, one SGD step, float64")


def _state_buffers(module) -> dict:
    """The buffers of the state (BatchNorm statistics); not the non-persistent ones, which
    are constants each module makes from its arguments in its own way (a spec's `buffer`)."""
    parameters = {name for name, _ in module.named_parameters()}
    return {name: tensor for name, tensor in module.state_dict(keep_vars=True).items() if name not in parameters}


def _compare_built_buffers(reference, generated) -> None:
    """The buffers of the state as each module builds them from the arguments (Swin's
    relative-position index and shifted-window mask), which loading the hand-written state
    into the spec's would hide; trained statistics start alike (zeros, ones)."""
    import torch

    have = _state_buffers(generated)
    for key, want in _state_buffers(reference).items():
        got = have.get(key)
        if got is None or tuple(got.shape) != tuple(want.shape):
            continue  # the state_dict comparison names it
        if want.dtype.is_floating_point and got.dtype.is_floating_point:
            same = torch.allclose(got.double(), want.double(), rtol=RTOL, atol=0.0, equal_nan=True)
        else:
            same = torch.equal(got, want)
        if not same:
            where = (got != want).nonzero()[0].tolist() if got.numel() else []
            raise Difference(f"buffer {key} as the modules build it: values differ at {where} (hand-written "
                             f"{want[tuple(where)].item():.6g}, spec {got[tuple(where)].item():.6g})")


def randomize(module, seed: int) -> None:
    """Every floating parameter and buffer of the state to random values of order 0.1-1
    (weights scaled by 1/sqrt(fan in), variances positive): many blocks are the identity at
    their init. Non-persistent buffers (constants made from the arguments) are left alone."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict(keep_vars=True).items():
            if not tensor.dtype.is_floating_point:
                continue
            magnitude = 0.5 + torch.rand(tensor.shape, generator=generator, dtype=torch.float64)
            if name.endswith("running_var"):
                value = magnitude
            else:
                sign = torch.where(torch.rand(tensor.shape, generator=generator, dtype=torch.float64) < 0.5, -1.0, 1.0)
                fan_in = tensor[0].numel() if tensor.dim() >= 2 else 1
                value = sign * (magnitude / math.sqrt(fan_in) if tensor.dim() >= 2 else magnitude * 0.6)
            tensor.copy_(value.to(tensor.dtype))


def _load_state(reference, generated) -> None:
    want, have = reference.state_dict(), generated.state_dict()
    for key in want:
        if key not in have:
            raise Difference(f"state_dict key {key!r} of the hand-written module is missing from the spec's")
    for key in have:
        if key not in want:
            raise Difference(f"state_dict key {key!r} of the spec's module is not in the hand-written one")
    for key in want:
        if tuple(want[key].shape) != tuple(have[key].shape):
            raise Difference(f"shape of {key!r}: hand-written {list(want[key].shape)}, spec {list(have[key].shape)}")
    generated.load_state_dict(want, strict=True)


def random_inputs(shapes: dict, typed: dict[str, str]) -> dict:
    import torch

    generator = torch.Generator().manual_seed(SEED + 1)
    inputs = {}
    for name, shape in shapes.items():
        if isinstance(shape, (bool, int, tuple)):  # a flag, a size, a tuple of sizes
            inputs[name] = shape
        elif typed.get(name) == "int":  # ids, positions: within the input's last axis (RoPE's position_ids)
            inputs[name] = torch.randint(0, shape[-1], shape, generator=generator)
        elif typed.get(name) == "bool":  # about a third masked, never a whole row
            mask = torch.rand(shape, generator=generator, dtype=torch.float64) < 0.3
            mask[..., 0] = False
            inputs[name] = mask
        else:
            inputs[name] = torch.randn(shape, generator=generator, dtype=torch.float64)
    return inputs


def _forward_backward(reference, generated, inputs: dict, mode: str, tag: str = "") -> int:
    """Run both, compare outputs and gradients; returns how many gradients were compared."""
    import torch

    (ref_args, ref_outs), (gen_args, gen_outs) = _forward(reference, generated, inputs, mode, tag)
    generator = torch.Generator().manual_seed(SEED + 2)
    cotangents = [torch.randn(o.shape, generator=generator, dtype=o.dtype) for o in ref_outs]
    for outs in (ref_outs, gen_outs):
        total = sum((o * c).sum() for o, c in zip(outs, cotangents))
        if total.requires_grad:
            total.backward()
    grads_ref = {f"input {k}": v.grad for k, v in ref_args.items() if getattr(v, "grad", None) is not None}
    grads_gen = {f"input {k}": v.grad for k, v in gen_args.items() if getattr(v, "grad", None) is not None}
    grads_ref.update({k: p.grad for k, p in reference.named_parameters() if p.grad is not None})
    grads_gen.update({k: p.grad for k, p in generated.named_parameters() if p.grad is not None})
    _compare_tensors(f"{tag}{mode} gradient of", grads_ref, grads_gen)
    return len(grads_ref)


def _forward(reference, generated, inputs: dict, mode: str, tag: str = ""):
    """Both modules in `mode` on copies of the inputs; the outputs compared; (inputs, outputs) of each."""
    for module in (reference, generated):
        module.train(mode == "train")
        if mode == "train":
            _dropout_off(module)
        module.zero_grad(set_to_none=True)
    results = []
    for module in (reference, generated):
        args = {k: v if isinstance(v, (bool, int, tuple)) else v.clone().requires_grad_(v.dtype.is_floating_point)
                for k, v in inputs.items()}
        try:
            out = module(**args)
        except Exception as error:
            who = "hand-written" if module is reference else "spec's"
            raise Difference(f"{tag}{mode} forward of the {who} module failed: {type(error).__name__}: {error}")
        results.append((args, list(out) if isinstance(out, (tuple, list)) else [out]))
    (_, ref_outs), (_, gen_outs) = results
    if len(ref_outs) != len(gen_outs):
        raise Difference(f"{tag}{mode}: the hand-written module returns {len(ref_outs)} outputs, the spec's "
                         f"{len(gen_outs)}")
    try:
        _compare_tensors(f"{tag}{mode} output", dict(enumerate(ref_outs)), dict(enumerate(gen_outs)))
    except Difference as difference:
        if mode == "train" and _draws_randomness(reference, inputs):
            raise Difference(f"{difference}; the hand-written module gives other outputs each call in training: "
                             "it draws randomness the verifier cannot switch off (a functional dropout, "
                             "`F.dropout(x, p, training=self.training)`): build it with its dropout at 0") \
                from difference
        raise
    return results


def _draws_randomness(module, inputs: dict) -> bool:
    """Whether two calls on the same inputs (in the module's mode) give other outputs."""
    import torch

    outputs = []
    with torch.no_grad():
        for _ in range(2):
            out = module(**{k: v if isinstance(v, (bool, int, tuple)) else v.clone() for k, v in inputs.items()})
            outputs.append(list(out) if isinstance(out, (tuple, list)) else [out])
    return any(not torch.equal(a, b) for a, b in zip(*outputs) if isinstance(a, torch.Tensor))


def _dropout_off(module) -> None:
    import torch

    for child in module.modules():
        if isinstance(child, torch.nn.modules.dropout._DropoutNd):
            child.p = 0.0


def _sgd_step(reference, generated, lr: float = 0.1) -> None:
    import torch

    with torch.no_grad():
        for module in (reference, generated):
            for parameter in module.parameters():
                if parameter.grad is not None:
                    parameter -= lr * parameter.grad


def _compare_tensors(what: str, want: dict, have: dict) -> None:
    """Equal shapes, and values within RTOL of the hand-written tensor's largest magnitude;
    a tensor that is zero in exact arithmetic (the gradient of a bias a norm cancels) is
    held to a floor taken from the largest tensor of the group, not to its own rounding noise."""
    import torch

    floor = 1e-5 * max((t.abs().max().item() for t in want.values() if t.dtype.is_floating_point and t.numel()),
                       default=0.0)
    for key in want:
        a, b = want[key], have.get(key)
        if b is None:
            raise Difference(f"{what} {key}: the hand-written module has one, the spec's has none")
        if tuple(a.shape) != tuple(b.shape):
            raise Difference(f"{what} {key}: shape {list(b.shape)}, hand-written {list(a.shape)}")
        if not a.dtype.is_floating_point:
            if not torch.equal(a, b):
                raise Difference(f"{what} {key}: values differ")
            continue
        if not torch.isfinite(b).all() and torch.isfinite(a).all():
            raise Difference(f"{what} {key}: the spec's has NaN or inf values")
        scale = a.abs().max().item() if a.numel() else 0.0
        error = (a - b).abs()
        if a.numel() and error.max().item() > RTOL * max(scale, floor, 1e-300):
            index = tuple(int(i) for i in torch.unravel_index(error.argmax(), error.shape))
            raise Difference(f"{what} {key}: values differ, max |spec - hand-written| = {error.max().item():.3g} "
                             f"at {list(index)} (hand-written {a[index].item():.6g}, spec {b[index].item():.6g})")
    for key in have:
        if key not in want:
            raise Difference(f"{what} {key}: the spec's module has one, the hand-written has none")
