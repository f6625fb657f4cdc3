#!/usr/bin/env python
"""Long fuzz run of the compiler, in-process, without pytest.

Runs the strategies of tests/fuzzing/ (the same ones tests/test_fuzz.py runs under
hypothesis) from a seeded ``random.Random``:

    python scripts/fuzz.py                      # 100000 cases, both strategies
    python scripts/fuzz.py -n 5000 --strategy generate --seed 7 --jobs 2

Prints, per strategy: cases, compiled ok, diagnostics, internal errors (and for the
generated specs how many ran, and how many stopped at a run-time check). Each distinct
internal error (exception type + innermost compiler frame) is minimised by delta
debugging and written, with its traceback, to ``--out`` (default: fuzz-crashes/ under
the system temp dir). Exit status 1 when anything crashed.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.fuzzing import (  # noqa: E402
    RandomChooser,
    check_runs,
    failure_signature,
    generate_spec,
    minimize,
    mutate_spec,
)

STRATEGIES = {
    "mutate": (mutate_spec, check_runs),
    "generate": (generate_spec, check_runs),
}


CASE_TIMEOUT = 30  # seconds; a case that takes longer is reported as a hang


class CaseTimeout(Exception):
    """A case ran longer than CASE_TIMEOUT (a hang or an exponential blow-up)."""


def _alarm(signum, frame):
    raise CaseTimeout(f"the case ran longer than {CASE_TIMEOUT} s")


def run_case(strategy: str, seed: int):
    """(outcome, source, path, error or None) of one case."""
    make, oracle = STRATEGIES[strategy]
    path, source = make(RandomChooser(random.Random(seed)))
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT)
    try:
        return oracle(source, path), source, path, None
    except Exception as error:  # noqa: BLE001 - an escaping exception is the finding
        return "internal-error", source, path, error
    finally:
        signal.alarm(0)


def _worker(args):
    strategy, start, count, deadline = args
    warnings.simplefilter("ignore")  # torch's (std of one element, even 'same' kernels): not findings
    counts = Counter()
    failures = []
    seen = set()
    for seed in range(start, start + count):
        if deadline and time.time() > deadline:
            break
        outcome, source, path, error = run_case(strategy, seed)
        counts["cases"] += 1
        counts[outcome] += 1
        if error is not None:
            signature = ("CaseTimeout", "") if isinstance(error, CaseTimeout) else failure_signature(error)
            if signature not in seen:
                seen.add(signature)
                failures.append((signature, seed, path, source, _format(error)))
    return strategy, counts, failures


def _format(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def _still_fails(strategy: str, signature, path: str):
    _, oracle = STRATEGIES[strategy]

    def fails(source: str) -> bool:
        try:
            oracle(source, path)
        except Exception as error:  # noqa: BLE001
            return failure_signature(error) == signature
        return False

    return fails


def _progress(totals, began) -> None:
    done = sum(t["cases"] for t in totals.values())
    errors = sum(t["internal-error"] for t in totals.values())
    print(f"  ... {done} cases, {errors} internal errors, {time.time() - began:.0f} s", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--cases", type=int, default=100_000, help="total cases (split over strategies)")
    parser.add_argument("--strategy", choices=["all", *STRATEGIES], default="all")
    parser.add_argument("--seed", type=int, default=0, help="first seed; case i uses seed + i")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--minutes", type=float, default=0, help="stop after this long (0: no limit)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "fuzz-crashes")
    parser.add_argument("--no-minimize", action="store_true")
    args = parser.parse_args(argv)

    strategies = list(STRATEGIES) if args.strategy == "all" else [args.strategy]
    deadline = time.time() + args.minutes * 60 if args.minutes else 0
    per_strategy = args.cases // len(strategies)
    tasks = []
    chunk = max(1, per_strategy // max(1, args.jobs * 4))
    if deadline:  # small chunks, so that a time limit (with a large -n) still reaches every strategy
        chunk = min(chunk, 200)
    for start in range(0, per_strategy, chunk):  # interleaved, so a time limit cuts both strategies alike
        for strategy in strategies:
            tasks.append((strategy, args.seed + start, min(chunk, per_strategy - start), deadline))

    warnings.simplefilter("ignore")
    totals = {s: Counter() for s in strategies}
    failures = {}
    began = time.time()
    if args.jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = pool.imap_unordered(_worker, tasks)
            for strategy, counts, found in results:
                totals[strategy] += counts
                for signature, *rest in found:
                    failures.setdefault((strategy, signature), rest)
                _progress(totals, began)
    else:
        for task in tasks:
            strategy, counts, found = _worker(task)
            totals[strategy] += counts
            for signature, *rest in found:
                failures.setdefault((strategy, signature), rest)
            _progress(totals, began)
    elapsed = time.time() - began

    print(f"{sum(t['cases'] for t in totals.values())} cases in {elapsed:.0f} s")
    for strategy, counts in totals.items():
        compiled = counts["ok"] + counts["runtime-check"] + counts["no-example"] + counts["too-large"] + \
            counts["torch-check"] + counts["outside-contract"]
        print(f"{strategy:>9}: cases {counts['cases']}, compiled ok {compiled}, diagnostics {counts['diagnostics']}, "
              f"internal errors {counts['internal-error']}")
        print(f"{'':>9}  of those compiled: ran to the inferred shapes {counts['ok']}, stopped by a run-time check "
              f"{counts['runtime-check']}, stopped by torch on an if/else-joined size {counts['torch-check']}, "
              f"no example {counts['no-example']}, too large to run {counts['too-large']}, sizes < 1 not run "
              f"{counts['outside-contract']}")

    if failures:
        args.out.mkdir(parents=True, exist_ok=True)
        print(f"\n{len(failures)} distinct internal error(s); reproducers in {args.out}:")
    for index, ((strategy, signature), (seed, path, source, trace)) in enumerate(sorted(failures.items(), key=str)):
        slow = signature[0] == "CaseTimeout"  # minimising a hang would take hours
        minimal = source if args.no_minimize or slow else minimize(source, _still_fails(strategy, signature, path))
        stem = f"{strategy}-{index:02d}-{signature[0]}"
        (args.out / f"{stem}.attn").write_text(minimal, encoding="utf-8")
        (args.out / f"{stem}.txt").write_text(
            f"strategy {strategy}, seed {seed}, signature {signature}\n\n--- minimal\n{minimal}\n--- original\n"
            f"{source}\n--- traceback\n{trace}", encoding="utf-8")
        print(f"  {stem}: {signature} (seed {seed})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
