"""Compiling many specs at once: `attndsl compile specs/*.attn`, one spec per worker process.

The specs of one command are independent, so they compile side by side, as `make -j` runs
independent rules: the workers are forked after the compiler (and its Lark parser) is
loaded, so each starts at once with everything imported, and they hand back what the
compiler produced (diagnostics, sources, code). The caller prints and writes it in the
order the specs were given, so the output is the same as one by one. Where fork is not
the way processes start (macOS, Windows), one core, or one spec: one by one.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple


class Job(NamedTuple):
    display: str
    source: str
    write: bool  # compile (True) or only check (False)
    options: dict


class Done(NamedTuple):
    diagnostics: list
    sources: dict  # the texts of imported specs, for printing their diagnostics
    code: str | None  # unformatted; None for a check or a spec with errors


def run(job: Job) -> Done:
    from .compiler import analyze, compile_source

    if not job.write:
        _, sink = analyze(job.source, job.display)
        return Done(sink.items, sink.sources, None)
    result = compile_source(job.source, job.display, runtime_checks=job.options["runtime_checks"],
                            optimize=job.options["optimize"], format=False)
    return Done(result.diagnostics, result.sources, result.code)


def run_all(jobs: list[Job], workers: int | None = None) -> list[Done]:
    """Every job's result, in order; `workers` processes at most (default: the cores)."""
    workers = min(len(jobs), workers or _cores())
    if workers <= 1 or not sys.platform.startswith("linux"):
        return [run(job) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .parser import preload

    preload()
    # Costly specs first, so no worker is left with one at the end: a longer spec checks longer.
    order = sorted(range(len(jobs)), key=lambda index: -len(jobs[index].source))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        finished = dict(zip(order, pool.map(run, [jobs[index] for index in order])))
    return [finished[index] for index in range(len(jobs))]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1
