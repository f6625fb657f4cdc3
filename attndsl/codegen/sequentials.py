"""A sequential with children named in loops (attndsl/lower/sequentials.py), written as the
published modules build theirs: `nn.Sequential()`, then one `add_module` per child, the
named-in-a-loop ones in a `for` loop with an f-string name."""

from __future__ import annotations

from .. import symbolic as sym
from ..ir import LayerSpec
from ..symbolic import Expr
from .text import fstring, python_string


def has_loops(spec: LayerSpec | None) -> bool:
    return spec is not None and spec.kind == "sequential" and any(c.kind == "loop" for _, c in spec.children)


class SequentialEmitter:
    def sequential_lines(self, target: str, spec: LayerSpec, hazards: list = ()) -> list[str]:
        """`hazards`: the layers built from a kind argument that must not work in place
        (attndsl/inplace.py), each checked right after the child holding it is added."""
        lines = [f"{target} = nn.Sequential()"]
        self._add_children(lines, target, spec.children, "", None, hazards)
        return lines

    def _add_children(self, lines: list[str], target: str, children, indent: str, var: str | None,
                      hazards) -> None:
        for name, child in children:
            if child.kind == "loop":
                start, stop = (sym.render(child.args[k], self.init_name) for k in ("start", "stop"))
                bounds = stop if child.args["start"] == Expr.const(0) else f"{start}, {stop}"
                lines.append(f"{indent}for {child.args['var']} in range({bounds}):")
                self._add_children(lines, target, child.children, indent + "    ", child.args["var"], hazards)
                continue
            if isinstance(name, tuple):
                prefix, offset, suffix = name
                index = var if offset == 0 else f"{var} {'+' if offset > 0 else '-'} {abs(offset)}"
                text = fstring([("text", prefix), ("code", index), ("text", suffix)])
            else:
                text = python_string(name)
            lines.append(f"{indent}{target}.add_module({text}, {self.layer_expr(child)})")
            for layer, route, reason in hazards:
                if route[0][1] is child:  # the child just added is the last one
                    test = f'getattr({target}{module_route(route)}, "inplace", False)'
                    lines += [indent + line for line in in_place_refusal(self.ir.name, layer, test, reason)]


def module_route(route: tuple) -> str:
    """How a layer inside another is reached from it (attndsl/inplace.py's `runs`): `[0]`,
    `.bn`, or `[-1]` for the child a sequential was just given."""
    steps = {"index": lambda index: f"[{index}]", "name": lambda name: f".{name}", "added": lambda _: "[-1]"}
    return "".join(steps[kind](value) for kind, value in route)


def in_place_refusal(block: str, layer: LayerSpec, test: str, reason: str) -> list[str]:
    message = python_string(f"{block}: `{layer.kind_arg}` must not work in place (inplace=True): {reason}")
    return [f"if {test}:", f"    raise ValueError({message})"]
