"""The `qfq` command line: one module per command group."""
