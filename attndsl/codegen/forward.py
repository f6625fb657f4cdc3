"""The body of `forward`: which values get a line, their names, and each op rendered from the registry."""

from __future__ import annotations

import re

import keyword
from pathlib import Path

from ..inplace import needs_copy
from ..calls import tensor_keywords
from ..ir import Cond
from ..lower.values import DtypeLimit
from ..naming import assign_names
from ..ops import ATOM, OPS, ListShape
from ..symbolic import Expr
from .options import NodeView
from .release import release_lists, top_level_lists
from .text import SHAPE_COMMENT, comment_text
from .expressions import (_fill)


class ForwardEmitter:
    def plan_names(self, order: list[int]) -> set[int]:
        """Decide which nodes get a line of their own, and their names."""
        materialized: set[int] = set()
        in_loop = self._loop_bodies()
        for node in order:
            attrs = self.graph.nodes[node]
            op = attrs["op"]
            users = list(self.graph.successors(node))
            use_count = self.graph.out_degree(node)
            if op in ("input", "param", "scalar", "loop_layer", "phi", "buffer", "loop") or node in in_loop or \
                    attrs.get("phase") == "init":  # a buffer's computation is written in __init__
                continue
            if op == "item":
                continue
            if node in self.ir.outputs and len(self.ir.outputs) == 1 and not attrs.get("var_names"):
                continue
            named = attrs["name"] is not None
            multi_output = _multi_output(attrs)
            feeds_phi = any(self.graph.nodes[u]["op"] == "phi" for u in users)
            guard_differs = any(self.graph.nodes[u]["guard"] != attrs["guard"] for u in users)
            # an op that writes its operand several times (stochastic_depth) reads it by name,
            # and so does a fill with the operand's own dtype limit (not the mask it fills by)
            repeated = any(OPS[self.graph.nodes[u]["op"]].extra.get("named_operand")
                           or isinstance(self.graph.nodes[u]["attrs"].get("value"), DtypeLimit)
                           and self.ir.operands(u)[0] == node
                           for u in users if self.graph.nodes[u]["op"] in OPS)
            if named or multi_output or feeds_phi or use_count > 1 or guard_differs or repeated or \
                    node in self.ir.outputs:
                materialized.add(node)
        # An input's name is free once its tensor is dead (`x = self.conv(x)`); an optional
        # input's is not: `if mask is not None:` may be written anywhere in forward.
        reserved = set(self.ir.dim_origin) | {i.name for i in self.ir.inputs if i.optional}
        naming = assign_names(self.ir, order, materialized, reserved, self.loop_nodes())
        self.names = naming.names
        self.copies = naming.copies
        return materialized

    def _loop_bodies(self) -> set[int]:
        """Nodes inside a comprehension: after its loop variable, before its list."""
        import networkx as nx

        body: set[int] = set()
        for node in self.graph.nodes:
            if self.graph.nodes[node]["op"] == "list_comp":
                loop = self.ir.operands(node)[-1]
                body |= nx.descendants(self.graph, loop) & nx.ancestors(self.graph, node)
        return body | set(self.loop_nodes())  # `for` loops name their bodies themselves (codegen/loops.py)

    def statement_comments(self, node: int, materialized: set[int]) -> list[str]:
        """The comments of a statement's node and of the nodes written inline in it (a fused
        attention call inside `outs.append(...)` keeps the line naming what it replaces)."""
        found, stack, seen = [], [node], set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            found += [f"# {comment_text(c)}" for c in self.graph.nodes[current]["comments"] if comment_text(c)]
            stack += [o for o in reversed(self.ir.operands(current))
                      if o not in materialized and o not in self.names]
        return found

    def expression(self, node: int, materialized: set[int]) -> tuple[str, int]:
        attrs = self.graph.nodes[node]
        op = attrs["op"]
        if op == "phi" and getattr(self, "phis_inline", False):  # a buffer's `a if flag else b`, in one line
            then, other = (self.wrap(self.expression(o, materialized), 1) for o in self.ir.operands(node))
            return f"{then} if {self.condition(attrs['attrs']['condition'], self.init_name)} else {other}", 0
        if node in self.names and (node in materialized or op in ("input", "param", "item", "phi", "buffer")):
            return self.names[node], ATOM
        if op == "scalar":
            return self.scalar(attrs["attrs"]["value"], folded=attrs["attrs"].get("folded", False))
        if op == "loop_layer":
            return attrs["attrs"]["var"], ATOM
        if op in ("loop_carry", "loop_slice"):
            return self.names[node], ATOM
        if op == "loop":  # the pass a layer call runs in: not an argument of it
            return "", ATOM
        operands = [self.expression(o, materialized) for o in self.ir.operands(node)]
        if op == "call_layer":
            if needs_copy(self.ir, node):  # a pass made its input shared (attndsl/inplace.py)
                operands[0] = (f"{self.wrap(operands[0], ATOM)}.clone()", ATOM)
            return self._render_layer_call(attrs, operands, node), ATOM
        if op == "list_comp":
            layer = attrs["attrs"]["layer"]
            self.used_attributes.discard(layer)
            return f"[{operands[0][0]} for {attrs['attrs']['var']} in self.{layer}]", ATOM
        definition = OPS[op]
        view = NodeView(
            shape=attrs["shape"],
            operand_shapes=[self.graph.nodes[o]["shape"] for o in self.ir.operands(node)],
            operand_ops=[self.graph.nodes[o]["op"] for o in self.ir.operands(node)],
        )
        node_attrs = dict(attrs["attrs"])
        if "value" in node_attrs and op == "masked_fill":
            value = node_attrs["value"]
            if isinstance(value, DtypeLimit):  # of the filled tensor, which is named (plan_names)
                limit = f"torch.finfo({operands[0][0]}.dtype).{value.which}"
                node_attrs["value"] = f"-{limit}" if value.negative else limit
            else:  # a large whole fill of a float tensor as the spec writes it: `-1e9`, not -1000000000
                large = isinstance(value, Expr) and value.is_const and abs(value.value) >= 10**6 and \
                    attrs.get("dtype") == "float"
                node_attrs["value"] = self.scalar(value, folded=large)[0]
        if op in ("cat", "stack"):  # a comprehension, or a list a loop appended to, among the tensors
            operands = [(text, "list") if operand_op == "list_comp" or isinstance(shape, ListShape) else (text, kind)
                        for (text, kind), operand_op, shape in zip(operands, view.operand_ops, view.operand_shapes)]
        if callable(definition.render):
            return definition.render(self, view, operands, node_attrs)
        return _fill(definition.render, definition, operands, node_attrs, self), definition.precedence

    def element_variable(self, node: int, details) -> str:
        """The name a layer list's element has in the loop that calls it (a `for` loop may rename it)."""
        anchor = self.ir.operands(node)[-1]
        names = self.loop_variables.get(anchor)
        if names is None:
            return details["var"]
        declared = list(self.graph.nodes[anchor]["attrs"]["vars"])
        return names[declared.index(details["var"])]

    def _render_layer_call(self, attrs, operands, node: int) -> str:
        details = attrs["attrs"]
        looped = details.get("element") or details.get("looped")  # the last operand is the loop
        texts = [text for text, _ in (operands[:-1] if looped else operands)]
        callee = self._called_block(attrs)
        if callee is not None:  # a tensor after a flag or size of the block's forward goes by name
            texts = [text if keyword_ is None else f"{keyword_}={text}"
                     for text, keyword_ in zip(texts, tensor_keywords(callee))]
        for name, value in details.get("forward_args", ()):  # a block's flags and sizes, by name
            texts.append(f"{name}={self.condition(value, self.forward_name) if isinstance(value, Cond) else self.dim(value)}")
        arguments = ", ".join(texts)
        if details.get("element"):
            return f"{self.element_variable(node, details)}({arguments})"
        target = f"self.{details['layer']}"
        for child in details["path"]:
            # A child named like a Python keyword (EMSA's `in`) is reached with getattr.
            target = f'getattr({target}, "{child}")' if keyword.iskeyword(child) else f"{target}.{child}"
        return f"{target}({arguments})"

    def _called_block(self, attrs):
        """The checked block a layer call calls (None for a layer)."""
        spec = self.ir.called_spec(attrs)
        if spec is not None and attrs["attrs"].get("index") is not None:  # `for attn, ff in layers:`
            spec = spec.children[attrs["attrs"]["index"]][1]
        return self.blocks.get(spec.block) if spec is not None and spec.kind == "block" else None

    def shape_comment(self, node: int, line: int | None = None) -> str:
        """`  # [b, c, h, w]  sge.attn:19`: the shape, and the spec line that made the value
        (for a `return`, the return's own line)."""
        attrs = self.graph.nodes[node]
        shape = attrs.get("display_shape") or attrs["shape"]
        where = f"{Path(attrs['span'].path).name}:{line or attrs['span'].line}"  # an imported block's own file
        if shape is None:  # no one shape in every world (ranks that differ): the line only
            return f"{SHAPE_COMMENT}{where}"
        if _multi_output(attrs):
            shown = [self.show(self.folded(s)) for s in shape]
            # `q, k, v = qkv.unbind(0)`: one shape, not the same one three times
            text = f"{shown[0]} each" if len(set(shown)) == 1 else ", ".join(shown)
        else:
            text = self.show(self.folded(shape))
        return f"{SHAPE_COMMENT}{text}  {where}"

    def forward_lines(self) -> list[str]:
        self.if_comments_left = dict(self.ir.if_comments)  # each written once, above its first `if`
        order = self.ir.topological()
        materialized = self.plan_names(order)
        statements: list[tuple[tuple, list[str]]] = []
        owners: list[int] = []  # the node each statement computes, for where a check may go
        copies = {}
        for phi, guard, operand in self.copies:
            copies.setdefault(phi, []).append((guard, operand))
        for node in order:
            for guard, operand in copies.get(node, []):
                # A value that could not be computed into the phi's name is copied there, at
                # the end of its own branch (one `if ... else`, not a second `if`).
                name = self.names[node]
                value = self.expression(operand, materialized)[0]
                if value == name:  # the branch's value already has the name (`t2 = t2`)
                    continue
                copy = (guard, [f"{name} = {value}"])
                read = self._named_reads(operand, materialized)
                after = max((i + 1 for i, owner in enumerate(owners) if owner in read), default=0)
                at = _copy_position(statements, tuple(guard), name, after)
                statements.insert(at, copy)
                owners.insert(at, node)
            if node not in materialized:
                continue
            attrs = self.graph.nodes[node]
            if attrs["op"] == "loop_end":  # a `for` loop (attndsl/codegen/loops.py)
                statements.append((attrs["guard"], self.loop_lines(node, materialized)))
                owners.append(node)
                continue
            text, _ = self._expression_unmaterialized(node, materialized)
            comments = self.statement_comments(node, materialized)
            if _multi_output(attrs):
                items = {self.graph.nodes[u]["attrs"]["index"]: self.names[u] for u in self.graph.successors(node)}
                count = len(attrs["shape"])
                targets = ", ".join(items.get(i, "_") for i in range(count))
                line = f"{targets}{',' if count == 1 else ''} = {text}"
            else:
                line = f"{self.names[node]} = {text}"
            statements.append((attrs["guard"], comments + [line + self.shape_comment(node)]))
            owners.append(node)
        prologue_checks, statements, owners = self._place_checks(statements, owners)
        outputs = []
        for output in self.ir.outputs:
            outputs.append(self.expression(output, materialized)[0])
        return_line = "return " + ", ".join(outputs)
        statements = release_lists(statements, owners, top_level_lists(self.graph, self.names), self.graph)
        lines = self._guarded(statements, self.forward_name, self.if_comments_left)
        inline = len(self.ir.outputs) == 1 and self.ir.outputs[0] not in materialized  # `return fc(x)`
        if inline:  # the comments of the statements written into the return, then the return's own
            lines += self.statement_comments(self.ir.outputs[0], materialized)
        lines += [f"# {comment_text(c)}" for c in self.ir.return_comments if comment_text(c)]
        if inline:
            return_span = getattr(self.ir, "return_span", None)
            return_line += self.shape_comment(self.ir.outputs[0], return_span.line if return_span else None)
        lines.append(return_line)
        prologue = self._prologue(prologue_checks)
        return prologue + lines

    def _named_reads(self, node: int, materialized: set[int]) -> set[int]:
        """The named values the expression of `node` reads: itself if it has a name, else
        those of its operands, through every value written inline."""
        found, todo, seen = set(), [node], {node}
        while todo:
            current = todo.pop()
            if current in materialized:
                found.add(current)
                continue
            for operand in self.graph.predecessors(current):
                if operand not in seen:
                    seen.add(operand)
                    todo.append(operand)
        return found

    def _expression_unmaterialized(self, node, materialized):
        materialized.discard(node)
        try:
            return self.expression(node, materialized)
        finally:
            materialized.add(node)


def _exclusive(a: tuple, b: tuple) -> bool:
    """Whether no run executes both guards (one holds a condition the other negates)."""
    from ..ir import complementary

    return any(complementary(x, y) for x in a for y in b)


def _copy_position(statements: list, guard: tuple, name: str, after: int = 0) -> int:
    """Where `name = value` goes for a branch of an `if`: after the branch's last statement,
    or, for a branch with none, next to its sibling branch (before it for an `if`'s own
    branch, after it for an `else:`, as the spec reads); where the branches meet if the name
    is read or written on the way there, or if the value is computed only after that place
    (`after`: the index past the last statement that writes a name the value reads)."""
    word = re.compile(rf"\b{re.escape(name)}\b")

    def reads(between) -> bool:
        return any(not _exclusive(guard, tuple(g)) and any(word.search(line) for line in body) for g, body in between)

    same = [i for i, (g, _) in enumerate(statements) if tuple(g) == guard]
    if same:
        at = same[-1] + 1
    else:
        sibling = [i for i, (g, _) in enumerate(statements)
                   if guard and len(g) >= len(guard) and tuple(g[:len(guard) - 1]) == guard[:-1]
                   and _exclusive((guard[-1],), (g[len(guard) - 1],))]
        at = sibling[0] if sibling else len(statements)
        if sibling and guard[-1].op == "not" and not reads(statements[sibling[0]:sibling[-1] + 1]):
            at = sibling[-1] + 1
    if at < after:
        return len(statements)
    for g, body in statements[at:]:
        if not _exclusive(guard, tuple(g)) and any(word.search(line) for line in body):
            return len(statements)
    return at


def _multi_output(attrs: dict) -> bool:
    """A node whose value is several tensors (chunk; a sub-block that returns a tuple):
    it gets a line of its own that unpacks them."""
    definition = OPS.get(attrs["op"])
    return (definition is not None and definition.outputs is not None) or bool(attrs["attrs"].get("outputs"))
