"""`qfq build`, `qfq search` and `qfq index list|rollback` with QFQ_BACKEND=postgres on a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.law_corpus import LAWS, write_law_corpus
from typer.testing import CliRunner

from service.cli.main import app

runner = CliRunner()


@pytest.fixture
def pg_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    corpus = write_law_corpus(tmp_path / "corpus", LAWS)
    monkeypatch.setenv("QFQ_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("QFQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QFQ_MODEL", "fake-64")
    monkeypatch.setenv("QFQ_BACKEND", "postgres")
    monkeypatch.setenv("QFQ_DATABASE_URL", database_url)
    return database_url


def test_build_publishes_a_generation_that_search_list_and_rollback_use(pg_env: str, tmp_path: Path) -> None:
    built = runner.invoke(app, ["build"])
    assert built.exit_code == 0, built.output
    assert "génération" in built.output and "base PostgreSQL" in built.output
    assert pg_env not in built.output  # the address may hold a password
    assert not [p for p in (tmp_path / "data" / "bundles").iterdir() if not p.name.startswith(".")]

    found = runner.invoke(app, ["search", "Qui collecte les déchets ménagers ?", "-k", "2", "--json"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["hits"][0]["passage"]["id"] == "dechets/1"

    assert runner.invoke(app, ["build"]).exit_code == 0
    listed = runner.invoke(app, ["index", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert len(lines) == 2 and "(courant)" in lines[0] and "(précédent)" in lines[1]
    assert "Ko dans la base" in lines[0]
    first = lines[1].split()[0]
    back = runner.invoke(app, ["index", "rollback"])
    assert back.exit_code == 0 and f"Index courant : {first}" in back.output


def test_commands_say_when_the_database_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QFQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QFQ_MODEL", "fake-64")
    monkeypatch.setenv("QFQ_BACKEND", "postgres")
    monkeypatch.setenv("QFQ_DATABASE_URL", "postgresql://qfq:secret@127.0.0.1:9/qfq")
    for command in (["index", "list"], ["index", "rollback"], ["search", "eau"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, (command, result.output)
        assert "Erreur (base_injoignable)" in result.output and "secret" not in result.output


def test_an_unknown_backend_is_refused_in_french(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QFQ_BACKEND", "mysql")
    result = runner.invoke(app, ["index", "list"])
    assert result.exit_code == 2 and "QFQ_BACKEND doit valoir 'embedded' ou 'postgres'" in result.output
