"""`python -m service` runs the `qfq` command line."""

from service.cli.main import main

main()
