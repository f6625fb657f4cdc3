"""Generated modules leave PyTorch: ONNX (the dynamo exporter, run in onnxruntime) and
two-process DistributedDataParallel training (gloo on 127.0.0.1).

ONNX export costs about 1.5-3 s per module on this 2-core machine (the first one 4-5 s
more, loading the exporter), too much for every spec of a growing catalogue, so by
default a representative subset is exported: a few specs that together use every layer
kind and every op beyond the plain elementwise ones and reductions that the catalogue
uses (a greedy cover, recomputed as specs are added). Set ATTNDSL_TEST_EXPORT_ALL=1 to
export every spec in specs/.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from .mechanisms import REPO_ROOT
from .ddp_case import ddp_setup
from .tool_support import SPECS, generated_class, optimized

EXPORT_ALL = os.environ.get("ATTNDSL_TEST_EXPORT_ALL") == "1"


# Elementwise ops, reductions and the IR's own plumbing export as single ONNX ops that
# every module exercises; the subset is chosen by the rest.
PLAIN = {"add", "sub", "mul", "div", "pow", "neg", "sigmoid", "exp", "relu", "tanh", "abs", "sqrt", "log", "sum",
         "mean", "max", "min", "std", "var", "input", "param", "scalar", "item", "phi", "call_layer", "loop_layer",
         "list_comp"}


def _features(path) -> set[str]:
    """The ops (but the plain ones) and layer kinds a spec's generated code uses."""
    found = set()
    for ir in optimized(path):
        found |= {f"op:{attrs['op']}" for _, attrs in ir.graph.nodes(data=True) if attrs["op"] not in PLAIN}
        stack = [info.spec or info.element for info in ir.layers]
        while stack:
            spec = stack.pop()
            if spec.kind not in ("sequential", "block"):
                found.add(f"layer:{spec.kind}")
            stack += [child for _, child in spec.children]
    return found


def representative(paths) -> list:
    """A greedy cover of every feature the catalogue uses, most new features first."""
    features = {path: _features(path) for path in paths}
    left, chosen = set().union(*features.values()), []
    while left:
        best = max(paths, key=lambda p: (len(features[p] & left), -paths.index(p)))
        chosen.append(best)
        left -= features[best]
    return sorted(chosen)


EXPORTED = SPECS if EXPORT_ALL else representative(SPECS)


def _example_module(path):
    ir = optimized(path)[-1]
    example = ir.examples[0]
    module = generated_class(path, ir.name)(**{a.name: example[a.name] for a in ir.args if a.name in example})
    generator = torch.Generator().manual_seed(0)
    inputs = tuple(torch.randn(example[i.name], generator=generator) for i in ir.inputs if i.name in example)
    return module.eval(), inputs


@pytest.mark.parametrize("path", EXPORTED, ids=lambda p: p.stem)
def test_onnx_export_runs_in_onnxruntime(path):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    module, inputs = _example_module(path)
    start = time.perf_counter()
    program = torch.onnx.export(module, inputs, dynamo=True, verbose=False)
    print(f"\nONNX export of specs/{path.name}: {time.perf_counter() - start:.2f} s")
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    outputs = session.run(None, {name: tensor.numpy() for name, tensor in zip(names, inputs)})
    with torch.no_grad():
        wanted = module(*inputs)
    wanted = wanted if isinstance(wanted, tuple) else (wanted,)  # several outputs: MultiHeadAttention
    assert len(outputs) == len(wanted)
    for got, want in zip(outputs, wanted):
        assert got.shape == tuple(want.shape)
        error = torch.from_numpy(got).sub(want).abs().max().item()
        assert error <= 1e-4 * want.abs().max().item(), error


def test_the_subset_covers_the_catalogue():
    assert set().union(*map(_features, EXPORTED)) == set().union(*map(_features, SPECS))


WORKER = textwrap.dedent("""
    import os, sys, traceback
    rank, port, result = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    try:
        import torch, torch.distributed as dist
        sys.path.insert(0, {root!r})
        from tests.ddp_case import ddp_setup
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{{port}}", rank=rank, world_size=2)
        model, inputs, optimizer_step = ddp_setup()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        half = [x.chunk(2)[rank] for x in inputs]
        ddp(*half).pow(2).mean().backward()
        grads = {{name: p.grad for name, p in model.named_parameters()}}
        optimizer_step(model)
        torch.save({{"grads": grads, "params": dict(model.named_parameters())}}, result)
        dist.destroy_process_group()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: gloo's threads abort it now and then
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_ddp_training_step_matches_one_process(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(root=str(REPO_ROOT)))
    port = str(_free_port())
    environment = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen([sys.executable, str(script), str(rank), port, str(tmp_path / f"rank{rank}.pt")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, cwd=REPO_ROOT)
               for rank in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err.decode()[-3000:]
    model, inputs, step = ddp_setup()
    model(*inputs).pow(2).mean().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    step(model)
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        for name, grad in grads.items():
            torch.testing.assert_close(result["grads"][name], grad, rtol=1e-10, atol=1e-12, msg=name)
            torch.testing.assert_close(result["params"][name], dict(model.named_parameters())[name].detach(),
                                       rtol=1e-10, atol=1e-12, msg=name)
