"""The tools' subcommands on the `attndsl` command line.

Only argparse declarations live here: each command's module is imported when the
command runs, so neither `attndsl compile` nor `--help` imports torch or pygls.
"""

from __future__ import annotations

from importlib import import_module


def _runner(module: str):
    def run(args) -> int:
        return import_module(f"attndsl.tools.{module}").run(args)

    return run


def add_commands(commands) -> None:
    graph = commands.add_parser("graph", help="draw a block's dataflow with symbolic shapes")
    graph.add_argument("spec", metavar="SPEC")
    graph.add_argument("--block", metavar="NAME", help="draw only this block (default: every block)")
    graph.add_argument("--format", choices=("dot", "mermaid", "svg"), default="dot",
                       help="dot (Graphviz), mermaid, or svg (needs Graphviz's `dot`); default: dot")
    graph.set_defaults(tool=_runner("graph"))

    cost = commands.add_parser("cost", help="parameters, FLOPs and peak activation memory")
    cost.add_argument("spec", metavar="SPEC")
    cost.add_argument("--block", metavar="NAME", help="the block (default: the last one in the file)")
    cost.add_argument("--size", nargs="+", action="extend", metavar="NAME=VALUE",
                      help="an argument, a dim or an input shape (x=[2,64,7,7]); default: the first example")
    cost.add_argument("--json", action="store_true", help="print a JSON object")
    cost.set_defaults(tool=_runner("cost"))

    fmt = commands.add_parser("fmt", help="format specs canonically (in place)")
    fmt.add_argument("specs", nargs="+", metavar="SPEC")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a spec is not formatted")
    fmt.set_defaults(tool=_runner("fmt"))

    verify = commands.add_parser("verify", help="compare a spec with a hand-written module, numerically")
    verify.add_argument("spec", metavar="SPEC")
    verify.add_argument("--against", required=True, metavar="FILE.py:Class", help="the module to compare with")
    verify.add_argument("--block", metavar="NAME", help="the block (default: the last one in the file)")
    verify.add_argument("--args", nargs="+", action="extend", metavar="K=V",
                        help="constructor arguments and input shapes (default: the first example)")
    verify.set_defaults(tool=_runner("verify"))

    diff = commands.add_parser("diff", help="what changes between two specs")
    diff.add_argument("old", metavar="A.attn")
    diff.add_argument("new", metavar="B.attn")
    diff.set_defaults(tool=_runner("diff"))

    lsp = commands.add_parser("lsp", help="run the language server on stdin/stdout (needs pygls)")
    lsp.set_defaults(tool=_runner("lsp"))
