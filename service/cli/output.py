"""The one way `qfq` commands report an error: a French line on stderr, then a stable exit code."""

from __future__ import annotations

from typing import Any

import typer

from indexer.errors import QfqError
from service.settings import ServiceSettings, read_settings

EXIT_FAILURE = 1  # the command could not do its job (nothing published, article absent, API refused...)
EXIT_USAGE = 2  # what was asked is wrong: an unknown value, a bad setting, a missing corpus


def fail(error: QfqError | str, *, code: str = "", exit_code: int = EXIT_FAILURE) -> typer.Exit:
    """Print `Erreur (<code>) : <message>` on stderr and return the exit to raise.

    Args:
        error: the error, or a message (then `code` names it).
        code: the stable code when `error` is a message.
        exit_code: `EXIT_FAILURE` or `EXIT_USAGE`.

    Returns:
        The `typer.Exit` to raise (`raise fail(exc) from exc`).
    """
    if isinstance(error, QfqError):
        code, message = error.code, error.message
    else:
        message = error
    typer.echo(f"Erreur ({code}) : {message}", err=True)
    return typer.Exit(code=exit_code)


def cli_settings(**overrides: Any) -> ServiceSettings:
    """The settings, or a French error and exit code 2 when a `QFQ_*` variable has a bad value."""
    try:
        return read_settings(**overrides)
    except QfqError as exc:
        raise fail(exc, exit_code=EXIT_USAGE) from exc
