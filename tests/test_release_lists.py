"""`del` of a loop's list after its last reader (attndsl/codegen/release.py).

Without it a list a `for` loop filled keeps its tensors alive to the end of forward:
PSA's generated forward held its four branch outputs after stacking them, 1.5x the
reference's peak memory at [8, 256, 28, 28].
"""

import torch

import attndsl

from .cases import SPECS_DIR


def _forward_lines(body: str, args: str = "") -> list[str]:
    source = (f"block B(c: int = 4, n: int = 3{args}):\n    input x: [b, c]\n    layer fcs = [linear(c, c) for _ in range(n)]\n"
              + "".join(f"    {line}\n" for line in body.strip("\n").split("\n")))
    code = attndsl.compile_source(source, "r.attn").code
    return [line.strip() for line in code.split("def forward", 1)[1].splitlines()]


def test_del_follows_the_last_unguarded_reader():
    lines = _forward_lines("""
outs = []
for fc in fcs:
    outs.append(fc(x))
y = stack(outs, dim=1)
# the outs are stacked: a comment that names the list is no read of it
z = y * 2
return sum(z, dim=1)
""")
    at = next(i for i, line in enumerate(lines) if line.startswith("y = torch.stack(outs"))
    assert lines[at + 1].startswith("del outs  #")


def test_no_del_when_the_return_or_a_guarded_statement_reads_last():
    returned = _forward_lines("""
outs = []
for fc in fcs:
    outs.append(fc(x))
return cat(outs, dim=1)
""")
    assert not any(line.startswith("del ") for line in returned)
    guarded = _forward_lines("""
outs = []
for fc in fcs:
    outs.append(fc(x))
y = x * 2
if flag:
    y = sum(stack(outs, dim=1), dim=1)
return y
""", args=", flag: bool = false")
    assert not any(line.startswith("del ") for line in guarded)


def test_a_list_stacked_for_a_later_loop_is_freed_before_that_loop():
    """The stack the second loop runs over gets its own line: the list is freed after it,
    not after the loop that reads the stack."""
    lines = _forward_lines("""
outs = []
for fc in fcs:
    outs.append(fc(x))
total = x
for fc, o in zip(fcs, stack(outs, dim=0)):
    total = total + fc(o)
return total * 2
""")
    stacked = next(i for i, line in enumerate(lines) if "= torch.stack(outs, dim=0)" in line)
    assert lines[stacked + 1].startswith("del outs") and lines.index("total = x") > stacked


def test_a_list_read_twice_is_freed_after_the_second_read():
    source = """\
block B(c: int = 4, n: int = 3):
    input x: [b, c]
    layer fcs = [linear(c, c) for _ in range(n)]
    outs = []
    for fc in fcs:
        outs.append(fc(x))
    y = stack(outs, dim=1)
    w = y * 2
    z = cat(outs, dim=1)
    return sum(w, dim=1) + z[:, :c]
"""
    code = attndsl.compile_source(source, "r.attn").code
    lines = [line.strip() for line in code.split("def forward", 1)[1].splitlines()]
    second = next(i for i, line in enumerate(lines) if line.startswith("z = torch.cat(outs"))
    assert lines[second + 1].startswith("del outs") and sum(line.startswith("del ") for line in lines) == 1
    namespace: dict = {}
    exec(compile(code, "r", "exec"), namespace)
    assert namespace["B"]()(torch.randn(2, 4)).shape == (2, 4)


def test_psa_frees_its_branch_outputs_once_stacked():
    lines = [line.strip() for line in attndsl.compile_file(SPECS_DIR / "psa.attn").splitlines()]
    at = next(i for i, line in enumerate(lines) if line.startswith("spc = torch.stack(group_outs"))
    assert lines[at + 1].startswith("del group_outs")
