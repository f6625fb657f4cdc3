"""Fuzzing strategies and oracles for the compiler ("nothing crashes"), shared by
``tests/test_fuzz.py`` (hypothesis) and ``scripts/fuzz.py`` (many cases, no pytest).

Every generator draws its choices from a *chooser*: :class:`RandomChooser` wraps
``random.Random`` (fast, for the long run), :class:`DataChooser` wraps hypothesis'
``st.data()`` (so hypothesis can shrink a failing case).  Two families of inputs:

- :func:`mutate_spec`: a catalogue spec with a few token/line/number/name/string edits;
  the oracle (:func:`check_compiles`) is that ``compile_source`` returns (code or
  diagnostics) without raising, and that the code it returns compiles and imports.
- :func:`generate_spec`: a random block built from the language's ops and layers, with
  an ``example(...)`` line; most are well-formed, some have shape errors.  The oracle
  (:func:`check_runs`) also runs the generated module on the example: it must return
  outputs of exactly the statically inferred shapes, or raise a ``ValueError`` from one
  of its own run-time checks when (and only when) the example breaks a run-time fact.

A bug found by an oracle raises :class:`FuzzBug` (an ``AssertionError``); anything
else an oracle raises is the compiler (or generated code) crashing.

One module per concern; this package re-exports the names other modules import:

- ``errors``: :class:`FuzzBug`;
- ``choosers``: :class:`RandomChooser`, :class:`DataChooser`, :func:`shuffled`;
- ``mutation``: the catalogue :data:`SPECS`, :func:`tokenize`, the edits, :func:`mutate_spec`;
- ``shapes``: :data:`SIZES`, :class:`GenTensor` (the generator's beliefs about sizes);
- ``generator``: :class:`SpecGenerator` (state, helpers, ``generate()``), :func:`generate_spec`;
- ``tensor_ops``, ``layer_ops``: the generator's ``op_*`` steps, as mixins;
- ``oracles``: :func:`check_compiles`, :func:`check_runs`, :func:`load_module`,
  :func:`example_arguments`;
- ``facts``: what an example binds and which run-time facts it breaks (for ``check_runs``);
- ``minimize``: :func:`failure_signature`, :func:`minimize`.
"""

from __future__ import annotations

from .choosers import DataChooser, RandomChooser, shuffled
from .errors import FuzzBug
from .facts import MAX_ELEMENTS, MAX_SIZE, bindings_for, example_inputs, violated_facts
from .generator import ARG_POOL, SpecGenerator, generate_spec
from .layer_ops import LayerOps
from .minimize import failure_signature, minimize
from .mutation import (
    MUTATIONS,
    REPO_ROOT,
    SPECS,
    SPECS_DIR,
    mutate_once,
    mutate_spec,
    tokenize,
)
from .oracles import (
    check_compiles,
    check_runs,
    compile_spec,
    example_arguments,
    load_module,
)
from .shapes import SIZES, GenTensor
from .tensor_ops import TensorOps

__all__ = ["ARG_POOL", "MAX_ELEMENTS", "MAX_SIZE", "MUTATIONS", "REPO_ROOT", "SIZES", "SPECS", "SPECS_DIR",
           "DataChooser", "FuzzBug", "GenTensor", "LayerOps", "RandomChooser", "SpecGenerator", "TensorOps",
           "bindings_for", "check_compiles", "check_runs", "compile_spec", "example_arguments", "example_inputs",
           "failure_signature", "generate_spec", "load_module", "minimize", "mutate_once", "mutate_spec", "shuffled",
           "tokenize", "violated_facts"]
