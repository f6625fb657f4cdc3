#!/usr/bin/env python
"""Long differential campaign: generated modules against the interpreter, without pytest.

    python scripts/differential.py -n 5000 --jobs 2            # 5000 random specs, 4 cases each
    python scripts/differential.py -n 100000 --jobs 2 --minutes 120 --out /tmp/diff

Each spec comes from tests/differential_specs.py (seeded `random.Random(seed + i)`), each
case is judged by tests/differential.py: both refuse, or both return equal values with the
inferred shapes. Prints the counts (specs, cases, agreements, refusals, disagreements) and
the disagreements by category (stage, kind, error, message head). The first finding of
each category is minimised (delta debugging on the spec, its case kept) and written to
``--out`` as a regression spec: a `# differential: {json}` header (args, input shapes)
followed by the spec, the form tests/differential_regressions/ holds. Exit status 1 when
anything disagreed, 2 when the interpreter itself failed (an InterpreterBug).
"""

from __future__ import annotations

import argparse
import random
import re
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

from tests.differential import (  # noqa: E402
    Case, Disagreement, check_examples, compile_both, run_case, write_regression)
from tests.differential_bugs import ACCEPTED, OPEN, classify  # noqa: E402
from tests.differential_cases import make_cases  # noqa: E402
from tests.differential_specs import generate  # noqa: E402
from tests.fuzzing import RandomChooser, minimize  # noqa: E402

CASE_TIMEOUT = 60  # seconds per spec; longer is reported as a hang
CASES_PER_SPEC = 4
OPTIMIZE = True  # compare the optimised generated modules (--no-optimize: the plain ones)


class SpecTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise SpecTimeout(f"the spec took longer than {CASE_TIMEOUT} s")


def category(error: BaseException, compiled=None, case=None) -> tuple:
    """Findings of one kind: the bug class (tests/differential_bugs.py), stage and kind; for a
    disagreement no class explains, the head of the message too (numbers and names blurred)."""
    if not isinstance(error, Disagreement):
        return ("CRASH", "crash", type(error).__name__, "")
    bug = classify(error, compiled, case) if compiled is not None else None
    if bug is not None:
        return (bug, error.stage, error.kind, "")
    head = re.sub(r"\d+", "N", error.detail)
    head = re.sub(r"`[^`]*`|'[^']*'|\[[^\]]*\]|\([^)]*\)", "_", head)
    head = re.sub(r"\b[a-z][a-z0-9_]{0,2}\b", "_", head)  # spec names (x, m0, ln7, ...)
    return ("UNCLASSIFIED", error.stage, error.kind, " ".join(head.split()[:6]))


def run_spec(seed: int):
    """(counts, findings): findings are (category, seed, source, case, message)."""
    counts, findings = Counter(), []
    ch = RandomChooser(random.Random(seed))
    try:
        spec = generate(ch)
    except Exception as error:  # noqa: BLE001 - the generator's own bug: reported, not fatal
        counts["crashes"] += 1
        findings.append((("CRASH", "generator", type(error).__name__, ""), seed, "", None,
                         "".join(traceback.format_exception(error))))
        return counts, findings
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_TIMEOUT)
    try:
        compiled = compile_both(spec.source, optimize=OPTIMIZE)
        if compiled is None:
            counts["specs with diagnostics"] += 1
            return counts, findings
        counts["specs compiled"] += 1
        try:
            check_examples(compiled)
        except Disagreement as error:
            counts["disagreements"] += 1
            findings.append((category(error, compiled, Case({}, {})), seed, spec.source, Case({}, {}), str(error)))
        for case in make_cases(compiled.ir, spec, ch, CASES_PER_SPEC):
            counts["cases"] += 1
            try:
                counts[run_case(compiled, case)] += 1
            except Disagreement as error:
                counts["disagreements"] += 1
                findings.append((category(error, compiled, case), seed, spec.source, case, str(error)))
    except Exception as error:  # noqa: BLE001 - the compiler or the interpreter crashed
        counts["crashes"] += 1
        findings.append((category(error), seed, spec.source, None, "".join(traceback.format_exception(error))))
    finally:
        signal.alarm(0)
    return counts, findings


def _worker(task):
    start, count, deadline = task
    warnings.simplefilter("ignore")
    counts, findings, seen = Counter(), [], set()
    for seed in range(start, start + count):
        if deadline and time.time() > deadline:
            break
        counts["specs"] += 1
        spec_counts, spec_findings = run_spec(seed)
        counts += spec_counts
        for finding in spec_findings:
            counts["category " + " | ".join(finding[0])] += 1
            if finding[0] not in seen:
                seen.add(finding[0])
                findings.append(finding)
    return counts, findings


def still_disagrees(wanted: tuple, case: Case):
    def fails(source: str) -> bool:
        compiled = compile_both(source, optimize=OPTIMIZE)
        if compiled is None:
            return False
        names = {a.name for a in compiled.ir.args}
        inputs = {i.name for i in compiled.ir.inputs}
        trimmed = Case({k: v for k, v in case.args.items() if k in names},
                       {k: v for k, v in case.inputs.items() if k in inputs}, case.bool_inputs & inputs, case.seed,
                       int_inputs=case.int_inputs & inputs)
        try:
            if wanted[1] == "example":
                check_examples(compiled)
            else:
                run_case(compiled, trimmed)
        except Disagreement as error:
            return category(error, compiled, trimmed) == wanted
        return False

    return fails


def _write_finding(item) -> str:
    """Minimise one finding (its case kept) and write it as a regression spec; a line to print."""
    index, key, (_, seed, source, case, message), args = item
    warnings.simplefilter("ignore")
    stem = f"{index:03d}-" + re.sub(r"[^a-z0-9]+", "-", " ".join(key[:3]).lower()).strip("-")[:70]
    if case is None:  # a crash: keep the spec and the traceback
        (args.out / f"{stem}.txt").write_text(f"seed {seed}\n{source}\n{message}", encoding="utf-8")
        return f"  {stem}: {key} (seed {seed})"
    minimal = source if args.no_minimize else minimize(source, still_disagrees(key, case), args.max_steps)
    compiled = compile_both(minimal, optimize=OPTIMIZE)
    names = {a.name for a in compiled.ir.args} if compiled else set(case.args)
    inputs = {i.name for i in compiled.ir.inputs} if compiled else set(case.inputs)
    trimmed = Case({k: v for k, v in case.args.items() if k in names},
                   {k: v for k, v in case.inputs.items() if k in inputs}, case.bool_inputs & inputs, case.seed,
                   int_inputs=case.int_inputs & inputs)
    extra = {"found": " | ".join(key)} if OPTIMIZE else {"found": " | ".join(key), "optimize": False}
    (args.out / f"{stem}.attn").write_text(write_regression(minimal, trimmed, **extra), encoding="utf-8")
    return f"  {stem}: {key} (seed {seed})\n      {message.splitlines()[0][:160]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--specs", type=int, default=2000, help="random specs (each run on 4 cases)")
    parser.add_argument("--seed", type=int, default=0, help="first seed; spec i uses seed + i")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--minutes", type=float, default=0, help="stop after this long (0: no limit)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "differential-findings")
    parser.add_argument("--no-minimize", action="store_true")
    parser.add_argument("--max-steps", type=int, default=800, help="delta-debugging steps per finding")
    parser.add_argument("--no-optimize", action="store_true", help="compare the unoptimised generated modules")
    args = parser.parse_args(argv)
    global OPTIMIZE
    OPTIMIZE = not args.no_optimize

    deadline = time.time() + args.minutes * 60 if args.minutes else 0
    chunk = max(1, min(200, args.specs // max(1, args.jobs * 8)))
    tasks = [(args.seed + start, min(chunk, args.specs - start), deadline) for start in range(0, args.specs, chunk)]
    warnings.simplefilter("ignore")
    totals, findings = Counter(), {}
    began = time.time()

    def collect(result):
        counts, found = result
        totals.update(counts)
        for finding in found:
            if finding[0] not in findings:  # said at once: a long campaign may be cut short
                print(f"  new: {' | '.join(finding[0])} (seed {finding[1]})", file=sys.stderr, flush=True)
            findings.setdefault(finding[0], finding)
        print(f"  ... {totals['specs']} specs, {totals['cases']} cases, {totals['disagreements']} disagreements, "
              f"{len(findings)} categories, {time.time() - began:.0f} s", file=sys.stderr, flush=True)

    if args.jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            for result in pool.imap_unordered(_worker, tasks):
                collect(result)
    else:
        for task in tasks:
            collect(_worker(task))

    print(f"{totals['specs']} specs in {time.time() - began:.0f} s: {totals['specs compiled']} compiled, "
          f"{totals['specs with diagnostics']} refused by the checker, {totals['crashes']} crashes")
    print(f"{totals['cases']} cases: {totals['agree']} agree on values, "
          f"{sum(v for k, v in totals.items() if k.startswith('both refused'))} both refuse, "
          f"{totals['disagreements']} disagree")
    classes = Counter()
    for key, value in totals.items():
        if key.startswith("category "):
            classes[key[len("category "):].split(" | ")[0]] += value
    print("disagreements by bug class (* = not in tests/differential_bugs.py OPEN):")
    for name, value in classes.most_common():
        print(f"  {value:6d}  {name}{'' if name in OPEN | ACCEPTED else '  *'}")
    print("by class, stage and kind:")
    for key, value in sorted(((k, v) for k, v in totals.items() if k.startswith("category ")), key=lambda kv: -kv[1]):
        print(f"  {value:6d}  {key[len('category '):]}")

    if findings:
        args.out.mkdir(parents=True, exist_ok=True)
        print(f"\n{len(findings)} categories; minimal reproducers in {args.out}:")
    items = [(index, key, finding, args) for index, (key, finding) in enumerate(sorted(findings.items(), key=str))]
    if args.jobs > 1 and items:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            reports = list(pool.imap(_write_finding, items))
    else:
        reports = [_write_finding(item) for item in items]
    for report in reports:
        print(report)
    interpreter_failed = any("InterpreterBug" in finding[4] for finding in findings.values())
    return 2 if interpreter_failed else 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
