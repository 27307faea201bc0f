"""`python -m service` runs the `qfq` command line."""

from service.cli import app

app(prog_name="qfq")
