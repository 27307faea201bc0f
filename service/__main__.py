"""`python -m service` runs the `qfq` command line."""

from service.cli import main

main()
