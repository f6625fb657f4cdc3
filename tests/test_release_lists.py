"""`del` of a loop's list after its last reader (attndsl/codegen/release.py).

Without it a list a `for` loop filled keeps its tensors alive to the end of forward:
PSA's generated forward held its four branch outputs after stacking them, 1.5x the
reference's peak memory at [8, 256, 28, 28].
"""

import attndsl
from attndsl.codegen.release import release_lists

from .cases import SPECS_DIR


def test_del_follows_the_last_unguarded_reader():
    statements = [((), ["outs = []", "for c in cs:", "    outs.append(c(x))"]),
                  ((), ["y = torch.stack(outs, dim=1)"]),
                  ((), ["z = y * 2"])]
    released = release_lists(statements, ["outs"], "return z")
    assert [body[0].split("  #")[0] for _, body in released] == \
        ["outs = []", "y = torch.stack(outs, dim=1)", "del outs", "z = y * 2"]


def test_no_del_when_the_return_or_a_guarded_statement_reads_last():
    guard = ("flag",)
    statements = [((), ["outs = []"]), (guard, ["y = torch.stack(outs)"]), ((), ["w = 1"])]
    assert release_lists(statements, ["outs"], "return w") == statements
    statements = [((), ["outs = []"]), ((), ["w = 1"])]
    assert release_lists(statements, ["outs"], "return torch.cat(outs)") == statements
    # a longer name or an attribute that contains the list's name is not a read of it
    statements = [((), ["outs = []"]), ((), ["y = torch.stack(outs)"]), ((), ["z = self.outs + outs_2"])]
    released = release_lists(statements, ["outs"], "return z")
    assert [body[0].split("  #")[0] for _, body in released][2] == "del outs"


def test_psa_frees_its_branch_outputs_once_stacked():
    lines = [line.strip() for line in attndsl.compile_file(SPECS_DIR / "psa.attn").splitlines()]
    at = next(i for i, line in enumerate(lines) if line.startswith("spc = torch.stack(outs"))
    assert lines[at + 1].startswith("del outs")
