"""An interpreted block: an nn.Module whose constructor and forward evaluate the
checked IR directly, without generating code.

Constructor: the arguments are bound (defaults filled in, types checked), then the
block's `let`s, `require`s, `param`s and `layer`s run in the order the spec wrote them,
each only when its `if` guards hold. Params and layers are registered under their spec
names, so `state_dict` keys are those of the generated module.

Forward: the inputs are checked against their declared shapes (rank, and every dim that
is not a new symbol equal to what the spec says it is), then the graph is walked in
topological order; a node whose guard is false is skipped, a `phi` takes the operand
its condition picks, a comprehension runs its body once per layer of its list.
"""

from __future__ import annotations

import networkx as nx
import torch
from torch import nn

from .. import syntax as ast
from ..calls import forward_truths, tensor_keywords
from ..ir import Cond
from ..lower import Literal
from ..layers import LAYERS, kind_named
from ..ops import OPS
from ..ops.selection import clamps, index_origin
from .inits import apply_init
from .layers import FACTORY, build_declared_layer
from .loops import plan_loops, run_loop
from .tensor_ops import TENSOR_OPS
from .inputs import bind_inputs, check_inputs
from .values import Refusal, Unbound, as_python, cond_value, expr_value, guard_holds, source_value, spec_value


class InterpreterBug(AssertionError):
    """The IR is inconsistent, or the interpreter does not know an op: never a refusal."""


_ARG_TYPES = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "list[int]": lambda v: isinstance(v, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in v),
    "str": lambda v: isinstance(v, str),
    "list[str]": lambda v: isinstance(v, (list, tuple)) and all(isinstance(i, str) for i in v),  # GCNet's tuple
    "layer": lambda v: isinstance(v, type) and issubclass(v, nn.Module),
    "device": lambda v: isinstance(v, (str, torch.device)),
    "dtype": lambda v: isinstance(v, torch.dtype),
}


_ABSENT = object()  # the value of a param that the arguments did not create


class _NoInputsYet(frozenset):
    """`present` while the module is built: a guard that tests an optional input cannot be decided."""

    def __contains__(self, name) -> bool:
        raise Refusal(f"`if {name}:` tests an optional input, which is not known while the module is built")


class InterpretedBlock(nn.Module):
    def __init__(self, program, name: str, kwargs: dict):
        super().__init__()
        self._program = program
        self._ir = program.blocks[name]
        self._source = program.sources[name]
        self._name = name
        self._env = self._bind_arguments(dict(kwargs))
        self._construct()
        self._plan()

    def extra_repr(self) -> str:
        return f"interpreted block {self._name}"

    # ------------------------------------------------------------------ constructor
    def _bind_arguments(self, kwargs: dict) -> dict:
        env = {}
        for arg in self._ir.args:
            if arg.name in kwargs:
                value = kwargs.pop(arg.name)
            elif not arg.required:
                value = list(arg.default) if isinstance(arg.default, list) else arg.default
            else:
                raise TypeError(f"{self._name}() missing required argument {arg.name!r}")
            if arg.type == "layer" and isinstance(value, str):  # the default, or a kind taken by its name
                if kind_named(value) is None or value != arg.default and not arg.default_name:
                    raise Refusal(f"{self._name}: {arg.name} must be a layer kind, got {value!r}")
                value = getattr(nn, LAYERS[kind_named(value)].torch_class)
            if not (getattr(arg, "optional", False) and value is None) and not _ARG_TYPES[arg.type](value):
                raise Refusal(f"{self._name}: {arg.name} must be a {arg.type}, got {value!r}")
            if arg.name in self._ir.compared_floats and value != value:  # NaN, as codegen/numbers.py refuses it
                raise Refusal(f"{self._name}: `{arg.name}` must be a number, got {value!r}")
            env[arg.name] = value
            if arg.type == "list[int]":
                env[f"len({arg.name})"] = len(value)
                env.update({f"{arg.name}[{i}]": item for i, item in enumerate(value)})  # `out_chs[2]`
        if kwargs:
            raise TypeError(f"{self._name}() got unexpected arguments {sorted(kwargs)}")
        # torch's factory arguments, for the layers and params that take them (layers.FACTORY)
        env[FACTORY] = {kind: env[name] for kind, name in self._ir.factory.items() if env[name] is not None}
        return env

    def _construct(self) -> None:
        ir, env = self._ir, self._env
        statements = [(let.span, "let", let) for let in ir.lets] + \
            [(check.span, "require", check) for check in ir.requires] + \
            [(param.span, "param", param) for param in ir.params] + \
            [(layer.span, "layer", layer) for layer in ir.layers] + \
            [(buffer.span, "buffer", buffer) for buffer in ir.buffers] + \
            [(init.span, "init", init) for init in ir.inits if not init.inline]
        statements.sort(key=lambda item: (item[0].line, item[0].column) if item[1] != "init" else (1e9,))
        for _, kind, item in statements:
            if not guard_holds(item.guard, env, _NoInputsYet()):
                continue
            if kind == "let":
                env[item.name] = spec_value(item.source, item.value, env)
            elif kind == "require":
                if not spec_value(item.source, item.condition, env):
                    raise Refusal(f"{self._name}: {item.message}")
            elif kind == "param":
                self.register_parameter(item.name, self._make_param(item, env))
                for init in (i for i in ir.inits if i.inline and i.name == item.name):
                    apply_init(self, init, env)
            elif kind == "init":  # once every parameter exists, in the order written
                apply_init(self, item, env)
            elif kind == "buffer":
                self.register_buffer(item.name, self._buffer_tensor(item, env), persistent=item.persistent)
            elif item.alias is not None:  # `layer f_query = f_key`: the same module
                self.add_module(item.name, self._modules[item.alias])
            else:
                self.add_module(item.name, build_declared_layer(item, env, self._build_block))

    def _make_param(self, info, env: dict) -> nn.Parameter:
        sources = info.shape_sources or [None] * len(info.shape)
        dims = [spec_value(source, dim, env) for source, dim in zip(sources, info.shape)]
        for dim in dims:
            if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:  # no empty params (as no empty inputs)
                raise Refusal(f"{self._name}: param {info.name} would have the dimension {dim!r}")
        if info.value is not None:  # `param w: [d] = ...`: its first value, computed from the arguments
            return nn.Parameter(self._init_tensor(info.value, env).clone(), requires_grad=not info.frozen)
        return nn.Parameter(getattr(torch, info.init)(dims, **env[FACTORY]), requires_grad=not info.frozen)

    def _buffer_tensor(self, info, env: dict) -> torch.Tensor:
        """A `buffer`: the nodes that compute it (made from the arguments alone), evaluated once."""
        return self._init_tensor(info.value, env)

    def _init_tensor(self, value: int, env: dict) -> torch.Tensor:
        """What the nodes that compute `value` from the arguments alone give, evaluated once."""
        graph = self._ir.graph
        needed = nx.ancestors(graph, value) | {value}
        values: dict = {}
        self._walk([n for n in self._ir.topological() if n in needed], set(), values, dict(env), _NoInputsYet(), {})
        return self._operand(values, value)

    def _build_block(self, name: str, arguments: dict) -> nn.Module:
        callee = self._program.blocks[name]  # its `device` and `dtype` are this block's
        factory = {callee.factory[kind]: value for kind, value in self._env[FACTORY].items() if kind in callee.factory}
        return InterpretedBlock(self._program, name, {**arguments, **factory})

    def _plan(self) -> None:
        """Topological order, and the body of each comprehension (run once per layer)."""
        ir, graph = self._ir, self._ir.graph
        self._order = ir.topological()
        self._comprehensions = {}
        for node in self._order:
            if graph.nodes[node]["op"] == "list_comp":
                loop = ir.operands(node)[-1]
                body = nx.descendants(graph, loop) & nx.ancestors(graph, node)
                self._comprehensions[node] = (loop, [n for n in self._order if n in body], body)
        self._nested = {}
        for node, (_, _, body) in self._comprehensions.items():
            inner = set()
            for other, (other_loop, _, other_body) in self._comprehensions.items():
                if other in body:
                    inner |= other_body | {other_loop}
            self._nested[node] = inner
        # A buffer's computation ran in the constructor; forward reads the buffer.
        self._top_skip = {n for n in self._order if graph.nodes[n].get("phase") == "init"}
        for loop, _, body in self._comprehensions.values():
            self._top_skip |= body | {loop}
        self._loops = plan_loops(ir, self._order)  # `for` loops: their bodies run once a pass
        for anchor, body in self._loops.values():
            self._top_skip |= set(body) | {anchor}

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        inputs = bind_inputs(self._ir, self._name, args, kwargs)
        present = forward_truths(self._ir.inputs, inputs)
        env = dict(self._env)
        check_inputs(self._ir, self._name, self._source.input_shapes, inputs, env)
        for name in self._ir.forward_lets:  # `let a = int(sqrt(n))`: sizes computed from the inputs'
            self._refusals_as_written(name, env)
            env[name] = as_python(expr_value(self._ir.derived[name], env))
        for require in self._ir.forward_requires:  # `require n <= max_len`, once the sizes are known
            if guard_holds(require.guard, env, present) and not spec_value(require.source, require.condition, env):
                raise Refusal(f"{self._name}: {require.message}")
        values: dict = {}
        self._walk(self._order, self._top_skip, values, env, present, inputs)
        outputs = [self._operand(values, node) for node in self._ir.outputs]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _refusals_as_written(self, name: str, env: dict) -> None:
        """A let of input sizes as the spec wrote it, for what it refuses: its canonical value
        may have cancelled a divisor (`(n - 1) / (n - 1)` is 1), which the module checks as
        written (n = 1 divides by zero). Its value stays the canonical one, the size the
        checker knows (the module computes `n / 2` in its int form, lower/declarations.py)."""
        source = self._source.lets.get(name)
        if source is not None:
            try:
                source_value(source, env)
            except Unbound:
                pass

    def _walk(self, order, skip, values: dict, env: dict, present, inputs: dict) -> None:
        graph = self._ir.graph
        for node in order:
            if node in skip:
                continue
            attrs = graph.nodes[node]
            try:
                if guard_holds(attrs["guard"], env, present):
                    value = self._evaluate(node, attrs, values, env, present, inputs)
                    if value is not _ABSENT:
                        values[node] = value
            except Exception as error:
                # Where it failed, innermost block first: (block, node) pairs, and a note for people.
                trace = getattr(error, "attndsl_trace", None)
                if trace is None:
                    trace = error.attndsl_trace = []
                    error.add_note(f"attndsl.interpret: while evaluating `{attrs['op']}` at {attrs['span']}")
                trace.append((self._name, node))
                raise

    def _operand(self, values: dict, node: int):
        if node not in values:
            raise InterpreterBug(f"node {node} ({self._ir.graph.nodes[node]['op']}) is used but was not computed")
        return values[node]

    def _evaluate(self, node: int, attrs: dict, values: dict, env: dict, present, inputs: dict):
        op, details = attrs["op"], attrs["attrs"]
        operands = self._ir.operands(node)
        if op == "input":
            return inputs[details["input"]]
        if op == "buffer":
            return self._buffers[details["buffer"]]
        if op == "param":
            # A param node has no guard of its own (the IR keeps it on the declaration): one
            # declared under a false `if` has no value, and nothing that runs may use it.
            return self._parameters.get(details["param"], _ABSENT)
        if op == "scalar":
            return self._scalar(attrs, env)
        if op == "item":
            return self._operand(values, operands[0])[details["index"]]
        if op == "phi":
            chosen = operands[0] if cond_value(details["condition"], env, present) else operands[1]
            return self._operand(values, chosen)
        if op == "call_layer":
            return self._call_layer(details, operands, values, env, present)
        if op == "list_comp":
            return self._comprehension(node, details, operands, values, env, present, inputs)
        if op == "loop_end":
            return run_loop(self, node, details, operands, values, env, present, inputs)
        function = TENSOR_OPS.get(op)
        if function is None:
            raise InterpreterBug(f"the interpreter has no meaning for op {op!r}")
        return function(_Call(self, op, attrs, env, operands, values), *(self._operand(values, o) for o in operands))

    def _scalar(self, attrs: dict, env: dict):
        value = attrs["attrs"]["value"]
        if isinstance(value, Literal):
            return value.value
        source = self._source.find(attrs["span"])
        return spec_value(source, value, env, self._source.assigned)

    def _call_layer(self, details: dict, operands: list, values: dict, env: dict, present):
        if details.get("element"):
            module = self._operand(values, operands[-1])
            operands = operands[:-1]
            if isinstance(module, dict):  # layer lists zipped together: this call's list's element
                module = module[details["layer"]]
            if details.get("index") is not None:  # `for attn, ff in layers:`
                module = module[details["index"]]
        else:
            if details.get("looped"):
                operands = operands[:-1]  # the loop it runs in
            if details["layer"] not in self._modules:
                raise Refusal(f"{self._name}: layer {details['layer']} does not exist with these arguments")
            module = self._modules[details["layer"]]
            for child in details["path"]:
                module = getattr(module, child)
        # a block's flags and sizes, as this block's values make them
        given = {name: cond_value(value, env, present) if isinstance(value, Cond) else as_python(expr_value(value, env))
                 for name, value in details.get("forward_args", ())}
        tensors = [self._operand(values, o) for o in operands]
        if isinstance(module, InterpretedBlock):  # after a flag or size of its forward, a tensor goes by name
            names = tensor_keywords(module._ir)
            given |= {name: tensor for name, tensor in zip(names, tensors) if name is not None}
            tensors = [tensor for name, tensor in zip(names, tensors) if name is None]
        return module(*tensors, **given)

    def _comprehension(self, node, details, operands, values, env, present, inputs) -> list:
        loop, body, _ = self._comprehensions[node]
        if details["layer"] not in self._modules:
            raise Refusal(f"{self._name}: layer {details['layer']} does not exist with these arguments")
        results = []
        for module in self._modules[details["layer"]]:
            local = dict(values)
            local[loop] = module
            self._walk(body, self._nested[node], local, env, present, inputs)
            results.append(self._operand(local, operands[0]))
        return results


class _Call:
    """What an op's entry in TENSOR_OPS may read: attributes, and expressions as the spec wrote them."""

    def __init__(self, block: InterpretedBlock, op: str, attrs: dict, env: dict, operands: list[int] = (),
                 values: dict | None = None):
        self.block, self.op, self.attrs, self.env = block, op, attrs["attrs"], env
        self.span = attrs["span"]
        self.operands = list(operands)  # the operand nodes (what they are in the spec, not their values)
        self._values = values if values is not None else {}

    def operand_node(self, index: int) -> dict:
        return self.block._ir.graph.nodes[self.operands[index]]

    def positions_axis(self, index: int) -> int | None:
        """The size of the axis along which operand `index`'s positions were computed (by
        topk, argsort, ...: the language bounds them by it, not by the values drawn), `max +
        1` of an integer tensor clamped to [min, max], or None where that operand holds no
        such positions (a buffer)."""
        ir = self.block._ir
        origin, source = index_origin(ir, self.operands[index])
        if origin == "clamped":  # values in [0, max]: max + 1 bounds them as an axis of that size would
            highest = 0
            for node in clamps(ir, source):  # (one, or one on each branch of an `if`)
                clamp = _Call(self.block, "clamp", ir.graph.nodes[node], self.env, ir.operands(node), self._values)
                low, high = (clamp.number(name) if clamp.attrs.get(name) is not None else None
                             for name in ("min", "max"))
                if low is None or high is None or low < 0 or high < 0:
                    raise Refusal(f"an index clamped to [{low}, {high}]: both bounds must be given and at least 0")
                highest = max(highest, high)
            return highest + 1
        if origin != "positions":
            return None
        x = self.block._operand(self._values, ir.operands(source)[0])
        return x.shape[ir.graph.nodes[source]["attrs"]["dim"] % x.dim()]

    def number(self, name: str):
        if name.startswith("sizes."):
            value = dict(self.attrs["sizes"])[name[len("sizes."):]]
        else:
            value = self.attrs[name]
        if isinstance(value, Literal):
            return value.value
        return spec_value(self._argument_source(name), value, self.env, self.block._source.assigned)

    def values(self, name: str) -> list:
        """tensor()'s numbers as the spec writes them (Python's ints and floats), else as the
        IR holds them; a `list[int]` argument's items."""
        value = self.attrs[name]
        if isinstance(value, str):
            return list(self.env[value])
        source = self._argument_source(name)
        if source is not None and not (ast.names_in(source) & self.block._source.assigned):
            try:
                return source_value(source, self.env)
            except Unbound:
                pass
        floating = self.attrs["floating"]

        def number(item):
            if isinstance(item, tuple):
                return [number(part) for part in item]
            if isinstance(item, Literal):
                return item.value
            result = as_python(expr_value(item, self.env))
            return float(result) if floating else result

        return number(value)

    def _argument_source(self, name: str):
        call = self.block._source.find(self.span, ast.Call)
        if call is None or self.op not in OPS:
            return None
        keyword = name[len("sizes."):] if name.startswith("sizes.") else name
        for kw in call.kwargs:
            if kw.name == keyword:
                return kw.value
        positional = [p.name for p in OPS[self.op].params if p.kind != "sizes"]
        if keyword in positional and positional.index(keyword) < len(call.args):
            return call.args[positional.index(keyword)]
        return None


# ---------------------------------------------------------------------------- helpers
