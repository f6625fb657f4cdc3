"""Hand-written reference modules, one per mechanism, in plain PyTorch.

Each file is written from the math (``/work/shared/CATALOGUE.md``) and keeps the
published module's structure and attribute names, so that its ``state_dict`` keys are
the published ones (``/work/shared/INTERFACES.md``).  Where the published code is buggy,
the reference implements the intended math and says so in its docstring.

Nothing here may import ``attndsl`` or share code with the compiler or the generated
modules: the references are the independent side of every numeric comparison.
"""
