"""Tools for spec authors and reviewers, one module per command.

`graph` (the dataflow with symbolic shapes), `cost` (parameters, FLOPs, peak activation
memory), `fmt` (canonical formatting), `verify` (a spec against a hand-written module),
`diff` (what changes between two specs), `lsp` (a language server). `commands.py`
registers them on the `attndsl` command line; each command's module is imported only
when it runs, so `attndsl compile` pays nothing for them. `verify` needs torch and `lsp`
needs pygls; neither is imported on the compile path.
"""
