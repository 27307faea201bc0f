"""French for the messages the command line's libraries write themselves: Typer's strings and its copy of
click's usage errors, and the pydantic errors Typer reports when it converts an option (`--population -5`)."""

from __future__ import annotations

import re
from typing import Any

import typer._click.decorators
import typer._click.exceptions
import typer._coercion
import typer.completion
import typer.core
import typer.rich_utils

from service.errors import french_validation_message

# Typer's gettext strings (`typer.core`), as it writes them.
MESSAGES: dict[str, str] = {
    "Aborted!": "Interrompu.",
    "default: {default}": "défaut : {default}",
    "(dynamic)": "(calculé)",
    "required": "obligatoire",
    "env var: {var}": "variable d'environnement : {var}",
    "Arguments": "Arguments",
    "Options": "Options",
}
# Typer's panel strings, read once when Typer is imported.
RICH_STRINGS: dict[str, str] = {
    "DEPRECATED_STRING": "(obsolète) ",
    "DEFAULT_STRING": "[défaut : {}]",
    "ENVVAR_STRING": "[variable d'environnement : {}]",
    "REQUIRED_LONG_STRING": "[obligatoire]",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commandes",
    "ERRORS_PANEL_TITLE": "Erreur",
    "ABORTED_TEXT": "Interrompu.",
    "RICH_HELP": "Aide : [blue]« {command_path} {help_option} »[/].",
}


def translate(message: str) -> str:
    """French for one of the libraries' message ids (unknown ids are kept)."""
    return MESSAGES.get(message, message)


def _typer_error_message(exc: Any) -> str:
    """French for the pydantic error Typer met while converting an option value."""
    errors = exc.errors()
    return french_validation_message(errors[0], subject="ce paramètre") if errors else "valeur invalide."


# Typer's own copy of click writes its errors as English f-strings: their beginnings, in French.
_USAGE_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^Invalid value for (.+?): ", r"Valeur invalide pour \1 : "),
        (r"^Invalid value: ", "Valeur invalide : "),
        (r"^Missing option", "Option manquante"),
        (r"^Missing argument", "Argument manquant"),
        (r"^Missing parameter", "Paramètre manquant"),
        (r"^No such option: ", "Option inconnue : "),
        (r"^No such command ", "Commande inconnue : "),
        (r"Did you mean", "Vouliez-vous dire"),
        (r"^Got unexpected extra argument\(s\) ", "Argument(s) en trop "),
        (r"\(Possible options: ", "(options possibles : "),
        (r"^Value (.+?) is not a valid (\w+)\.", r"\1 n'est pas une valeur valide."),
    )
)
HELP_TEXT = "Affiche cette aide."
COMPLETION_HELP = {
    "Install completion for the current shell.": "Installe la complétion pour le shell courant.",
    "Show completion for the current shell, to copy it or customize the installation.": (
        "Affiche la complétion pour le shell courant, à copier ou adapter."
    ),
}


def french_usage(message: str) -> str:
    """A usage error of Typer's click, in French."""
    for pattern, replacement in _USAGE_PHRASES:
        message = pattern.sub(replacement, message)
    return message


def _in_french(method: Any) -> Any:
    def format_message(self: Any) -> str:
        return french_usage(method(self))

    format_message.in_french = True  # type: ignore[attr-defined]
    return format_message


def _french_help_option(param_decls: list[str]) -> Any:
    add = _original_help_option(param_decls)

    def decorator(command: Any) -> Any:
        command = add(command)
        command.params[-1].help = HELP_TEXT  # the option the decorator just added
        return command

    return decorator


_original_help_option = typer._click.decorators.help_option


def install() -> None:
    """Put the French strings in place (idempotent); call before the commands are built."""
    typer.core._ = translate  # type: ignore[attr-defined]
    for name, text in RICH_STRINGS.items():
        setattr(typer.rich_utils, name, text)
    typer._coercion.get_error_msg = _typer_error_message  # type: ignore[attr-defined]
    typer._click.decorators.help_option = _french_help_option  # type: ignore[assignment]
    exceptions = typer._click.exceptions
    for cls in (
        exceptions.ClickException,
        exceptions.BadParameter,
        exceptions.MissingParameter,
        exceptions.NoSuchOption,
    ):
        method = cls.__dict__.get("format_message") or cls.format_message
        if not getattr(method, "in_french", False):
            cls.format_message = _in_french(method)  # type: ignore[method-assign]
    for function in (
        typer.completion._install_completion_placeholder_function,
        typer.completion._install_completion_no_auto_placeholder_function,
    ):
        for default in function.__defaults__ or ():
            default.help = COMPLETION_HELP.get(default.help, default.help)
