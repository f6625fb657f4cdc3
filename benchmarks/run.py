"""Benchmark: generated modules vs hand-written references, forward only.

    python benchmarks/run.py [--device cpu|cuda] [--repeats N] [--warmup N] [--json PATH]
                             [--cases SUBSTR ...] [--threads N]

For every case of ``tests/mechanisms.py`` (the example sizes): both modules are built
with the same arguments, the reference is randomised and its state_dict loaded into
the generated module (the same path as the equivalence tests), then both run in
float32, eval mode, under ``torch.no_grad()``.

- time: after the warm-up, the reference and the generated module are called
  alternately (so drift affects both alike); each call is timed with
  ``time.perf_counter`` (with ``torch.cuda.synchronize`` before and after on CUDA) and
  the median of the N repeats is reported.
- peak memory: the peak of the bytes allocated during one forward call above what was
  allocated just before it (so weights and inputs are not counted, the output is).
  CUDA: ``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()``.
  CPU: ``torch.profiler`` with ``profile_memory=True``; the allocator's raw
  alloc/free events of the call are replayed in time order and the running total's
  maximum is taken (the CPU allocator does not cache, so every allocation is seen).
Nothing here asserts anything about the timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from tests.harness import build_pair, generated_class, randomize_  # noqa: E402
from tests.mechanisms import CASES, Case  # noqa: E402

CPU_MEMORY_METHOD = "CPU: torch.profiler(profile_memory=True), peak of the replayed alloc/free events of one call"
CUDA_MEMORY_METHOD = "CUDA: torch.cuda.max_memory_allocated() after reset, minus memory_allocated() before the call"


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _call(module, args, kwargs):
    return module(*args, **kwargs)


def time_pair(
    modules, args, kwargs, device: str, warmup: int, repeats: int
) -> list[float]:
    """Median seconds per call for each module, calls interleaved."""
    with torch.no_grad():
        for _ in range(warmup):
            for m in modules:
                _call(m, args, kwargs)
        _sync(device)
        samples = [[] for _ in modules]
        for _ in range(repeats):
            for i, m in enumerate(modules):
                _sync(device)
                t0 = time.perf_counter()
                _call(m, args, kwargs)
                _sync(device)
                samples[i].append(time.perf_counter() - t0)
    return [statistics.median(s) for s in samples]


def peak_memory(module, args, kwargs, device: str) -> int | None:
    """Peak bytes allocated during one call, above the allocation level before it."""
    with torch.no_grad():
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            out = _call(module, args, kwargs)
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - base
            del out
            return peak
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out = _call(module, args, kwargs)
        del out
        try:
            events = [
                e
                for e in prof.profiler.kineto_results.events()
                if e.name() == "[memory]"
                and e.device_type() == torch.autograd.DeviceType.CPU
            ]
        except (
            AttributeError
        ):  # private API moved: report nothing rather than a wrong number
            return None
        current = peak = 0
        for e in sorted(events, key=lambda e: e.start_ns()):
            current += e.nbytes()
            peak = max(peak, current)
        return peak


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    return f"{n / 1024:.1f} KiB"


def _ratio(a, b) -> str:
    if a is None or b is None or not b:
        return "n/a"
    return f"{a / b:.2f}"


def bench_case(case: Case, device: str, warmup: int, repeats: int) -> dict:
    row: dict = {"case": case.id, "stem": case.stem, "class": case.class_name}
    args, kwargs = case.make_inputs(dtype=torch.float32, device=device)
    try:
        ref, gen = build_pair(case, generated_class(case))
        gen = gen.float().to(device)
    except (
        Exception
    ) as e:  # compiler missing, bad spec, load failure: time the reference alone
        row["generated_error"] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        torch.manual_seed(case.seed)
        ref = randomize_(case.build_reference().double().eval(), case.seed)
        gen = None
    ref = ref.float().to(device)

    modules = [ref] if gen is None else [ref, gen]
    times = time_pair(modules, args, kwargs, device, warmup, repeats)
    row["ref_ms"] = times[0] * 1e3
    row["ref_peak_bytes"] = peak_memory(ref, args, kwargs, device)
    if gen is not None:
        row["gen_ms"] = times[1] * 1e3
        row["gen_peak_bytes"] = peak_memory(gen, args, kwargs, device)
        with torch.no_grad():
            a, b = ref(*args, **kwargs), gen(*args, **kwargs)
        row["out_max_rel_diff"] = ((a - b).abs().max() / a.abs().max()).item()
    return row


def markdown(rows: list[dict]) -> str:
    lines = [
        "| case | ref ms | generated ms | ratio (gen/ref) | ref peak | generated peak | memory ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "gen_ms" in r:
            lines.append(
                f"| {r['case']} | {r['ref_ms']:.3f} | {r['gen_ms']:.3f} | {_ratio(r['gen_ms'], r['ref_ms'])} | "
                f"{_fmt_bytes(r['ref_peak_bytes'])} | {_fmt_bytes(r['gen_peak_bytes'])} | "
                f"{_ratio(r['gen_peak_bytes'], r['ref_peak_bytes'])} |"
            )
        else:
            lines.append(
                f"| {r['case']} | {r['ref_ms']:.3f} | n/a | n/a | {_fmt_bytes(r['ref_peak_bytes'])} | n/a | n/a |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument(
        "--repeats",
        type=int,
        default=30,
        help="timed calls per module (median reported)",
    )
    p.add_argument(
        "--warmup", type=int, default=5, help="untimed calls per module first"
    )
    p.add_argument(
        "--json", type=Path, default=None, help="also write the raw results here"
    )
    p.add_argument(
        "--cases",
        nargs="*",
        default=None,
        help="only cases whose id contains one of these",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (CPU)"
    )
    ns = p.parse_args(argv)

    if ns.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: torch.cuda.is_available() is False")
    if ns.repeats < 1:
        p.error("--repeats must be >= 1")
    if ns.threads:
        torch.set_num_threads(ns.threads)

    cases = [c for c in CASES if not ns.cases or any(s in c.id for s in ns.cases)]
    meta = {
        "device": ns.device,
        "device_name": (
            torch.cuda.get_device_name()
            if ns.device == "cuda"
            else platform.processor() or platform.machine()
        ),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "repeats": ns.repeats,
        "warmup": ns.warmup,
        "dtype": "float32",
        "mode": "eval, torch.no_grad, forward only",
        "time": "median of per-call time.perf_counter, reference and generated interleaved",
        "memory": CUDA_MEMORY_METHOD if ns.device == "cuda" else CPU_MEMORY_METHOD,
    }
    rows = []
    for case in cases:
        try:
            rows.append(bench_case(case, ns.device, ns.warmup, ns.repeats))
        except Exception:
            traceback.print_exc()
            rows.append(
                {"case": case.id, "error": traceback.format_exc().splitlines()[-1]}
            )

    print(
        f"# attndsl benchmark: generated vs reference ({meta['device']}, {meta['device_name']})"
    )
    print()
    print(
        f"torch {meta['torch']}, {meta['threads']} threads, {meta['dtype']}, {meta['mode']}; "
        f"time = {meta['time']} ({ns.repeats} repeats after {ns.warmup} warm-up calls)."
    )
    print(
        f"Peak memory = peak bytes allocated during one call above the level before it; {meta['memory']}."
    )
    print()
    print(markdown([r for r in rows if "error" not in r]))
    errors = [r for r in rows if "error" in r or "generated_error" in r]
    if errors:
        print()
        for r in errors:
            print(
                f"- {r['case']}: {r.get('error') or 'generated module unavailable: ' + r['generated_error']}"
            )
    diffs = [r["out_max_rel_diff"] for r in rows if "out_max_rel_diff" in r]
    if diffs:
        print()
        print(
            f"Largest float32 output difference generated vs reference (relative to max|ref|): {max(diffs):.2e}"
        )
    if ns.json:
        ns.json.parent.mkdir(parents=True, exist_ok=True)
        ns.json.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
