"""Arguments that are layer kinds (attndsl/lower/layer_kinds.py): `act_layer: type[nn.Module]
= nn.ReLU` in the signature, `act_layer()` where the layer is built, and a check that
refuses any class the checker did not check the block with."""

from __future__ import annotations

from ..inits import takes_factory
from ..ir import LayerSpec
from ..layers import LAYERS, names_of
from ..lower.layer_kinds import kinds_like
from .expressions import layer_class, source_expr
from .text import fstring


def _uses(spec: LayerSpec | None):
    if spec is None:
        return
    if spec.kind_arg is not None:
        yield spec
    for _, child in spec.children:
        yield from _uses(child)


class LayerKindEmitter:
    def layer_kind_checks(self) -> list[tuple[tuple, list[str]]]:
        """(guard, lines) of one check per layer argument: the classes every use of it allows."""
        allowed: dict[str, list[str]] = {}
        for info in self.ir.layers:
            for spec in list(_uses(info.spec)) + list(_uses(info.element)):
                kinds = list(spec.alternatives)
                allowed[spec.kind_arg] = [k for k in allowed.get(spec.kind_arg, kinds) if k in kinds]
        checks = []
        for arg in self.ir.args:
            if arg.default_name:  # taken by name too: the name becomes its class first
                kinds = allowed.get(arg.name) or kinds_like(arg.default)
                table = ", ".join(f'"{name}": {layer_class(kind)}' for kind in kinds for name in names_of(kind))
                checks.append(((), [f"if isinstance({arg.name}, str):  # a kind by its name",
                                    f"    {arg.name} = {{{table}}}.get({arg.name}, {arg.name})"]))
            if arg.name not in allowed:
                continue
            classes = [layer_class(kind) for kind in allowed[arg.name]]
            # functools.partial(nn.LayerNorm, eps=1e-6), as timm's and PVT's configs pass it: its class
            test = f"getattr({arg.name}, \"func\", {arg.name}) not in ({', '.join(classes)}{',' if len(classes) == 1 else ''})"
            if arg.optional:
                test = f"{arg.name} is not None and {test}"
            names = f" or their names ({', '.join(n for k in allowed[arg.name] for n in names_of(k))})" \
                if arg.default_name else ""
            message = fstring([("text", f"{self.ir.name}: `{arg.name}` must be one of {', '.join(classes)}{names} "
                                        "(or a functools.partial of one), got "), ("code", arg.name)])
            checks.append(((), [f"if {test}:", f"    raise ValueError({message})"]))
        return checks

    def layer_kind_expr(self, spec: LayerSpec) -> str:
        definition = LAYERS[spec.kind]
        arguments = [source_expr(spec.sources[name], self.init_name)[0] for name in spec.positional]
        arguments += [f"{p.name}={source_expr(spec.sources[p.name], self.init_name)[0]}" for p in definition.params
                      if p.name in spec.sources and p.name not in spec.positional]
        if all(takes_factory(kind) for kind in spec.alternatives):  # a norm chosen by the caller: on its device
            arguments += self.factory_keywords()
        return f"{spec.kind_arg}({', '.join(arguments)})"
