#!/usr/bin/env python
"""Mutation campaign on the compiler: do the tests catch a broken compiler?

Each mutant (scripts/mutants.py) is one small, plausible slip in one compiler module: a
flipped comparison, an off-by-one, a dropped guard or parenthesis, a wrong default, a
swapped operand. For each, this script

1. copies a snapshot of the checkout (attndsl/, grammars/, templates/, tests/, specs/,
   pyproject.toml), taken once at the start, into a fresh temp dir (the checkout itself is
   never touched: others work in it),
2. applies the mutation there, failing loudly when the original snippet does not occur
   exactly once (the code changed: the mutant must be brought up to date),
3. runs the semantic tests there, `PYTHONPATH=<tempdir>` first, stopping at the first
   failure (`-x`), with a time limit, and
4. records killed (a test failed, and which) or survived.

Freshness checks (generated/ and docs/ are current) are not run: a mutant they would
notice changes output text, not behaviour, and does not count as caught. Tests that
already fail on the unmutated snapshot (someone's work in progress) are deselected.

    python scripts/mutate.py --check             # every mutant still applies (nothing run)
    python scripts/mutate.py --jobs 2            # the whole campaign
    python scripts/mutate.py --only stack_axis_rank --only elif_order
    python scripts/mutate.py --list

Writes build/mutation/report.json and report.md (`--out`). Exit status 1 when a
non-equivalent mutant survived or a mutant no longer applies.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutants import MUTANTS, Mutant  # noqa: E402

COPIED = ("attndsl", "grammars", "templates", "tests", "specs", "pyproject.toml")

# Fast and focused first: with -x a caught mutant stops at its first failure.
TEST_FILES = (
    "tests/test_compiler_mutants.py",
    "tests/test_errors.py",
    "tests/test_soundness.py",
    "tests/test_passes.py",
    "tests/test_fold_constants.py",
    "tests/test_fold_layout.py",
    "tests/test_fuse_attention.py",
    "tests/test_reassociate.py",
    "tests/test_codegen.py",
    "tests/test_trial7_findings.py",
    "tests/test_spec_mutations.py",
    "tests/test_equivalence.py",
    "tests/test_differential.py",
    "tests/test_symbolic.py",
    "tests/test_fuzz.py",
)
QUICK = 3  # the first files: a session of their own (see run_mutant)
# Of test_equivalence, the value comparisons (the rest re-checks signatures and state_dict
# keys, which the other files cover); everything else runs whole.
KEYWORDS = "not test_equivalence or forward_float64 or train_mode"
# Freshness checks: they compare committed text with what the compiler writes.
# Text checks, not behaviour: a mutant changes the text they look at (the mutants' own
# originals, which no longer occur once applied), so they would "kill" every mutant.
FRESHNESS = ("tests/test_errors.py::test_docs_errors_md_is_current",
             "tests/test_compiler_mutants.py::test_every_mutant_still_applies")


@dataclass
class Outcome:
    name: str
    path: str
    description: str
    status: str  # killed | survived | timeout | error (the run itself failed) | stale
    killer: str | None = None
    seconds: float = 0.0
    equivalent: bool = False
    why: str = ""
    detail: str = ""


# ---------------------------------------------------------------------------- mutation


class StaleMutant(Exception):
    pass


def apply(mutant: Mutant, root: Path) -> None:
    """Apply `mutant` under `root`; StaleMutant when its snippet is not there exactly once."""
    path = root / mutant.path
    if not path.is_file():
        raise StaleMutant(f"{mutant.name}: {mutant.path} does not exist")
    text = path.read_text(encoding="utf-8")
    count = text.count(mutant.original)
    if count != 1:
        raise StaleMutant(f"{mutant.name}: the original snippet occurs {count} times in {mutant.path} "
                          f"(expected once): update the mutant")
    path.write_text(text.replace(mutant.original, mutant.mutated), encoding="utf-8")


def snapshot(destination: Path) -> Path:
    """A copy of what the tests need, taken once: mutants run against one consistent tree."""
    destination.mkdir(parents=True)
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name,
                            ignore=shutil.ignore_patterns(".pytest_cache", ".hypothesis", "*.pyc", "__pycache__"))
        elif source.is_file():
            shutil.copy2(source, destination / name)
    return destination


# ---------------------------------------------------------------------------- running


def pytest_command(root: Path, junit: Path, deselected: list[str], stop_first: bool,
                   files: tuple[str, ...] = TEST_FILES) -> list[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-seed=0",
               "-o", "addopts=", "-k", KEYWORDS, f"--junitxml={junit}"]
    if stop_first:
        command.append("-x")
    for node in FRESHNESS + tuple(deselected):
        command += ["--deselect", node]
    return command + [f for f in files if (root / f.split("::")[0]).is_file()]


def run_tests(root: Path, deselected: list[str], timeout: float, stop_first: bool = True,
              files: tuple[str, ...] = TEST_FILES):
    """(return code, or None on timeout; failed test ids; output tail; seconds)."""
    junit = root / "junit.xml"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["ATTNDSL_CACHE_DIR"] = str(root / ".attndsl-cache")  # never share a compile cache
    env.pop("PYTEST_ADDOPTS", None)
    start = time.monotonic()
    try:
        process = subprocess.run(pytest_command(root, junit, deselected, stop_first, files), cwd=root, env=env,
                                 capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode(errors="replace") if isinstance(expired.stdout, bytes) else expired.stdout
        return None, [], (output or "")[-2000:], time.monotonic() - start
    seconds = time.monotonic() - start
    return process.returncode, failed_tests(junit), (process.stdout + process.stderr)[-3000:], seconds


def failed_tests(junit: Path) -> list[str]:
    """Test ids (file::name) with a failure or an error in a junit report."""
    if not junit.is_file():
        return []
    failed = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            parts = case.get("classname", "").split(".")
            # `tests.test_x` or `tests.test_x.TestClass`: the file is the longest prefix that names one
            cut = next((i for i in range(len(parts), 0, -1)
                        if (junit.parent / ("/".join(parts[:i]) + ".py")).is_file()), len(parts))
            node = "/".join(parts[:cut]) + ".py" if parts != [""] else ""
            failed.append("::".join([node] + parts[cut:] + [case.get("name", "")]) if node else case.get("name", ""))
    return failed


def run_mutant(mutant: Mutant, base: Path, work: Path, deselected: list[str], timeout: float,
               files: tuple[str, ...] = TEST_FILES) -> Outcome:
    outcome = Outcome(mutant.name, mutant.path, mutant.description, "error", equivalent=mutant.equivalent,
                      why=mutant.why)
    root = work / mutant.name
    try:
        shutil.copytree(base, root)
        try:
            apply(mutant, root)
        except StaleMutant as stale:
            outcome.status, outcome.detail = "stale", str(stale)
            return outcome
        # The quick, focused files in a session of their own first: most mutants stop there,
        # without paying for collecting the slow files.
        stages = (files[:QUICK], files[QUICK:]) if files == TEST_FILES else (files,)
        seconds = 0.0
        for stage in stages:
            code, failed, tail, spent = run_tests(root, deselected, timeout - seconds, files=stage)
            seconds += spent
            if code not in (0, 5):  # 5: nothing collected (every test of the stage deselected)
                break
        code = 0 if code == 5 else code
        outcome.seconds = round(seconds, 1)
        if code is None:
            outcome.status, outcome.detail = "timeout", tail[-800:]
        elif code == 0:
            outcome.status = "survived"
        elif failed:
            # A failing test, or a test module that no longer imports (its error is a test's).
            outcome.status, outcome.killer = "killed", failed[0]
        else:
            outcome.status, outcome.detail = "error", tail[-800:]  # pytest itself failed: not a kill
        return outcome
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------- reports


def write_reports(outcomes: list[Outcome], out: Path, seconds: float, baseline: list[str]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    total = len(outcomes)
    killed = sum(o.status == "killed" for o in outcomes)
    equivalent = [o for o in outcomes if o.status != "killed" and o.equivalent]
    summary = {
        "mutants": total,
        "killed": killed,
        "score": round(killed / total, 3) if total else None,
        "score_without_equivalent": round(killed / (total - len(equivalent)), 3) if total > len(equivalent) else None,
        "survived": [o.name for o in outcomes if o.status == "survived"],
        "timeouts": [o.name for o in outcomes if o.status == "timeout"],
        "errors": [o.name for o in outcomes if o.status in ("error", "stale")],
        "campaign_seconds": round(seconds, 1),
        "baseline_failures_deselected": baseline,
        "outcomes": [asdict(o) for o in outcomes],
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Mutation campaign",
        "",
        f"{killed} of {total} mutants killed ({100 * killed / max(total, 1):.0f} %); "
        f"{len(equivalent)} equivalent; campaign time {seconds / 60:.1f} min.",
        "",
        "| mutant | module | status | killed by / why it survives | s |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        note = o.killer or (f"equivalent: {o.why}" if o.equivalent else o.detail.splitlines()[-1] if o.detail else "")
        lines.append(f"| {o.name} | {o.path} | {o.status} | {note.replace('|', '/')} | {o.seconds} |")
    if baseline:
        lines += ["", "Deselected (failing before any mutation): " + ", ".join(baseline)]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return summary


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that every mutant applies to the checkout")
    parser.add_argument("--list", action="store_true", help="list the mutants")
    parser.add_argument("--only", action="append", default=[], help="run only this mutant (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run in parallel (2 at most on this machine)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant's tests")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "mutation")
    parser.add_argument("--tests", nargs="+", help="run these test files (or ids) instead of the campaign's list, "
                        "e.g. to see whether a new test kills a mutant")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the run on the unmutated snapshot (no failing test is then deselected)")
    args = parser.parse_args(argv)
    files = tuple(args.tests) if args.tests else TEST_FILES

    names = [m.name for m in MUTANTS]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        parser.error(f"duplicate mutant names: {sorted(duplicates)}")
    selected = [m for m in MUTANTS if not args.only or m.name in args.only]
    unknown = set(args.only) - set(names)
    if unknown:
        parser.error(f"unknown mutants: {sorted(unknown)}")

    if args.list:
        for m in selected:
            print(f"{m.name:34} {m.path:34} {m.description}{'  [equivalent]' if m.equivalent else ''}")
        return 0
    if args.check:
        stale = []
        with tempfile.TemporaryDirectory(prefix="attndsl-mutate-check-") as scratch:
            base = snapshot(Path(scratch) / "base")
            for m in selected:
                try:
                    apply(m, base)
                except StaleMutant as problem:
                    stale.append(str(problem))
                else:
                    # undo: the next mutant of the same file applies to the original text
                    path = base / m.path
                    path.write_text(path.read_text(encoding="utf-8").replace(m.mutated, m.original, 1),
                                    encoding="utf-8")
        modules = sorted({m.path for m in selected})
        print(f"{len(selected) - len(stale)} of {len(selected)} mutants apply, over {len(modules)} files")
        for problem in stale:
            print("STALE", problem)
        return 1 if stale else 0

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="attndsl-mutate-") as scratch:
        work = Path(scratch)
        base = snapshot(work / "base")
        deselected: list[str] = []
        if not args.no_baseline:
            code, failed, tail, seconds = run_tests(base, [], args.timeout * 2, stop_first=False, files=files)
            print(f"baseline: {'ok' if code == 0 else f'{len(failed)} failing test(s) deselected'} "
                  f"({seconds:.0f} s)", flush=True)
            if code is None or (code != 0 and not failed):
                print(tail)
                print("the unmutated snapshot does not run its tests: nothing to compare with")
                return 2
            deselected = failed
            for node in failed:
                print("  baseline failure:", node)
        outcomes: list[Outcome] = []

        def one(mutant: Mutant) -> Outcome:
            outcome = run_mutant(mutant, base, work, deselected, args.timeout, files)
            note = outcome.killer or (outcome.detail.splitlines() or [""])[-1]
            print(f"{outcome.status:8} {mutant.name:38} {outcome.seconds:6.1f}s  {note}", flush=True)
            return outcome

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outcomes = list(pool.map(one, selected))
    seconds = time.monotonic() - start
    summary = write_reports(outcomes, args.out, seconds, deselected)
    print(f"\n{summary['killed']} of {summary['mutants']} killed (score {summary['score']}); "
          f"survived: {', '.join(summary['survived']) or 'none'}; {seconds / 60:.1f} min; "
          f"report in {args.out}")
    bad = [o for o in outcomes if o.status in ("stale", "error", "timeout")
           or (o.status == "survived" and not o.equivalent)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
