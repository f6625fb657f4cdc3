"""`attndsl graph`: the dataflow with symbolic shapes, as dot, mermaid and svg; docs/graphs.md."""

from __future__ import annotations

import re
import shutil

import pytest

from attndsl.cli import main
from attndsl.ir import Cond
from attndsl.shapes import show
from attndsl.shapes.world_view import decide, world_views
from attndsl.tools.cost import symbol_order
from attndsl.tools.graph import catalogue_markdown, dataflow, to_dot, to_mermaid

from .mechanisms import REPO_ROOT, SPECS_DIR
from .tool_support import SPECS, analyzed


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_tensor_is_an_edge_with_its_shape(spec):
    """Each edge shows the tensor's shape in every world (combination of shape-changing `if`
    conditions) where it flows along that edge, and no display-only join size (`c|2*c`)."""
    for ir in analyzed(spec):
        graph = dataflow(ir)
        order = symbol_order(ir)
        views = world_views(ir)
        drawn = {(s, t): d["label"] for s, t, d in graph.edges(data=True)}
        for source, target in ir.graph.edges():
            if ir.graph.nodes[source]["op"] == "loop_layer":
                continue
            label = drawn[(source, target)]
            node = target if ir.graph.nodes[target]["op"] == "item" else source
            assert "|" not in label, (source, target, label)
            for view in views:
                if view.exists(target) and _flows(ir, source, target, view.world):
                    shape = view.shape(node)
                    assert (show(shape, order) if shape != () else "scalar") in label, (source, target, label)
        # every output is drawn (`return 0`, `return 1`, ... for a tuple)
        assert len([t for s, t in graph.edges() if str(t).startswith("return")]) == len(ir.outputs)
        mermaid, dot = to_mermaid([ir]), to_dot([ir])
        assert mermaid.count("-->") == graph.number_of_edges() == dot.count('" -> "')


def _flows(ir, source, target, world) -> bool:
    """Whether `source` reaches `target` in the world: a join takes one branch."""
    attrs = ir.graph.nodes[target]
    if attrs["op"] != "phi":
        return True
    taken = decide(attrs["attrs"]["condition"], world)
    return taken.op != "const" or taken == Cond.const(source == ir.operands(target)[0])


def test_a_shape_that_depends_on_an_if_is_shown_per_case():
    """SELayer transposes its input when not batch_first: after the join, one shape per case;
    on a branch, the shape of that branch only."""
    labels = {(s, t): d["label"] for s, t, d in dataflow(analyzed(SPECS_DIR / "se_layer.attn")[0]).edges(data=True)}
    assert labels[(2, 3)] == "[s0, s1, h, w] if batch_first; [s1, s0, h, w] if not batch_first"
    assert labels[(7, 8)] == "[s1, s0, h, w]"  # into the rearrange under `if not batch_first`
    assert labels[(7, 9)] == "else [s0, s1, h, w]"  # the join's branch taken when batch_first
    assert labels[(9, "return")] == "[s0, s1, h, w]"


def test_the_shapes_are_the_checker_s(capsys):
    assert main(["graph", str(SPECS_DIR / "se.attn"), "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    # avg_pool(x) keeps the spatial dims as 1; the rearrange drops them
    assert re.search(r'SEAttention_1 -->\|"\[b, channel, 1, 1\]"\| SEAttention_2', out)
    assert re.search(r'SEAttention_2 -->\|"\[b, channel\]"\| SEAttention_3', out)
    assert 'SEAttention_3["fc: sequential"]' in out


def test_branches_are_dashed_and_joins_say_which_is_which():
    dot = to_dot(analyzed(SPECS_DIR / "emsa.attn"))
    assert re.search(r'label="sr_conv: conv2d\\n= x\\nif ratio > 1", shape=box, style="rounded,dashed"', dot)
    assert 'label="then [b, h, d_k, H\'*W\']"' in dot and 'label="else [b, h, d_k, nk]"' in dot


def test_mermaid_text_is_escaped():
    text = to_mermaid(analyzed(SPECS_DIR / "emsa.attn"))
    for line in text.splitlines():
        if "-->" in line:  # an edge: `a -->|"label"| b`, the label free of quotes and pipes
            assert re.fullmatch(r'    \w+ -->\|"[^"|]*"\| \w+', line), line
        elif '["' in line or '("' in line or '{"' in line:
            assert line.count('"') == 2, line


def test_svg(capsys):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    assert main(["graph", str(SPECS_DIR / "cbam.attn"), "--format", "svg"]) == 0
    svg = capsys.readouterr().out
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg and "ChannelAttention" in svg


def test_svg_without_graphviz(monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["graph", str(SPECS_DIR / "se.attn"), "--format", "svg"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Graphviz" in err and "apt-get install graphviz" in err


def test_docs_graphs_md_is_current():
    path = REPO_ROOT / "docs" / "graphs.md"
    fresh = catalogue_markdown(SPECS, analyzed)
    assert path.read_text(encoding="utf-8") == fresh, "run `python scripts/graph_docs.py`"
