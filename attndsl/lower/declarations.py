"""Lowering of the declarations of a block: params, layers, lets, requires and examples (inputs:
attndsl/lower/inputs.py)."""

from __future__ import annotations


from .. import syntax as ast
from ..spec_expr import expr as spec_expr
from ..diagnostics import Span
from ..ir import CheckInfo, Cond, KindName, LayerInfo, LetInfo, ParamInfo
from ..symbolic import Expr
from ..inits import INITIALIZERS
from ..layers import LAYERS
from .layer_kinds import kinds_like, written_kind
from .values import (PARAM_INITS, ListArg, StrListArg, Tensor, suggest)
from .helpers import (_label, _mod_fact, _symbols_of)
from .loops import is_range
from .numbers import is_choice


class DeclarationLowering:
    def _stmt_Param(self, stmt: ast.Param) -> None:
        shape = [self._dim(d) for d in stmt.shape]
        init = stmt.init
        initialised = isinstance(init, ast.Call) and isinstance(init.func, ast.Name) and init.func.id in INITIALIZERS
        named = isinstance(init, ast.Name) and init.id in PARAM_INITS
        if isinstance(init, ast.Name) and not named and self.scope.get(init.id, ("",))[0] != "buffer":
            raise self.error("E0114", "a param is initialised with zeros, ones, randn, an initialiser call or a "
                             "tensor computed from the arguments",
                             init.span, help=f"call it: `{init.id}()`" if getattr(init, "id", "") in INITIALIZERS
                             else suggest(getattr(init, "id", ""), PARAM_INITS) or
                             "e.g. normal(std=0.02), trunc_normal(std=0.02), constant(1.0); the initialisers are "
                             "listed in the README's Initialisation section")
        self._built_in_init(stmt.span, f"the shape of param `{stmt.name}`", shape, stmt.shape)
        for node, dim in zip(stmt.shape, shape):
            self._require_whole(node, dim, f"a dimension of param `{stmt.name}`", "E0205")
        value = None if named or initialised else self._param_value(stmt)
        info = ParamInfo(stmt.name, shape, "empty" if initialised else "value" if value is not None else init.id,
                         tuple(self.guard), stmt.span, stmt.comments, list(stmt.shape), value=value,
                         frozen=stmt.frozen)
        if initialised:
            self._param_initializer(stmt, shape)  # `torch.empty(...)`, then `nn.init.normal_(...)`
        self.ir.params.append(info)
        self._bind(stmt.name, "param", info, stmt.span)

    def _param_value(self, stmt: ast.Param) -> int:
        """`param w: [1, 1, d] = float(arange(d)) / d`: a first value computed in __init__ from the
        arguments, as a buffer is (RWKV's `time_mix` ramps, Mamba's `A_log`)."""
        first = max(self.ir.graph.nodes, default=-1) + 1
        self._building_buffer = f"the first value of param `{stmt.name}`"  # made as a buffer is
        try:
            value = self._expr(stmt.init)
        finally:
            self._building_buffer = None
        if not isinstance(value, Tensor):
            raise self.error("E0114", f"param `{stmt.name}` is initialised with a tensor", stmt.init.span,
                             help="e.g. `zeros`, `normal(std=0.02)` or `float(arange(d)) / d`")
        self._built_in_init(stmt.init.span, f"the first value of param `{stmt.name}`")
        self._made_in_init(first)
        return value.node

    def _stmt_Layer(self, stmt: ast.Layer) -> None:
        value = stmt.value
        if isinstance(value, ast.ListComp):
            self._one_loop_var(value, "a layer list's range or list argument")
        if isinstance(value, ast.ListComp) and is_range(value.iterable):
            info = self._range_layer_list(stmt, value)  # attndsl/lower/loops.py
        elif isinstance(value, ast.ListComp):
            if isinstance(value.iterable, ast.ListExpr):  # `for k in [3, 5, 7]`
                raise self.error("E0113", "a layer list loops over a list[int] argument or a range",
                                 value.iterable.span, help=f"make the list an argument, e.g. `kernels: list[int] = "
                                                           f"{spec_expr(value.iterable)}`, and loop over it")
            iterable = self._expr(value.iterable)
            if not isinstance(iterable, ListArg):
                words = isinstance(iterable, StrListArg)
                raise self.error("E0113", "a layer list loops over a list[int] argument or a range" +
                                 (f"; `{iterable.name}` is a list[str]" if words else ""), value.iterable.span,
                                 help="branch on its strings instead: `if \"...\" in ...:`" if words else None)
            saved = self.scope.get(value.var)
            self._check_loop_var(value.var, value.var_span)
            shadowed = self.scope.get(value.var)
            if shadowed is not None and shadowed[0] in ("arg", "let", "dim", "loopvar", "scalar"):
                # Its sizes would be one symbol with the hidden name's: shapes would seem to agree.
                raise self.error("E0103", f"`{value.var}` is already defined; the loop variable would hide it",
                                 value.var_span, labels=[_label(shadowed[2], "defined here")])
            self.scope[value.var] = ("loopvar", Expr.symbol(value.var), value.var_span)
            outer_element, self._element = self._element, (iterable.name, value.var)  # needs, per element
            try:
                element = self._element_spec(value.element)
            finally:
                self._element = outer_element
                if saved is None:
                    self.scope.pop(value.var, None)
                else:
                    self.scope[value.var] = saved
            info = LayerInfo(stmt.name, None, tuple(self.guard), stmt.span, stmt.comments, element=element,
                             loop_var=value.var, iterable=iterable.name)
        elif isinstance(value, ast.Name) and self.scope.get(value.id, ("",))[0] == "layer":
            info = self._layer_alias(stmt, value)
        else:
            info = LayerInfo(stmt.name, self._layer_spec(value), tuple(self.guard), stmt.span, stmt.comments)
        self._built_in_init(stmt.value.span, f"the arguments of layer `{stmt.name}`", info.spec, info.element,
                            stmt.value)
        self.ir.layers.append(info)
        self._bind(stmt.name, "layer", info, stmt.span)

    def _layer_alias(self, stmt: ast.Layer, value: ast.Name) -> LayerInfo:
        """`layer f_query = f_key`: the module `f_key` is, under a second name (a call of either
        runs it; its parameters are in the state_dict under both names)."""
        shared = self._expr(value)
        if shared.path or shared.info.element is not None or shared.info.alias is not None:
            raise self.error("E0113", "a layer may take the name of another layer, declared as a layer of its own",
                             value.span)
        declared = [info for info in self.ir.layers if info.name == value.id]
        if len(declared) > 1 and not self._implied(shared.info.guard):
            # which declaration it is, only a world knows: its calls would be checked as the first's
            raise self.error("E0113", f"`{value.id}` is declared on each branch of an `if`: name it again inside "
                             "each branch", value.span, labels=[_label(info.span, "declared here") for info in declared])
        return LayerInfo(stmt.name, shared.info.spec, tuple(self.guard), stmt.span, stmt.comments,
                         alias=shared.info.name)

    def _stmt_Let(self, stmt: ast.Let) -> None:
        if isinstance(stmt.value, (ast.ListExpr, ast.ListComp)):  # HorNet's `dims = [dim // 2 ** i ...]`
            raise self.error("E0113", "`let` binds one number; a list of numbers is a `list[int]` argument",
                             stmt.value.span, help="declare it an argument (`dims: list[int] = [...]`), whose items "
                                                   "are `dims[i]`, and `require` what they must be")
        if is_choice(stmt.value):  # `a if c else b`, `a or b`, also inside a call: one let per branch
            return self._let_conditional(stmt)
        value = self._expr(stmt.value)
        if not isinstance(value, Expr):
            raise self.error("E0113", "`let` binds a number computed from the arguments", stmt.value.span)
        if _symbols_of([value, stmt.value]) & self._input_sizes():
            return self._forward_let(stmt, value)
        self._built_in_init(stmt.value.span, "a `let`", value, stmt.value)
        # Bound first: a `let` that redefines a name (`let d = max(L, channel // d)` with an
        # argument `d`) must not reach ir.lets, where it would refer to itself.
        self._bind(stmt.name, "let", Expr.symbol(stmt.name), stmt.span)
        self.ir.lets.append(LetInfo(stmt.name, value, stmt.span, tuple(self.guard), stmt.value))

    def _forward_let(self, stmt: ast.Let, value: Expr) -> None:
        """`let a = int(sqrt(n))` of the sizes of inputs: a size computed in forward (GFNet's
        token grid), which the checker knows by its definition, as the sizes it names itself."""
        self._in_forward("a `let` of input sizes is computed", value.symbols(), stmt.value.span, stmt.span)
        self._bind(stmt.name, "dim", Expr.symbol(stmt.name), stmt.span)
        self.ir.derived[stmt.name] = value
        self.ir.forward_lets.append(stmt.name)
        self.forward_let_asts[stmt.name] = stmt.value
        self.ir.forward_let_sources[stmt.name] = stmt.value  # a float where Python makes one: `n / 2`

    def _stmt_Require(self, stmt: ast.Require) -> None:
        # what a list[str] argument holds is checked as written; the shape checker learns nothing of it
        condition = Cond.const(True) if self._about_string_list(stmt.condition) else self._condition(stmt.condition)
        message = stmt.message or f"`{spec_expr(stmt.condition)}` must hold"
        if _symbols_of([condition, stmt.condition]) & self._input_sizes():
            self._forward_require(stmt, condition, message)
            return
        self._check_not_under_forward_condition(stmt)
        self._built_in_init(stmt.condition.span, "a `require`", condition, stmt.condition)
        self.ir.requires.append(CheckInfo(condition, message, stmt.span, "init", tuple(self.guard), stmt.condition))
        self._learn(condition)

    def _forward_require(self, stmt: ast.Require, condition: Cond, message: str) -> None:
        """`require n <= max_len` of input sizes: checked in forward, once the sizes are known
        and before anything is computed (the shape checker makes it a check, and a fact for
        forward only: nothing __init__ checks may rest on it). Under an `if`, it is checked
        where the `if` holds: `if ctx:` / `require m <= max_len` for the context's size `m`
        (the `if`s decide on arguments, flags and inputs given, all known when forward opens; a
        size of an optional input is read only under `if` it is given, _check_optional_size)."""
        self.ir.forward_requires.append(CheckInfo(condition, message, stmt.span, "forward", tuple(self.guard),
                                                  stmt.condition, kind="require"))

    def _in_forward(self, what: str, symbols: set, span: Span, statement: Span) -> None:
        """A forward let: every call has the sizes it reads, and it comes before any `if`."""
        optional = sorted(symbols & self.ir.optional_dims)
        if optional:
            raise self.error("E0113", f"{what} in forward, and `{optional[0]}` is the size of an optional input, "
                             "which may be absent", span)
        if self.guard:
            raise self.error("E0113", f"{what} in forward, before any `if`", statement,
                             help="write it outside the `if`")

    def _input_sizes(self) -> set[str]:
        """The sizes known only when the module is called: of its inputs (optional ones too)
        and the lets of them."""
        return set(self.ir.dim_origin) | set(self.ir.optional_dims) | set(self.ir.forward_lets)

    def _built_in_init(self, span: Span, what: str, *values, help: str | None = None) -> None:
        """Layers, params, lets and requires are made in __init__, before any input is seen:
        they (and the `if`s around them) may use arguments, not the sizes of inputs. `values`
        are what the checker made of them and the spec's nodes they were written as: both,
        because __init__ renders what is written, and a size the simplified value has lost
        (`(n - 1) / (n - 1)` is 1, `n * 0` is 0) would still be read there, before it exists.
        (Rendering the simplified value instead would also be sound, but would show the reader
        a line that is not the spec's; a let of such a form is computed in forward, as written:
        its placement is decided by the same union, `_stmt_Let`.)"""
        dims = self._input_sizes()
        found = sorted(_symbols_of(list(values)) & dims)
        if found:
            raise self.error("E0113", f"{what} must be known when the module is built, but `{found[0]}` is the size "
                             "of an input, known only when it is called", span,
                             help=help or "use a constructor argument instead; the shape checker ties it to the input")
        found = sorted(_symbols_of(list(self.guard)) & dims)
        if found:
            raise self.error("E0113", f"{what} must be known when the module is built, but the `if` around it "
                             f"tests `{found[0]}`, the size of an input", span,
                             help="test constructor arguments only around layers, params, lets and requires")

    def _learn(self, condition: Cond) -> None:
        """Turn `k % m == r` requirements into facts the shape checker can use."""
        if condition.op == "all_elems":
            list_name, var, inner = condition.args
            if isinstance(list_name, str) and inner.op == "cmp" and inner.args[0] == "==":
                _, left, right = inner.args
                fact = _mod_fact(left, right, var)
                if fact:
                    self.list_element_facts.setdefault(list_name, []).append(fact)
        elif condition.op == "cmp" and condition.args[0] == "==":
            _, left, right = condition.args
            for name in left.symbols():
                fact = _mod_fact(left, right, name)
                if fact:
                    self.list_element_facts.setdefault("=" + name, []).append(fact)
        elif condition.op == "and":
            for part in condition.args:
                self._learn(part)

    def _stmt_Example(self, stmt: ast.Example) -> None:
        example = {}
        for kw in stmt.kwargs:
            if kw.name in example:
                raise self.error("E0112", f"`{kw.name}` is given twice", kw.span)
            example[kw.name] = self._example_value(kw.value)
        self.ir.examples.append(example)
        self.ir.example_spans.append(stmt.span)
        self._example_stmts = getattr(self, "_example_stmts", []) + [(stmt, example)]

    def _check_examples(self) -> None:
        """An example names every required argument and input, and nothing else, with values
        of the right kind: it is what tests and readers instantiate and run."""
        args = {a.name: a for a in self.ir.args}
        inputs = {i.name: i for i in self.ir.inputs}
        for stmt, example in getattr(self, "_example_stmts", []):
            for kw in stmt.kwargs:
                value = example.get(kw.name)
                if kw.name in inputs and inputs[kw.name].dtype == "flag":
                    if type(value) is not bool:
                        self.error("E0113", f"the example of the flag `{kw.name}` is true or false", kw.value.span)
                elif kw.name in inputs and inputs[kw.name].dtype == "size":
                    if not (type(value) is int and value >= 1):
                        self.error("E0113", f"the example of the size `{kw.name}` is a whole number of at least 1",
                                   kw.value.span)
                elif kw.name in inputs:
                    if not (isinstance(value, list) and all(type(v) is int and v >= 0 for v in value)):
                        self.error("E0113", f"the example of input `{kw.name}` is its shape, a list of sizes",
                                   kw.value.span, help=f"e.g. {kw.name}=[2, 64, 7, 7]")
                elif kw.name in args:
                    kind = args[kw.name].type
                    ok = {"int": lambda v: type(v) is int, "float": lambda v: type(v) in (int, float),
                          "bool": lambda v: type(v) is bool,
                          "list[int]": lambda v: isinstance(v, list) and all(type(i) is int for i in v),
                          "str": lambda v: type(v) is str,
                          "list[str]": lambda v: isinstance(v, list) and all(type(i) is str for i in v),
                          }.get(kind, lambda v: False)  # a device or a dtype keeps its default
                    if value is None:
                        if not args[kw.name].optional:
                            self.error("E0113", f"the example gives `{kw.name}` None, but it is not optional",
                                       kw.value.span)
                    elif kind == "layer":
                        allowed = self._example_kinds(kw.name)
                        if not (isinstance(value, KindName) and value in allowed):
                            self.error("E0113", f"the example gives `{kw.name}` a value that is not one of its layer "
                                       "kinds", kw.value.span, help=f"one of {', '.join(allowed)}")
                    elif not ok(value):
                        article = "an" if kind[0] in "aeiou" else "a"
                        self.error("E0113", f"the example gives `{kw.name}` a value that is not {article} {kind}",
                                   kw.value.span)
                elif not any(isinstance(s, ast.Input) and s.name == kw.name for s in self.block.body):
                    # (an input whose declaration was refused has its error already)
                    self.error("E0112", f"the example names `{kw.name}`, which is neither an argument nor an "
                               f"input of block {self.block.name}", kw.span,
                               help=suggest(kw.name, list(args) + list(inputs)))
            missing = [a.name for a in self.ir.args if a.required and a.name not in example]
            missing += [i.name for i in self.ir.inputs
                        if not i.optional and i.default is None and i.name not in example]
            if missing:
                self.error("E0112", f"the example does not give {', '.join(f'`{m}`' for m in missing)}",
                           stmt.span, help="an example gives every required argument and every input")

    def _example_kinds(self, name: str) -> list[str]:
        """The kinds a `layer` argument may be given: its type's family, else its default's."""
        declared = next(a for a in self.block.args if a.name == name)
        model = self._layer_family(declared) or written_kind(declared.default)
        return kinds_like(model) if model in LAYERS else []

    def _example_value(self, node):
        if isinstance(node, ast.ListExpr):
            return [self._example_value(item) for item in node.items]
        if isinstance(node, ast.Number):
            return self._number(node)
        if isinstance(node, ast.UnaryOp) and node.op == "-" and isinstance(node.operand, ast.Number):
            return -self._number(node.operand)
        if isinstance(node, ast.Bool):
            return node.value
        if isinstance(node, ast.String):  # a str argument's value
            return node.value
        if isinstance(node, ast.NoneLit):  # an optional argument's None
            return None
        if isinstance(node, ast.Name) and node.id in LAYERS:  # a layer-kind argument's kind
            return KindName(node.id)
        raise self.error("E0113", "example values are numbers, booleans, strings, layer kinds, None or lists of them",
                         node.span)
