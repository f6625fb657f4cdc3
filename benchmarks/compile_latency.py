"""Compile latency of `attndsl compile`, relative to importing its four dependencies.

    python benchmarks/compile_latency.py [--repeats N] [--spec specs/sge.attn] [--json PATH]

Each measurement is the wall time of a fresh process, as a user runs it:

- `imports`: `python -c "import lark, jinja2, networkx, black"` (the yardstick issue 8
  set, when black formatted the output; attndsl now imports the first three only);
- `one spec`: `attndsl compile SPEC` into an empty directory, with an empty attndsl
  cache (a real compile: parse, check, passes, render, format);
- `no-op`: the same command again (the module is there and current);
- `all specs`: `attndsl compile specs/*.attn` into an empty directory, empty cache (one
  worker process per core, attndsl/batch.py);
- `all specs, one process`: the same with `-j 1`, as issue 8 words its goal.

PYTHONDONTWRITEBYTECODE is unset for every process (users have bytecode caches; with
it set every import recompiles its module), and a warm-up round first writes the
bytecode caches and the Lark parser-table cache. The four kinds are run in rotating
order, round after round, and the medians are compared in the same run, so load from
other processes shifts numerator and denominator alike. Targets (issue 8): one spec at
most 1.3x the imports, a no-op at most 0.25x, every spec at most 4x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"one spec": 1.3, "no-op": 0.25, "all specs": 4.0, "all specs, one process": 4.0}


def _attndsl() -> list[str]:
    script = Path(sys.executable).with_name("attndsl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "attndsl"]


def _timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode()}")
    return elapsed


def measure(spec: str, repeats: int) -> dict[str, list[float]]:
    from importlib.util import find_spec

    if find_spec("black") is None:
        raise SystemExit("the yardstick imports black, which attndsl does not depend on: pip install black")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    specs = sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "specs").glob("*.attn"))
    scratch = Path(tempfile.mkdtemp(prefix="attndsl-latency-"))
    counter = iter(range(10**9))

    def fresh() -> tuple[str, dict]:
        n = next(counter)
        return str(scratch / f"out{n}"), {**env, "ATTNDSL_CACHE_DIR": str(scratch / f"cache{n}")}

    noop_out, noop_env = fresh()
    kinds = {
        "imports": lambda: _timed([sys.executable, "-c", "import lark, jinja2, networkx, black"], env),
        "one spec": lambda: _timed(_attndsl() + ["compile", spec, "-o", (f := fresh())[0]], f[1]),
        "no-op": lambda: _timed(_attndsl() + ["compile", spec, "-o", noop_out], noop_env),
        "all specs": lambda: _timed(_attndsl() + ["compile", *specs, "-o", (f := fresh())[0]], f[1]),
        # the issue's own measure: every spec in one process (no worker processes)
        "all specs, one process": lambda: _timed(_attndsl() + ["compile", "-j", "1", *specs, "-o",
                                                               (f := fresh())[0]], f[1]),
    }
    try:
        for run in kinds.values():  # warm-up: bytecode, the Lark cache, the no-op's module and cache entry
            run()
        samples: dict[str, list[float]] = {name: [] for name in kinds}
        names = list(kinds)
        for round_ in range(repeats):
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                samples[name].append(kinds[name]())
        return samples
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--spec", default="specs/sge.attn")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    samples = measure(args.spec, args.repeats)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"median of {args.repeats} rounds; PYTHONDONTWRITEBYTECODE unset; {sys.executable}")
    print("| what | median s | / imports | target |\n|---|---:|---:|---:|")
    for name, value in medians.items():
        ratio = value / medians["imports"]
        target = TARGETS.get(name)
        verdict = "" if target is None else f"<= {target} {'ok' if ratio <= target else 'MISSED'}"
        print(f"| {name} | {value:.3f} | {ratio:.2f} | {verdict} |")
    if args.json:
        args.json.write_text(json.dumps({"samples_s": samples, "medians_s": medians}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
