"""Signatures and the docstring of a generated class."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from ..shapes.world_view import shape_text
from .expressions import _python_value, layer_class
from .text import docstring_text


class SignatureEmitter:
    def init_signature(self) -> str:
        parts = ["self"]
        for arg in self.ir.args:
            if arg.keyword_only and "*" not in parts:
                parts.append("*")
            annotation = {"list[int]": "list[int]", "layer": "type[nn.Module]", "device": "torch.device | str",
                          "dtype": "torch.dtype"}.get(arg.type, arg.type) + \
                (" | str" if arg.default_name else "") + (" | None" if arg.optional else "")
            if arg.default_name:  # `gate_layer="sigmoid"`: a kind by its name
                default = _python_value(arg.default_name)
            elif arg.type == "layer" and arg.default:
                default = layer_class(arg.default)
            else:
                default = _python_value(arg.default)
            if arg.required:
                parts.append(f"{arg.name}: {annotation}")
            else:
                parts.append(f"{arg.name}: {annotation} = {default}")
        return ", ".join(parts)

    def forward_signature(self) -> str:
        parts = ["self"]
        for info in self.ir.inputs:
            kind = "tuple[" + ", ".join("int" for _ in info.shape) + "]" if info.dtype == "sizes" else "torch.Tensor"
            if info.dtype == "size":
                parts.append(f"{info.name}: int")
            elif info.dtype == "flag":
                default = "" if info.default is None else f" = {info.default}"
                parts.append(f"{info.name}: bool{default}")
            elif info.optional:
                parts.append(f"{info.name}: {kind} | None = None")
            else:
                parts.append(f"{info.name}: {kind}")
        returns = "torch.Tensor" if len(self.ir.outputs) == 1 else \
            "tuple[" + ", ".join("torch.Tensor" for _ in self.ir.outputs) + "]"
        return f"{', '.join(parts)}) -> {returns}"

    def _output_shape(self, output: int) -> list[str]:
        """An output's shape, one line per case where the `if`s give it other sizes (`[b, in_channels,
        h, w] if reconstruct;` / `[b, c_m, h, w] if not reconstruct`): the cases that occur, as
        `attndsl graph` shows them, not every combination of the alternatives of each size."""
        shown = self.show(self.graph.nodes[output]["shape"])
        if "|" not in shown:
            return [shown]
        cases = (shape_text(self.ir, output, self.order) or shown).split("; ")
        return [f"{case};" for case in cases[:-1]] + cases[-1:]

    def _named_sizes(self, text: str) -> list[tuple[str, str]]:
        """The sizes the checker named (`h'` of a strided conv, `n'` of a broadcast) that `text`
        reads, each with its definition, and the named sizes those read in turn, first."""
        found: list[tuple[str, str]] = []

        def visit(source: str) -> None:
            for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*'+", source):
                definition = self.ir.derived.get(name)
                if definition is not None and name not in (seen for seen, _ in found):
                    shown = self.show((definition,))[1:-1]
                    visit(shown)
                    if name not in (seen for seen, _ in found):
                        found.append((name, shown))

        visit(text)
        return found

    def docstring(self) -> str:
        lines = []
        if self.ir.doc:
            lines.append(docstring_text(inspect.cleandoc(self.ir.doc)))
        elif self.ir.comments:
            lines.append(docstring_text("\n".join(self.ir.comments)))
        else:
            lines.append(f"{self.ir.name}, compiled from {Path(self.options.source_name).name}.")
        shapes = []
        for info in (i for i in self.ir.inputs if i.dtype not in ("flag", "size")):
            optional = " (optional)" if info.optional else ""
            shapes.append(f"    {info.name}: {self.show(self.input_shape(info))}{optional}")
        for index, output in enumerate(self.ir.outputs):
            label = "returns" if len(self.ir.outputs) == 1 else f"output {index}"
            shapes += [f"    {label}: {line}" if at == 0 else f"    {' ' * len(label)}  {line}"
                       for at, line in enumerate(self._output_shape(output))]
        shapes += [f"    where {name} = {definition}" for name, definition in self._named_sizes("\n".join(shapes))]
        if shapes:
            lines.append("Shapes:\n" + "\n".join(shapes))
        if self.ir.examples:
            rendered = []
            for example in self.ir.examples:
                rendered.append("    " + ", ".join(f"{k}={_python_value(v)}" for k, v in example.items()))
            lines.append("Examples:\n" + "\n".join(rendered))
        return "\n\n".join(lines)
