"""Generated modules against the interpreter: two semantics of one checked spec must agree.

- a hypothesis property over random specs (tests/differential_specs.py) and cases: both
  refuse (the generated module with its own ValueError), or both return equal float64
  values with the inferred shapes, in eval and in training mode; every `example(...)`
  matches its block's declared shapes (see tests/differential.py for the oracle). A
  disagreement of a bug class still open in the compiler or of a documented difference
  (tests/differential_bugs.py, `OPEN` and `ACCEPTED`) is tolerated; anything else fails. ~60 specs here; ATTNDSL_DIFF_EXAMPLES=2000
  for more, ATTNDSL_DIFF_RANDOM=1 for other draws than CI's, or scripts/differential.py
  for campaigns of 100 000;
- the catalogue: every example of every spec in specs/ agrees;
- every regression in tests/differential_regressions/ (one .attn each, its case in a
  `# differential: {json}` header; an `xfail` key while its bug is open).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .differential import (Case, Disagreement, check_examples, compile_both, example_arguments, read_regression,
                           run_case)
from .differential_bugs import classify, is_open
from .differential_cases import make_cases
from .differential_specs import generate
from .fuzzing import SPECS, DataChooser

EXAMPLES = int(os.environ.get("ATTNDSL_DIFF_EXAMPLES", "60"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("ATTNDSL_DIFF_RANDOM"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
REGRESSIONS = Path(__file__).parent / "differential_regressions"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")


def _unless_open(error: Disagreement, compiled, case: Case) -> None:
    if not is_open(error, compiled, case):
        raise AssertionError(f"{error}\n(bug class: {classify(error, compiled, case)})\ncase: {case.to_json()}\n"
                             f"--- spec\n{compiled.source}") from error


@PROPERTY
@given(st.data())
def test_generated_modules_agree_with_the_interpreter(data):
    ch = DataChooser(data)
    spec = generate(ch)
    compiled = compile_both(spec.source)
    if compiled is None:
        return  # the checker refuses the spec: nothing to compare
    try:
        check_examples(compiled)
    except Disagreement as error:
        _unless_open(error, compiled, Case({}, {}))
    for case in make_cases(compiled.ir, spec, ch):
        try:
            run_case(compiled, case)
        except Disagreement as error:
            _unless_open(error, compiled, case)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_catalogue_examples_agree(name):
    compiled = compile_both(SPECS[name], f"specs/{name}")
    check_examples(compiled)
    ir = compiled.ir
    for example in ir.examples:
        case = Case(example_arguments(ir, example), {i.name: example[i.name] for i in ir.inputs if i.name in example})
        assert run_case(compiled, case) == "agree"


def _regressions():
    for path in sorted(REGRESSIONS.glob("*.attn")):
        _, header = read_regression(path.read_text(encoding="utf-8"))
        marks = [pytest.mark.xfail(strict=False, reason=header["xfail"])] if header.get("xfail") else []
        yield pytest.param(path, marks=marks, id=path.stem)


@pytest.mark.parametrize("path", list(_regressions()))
def test_regression(path):
    text = path.read_text(encoding="utf-8")
    case, header = read_regression(text)
    compiled = compile_both(text, path.name, optimize=header.get("optimize", True))
    if compiled is None:
        # Rejecting the spec is a fix only where the header says so (e.g. an axis out of range).
        assert header.get("reject_ok"), f"{path.name} no longer compiles"
        return
    check_examples(compiled)
    if header.get("example_only"):
        return
    run_case(compiled, case)
