"""Every message `qfq` prints is French: its own, Typer's and click's, and bad settings."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from service.cli.main import app

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_help_is_french() -> None:
    shown = runner.invoke(app, ["--help"])
    assert shown.exit_code == 0
    assert "Affiche cette aide." in shown.output and "Show this message" not in shown.output
    assert "Commandes" in shown.output and "Installe la complétion" in _flat(shown.output)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ["profil", "--type", "commune", "--population", "-5"],
            "Valeur invalide pour '--population' : ce paramètre doit être supérieur ou égal à 0.",
        ),
        (
            ["profil", "--type", "commune", "--agents", "beaucoup"],
            "Valeur invalide pour '--agents' : ce paramètre doit être un nombre entier.",
        ),
        (["profil"], "Option manquante '--type'."),
        (["pas-une-commande"], "Commande inconnue"),
        (["search", "--nope", "x"], "Option inconnue : --nope"),
        (["index", "list", "en-trop"], "Argument(s) en trop (en-trop)"),
        (
            ["model", "prepare", "--moteur", "gpu"],
            "--moteur doit valoir « onnx-fp32 », « onnx » ou « torch ».",
        ),
    ],
)
def test_usage_errors_are_french(arguments: list[str], expected: str) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert expected in _flat(result.output)
    for english in ("Invalid value", "Input should", "Missing option", "No such", "Got unexpected", "Error"):
        assert english not in result.output


def test_a_bad_setting_is_reported_in_french_by_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QFQ_THREADS", "beaucoup")
    for command in (["index", "list"], ["corpus", "check"], ["search", "déchets"], ["model", "info"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, command
        assert (
            "Erreur (reglage_invalide) : Réglage invalide : « QFQ_THREADS » doit être un nombre entier."
            in _flat(result.output)
        )
        assert "pydantic" not in result.output and "Traceback" not in result.output


def test_matrix_in_the_terminal() -> None:
    shown = runner.invoke(
        app, ["matrice", "--niveau", "commune", "--niveau", "communaute-de-communes", "--theme", "dechets"]
    )
    assert shown.exit_code == 0, shown.output
    assert (
        "Collecte et traitement des déchets ménagers : oblig. (cgct/L2224-13) | oblig. (cgct/L5214-16)"
        in shown.output
    )
    refused = runner.invoke(app, ["matrice", "--niveau", "canton"])
    assert refused.exit_code == 2 and "Erreur (niveau_inconnu) : Niveau inconnu(s) : canton." in _flat(
        refused.output
    )
