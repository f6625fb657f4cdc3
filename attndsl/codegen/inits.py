"""Initialisation in `__init__`: `nn.init.normal_(self.fc.weight, std=0.001)`, and for every
module of a kind one loop over `self.modules()`, as the published `init_weights` methods
write it. Made after every param, layer and buffer exists (a param's own initialiser,
`param w: [..] = normal(...)`, right after it)."""

from __future__ import annotations

import keyword

from ..inits import INITIALIZERS
from ..ir import InitInfo
from ..layers import LAYERS
from .expressions import source_expr


class InitCodeEmitter:
    def initializer_call(self, info: InitInfo, target: str) -> str:
        definition = INITIALIZERS[info.initializer]
        arguments = [target]
        for param in definition.params:
            source = info.sources.get(param.name)
            if source is None:
                continue
            text = source_expr(source, self.init_name)[0]
            arguments.append(text if param.name == "val" else f"{param.name}={text}")
        return f"nn.init.{definition.function}({', '.join(arguments)})"

    def inline_initializer(self, param) -> list[str]:
        """The initialiser written in a param's declaration, right after it."""
        return [self.initializer_call(info, f"self.{param.name}") for info in self.ir.inits
                if info.inline and info.name == param.name]

    def init_statements(self) -> list[tuple[tuple, list[str]]]:
        """The `init` statements, in the order written; those on layer kinds share one loop."""
        statements: list[tuple[tuple, list[str]]] = []
        kinds: dict[tuple, list[str]] = {}  # guard -> lines of the loop's body, per kind in order
        for info in self.ir.inits:
            if info.inline:
                continue
            if info.target == "kind":
                if info.guard not in kinds:
                    kinds[info.guard] = []
                    statements.append((info.guard, kinds[info.guard]))  # filled below, in place
                kinds[info.guard].append(info)
                continue
            statements.append((info.guard, self._named_init(info)))
        return [(guard, self._kind_loop(body) if body and isinstance(body[0], InitInfo) else body)
                for guard, body in statements]

    def _named_init(self, info: InitInfo) -> list[str]:
        if info.target == "param":
            return [self.initializer_call(info, f"self.{info.name}")]
        owner = "module" if info.element else f"self.{info.name}"
        for child in info.path:
            if isinstance(child, int):  # a positional child of a sequential: `self.W[1]`
                owner = f"{owner}[{child}]"
            else:
                owner = f'getattr({owner}, "{child}")' if keyword.iskeyword(child) else f"{owner}.{child}"
        target = f"{owner}.{info.parameter}"
        lines = [self.initializer_call(info, target)]
        if info.optional:
            lines = [f"if {target} is not None:"] + ["    " + line for line in lines]
        if info.element:
            lines = [f"for module in self.{info.name}:"] + ["    " + line for line in lines]
        return lines

    def _kind_loop(self, infos: list[InitInfo]) -> list[str]:
        by_kind: dict[str, list[str]] = {}
        for info in infos:
            target = f"module.{info.parameter}"
            call = self.initializer_call(info, target)
            body = [f"if {target} is not None:", f"    {call}"] if info.optional else [call]
            by_kind.setdefault(LAYERS[info.name].torch_class, []).extend(body)
        lines = ["for module in self.modules():"]
        for index, (torch_class, body) in enumerate(by_kind.items()):
            lines.append(f"    {'if' if index == 0 else 'elif'} isinstance(module, nn.{torch_class}):")
            lines += ["        " + line for line in body]
        return lines
