"""Benchmark: generated modules against the published-structure references, forward only.

    python benchmarks/run.py [--sizes realistic|example|all] [--device cpu|cuda]
                             [--dtype float32|float16|bfloat16] [--compile BACKEND]
                             [--repeats N] [--warmup N] [--threads N] [--cases SUBSTR ...]
                             [--json PATH] [--markdown PATH]

For every case (tests/realistic_cases.py at realistic sizes, tests/mechanisms.py at the
specs' example sizes) it builds, with the same constructor arguments and weights:

- `reference`: the hand-written module of tests/references/ (the published structure);
- `plain`: the spec compiled with `--no-optimize` (the dataflow as written);
- `optimized`: the spec compiled as `attndsl compile` does by default;
- with `--compile BACKEND`: `reference+compile` and `optimized+compile`, each under
  `torch.compile` (the generated module with `fullgraph=True`).

The reference is randomised (tests/harness.py) and its state_dict loaded into the
others with strict=True; all run in eval mode under `torch.inference_mode()`. Times and
peak memory are measured as benchmarks/measure.py says, all variants of a case in the
same run, so the ratios compare like with like. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import traceback
import types
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
for entry in (REPO_ROOT, REPO_ROOT / "benchmarks"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import torch  # noqa: E402

from measure import CPU_MEMORY_METHOD, CUDA_MEMORY_METHOD, peak_memory, time_interleaved  # noqa: E402
from report import markdown  # noqa: E402
from tests.cases import SPECS_DIR, Case  # noqa: E402
from tests.harness import randomize_  # noqa: E402
from tests.mechanisms import CASES  # noqa: E402
from tests.realistic_cases import REALISTIC_CASES  # noqa: E402

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_CLASSES: dict = {}


def generated_class(case: Case, optimize: bool) -> type:
    key = (case.stem, case.class_name, optimize)
    if key not in _CLASSES:
        import attndsl

        code = attndsl.compile_file(SPECS_DIR / f"{case.stem}.attn", optimize=optimize)
        name = f"_bench_{case.stem}_{'opt' if optimize else 'plain'}"
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(compile(code, f"<generated {case.stem} optimize={optimize}>", "exec"), module.__dict__)
        _CLASSES[key] = getattr(module, case.class_name)
    return _CLASSES[key]


def build_variants(case: Case, device: str, dtype: torch.dtype, backend: str | None) -> dict:
    torch.manual_seed(case.seed)
    reference = randomize_(case.build_reference().double(), case.seed)
    variants = {"reference": reference}
    for name, optimize in (("plain", False), ("optimized", True)):
        module = generated_class(case, optimize)(**dict(case.kwargs)).double()
        module.load_state_dict(reference.state_dict(), strict=True)
        variants[name] = module
    variants = {name: m.to(device=device, dtype=dtype).eval() for name, m in variants.items()}
    if backend:
        variants["reference+compile"] = torch.compile(variants["reference"], backend=backend)
        variants["optimized+compile"] = torch.compile(variants["optimized"], backend=backend, fullgraph=True)
    return variants


def bench_case(case: Case, sizes: str, ns) -> dict:
    dtype = DTYPES[ns.dtype]
    row: dict = {"case": case.id, "sizes": sizes, "class": case.class_name, "kwargs": dict(case.kwargs),
                 "inputs": {k: list(v) for k, v in case.inputs.items()}, "extras": sorted(case.extras)}
    args, kwargs = case.make_inputs(dtype=dtype, device=ns.device)
    variants = build_variants(case, ns.device, dtype, ns.compile)
    with torch.inference_mode():
        outputs = {name: module(*args, **kwargs) for name, module in variants.items()}  # compiles, too
    row["max_rel_diff"] = {name: _largest_difference(out, outputs["reference"])
                           for name, out in outputs.items() if name != "reference"}
    del outputs
    row["time"] = time_interleaved(variants, args, kwargs, ns.device, ns.warmup, ns.repeats, ns.min_time)
    row["peak_bytes"] = {name: peak_memory(module, args, kwargs, ns.device) for name, module in variants.items()}
    return row


def _largest_difference(got, want) -> float:
    """The largest difference relative to max|want|, over every output of a tuple."""
    pairs = zip(got, want) if isinstance(want, tuple) else [(got, want)]
    return max(((g.float() - w.float()).abs().max() / w.float().abs().max()).item() for g, w in pairs)


def _cases(ns) -> list[tuple[str, Case]]:
    chosen = []
    if ns.sizes in ("realistic", "all"):
        chosen += [("realistic", c) for c in REALISTIC_CASES]
    if ns.sizes in ("example", "all"):
        chosen += [("example", c) for c in CASES]
    return [(s, c) for s, c in chosen if not ns.cases or any(part in c.id for part in ns.cases)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", choices=["realistic", "example", "all"], default="realistic")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--dtype", choices=list(DTYPES), default="float32")
    p.add_argument("--compile", metavar="BACKEND", default=None,
                   help="also time both modules under torch.compile with this backend (e.g. inductor)")
    p.add_argument("--repeats", type=int, default=15, help="timed rounds at least; the median is reported")
    p.add_argument("--min-time", type=float, default=10.0,
                   help="more rounds for fast cases, until the timed rounds take this many seconds")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    p.add_argument("--cases", nargs="*", default=None, help="only cases whose id contains one of these")
    p.add_argument("--json", type=Path, default=None, help="write the raw results here")
    p.add_argument("--markdown", type=Path, default=None, help="write the markdown report here too")
    ns = p.parse_args(argv)
    if ns.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: torch.cuda.is_available() is False")
    if ns.repeats < 1:
        p.error("--repeats must be >= 1")
    if ns.threads:
        torch.set_num_threads(ns.threads)

    meta = {
        "device": ns.device,
        "device_name": torch.cuda.get_device_name() if ns.device == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
        "dtype": ns.dtype, "compile": ns.compile, "repeats": ns.repeats, "min_time_s": ns.min_time, "warmup": ns.warmup, "sizes": ns.sizes,
        "mode": "eval, torch.inference_mode, forward only",
        "time": "median of per-call time.perf_counter over rounds; every variant called once per round, rotating order",
        "memory": CUDA_MEMORY_METHOD if ns.device == "cuda" else CPU_MEMORY_METHOD,
    }
    rows = []
    for sizes, case in _cases(ns):
        print(f"... {case.id}", file=sys.stderr, flush=True)
        try:
            rows.append(bench_case(case, sizes, ns))
        except Exception:
            traceback.print_exc()
            rows.append({"case": case.id, "sizes": sizes, "error": traceback.format_exc().splitlines()[-1]})
        if ns.compile:
            torch._dynamo.reset()
    text = markdown(meta, rows)
    print(text)
    if ns.markdown:
        ns.markdown.parent.mkdir(parents=True, exist_ok=True)
        ns.markdown.write_text(text + "\n")
    if ns.json:
        ns.json.parent.mkdir(parents=True, exist_ok=True)
        ns.json.write_text(json.dumps({"meta": meta, "results": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
