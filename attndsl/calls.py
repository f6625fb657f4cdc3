"""How a block is called, as its callers and its tests see it: which forward atoms hold for
the arguments of a call (optional inputs given, flags set), how a call passes the block its
tensors (by position, or by name after a flag or size), and the items of a list argument
the block reads (which a caller maps to its own)."""

from __future__ import annotations

from .ir import BlockIR, InputInfo


def forward_truths(inputs: list[InputInfo], given: dict) -> frozenset[str]:
    """The inputs whose forward atom holds in a call (`given`: name -> what the call passes;
    a name left out is not passed): an optional input given (`present`), a flag set by the
    call or by its default (`flag`)."""
    truths = set()
    for info in inputs:
        value = given.get(info.name)
        if info.dtype == "flag":
            if info.default if value is None else value:
                truths.add(info.name)
        elif value is not None:
            truths.add(info.name)
    return frozenset(truths)


def items_read(ir: BlockIR, name: str) -> list[tuple[str, int]]:
    """The items of the list argument `name` the block reads as sizes (`ws[0]`): (symbol,
    index) pairs. A caller of the block maps each to its own value of that item."""
    prefix = f"{name}["
    return sorted((item, int(item[len(prefix):-1])) for item in ir.list_items if item.startswith(prefix))


def tensor_keywords(callee: BlockIR) -> list[str | None]:
    """How a call passes a block its tensors, in order: by position (None) up to the block's
    first flag or size in forward's signature, by name after it (`attn(x, h, w, mask=m)`)."""
    scalars = [position for position, info in enumerate(callee.inputs) if info.dtype in ("flag", "size")]
    first = scalars[0] if scalars else len(callee.inputs)
    return [None if position < first else info.name for position, info in enumerate(callee.inputs)
            if info.dtype not in ("flag", "size")]
