"""Reading a param in the dataflow: one node per declaration (a param declared on each
branch of an `if` has each branch's shape), and, after such an `if`, the join of the two
(the checker walks each branch as a world of its own, as for a layer declared on each
branch: PyG's GAT bias, `[heads * out]` where the heads are concatenated, else `[out]`)."""

from __future__ import annotations

from ..diagnostics import Span
from ..ir import ParamInfo, negate
from .values import Tensor


class ParamLowering:
    def _param_of_either_branch(self, declarations: list) -> Tensor | None:
        """A param declared on each branch of an `if` (`[heads * c]` where `concat`, else `[c]`:
        PyG's GAT), used after it: the declaration of the branch taken, a join the checker
        walks once per branch (as a layer's two declarations). None for more than two."""
        if len(declarations) != 2:
            return None
        first, second = (tuple(d.guard) for d in declarations)
        differ = [i for i, (x, y) in enumerate(zip(first, second)) if x != y]
        if len(first) != len(second) or len(differ) != 1 or negate(first[differ[0]]) != second[differ[0]]:
            return None
        nodes = [self._param_node(d, d.span) for d in declarations]
        phi = self.ir.add_node("phi", nodes, span=declarations[0].span, guard=first[:differ[0]],
                               condition=first[differ[0]], param=declarations[0].name)
        self.ir.graph.nodes[phi]["name"] = declarations[0].name
        return Tensor(phi)

    def _param_node(self, info: ParamInfo, span: Span) -> int:
        """The node that reads a param: one per declaration (a param declared on each branch of
        an `if` has each branch's shape), named as the param."""
        key = (info.name, info.span)
        if key not in self.param_nodes:
            node = self.ir.add_node("param", [], span=info.span, param=info.name, declared=info.span)
            self.ir.graph.nodes[node]["name"] = info.name
            self.param_nodes[key] = node
        return self.param_nodes[key]
