"""IR → Python source. Every expression is rendered here from the op registry's
templates; the file layout comes from the Jinja templates in `templates/torch/`;
attndsl/formatting.py formats the result in black's style. Codegen never re-derives a shape: it reads the shapes the
checker stored on the nodes.

The package has one emitter per part of a class (init, forward, checks, signatures).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .. import __version__
from ..ir import BlockIR
from ..ops import OPS
from ..ops.fused import QUERY_BLOCK
from ..resources import resource_dir
from .block import BlockRenderer
from .expressions import InternalError, source_expr
from .options import NodeView, Options
from .text import comment_text, docstring_text, fstring, python_string

__all__ = ["Options", "NodeView", "render_module", "BlockRenderer", "InternalError", "source_expr", "python_string",
           "fstring", "comment_text", "docstring_text"]


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(resource_dir("templates") / "torch")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_module(blocks: list[BlockIR], options: Options) -> str:
    by_name = {b.name: b for b in blocks}
    classes = []
    needs_ordered_dict = False
    for ir in blocks:
        renderer = BlockRenderer(ir, options, by_name)
        classes.append(renderer.render())
        needs_ordered_dict |= renderer.needs_ordered_dict
    template = _environment().get_template("module.py.j2")
    # Imports an op needs (a fused op's `torch.nn.functional`), only when it is used.
    imports = sorted({line for ir in blocks for node in ir.graph.nodes.values()
                      for line in getattr(OPS.get(node["op"]), "extra", {}).get("imports", ())})
    # Module-level functions a node's rendering calls (templates/torch/helpers/), each once.
    helpers = sorted({helper for ir in blocks for node in ir.graph.nodes.values()
                      for helper in _helpers_of(node)})
    return template.render(
        version=__version__,
        source=Path(options.source_name).name,
        classes=classes,
        needs_ordered_dict=needs_ordered_dict,
        # math.ceil, math.log2, ... of a `let` (attndsl/lower/numbers.py)
        needs_math=any("math." in line for cls in classes for line in cls["init_body"] + cls["forward_body"]),
        imports=imports,
        helpers=helpers,
        query_block=QUERY_BLOCK,
    )


def _helpers_of(node: dict) -> tuple[str, ...]:
    helpers = getattr(OPS.get(node["op"]), "extra", {}).get("helpers")
    return helpers(node["attrs"]) if helpers else ()

