"""Tests of `qfq build`, `qfq search` and `qfq index` on a tiny corpus with the fake encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.law_corpus import LAWS, write_law_corpus
from typer.testing import CliRunner

from service.cli.main import app

runner = CliRunner()


def flat(output: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(output.split())


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    corpus = write_law_corpus(tmp_path / "corpus", LAWS)
    monkeypatch.setenv("QFQ_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("QFQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QFQ_MODEL", "fake-64")
    return tmp_path / "data"


def test_build_then_search(cli_env: Path) -> None:
    built = runner.invoke(app, ["build"])
    assert built.exit_code == 0, built.output
    assert "Index publié" in built.output and "passages/s" in built.output and "mémoire max" in built.output
    rebuilt = runner.invoke(app, ["build"])
    assert rebuilt.exit_code == 0 and "2 repris du cache" in rebuilt.output

    found = runner.invoke(app, ["search", "Qui collecte les déchets ménagers ?", "-k", "2", "--json"])
    assert found.exit_code == 0, found.output
    data = json.loads(found.stdout)
    assert data["hits"][0]["passage"]["id"] == "dechets/1"
    assert {"dense_score", "lexical_score", "fused_score"} <= set(data["hits"][0])
    # The knowledge answers too; its articles (CGCT) are not in this two-law index, and it says so.
    answer = data["reponse"]
    assert answer["sujets"][0]["id"] == "dechets" and "commune" in [n["niveau"] for n in answer["niveaux"]]
    cited = [p for n in answer["niveaux"] for c in n["competences"] for p in c["passages"]]
    assert cited and not any(p["trouve"] for p in cited)
    shown = runner.invoke(app, ["search", "Qui collecte les déchets ménagers ?", "-k", "1"])
    assert shown.exit_code == 0 and "Réponse : Collecte et traitement des déchets ménagers" in flat(
        shown.output
    )
    assert "article absent de l'index" in flat(shown.output)
    profile = runner.invoke(app, ["profil", "--type", "commune", "--population", "8000"])
    assert profile.exit_code == 0 and "Attention : L'index interrogé ne contient pas" in flat(profile.output)

    text = runner.invoke(app, ["search", "article 2 de la loi EAU", "-k", "1"])
    assert text.exit_code == 0, text.output
    assert "Loi EAU, art. 2" in text.output and "article cité dans la question" in flat(text.output)

    listed = runner.invoke(app, ["index", "list"])
    assert listed.exit_code == 0 and "(courant)" in listed.output and "(précédent)" in listed.output
    back = runner.invoke(app, ["index", "rollback"])
    assert back.exit_code == 0 and "Index courant" in back.output


def test_search_rejects_unknown_filter_values_in_french(cli_env: Path) -> None:
    assert runner.invoke(app, ["build", "--only", "eau"]).exit_code == 0
    level = runner.invoke(app, ["search", "eau", "--niveau", "canton"])
    assert level.exit_code == 2
    assert "Valeur de niveau inconnue" in flat(level.output) and "commune" in level.output
    document = runner.invoke(app, ["search", "eau", "--document", "dechets"])
    assert document.exit_code == 2 and "Valeurs possibles : eau" in flat(document.output)
    date = runner.invoke(app, ["search", "eau", "--date", "hier"])
    assert date.exit_code == 2 and "AAAA-MM-JJ" in flat(date.output)


def test_search_without_index_says_how_to_build(cli_env: Path) -> None:
    result = runner.invoke(app, ["search", "eau"])
    assert result.exit_code == 1
    assert "index_absent" in result.output and "qfq build" in flat(result.output)


def test_build_of_an_unknown_document_fails_clearly(cli_env: Path) -> None:
    result = runner.invoke(app, ["build", "--only", "inconnu"])
    assert result.exit_code == 1 and "document_inconnu" in result.output


def test_index_list_flags_a_bundle_it_cannot_use(cli_env: Path) -> None:
    assert runner.invoke(app, ["build"]).exit_code == 0
    current = (cli_env / "bundles" / "current").resolve()
    (current / "manifest.sha256").unlink()
    listed = runner.invoke(app, ["index", "list"])
    assert listed.exit_code == 0
    assert (
        f"{current.name} (courant) · INUTILISABLE" in flat(listed.output)
        and "manifest.sha256" in listed.output
    )
