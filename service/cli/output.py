"""The one way `qfq` commands report an error: a French line on stderr, then a stable exit code."""

from __future__ import annotations

import typer

from indexer.errors import QfqError

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
