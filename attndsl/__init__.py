"""attndsl: declarative attention blocks compiled to readable, shape-checked PyTorch."""

__version__ = "0.1.0"

# The public names load on first use, so that `attndsl compile` can decide a no-op
# before anything heavy is imported (attndsl/cache.py).
_LAZY = {"CompileResult": "compiler", "compile_file": "compiler", "compile_source": "compiler",
         "CompileError": "diagnostics", "load": "api"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'attndsl' has no attribute {name!r}")


__all__ = ["CompileError", "CompileResult", "compile_file", "compile_source", "load", "__version__"]
