"""attndsl: declarative attention blocks compiled to readable, shape-checked PyTorch."""

__version__ = "0.1.0"

from .compiler import CompileResult, compile_file, compile_source  # noqa: E402
from .diagnostics import CompileError  # noqa: E402

__all__ = ["CompileError", "CompileResult", "compile_file", "compile_source", "__version__"]
