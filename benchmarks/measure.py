"""Timing and peak memory of forward calls (no assertions here: numbers for reading).

- time: every module is called once per round, in an order that rotates from round to
  round (so drift and cache warmth hit all alike); each call is timed with
  `time.perf_counter`, synchronised on CUDA; the median over the rounds is reported,
  with the quartiles. There are at least `repeats` rounds, and more for fast modules,
  until the timed rounds take `min_time` seconds: a 1 ms block needs thousands of calls
  before a shared machine's scheduling noise averages out.
- peak memory: bytes allocated during one call above what was allocated just before
  it (weights and inputs are not counted, the output is). CUDA: the caching
  allocator's `max_memory_allocated` after a reset. CPU: `torch.profiler` with
  `profile_memory=True`; the allocator's alloc/free events of the call are replayed in
  time order and the running total's maximum is taken (the CPU allocator does not
  cache, so every allocation is seen).
"""

from __future__ import annotations

import statistics
import time

import torch

CPU_MEMORY_METHOD = "torch.profiler(profile_memory=True): peak of the replayed alloc/free events of one call"
CUDA_MEMORY_METHOD = "torch.cuda.max_memory_allocated() after a reset, minus memory_allocated() before the call"


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_interleaved(modules: dict, args, kwargs, device: str, warmup: int, repeats: int,
                     min_time: float = 0.0, max_rounds: int = 2000) -> dict[str, dict]:
    """{name: {"median_ms", "q1_ms", "q3_ms", "samples_ms"}} for each module, calls interleaved."""
    names = list(modules)
    with torch.inference_mode():
        warm_rounds = []
        for _ in range(max(warmup, 1)):
            t0 = time.perf_counter()
            for name in names:
                modules[name](*args, **kwargs)
            _sync(device)
            warm_rounds.append(time.perf_counter() - t0)
        per_round = max(min(warm_rounds), 1e-6)  # a round the scheduler did not interrupt
        rounds = max(repeats, min(max_rounds, int(min_time / per_round)))
        samples: dict[str, list[float]] = {name: [] for name in names}
        for round_ in range(rounds):
            start = round_ % len(names)
            for name in names[start:] + names[:start]:
                _sync(device)
                t0 = time.perf_counter()
                modules[name](*args, **kwargs)
                _sync(device)
                samples[name].append((time.perf_counter() - t0) * 1e3)
    out = {}
    for name, values in samples.items():
        quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        out[name] = {"median_ms": statistics.median(values), "q1_ms": quartiles[0], "q3_ms": quartiles[2],
                     "samples_ms": [round(v, 4) for v in values]}
    return out


def peak_memory(module, args, kwargs, device: str) -> int | None:
    """Peak bytes allocated during one call, above the allocation level before it."""
    with torch.inference_mode():
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            out = module(*args, **kwargs)
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - base
            del out
            return peak
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out = module(*args, **kwargs)
        del out
        try:
            events = [e for e in prof.profiler.kineto_results.events()
                      if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU]
        except AttributeError:  # private API moved: report nothing rather than a wrong number
            return None
        current = peak = 0
        for event in sorted(events, key=lambda e: e.start_ns()):
            current += event.nbytes()
            peak = max(peak, current)
        return peak
