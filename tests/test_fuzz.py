"""Nothing crashes: the compiler returns code or diagnostics for any input, and what it
compiles runs with the shapes it inferred.

Two hypothesis properties over the strategies of tests/fuzzing/ (~150 examples each;
set ATTNDSL_FUZZ_EXAMPLES=5000 for a long run and
ATTNDSL_FUZZ_RANDOM=1 for new examples, or use scripts/fuzz.py for 100000+ cases):

- mutated catalogue specs (tokens and lines deleted, duplicated, swapped; numbers set to
  0, -1, huge, fractional; names changed to keywords, builtins, dunders; characters
  inserted; truncation): ``compile_source`` never raises, and the code it returns
  compiles and imports;
- random blocks built from the language's ops and layers, with an ``example(...)``:
  compiled modules run on the example and return exactly the inferred shapes, or stop at
  one of their own run-time checks when the example breaks a run-time fact.

Below them, every crash the fuzzers found, as a plain regression test of its minimal spec.
"""

from __future__ import annotations

import contextlib

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .fuzzing import SPECS, DataChooser, check_compiles, check_runs, generate_spec, mutate_spec

EXAMPLES = int(os.environ.get("ATTNDSL_FUZZ_EXAMPLES", "150"))
# The same examples every run, so that CI fails only on a change; ATTNDSL_FUZZ_RANDOM=1 draws
# new ones (and scripts/fuzz.py runs long random campaigns).
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("ATTNDSL_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@FUZZ
@given(st.data())
def test_mutated_specs_compile_or_diagnose(data):
    path, source = mutate_spec(DataChooser(data))
    check_runs(source, path)  # compiles (or diagnoses), and what compiles runs its examples


@FUZZ
@given(st.data())
def test_generated_specs_run_with_their_inferred_shapes(data):
    path, source = generate_spec(DataChooser(data))
    check_runs(source, path)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_catalogue_examples_run_with_their_inferred_shapes(name):
    """The oracle itself, on the specs we trust: every example runs to the inferred shapes."""
    assert check_runs(SPECS[name], f"specs/{name}") == "ok"


# ----------------------------------------------------------------------------- regressions
# Minimal specs of crashes the fuzzers found: (spec, expected outcome): an error code, "ok" (compiles
# and its example runs to the inferred shapes) or "runtime-check" (its example breaks a checked fact).

HEAD = "block B(a: int = 4):\n    input x: [b, c, h, w]\n"

REGRESSIONS = {
    # chunk into 1: its node's shape is a tuple of shapes; was an AttributeError/TypeError/
    # KeyError in the checker and codegen, and `t = x.chunk(1)` bound a tuple.
    "chunk_one": (HEAD + "    example(x=[2, 4, 3, 3])\n    t = chunk(x, 1, dim=1)\n    return t * 2\n", "ok"),
    "chunk_one_cat": (HEAD + "    example(x=[2, 4, 3, 3])\n    t = chunk(x, 1)\n    return cat([t], dim=0)\n",
                      "ok"),
    "chunk_one_layer": ("block B():\n    input y: [k]\n    example(y=[3])\n    layer drop = dropout()\n"
                        "    t = chunk(y, 1)\n    return drop(t)\n", "ok"),
    # padding="same" with a stride torch rejects (ValueError from nn.Conv2d).
    "same_padding_stride": ("block B():\n    input x: [b, 2, h, w]\n"
                            '    layer conv = conv2d(2, 3, 3, stride=2, padding="same")\n    return conv(x)\n', "E0112"),
    "same_padding_symbolic_stride": (
        "block B(k: int = 6):\n    input x: [b, c, h, w]\n    example(k=3, x=[1, 1, 4, 4])\n    example(k=6, x=[1, 1, 4, 4])\n"
        '    layer conv = conv2d(1, 3, k, k // 3, "same", bias=false)\n    return conv(x)\n', "runtime-check"),
    # A required argument after one with a default: `def __init__(self, a=1, g)` is a SyntaxError.
    "required_after_default": ("block B(a: int = 1, g: int):\n    input x: [b, d]\n    return shuffle(x, g)\n",
                               "E0111"),
    # The window of a conv larger than its (constant) padded input: torch RuntimeError in forward.
    "conv_window_too_large": ("block B():\n    input x: [b, 6, h, 6]\n    layer fc = linear(6, 3)\n"
                              "    layer conv = conv2d(6, 1, 3, stride=2, dilation=2)\n    return conv(fc(x))\n",
                              "E0205"),
    # ... and of a symbolic input: a run-time check, not torch's RuntimeError.
    "conv_window_checked_at_run_time": ("block B(a: int = 2):\n    input x: [b, a, h, w]\n    example(x=[1, 2, 5, 5])\n"
                                        "    layer conv = conv2d(a, 1, 3)\n    return conv(x)\n", "ok"),
    "conv_window_check_fires": ("block B(a: int = 2):\n    input x: [b, a, h, w]\n    example(x=[1, 2, 2, 5])\n"
                                "    layer conv = conv2d(a, 1, 3)\n    return conv(x)\n", "runtime-check"),
    # Layer arguments, param shapes, lets and requires (and `if`s around them) that use an input's
    # size: rendered into __init__, where it is not defined (NameError when built).
    "layer_argument_is_a_dim": (HEAD + "    layer conv = conv2d(c, 1, 3)\n    return conv(x)\n", "E0113"),
    "param_shape_is_a_dim": (HEAD + "    param p: [c, 1, 1] = zeros\n    return x * p\n", "E0113"),
    # ... a `let` of input sizes is computed in forward now (GFNet's grid): it runs
    "let_of_a_dim": (HEAD + "    example(x=[2, 3, 4, 5])\n    let m = h * w\n    return x * m\n", "ok"),
    "let_of_a_dim_in_a_layer": (HEAD + "    let m = h * w\n    layer fc = linear(m, 2)\n    return fc(x)\n",
                                "E0113"),
    # ... a `require` of input sizes is checked in forward now (`require n <= max_len`)
    "require_of_a_dim": (HEAD + "    example(x=[2, 3, 4, 5])\n    require c > 1\n    return x\n", "ok"),
    "require_of_a_dim_fails": (HEAD + "    example(x=[2, 1, 4, 5])\n    require c > 1\n    return x\n",
                               "runtime-check"),
    "require_of_an_optional_dim": ("block B():\n    input x: [b, c]\n    input m: [b, k] = None\n"
                                   "    require k > 1\n    return x\n", "E0113"),
    # ... where an `if` on the arguments or an optional input's presence holds, too
    "require_of_a_dim_under_if": ("block B(a: int = 4):\n    input x: [b, c]\n    example(x=[2, 3])\n"
                                  "    example(a=1, x=[2, 1])\n    if a > 2:\n        require c > 1\n"
                                  "    return x\n", "ok"),
    "require_of_a_dim_under_if_fails": ("block B(a: int = 4):\n    input x: [b, c]\n    example(x=[2, 1])\n"
                                        "    if a > 2:\n        require c > 1\n    return x\n", "runtime-check"),
    "layer_under_if_on_a_dim": (HEAD + "    if h > 2:\n        layer fc = linear(w, a)\n        y = fc(x)\n"
                                "    else:\n        y = x\n    return y\n", "E0113"),
    # A param without dims rendered `torch.ones()` (TypeError when built).
    "scalar_param": ("block B():\n    input y: []\n    example(y=[])\n    param p: [] = ones\n    return y * p\n", "ok"),
    # Dropout probability outside [0, 1]: ValueError from nn.Dropout.
    "dropout_range": ("block B():\n    input x: [b]\n    layer drop = dropout(2)\n    return drop(x)\n", "E0112"),
    # groups that do not divide the channels: ValueError from nn.Conv2d.
    "conv_groups_in": ("block B():\n    input x: [b, 7, h, w]\n    layer conv = conv2d(7, 6, 1, groups=3)\n"
                       "    return conv(x)\n", "E0203"),
    "conv_groups_out": ("block B():\n    input x: [b, 6, h, w]\n    layer conv = conv2d(6, 3, 1, groups=2)\n"
                        "    return conv(x)\n", "E0203"),
    "conv_groups_symbolic": ("block B(g: int = 2):\n    input x: [b, 6, h, w]\n    example(g=4, x=[1, 6, 3, 3])\n"
                             "    layer conv = conv2d(6, 12, 1, groups=g)\n    return conv(x)\n", "runtime-check"),
    # max_pool2d padding more than half its kernel: RuntimeError in forward.
    "pool_padding": ("block B():\n    input x: [b, c, h, w]\n    layer pool = max_pool2d(2, padding=2)\n"
                     "    return pool(x)\n", "E0112"),
    # A run-time check on a strided conv's output size rendered the checker's name `w'`.
    "derived_dim_in_check": (
        "block B(a: int, k: int):\n    input x: [b, c, h, w]\n    example(a=4, k=1, x=[2, 8, 5, 5])\n"
        "    layer conv = conv2d(8 * k, 1, k, stride=2, padding=a // 2)\n    y = conv(x)\n"
        "    layer fc = linear(a // 4, 7)\n    return fc(y)\n", "runtime-check"),
    # ... and the callee's `h'` leaked into the caller of a block used as a layer.
    "derived_dim_from_sub_block": (
        "block Gate(ch: int, k: int = 3):\n    input x: [b, ch, h, w]\n    layer conv = conv2d(ch, 1, k, padding=k // 2)\n"
        "    return sigmoid(conv(x))\n"
        "block B(c: int = 2):\n    input x: [b, c, h, w]\n    example(x=[1, 2, 5, 5])\n    layer gate = Gate(c, 3)\n"
        "    return x * gate(x)\n", "ok"),
    # Inconsistent dedent: lark's DedentError escaped.
    "bad_dedent": ("block n(l: int):\n  n = (n)\n e\n", "E0002"),
    # Example naming nothing / missing a required input: the module could not be instantiated.
    "example_unknown_name": ("block B():\n    input y: [b]\n    example(x=[2], y=[2])\n    return y\n", "E0112"),
    "example_missing_input": ("block B(a: int):\n    input y: [b]\n    example(a=1)\n    return y\n", "E0112"),
    "example_bad_shape": ("block B():\n    input y: [b]\n    example(y=2)\n    return y\n", "E0113"),
    # Dividing by a sum (`g=a + 2`) was never checked: exact_div's floordiv fallback passed for
    # "an integer". Torch's view then failed with a RuntimeError.
    "split_by_a_sum": ('block B(a: int = 1):\n    input x: [b, c]\n    example(x=[2, 8])\n'
                       '    return rearrange(x, "b (g k) -> b g k", g=a + 2)\n', "runtime-check"),
    "groups_a_sum": ("block B(a: int, g: int = 8):\n    input x: [b, 8, h, w]\n    example(a=1, x=[1, 8, 2, 2])\n"
                     "    layer conv = conv2d(g, 4, 1, groups=a + 2)\n    return conv(x)\n", "runtime-check"),
    # Floats where torch needs an int: `torch.zeros(1.0)`, `nn.Linear(64.0, 3)` (TypeError when built).
    "float_literal_param_dim": ("block B():\n    input x: [b, 2]\n    param p: [1e0, 2] = zeros\n"
                                "    return x * p\n", "E0205"),
    "float_division_param_dim": ("block B(a: int = 4):\n    input x: [b, 2]\n    param p: [a / 2] = zeros\n"
                                 "    return x * p\n", "E0205"),
    "float_layer_argument": ("block B():\n    input x: [b, 64]\n    layer fc = linear(64.0, 3)\n"
                             "    return fc(x)\n", "E0113"),
    "float_let_layer_argument": ("block B(a: int = 4):\n    input x: [b, 2]\n    let m = a / 2\n"
                                 "    layer fc = linear(m, 3)\n    return fc(x)\n", "E0113"),
    # instance_norm2d over a single position: ValueError from torch, in eval too.
    "instance_norm_one_position": ("block B():\n    input x: [b, 4, h, w]\n    layer norm = instance_norm2d(4)\n"
                                   "    return norm(max_pool(x))\n", "E0205"),
    # A rearrange to rank 0 rendered `reshape()` (TypeError).
    "rearrange_to_scalar": ('block B():\n    input x: [b, 3]\n    example(x=[1, 3])\n    t = mean(x, dim=[0, 1], keepdim=true)\n'
                            '    return rearrange(t, "1 1 -> ")\n', "ok"),
    # `if not flag: ... else: ...` after `if flag: ... else: ...` rendered two `else:` in a row
    # (black could not parse the module): `not not flag` is now `flag`.
    "double_negation_else": ("block B(flag: bool = true):\n    input x: [b]\n    example(x=[2])\n"
                             "    if flag:\n        t = x\n    else:\n        t = x * 3\n"
                             "    if not flag:\n        u = t\n    else:\n        u = t * 2\n    return u\n", "ok"),
    # The join of an if/else with different shapes, then a shuffle: its reshape wrote the
    # joined size `a|1` as Python (NameError).
    "shuffle_of_a_join": ("block B(a: int = 4, flag: bool = true):\n    input x: [b, a]\n    example(x=[2, 4])\n"
                          "    if flag:\n        t = x\n    else:\n        t = sum(x, dim=1, keepdim=true)\n"
                          "    return shuffle(transpose(t, 0, 1), 2)\n", "ok"),
    # ... a conv's output size computed from a join was rendered too; two such sizes in one
    # reshape cannot be written (a diagnostic, not an InternalError).
    "two_joined_sizes_in_a_reshape": (
        "block B(flag: bool = true):\n    input x: [b, n, d]\n    example(x=[2, 3, 4])\n"
        "    if flag:\n        t = x\n    else:\n        t = sum(x, dim=[1, 2], keepdim=true)\n"
        '    return rearrange(t, "b n d -> b (n d)")\n', "ok"),
    # (merged in place since, `t.flatten(0, 1)`: two sizes only the run time knows are fine)
    "two_joined_sizes_in_a_reshape_error": (
        "block B(flag: bool = true):\n    input x: [b, n, d]\n    example(x=[2, 3, 4])\n"
        "    if flag:\n        t = x\n    else:\n        t = sum(x, dim=[1, 2], keepdim=true)\n"
        '    return rearrange(t, "b n d -> (b n) d")\n', "ok"),
    # Found by running the examples of mutated catalogue specs:
    # a `let` redefining an argument stayed in ir.lets referring to itself; expanding it took
    # exponential time (a hang).
    "let_redefines_an_argument": ("block B(d: int = 16, L: int = 32):\n    input x: [b, c]\n"
                                  "    let d = max(L, 64 // d)\n    layer fc = linear(d, 2)\n    return x\n", "E0103"),
    # A required input after an optional one: `def forward(self, mask=None, x)`.
    "required_input_after_optional": ("block B():\n    input mask: [b, n] = None\n    input x: [b, n]\n"
                                      "    return x\n", "E0116"),
    # shuffle(out, 1.5): a fractional group count reshaped with the wrong sizes (RuntimeError).
    "fractional_shuffle_groups": ("block B():\n    input x: [b, 6, h, w]\n    return shuffle(x, 1.5)\n", "E0113"),
    "fractional_rearrange_size": ('block B():\n    input x: [b, 6]\n    return rearrange(x, "b (g c) -> b g c", g=1.5)\n',
                                  "E0113"),
    # A layer (or param) declared under one `if`, used under another: AttributeError at run time.
    "layer_used_outside_its_if": ("block B(ratio: int = 1, d: int = 4):\n    input x: [b, d]\n"
                                  "    if ratio > 1:\n        layer fc = linear(d, d)\n"
                                  "    if ratio > -64:\n        y = fc(x)\n    else:\n        y = x\n    return y\n",
                                  "E0106"),
    "param_used_outside_its_if": ("block B(simple: bool = false, n: int = 4):\n    input x: [b, n]\n"
                                  "    if simple:\n        param w: [n] = ones\n"
                                  "    if simple:\n        y = x\n    else:\n        y = x * w\n    return y\n",
                                  "E0106"),
    # An optional input used outside `if name:`: `tensor * None` (TypeError).
    "optional_input_used_unguarded": ("block B():\n    input x: [b, n]\n    input w: [b, n] = None\n"
                                      "    return x * w\n", "E0106"),
    # `_` named a dim: the generated `_, n, d = x.shape` never binds it (NameError).
    "underscore_dim": ("block B():\n    input x: [b, _, d]\n    return x * 2\n", "E0105"),
    # A keyword as a comprehension variable: `for try in self.fcs` (black could not parse it).
    "keyword_loop_variable": ("block B(d: int = 4, kernels: list[int] = [1, 3]):\n    input x: [b, d]\n"
                              "    layer fcs = [linear(d, d) for k in kernels]\n"
                              "    return stack([try(x) for try in fcs], dim=0)\n", "E0105"),
    # A kernel of 10**26: torch.empty overflowed when built.
    "absurd_kernel_size": ("block B(h: int = 2):\n    input x: [b, h, n, m]\n"
                           "    layer conv = conv2d(h, h, 99999999999999999999999999)\n    return conv(x)\n", "E0205"),
    # The element shape of a layer list's comprehension depends on the loop variable (SK
    # without its `require`): the run-time check named `k`, outside any loop (NameError).
    "element_shape_depends_on_loop": (
        "block B(c: int = 4, kernels: list[int] = [1, 3]):\n    input x: [b, c, h, w]\n"
        "    layer convs = [conv2d(c, c, k, padding=k // 2) for k in kernels]\n"
        "    return sum(stack([conv(x) for conv in convs], dim=0), dim=0)\n", "E0201"),
    # An argument named like a block of the file shadowed its class in __init__ (TypeError).
    "argument_named_like_a_block": ("block Gate():\n    input x: [b]\n    return x\n"
                                    "block B(Gate: int = 49):\n    input x: [b]\n    layer g = Gate()\n"
                                    "    return g(x)\n", "E0105"),
    # Found by the 100000-case run:
    # chunk(x, 1e308) made 10**308 item nodes (a hang).
    "absurd_chunk_count": ("block B():\n    input x: [b, 4]\n    p, q = chunk(x, 1e308, dim=1)\n    return p\n",
                           "E0115"),
    # A check on a tensor under `if mask:` (an optional input) was rendered in __init__ (NameError).
    "check_under_optional_input": (
        "block B(h: int = 2, d: int = 4):\n    input x: [b, h, n]\n    input w: [d, n] = None\n"
        "    example(x=[1, 2, 3])\n    y = x\n    if w:\n        y = x * w\n    return y\n", "ok"),
    # A sequential child named `float` clashed with nn.Module.float (KeyError when built).
    "sequential_child_named_float": ("block B(h: int = 2):\n    input x: [b, h]\n"
                                     "    layer s = sequential(fc=linear(h, h), float=relu())\n    return s(x)\n",
                                     "E0105"),
    # `t / 1e308` rendered a 309-digit int (OverflowError in torch); it is a float, written `1e+308`
    # (a whole number that large, `10 ** 308`, is refused: tests/test_lang_numbers.py).
    "huge_scalar": ("block B():\n    input x: [b]\n    example(x=[3])\n    return x / 1e308\n", "ok"),
    # A conv whose out_channels is 0 (`channel // reduction` with reduction > channel) builds,
    # then the next conv fails in forward: a check when built.
    "conv_without_channels": ("block B(c: int = 64, r: int = 16):\n    input x: [b, c, h, w]\n"
                              "    example(c=64, r=512, x=[2, 64, 3, 3])\n"
                              "    layer se = sequential(conv2d(c, c // r, 1), conv2d(c // r, c, 1))\n"
                              "    return se(x)\n", "runtime-check"),
    "conv_without_channels_constant": ("block B():\n    input x: [b, 4, h, w]\n    layer conv = conv2d(4, 0, 1)\n"
                                       "    return conv(x)\n", "E0205"),
    # group_norm with one value per group in the batch (batch * channels/groups * positions == 1):
    # ValueError in torch. With one channel and one position per group, only a batch of one.
    "group_norm_one_value": ("block B():\n    input x: [b, 3, h, w]\n    example(x=[1, 3, 4, 4])\n"
                             "    layer gn = group_norm(3, 3)\n    return gn(avg_pool(x))\n", "runtime-check"),
    # Found by the session-7 fuzz run: a layer named like a list argument renames the argument's
    # attribute (`self.ks_value`), but forward read its items from `self.ks` (the layer).
    "list_item_of_an_argument_a_layer_renamed": (
        "block B(c: int = 4, ks: list[int] = [2, 3]):\n    input x: [b, h, c]\n    example(x=[2, 6, 4])\n"
        "    layer fc = linear(c, c)\n    y = rearrange(fc(x), \"b (s t) c -> b s t c\", s=ks[0])\n"
        "    layer ks = identity()\n    return ks(y)\n", "ok"),
    # and a float written inside a tuple of sizes (`(1e0, 1)`): torch refuses a float kernel size.
    "float_in_a_tuple_of_sizes": ("block B(c: int = 4):\n    input x: [b, c, h, w]\n"
                                  "    layer conv = conv2d(c, 2, (1e0, 1))\n    return conv(x)\n", "E0113"),
    # The oracle did not bind the sizes of an optional input the example gives, and counted the
    # facts on them as broken (a false alarm of the session-7 fuzz run).
    "facts_on_an_optional_input_s_sizes": (
        "block B(d: int = 4):\n    input x: [b, n, d]\n    input s: [p, q] = None\n"
        "    example(x=[2, 24, 4], s=[4, 6])\n    if s:\n        y = rearrange(x, \"b (p q) d -> b p q d\", p=p, q=q)\n"
        "    else:\n        y = rearrange(x, \"b (p q) d -> b p q d\", q=n)\n"
        "    return rearrange(y, \"b p q d -> b (p q) d\")\n", "ok"),
    "group_norm_batch_of_two": ("block B():\n    input x: [b, 3, h, w]\n    example(x=[2, 3, 4, 4])\n"
                                "    layer gn = group_norm(3, 3)\n    return gn(avg_pool(x))\n", "ok"),
    "group_norm_one_value_constant": ("block B():\n    input x: [1, 3, h, w]\n    layer gn = group_norm(3, 3)\n"
                                      "    return gn(avg_pool(x))\n", "E0205"),
    # A layer list's loop variable named like a `let`: both were one symbol, so a mismatch
    # between them looked proven (RuntimeError in torch).
    "loop_variable_shadows_a_let": (
        "block B(c: int = 4, kernels: list[int] = [7], L: int = 32):\n    input x: [b, c]\n"
        "    let k = max(L, c)\n    layer fc = linear(c, k)\n    layer fcs = [linear(k, c) for k in kernels]\n"
        "    return stack([f(fc(x)) for f in fcs], dim=0)\n", "E0103"),
    # A fact about each element of a layer list (`batch_norm2d(k)` on `channel` channels) was
    # a check naming `k` outside its loop; now `all(channel == k for k in kernels)`.
    "per_element_check": (
        "block B(channel: int = 4, kernels: list[int] = [1]):\n    input x: [b, channel, h, w]\n"
        "    example(channel=4, kernels=[4], x=[2, 4, 3, 3])\n    example(channel=4, x=[2, 4, 3, 3])\n"
        "    layer norms = [batch_norm2d(k) for k in kernels]\n"
        "    return sum(stack([n(x) for n in norms], dim=0), dim=0)\n", "runtime-check"),
    # Found by the confirmation run: `x // (a // 6)` rendered as `x // a // 6` (wrong sizes in
    # a reshape, a wrong run-time check) once bare floor divisions lost their parentheses.
    "floordiv_by_a_floordiv": ("block B(a: int, k: int = 1, g: int = 6):\n    input x: [b, c, h, a // 12]\n"
                               "    example(x=[1, 12, 4, 1], a=12)\n"
                               "    layer conv = conv2d(12 * k, g // 6, 2, a // 6, padding=k)\n"
                               "    return shuffle(mean(conv(x), [1], true), 1)\n", "ok"),
    # A param dimension that an argument makes negative: RuntimeError when built.
    "negative_param_dimension": ("block B(a: int):\n    input x: [b]\n    example(a=2, x=[3])\n"
                                 "    param p: [a // -2] = randn\n    return x\n", "runtime-check"),
    "element_shape_with_its_require": (
        "block B(c: int = 4, kernels: list[int] = [1, 3]):\n    input x: [b, c, h, w]\n    example(x=[1, 4, 5, 5])\n"
        "    require all([k % 2 == 1 for k in kernels])\n"
        "    layer convs = [conv2d(c, c, k, padding=k // 2) for k in kernels]\n"
        "    return sum(stack([conv(x) for conv in convs], dim=0), dim=0)\n", "ok"),
    # A child's name in a loop whose braces hold a string or a boolean: a ValueError/TypeError
    # in the lowering's arithmetic (found by CI's run of the mutation property).
    "loop_child_named_by_a_string": (
        "block B(c: int = 4):\n    input x: [b, c]\n    layer s = sequential:\n        for i in range(2):\n"
        '            fc{"b c -> c b"} = linear(c, c)\n    return s(x)\n', "E0113"),
    "loop_child_named_by_a_boolean": (
        "block B(c: int = 4):\n    input x: [b, c]\n    layer s = sequential:\n        for i in range(2):\n"
        "            fc{true} = linear(c, c)\n    return s(x)\n", "E0113"),
    # An argument named like a builtin the generated code calls (`isinstance` in an `init` loop):
    # TypeError "'int' object is not callable" when built.
    "argument_named_isinstance": ("block B(isinstance: int = 2):\n    input x: [b, isinstance]\n"
                                  "    layer fc = linear(isinstance, 2)\n    init fc.bias = zeros()\n"
                                  "    return fc(x)\n", "E0105"),
    # A conv's output size made from a size joined from the branches of an `if` (`2|w`): its
    # derived name (`2|w'`) was not left to torch as the joined size is (the oracle could not
    # evaluate the inferred shape).
    "derived_from_a_joined_size": (
        "block B(a: int, g: int = 3, flag: bool = true):\n    input x: [b, a, g, w]\n"
        "    example(flag=true, x=[3, 4, 3, 2], a=4)\n    if flag:\n        layer fc2 = linear(2, 2)\n"
        "        t1 = fc2(x)\n    else:\n        t1 = x\n    layer conv6 = conv2d(a, max(a - 1, 3), g // 3)\n"
        "    return conv6(t1)\n", "ok"),
    # A tensor divided by a number that is zero (`att / sqrt(d_k)` with d_k = 0): the fused
    # attention's `scale=1 / d_k**0.5` raised ZeroDivisionError; now refused in __init__.
    "divided_by_a_zero_number": ("block B(k: int = 1):\n    input x: [b, d]\n    example(k=0, x=[2, 4])\n"
                                 "    return x / sqrt(k)\n", "E0207"),
    # A layer-kind argument given a list in an example: KeyError in the example's check.
    "layer_argument_in_an_example": ("block B(act: layer = relu):\n    input x: [b, d]\n    example(act=[], x=[2, 4])\n"
                                     "    layer a = act()\n    return a(x)\n", "E0113"),
    # A window op with stride 0: ZeroDivisionError computing its output size.
    "stride_zero": ("block B(c: int = 2):\n    input x: [b, c, h, w]\n    layer conv1 = conv2d(c, c, 1, 0)\n"
                    "    return conv1(x)\n", "E0205"),
    # Found by fuzz seed 9300001 (session 13). A `let` written as a float (`max(5., c // 2)`)
    # whose value is whole: the generated `nn.Conv2d(c, mip, 1)` got 5.0 (TypeError in torch).
    "float_let_as_channels": ("block B(c: int = 4):\n    input x: [b, c, h, w]\n    let mip = max(5., c // 2)\n"
                              "    layer conv = conv2d(c, mip, 1)\n    return conv(x)\n", "E0113"),
    # ... and through a second let that reads it
    "float_let_through_a_let": ("block B(c: int = 4):\n    input x: [b, c, h, w]\n    let m = max(5., c // 2)\n"
                                "    let mip = m + 1\n    layer conv = conv2d(c, mip, 1)\n    return conv(x)\n",
                                "E0113"),
    # int() makes it whole: compiles and runs
    "float_let_made_whole": ("block B(c: int = 4):\n    input x: [b, c, h, w]\n    example(x=[2, 4, 3, 3])\n"
                             "    let mip = int(max(5., c // 2))\n    layer conv = conv2d(c, mip, 1)\n"
                             "    return conv(x)\n", "ok"),
    # An axis written as a float (`softmax(dim=2.0)`): nn.Softmax(dim=2.0) fails in forward.
    "float_axis": ("block B():\n    input x: [b, c, h, w]\n    layer s = softmax(dim=2.0)\n    return s(x)\n",
                   "E0113"),
    # A constant tensor of 1e308 rows: torch.ones could not take the size. Written as a float
    # it is refused as one; written whole, as larger than any size.
    "float_constant_size": ("block B():\n    input x: [b, c, h, w]\n    return x + ones([1e308, 1, h, w])\n",
                            "E0113"),
    "huge_constant_size": ("block B():\n    input x: [b, c, h, w]\n    return x + ones([4294967296, 1, h, w])\n",
                           "E0205"),
    # Found by fuzz seed 9400001 (session 13). `inf` passed to a sub-block's float argument was
    # written `inf` in __init__ (NameError); it is `float("inf")`.
    "infinity_to_a_sub_block": ("block S(p: float = 0.0):\n    input x: [b, d]\n    return x\n"
                                "block B():\n    input x: [b, d]\n    example(x=[2, 3])\n    layer s = S(inf)\n"
                                "    return s(x)\n", "ok"),
    # None passed to a sub-block's argument that is not `| None` (TypeError in the sub-block).
    "none_to_a_sub_block": ("block S(d: int, k: int):\n    input x: [b, d]\n    layer l = linear(d, k)\n"
                            "    return l(x)\nblock B():\n    input x: [b, 4]\n    layer s = S(4, None)\n"
                            "    return s(x)\n", "E0113"),
    # A float among a tuple's sizes, behind a conditional (`(1, 2, 2.0) if ... else 2`).
    "float_in_a_conditional_tuple": ("block B(three: bool = true):\n    input x: [b, c, d, h, w]\n"
                                     "    layer p = max_pool3d((1, 2, 2.0) if three else 2)\n    return p(x)\n",
                                     "E0113"),
    # A list argument indexed by a float (`out_chs[2.0]`), rendered as written.
    "float_list_index": ("block B(chs: list[int] = [2, 3]):\n    input x: [b, d]\n"
                         "    layer l = linear(chs[0], chs[1.0])\n    return l(x)\n", "E0113"),
    # A sub-block given stride 0: ZeroDivisionError substituting it into the block's output size.
    "zero_stride_to_a_sub_block": ("block S(c: int, s: int = 1):\n    input x: [b, c, h, w]\n"
                                   "    layer conv = conv2d(c, c, 3, s)\n    return conv(x)\n"
                                   "block B():\n    input x: [b, 2, h, w]\n    layer s = S(2, 0)\n"
                                   "    return s(x)\n", "E0205"),
    # Found by fuzz seed 9500001 (session 13). A size named `_0`: its computed output size was
    # written `0_out`, not a Python name (the formatter refused the module).
    "size_named_underscore_digit": ("block B(c: int = 2, s: int = 1):\n    input x: [b, c, _0, w]\n"
                                    "    example(x=[2, 2, 5, 5])\n    layer conv = conv2d(c, c, 1, s)\n"
                                    "    layer bn = batch_norm2d(c)\n    return bn(conv(x))\n", "ok"),
    # A `let` of input sizes that is a float in Python (`sqrt(n)`) used as an axis size: the
    # reshape got a float. int() makes it whole.
    "float_forward_let_as_a_size": ("block B(d: int):\n    input x: [b, n, d]\n    let a = sqrt(n)\n"
                                    '    return rearrange(x, "b (p q) d -> b p q d", q=a)\n', "E0113"),
    "whole_forward_let_as_a_size": ("block B(d: int = 4):\n    input x: [b, n, d]\n    example(x=[2, 16, 4])\n"
                                    "    let a = int(sqrt(n))\n"
                                    '    return rearrange(x, "b (p q) d -> b p q d", q=a)\n', "ok"),
    # Convs of a list, padding i, applied pass by pass: each pass appended another size, the
    # list's items were taken as one shape, and torch.stack failed. (PSA pads by i with kernel
    # 2i + 3, so its sizes agree, and compiles.)
    "appended_sizes_vary_by_element": (
        "block B(c: int = 2, n: int = 3):\n    input x: [b, c, h, w]\n"
        "    layer convs = [conv2d(c, c, 3, padding=i) for i in range(n)]\n    outs = []\n"
        "    for conv in convs:\n        outs.append(conv(x))\n    return stack(outs, dim=1)\n", "E0201"),
    # A pack's rank argument with a reserved name (`tuple`): KeyError building `max_pool{tuple}d`.
    "reserved_rank_argument": ("block B(tuple: int = 2):\n    input x: [b, c, *spatial[tuple]]\n"
                               "    layer g = max_pool{tuple}d(2)\n    return g(x)\n", "E0105"),
    # A mean over every axis, kept: `t.mean(keepdim=True)` is a TypeError in torch (sum too),
    # which takes keepdim only with a dim (fuzz seed 9744882).
    "keepdim_without_dim": ("block B():\n    input x: [b, n]\n    example(x=[2, 3])\n"
                            "    return x - mean(x, keepdim=true) + sum(x, keepdim=true)\n", "ok"),
    # A layer argument dividing by a let of 0: ZeroDivisionError substituting the let (fuzz seed
    # 9731543); now the division by zero, reported once.
    "layer_argument_divides_by_a_zero_let": ("block B(dim: int = 4):\n    input x: [b, dim, h, w]\n"
                                             "    let factor = 0\n    layer conv = conv2d(dim, dim // factor, 1)\n"
                                             "    return conv(x)\n", "E0203"),
    # An FFT whose batch axis is empty: torch's CPU FFT (MKL) raises RuntimeError (differential
    # seed 21206962); only its two transform axes were checked.
    "fft_of_an_empty_batch_axis": ("block B():\n    input x: [b, 2, d]\n    buffer picked = arange(0)\n"
                                   "    return rfft2(x[:, picked])\n", "E0205"),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression(name):
    source, expected = REGRESSIONS[name]
    result = check_compiles(source, f"{name}.attn")
    errors = [d.code for d in result.diagnostics if d.is_error]
    if expected == "runtime-check":
        # The example breaks a checked fact: the compiler says so (E0207), and the module,
        # compiled without that validation, refuses the example with its own check.
        assert errors == ["E0207"], errors
        with _examples_not_validated():
            assert check_runs(source, f"{name}.attn") == expected
    elif expected == "ok":
        assert result.ok, errors
        assert check_runs(source, f"{name}.attn") == expected
    else:
        assert expected in errors, errors


@contextlib.contextmanager
def _examples_not_validated():
    import attndsl.shapes.block_checker as checker

    saved = checker.check_examples
    checker.check_examples = lambda ir, sink: None
    try:
        yield
    finally:
        checker.check_examples = saved


def test_runtime_check_in_init_keeps_its_guard():
    """A check on a layer declared under `if` runs only when the layer exists."""
    source = ("block B(ratio: int = 1, H: int = 1, d: int = 4):\n    input x: [b, n, d]\n    example(x=[1, 1, 4])\n"
              "    if ratio > 1:\n        layer conv = conv2d(d, d, ratio + 1, stride=ratio)\n"
              "        y = rearrange(conv(rearrange(x, \"b (hh ww) c -> b c hh ww\", hh=H, ww=H)), \"b c h w -> b (h w) c\")\n"
              "    else:\n        y = x\n    return y\n")
    assert check_runs(source, "guard.attn") == "ok"


def test_a_division_by_a_zero_let_is_reported_once():
    source, _ = REGRESSIONS["layer_argument_divides_by_a_zero_let"]
    errors = [(d.code, d.span.line, d.span.column) for d in check_compiles(source, "zero.attn").diagnostics
              if d.is_error]
    line = source.splitlines()[3]
    assert errors == [("E0203", 4, line.index("factor") + 1)], errors  # at `factor`, not again for `>= 1`
