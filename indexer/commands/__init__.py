"""Typer commands of the `qfq` CLI that belong to the indexer (mounted by `service/cli.py`)."""
