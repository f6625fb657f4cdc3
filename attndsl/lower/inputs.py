"""Lowering of a block's inputs: tensors with their shapes (each new size a name the
checker ties to the input), optional inputs (whose sizes exist only where they are given),
masks, packs of sizes (`*spatial`), and the flags and sizes forward is given."""

from __future__ import annotations

from .. import syntax as ast
from ..ir import CheckInfo, Cond, InputInfo
from ..ranks import RANKS, PackSizes, pack_dims
from ..symbolic import Expr
from .helpers import _label
from .values import SizesInput, Tensor


# An input's element type as written -> the checker's. `long[b, n]` is an integer tensor
# (int64, what HF's `position_ids`/`input_ids` and torch's index ops take) whose values are
# unknown until forward runs: it indexes only once clamped (attndsl/ops/selection.py).
_TENSOR_DTYPES = {None: "float", "float": "float", "bool": "bool", "long": "int", "sizes": "sizes"}
# Names a porter reaches for that are not element types here, each with why.
_DTYPE_HELP = {
    "int": "write `long[...]` for an integer tensor: forward checks it is int64 (torch.long), as HF's ids and "
           "torch's index ops are, where torch's `int` is int32; `input n: int` (no shape) is one size",
    "int64": "write `long[...]` for an int64 tensor", "double": "floating-point inputs need no type",
}


class InputLowering:
    _declaring_input = False  # an input's shape reads its own sizes, and says so if it borrows another's

    def _stmt_Input(self, stmt: ast.Input) -> None:
        self._declaring_input = True
        try:
            self._input(stmt)
        finally:
            self._declaring_input = False

    def _input(self, stmt: ast.Input) -> None:
        if self.guard:
            raise self.error("E0116", "inputs cannot be declared inside `if`", stmt.span)
        defaulted = next((i for i in self.ir.inputs if i.optional or i.default is not None), None)
        if defaulted is not None and not (stmt.optional or stmt.default is not None):
            # forward(self, mask=None, x) would be a SyntaxError, as in Python.
            raise self.error("E0116", f"input `{stmt.name}` is required but follows the optional input "
                             f"`{defaulted.name}`", stmt.span, help="declare the optional inputs last")
        if stmt.shape is None:
            return self._scalar_input(stmt)
        if stmt.dtype not in _TENSOR_DTYPES:
            raise self.error("E0111", f"unknown element type `{stmt.dtype}` for input `{stmt.name}`", stmt.span,
                             help=_DTYPE_HELP.get(stmt.dtype, "write `bool[...]` for a mask, `long[...]` for "
                                                  "integer ids or positions, `sizes[a, b]` for a tuple of sizes; "
                                                  "floating-point inputs need no type"))
        shape, pack = [], None
        for axis, dim in enumerate(stmt.shape):
            if isinstance(dim, ast.Pack):
                pack = self._pack(stmt, dim, axis)
                continue
            if stmt.dtype == "sizes" and not (isinstance(dim, ast.Name) and dim.id not in self.scope):
                # `spatial_size: sizes[p, q]`: it names sizes forward is given, nothing more
                raise self.error("E0113", f"each size of `{stmt.name}` is a new name", dim.span,
                                 help=f"e.g. `input {stmt.name}: sizes[p, q] = None`")
            if isinstance(dim, ast.Name) and dim.id not in self.scope:
                # A new dimension symbol, bound by this input's size at run time. An
                # optional input's are bound only when it is given, and checked then.
                symbol = Expr.symbol(dim.id)
                self._bind(dim.id, "dim", symbol, dim.span)
                if stmt.optional:
                    self.ir.optional_dims.add(dim.id)
                    self.ir.optional_dim_origin[dim.id] = (stmt.name, axis)
                else:
                    self.ir.dim_origin[dim.id] = (stmt.name, axis)
                shape.append(symbol)
            else:
                value = self._dim(dim)
                borrowed = sorted(s for s in value.symbols() & self.ir.optional_dims  # (its own: `[m, m]`)
                                  if self.ir.optional_dim_origin[s][0] != stmt.name)
                if borrowed:
                    # That input may be absent: its sizes exist only when it is given.
                    owner = self.ir.optional_dim_origin[borrowed[0]][0]
                    raise self.error("E0113", f"`{borrowed[0]}` is a size of the optional input `{owner}`, which "
                                     f"may be absent", dim.span,
                                     help=f"give `{stmt.name}` its own name for this size")
                shape.append(value)
        if stmt.name in self.scope:
            raise self.error("E0103", f"`{stmt.name}` is already defined", stmt.span,
                             labels=[_label(self.scope[stmt.name][2], "first defined here")])
        dtype = _TENSOR_DTYPES[stmt.dtype]
        node = self.ir.add_node("input", [], span=stmt.span, input=stmt.name, optional=stmt.optional, dtype=dtype)
        self.ir.inputs.append(InputInfo(stmt.name, shape, stmt.optional, stmt.span, node, dtype, pack))
        if stmt.dtype == "sizes":  # no tensor: its sizes are read by their names (and `if name:` when optional)
            self._bind(stmt.name, "input_opt" if stmt.optional else "sizes", SizesInput(stmt.name), stmt.span)
        else:
            self._bind(stmt.name, "input_opt" if stmt.optional else "tensor", Tensor(node), stmt.span)
        self.ir.graph.nodes[node]["name"] = stmt.name

    def _scalar_input(self, stmt: ast.Input) -> None:
        """An input without a shape: a flag (`bool`) or a size (`int`)."""
        if stmt.dtype not in ("bool", "int"):
            raise self.error("E0111", f"input `{stmt.name}` has no shape: it is a tensor (`[b, n]`), a flag "
                             "(`bool`) or a size (`int`)", stmt.span,
                             help=f"`input {stmt.name}: [b, n]`, `input {stmt.name}: bool = false` or "
                             f"`input {stmt.name}: int`")
        if stmt.name in self.scope:
            raise self.error("E0103", f"`{stmt.name}` is already defined", stmt.span,
                             labels=[_label(self.scope[stmt.name][2], "first defined here")])
        if stmt.dtype == "int":
            self._size_input(stmt)
        else:
            self._flag_input(stmt)

    def _flag_input(self, stmt: ast.Input) -> None:
        """`input is_causal: bool = false`: a bool forward is called with. It decides `if`s in
        forward (`if is_causal:`), each branch checked as its own world; nothing __init__
        builds may depend on it."""
        default = stmt.default
        if default is not None and not isinstance(default, ast.Bool):
            raise self.error("E0111", f"the default of the flag `{stmt.name}` is true or false", default.span)
        node = self.ir.add_node("input", [], span=stmt.span, input=stmt.name, optional=False, dtype="flag")
        self.ir.inputs.append(InputInfo(stmt.name, [], False, stmt.span, node, "flag",
                                        default=None if default is None else default.value))
        self._bind(stmt.name, "flag", Cond("flag", (stmt.name,)), stmt.span)
        self.ir.graph.nodes[node]["name"] = stmt.name

    def _size_input(self, stmt: ast.Input) -> None:
        """`input H: int`: a size forward is given (PVT's `forward(x, H, W)`), a whole number
        of at least 1 named by the input itself, as an input's dimension is."""
        if stmt.default is not None:
            raise self.error("E0111", f"the size `{stmt.name}` has no default: forward is given it", stmt.default.span)
        symbol = Expr.symbol(stmt.name)
        node = self.ir.add_node("input", [], span=stmt.span, input=stmt.name, optional=False, dtype="size")
        self.ir.inputs.append(InputInfo(stmt.name, [symbol], False, stmt.span, node, "size"))
        self.ir.dim_origin[stmt.name] = (stmt.name, 0)
        self._bind(stmt.name, "dim", symbol, stmt.span)
        self.ir.graph.nodes[node]["name"] = stmt.name

    def _pack(self, stmt: ast.Input, pack: ast.Pack, axis: int) -> str:
        """`*spatial[dimension]`: as many sizes as the int argument `dimension` says (1 to 3, the
        ranks torch's conv, pool and norm layers exist for). The checker checks each rank."""
        if axis != len(stmt.shape) - 1:
            raise self.error("E0113", "a pack of sizes comes last in the shape", pack.span,
                             help=f"e.g. `input {stmt.name}: [b, c, *{pack.name}[dimension]]`")
        if stmt.optional or stmt.dtype is not None:
            raise self.error("E0113", "only a required floating-point input takes a pack of sizes", pack.span)
        length = pack.length
        arg = next((a for a in self.ir.args if isinstance(length, ast.Name) and a.name == length.id), None)
        if arg is None or arg.type != "int" or arg.optional:
            raise self.error("E0113", f"the length of `*{pack.name}` is an int argument of the block", length.span,
                             help=f"e.g. `block B(c: int, dimension: int = 2)` and `*{pack.name}[dimension]`")
        if self.ir.packs:
            raise self.error("E0113", "a block has one pack of sizes", pack.span,
                             help="give the other inputs the same sizes by a rearrange, or a block per input")
        if pack.name in self.scope:
            raise self.error("E0103", f"`{pack.name}` is already defined", pack.span,
                             labels=[_label(self.scope[pack.name][2], "first defined here")])
        if not arg.required and arg.default not in RANKS:
            raise self.error("E0113", f"the default of `{arg.name}` must be one of {', '.join(map(str, RANKS))}: "
                             f"it is the rank of `*{pack.name}`", arg.span)
        self.ir.packs[pack.name] = arg.name
        self.ir.rank_args[arg.name] = RANKS
        for rank in RANKS:
            for index, dim in enumerate(pack_dims(pack.name, rank)):
                self.ir.dim_origin.setdefault(str(dim), (stmt.name, axis + index))
        self._bind(pack.name, "pack", PackSizes(pack.name), pack.span)
        size = Expr.symbol(arg.name)
        condition = Cond("and", (Cond("cmp", (">=", size, Expr.const(RANKS[0]))),
                                 Cond("cmp", ("<=", size, Expr.const(RANKS[-1])))))
        # written as the spec would: `1 <= dimension and dimension <= 3`
        name, span = ast.Name(length.span, arg.name), length.span
        source = ast.BoolOp(span, "and", [ast.Compare(span, ">=", name, ast.Number(span, str(RANKS[0]))),
                                          ast.Compare(span, "<=", name, ast.Number(span, str(RANKS[-1])))])
        self.ir.requires.append(CheckInfo(condition, f"`{arg.name}` must be {', '.join(map(str, RANKS[:-1]))} or "
                                          f"{RANKS[-1]}, the rank of `*{pack.name}`", pack.span, "init", (), source))
        return pack.name
