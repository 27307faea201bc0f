"""The corpus manifest, checksums, settings errors and the corpus commands."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer.corpus.manifest import load_manifest, verify_checksums
from indexer.corpus.passages import load_passages
from indexer.errors import ConfigError, CorpusError
from indexer.settings import Settings
from service.cli.main import app

MINIMAL = """
[[documents]]
key = "reen"
title = "Loi REEN"
short_name = "Loi REEN"
kind = "loi"
official_id = "JORFTEXT000044327272"
url = "https://www.legifrance.gouv.fr/loda/id/JORFTEXT000044327272"
format = "ansvar-json"
path = "lois/reen.json"
version_date = "2025-07-13"
source = "tests"
licence = "Licence Ouverte 2.0"
"""


def test_real_manifest_has_thirty_documents(corpus_dir: Path) -> None:
    documents = load_manifest(corpus_dir)
    assert len(documents) == 30
    assert {doc.format for doc in documents} == {
        "ansvar-json",
        "legi-piste-json",
        "lexlib-markdown",
        "markdown",
        "pdf",
    }


def test_missing_manifest_field_is_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text(MINIMAL.replace('version_date = "2025-07-13"\n', ""))
    with pytest.raises(CorpusError) as error:
        load_manifest(tmp_path)
    assert error.value.code == "manifeste_champ_manquant" and "version_date" in error.value.message


def test_broken_manifest_is_reported(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text("[[documents]\nkey = ")
    with pytest.raises(CorpusError) as error:
        load_manifest(tmp_path)
    assert error.value.code == "manifeste_illisible"


def test_checksums_detect_a_changed_file(tmp_path: Path, corpus_dir: Path) -> None:
    (tmp_path / "lois").mkdir()
    shutil.copy(corpus_dir / "lois" / "reen.json", tmp_path / "lois" / "reen.json")
    (tmp_path / "manifest.toml").write_text(MINIMAL)
    digest = subprocess.run(
        ["sha256sum", "lois/reen.json"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    (tmp_path / "CHECKSUMS.sha256").write_text(digest)
    assert verify_checksums(tmp_path).ok
    (tmp_path / "lois" / "reen.json").write_text("{}")
    report = verify_checksums(tmp_path)
    assert not report.ok and report.mismatched == ["lois/reen.json"]


def test_real_checksums_hold(corpus_dir: Path) -> None:
    report = verify_checksums(corpus_dir)
    assert report.present and report.ok and report.checked > 20000


def test_missing_corpus_gives_a_french_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        Settings(corpus_dir=tmp_path / "absent").require_corpus()
    assert "QFQ_CORPUS_DIR" in error.value.message
    with pytest.raises(ConfigError) as error:
        Settings(corpus_dir=tmp_path).require_corpus()
    assert error.value.code == "manifeste_introuvable"


def test_unreadable_document_is_reported_and_others_load(tmp_path: Path, corpus_dir: Path) -> None:
    (tmp_path / "lois").mkdir()
    shutil.copy(corpus_dir / "lois" / "reen.json", tmp_path / "lois" / "reen.json")
    broken = MINIMAL.replace('key = "reen"', 'key = "cassee"').replace("lois/reen.json", "lois/cassee.json")
    (tmp_path / "lois" / "cassee.json").write_text('{"provisions": [')
    (tmp_path / "manifest.toml").write_text(MINIMAL + broken)
    result = load_passages(Settings(corpus_dir=tmp_path), workers=1)
    assert [p.doc_key for p in result.problems] == ["cassee"]
    assert "lois/cassee.json" in result.problems[0].message
    assert {p.doc_key for p in result.passages} == {"reen"}
    with pytest.raises(CorpusError):
        load_passages(Settings(corpus_dir=tmp_path), strict=True, workers=1)


def test_cli_without_corpus_prints_french_error_not_traceback(tmp_path: Path) -> None:
    env = {"QFQ_CORPUS_DIR": str(tmp_path / "absent")}
    result = subprocess.run(
        [sys.executable, "-m", "service", "corpus", "check"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
    )
    assert result.returncode == 2
    assert "QFQ_CORPUS_DIR" in result.stderr and "Traceback" not in result.stderr


def test_cli_passages_json(monkeypatch) -> None:
    result = CliRunner().invoke(
        app, ["corpus", "passages", "--doc", "reen", "--article", "art. 35", "--json"]
    )
    assert result.exit_code == 0, result.output
    passages = json.loads(result.stdout)
    assert [p["id"] for p in passages] == ["reen/35"]
    assert passages[0]["citation"] == "Loi REEN, art. 35 (version du 2025-07-13)"
    assert passages[0]["tag_reasons"]["numerique-donnees"]
    missing = CliRunner().invoke(app, ["corpus", "passages", "--doc", "reen", "--article", "999"])
    assert missing.exit_code == 1 and "aucun article 999" in missing.output


def test_cli_corpus_check_on_a_small_corpus(tmp_path: Path, corpus_dir: Path, monkeypatch) -> None:
    (tmp_path / "lois").mkdir()
    shutil.copy(corpus_dir / "lois" / "reen.json", tmp_path / "lois" / "reen.json")
    (tmp_path / "manifest.toml").write_text(MINIMAL)
    monkeypatch.setenv("QFQ_CORPUS_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["corpus", "check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["documents"][0]["key"] == "reen" and report["documents"][0]["passages"] == 12
    assert report["documents"][0]["version_date"] == "2025-07-13"
    assert report["problemes"] == []


def test_cli_entry_point_keeps_exit_codes_and_flushes_long_output(tmp_path: Path) -> None:
    # `python -m service` leaves with os._exit after the command: nothing printed may be lost.
    run = functools.partial(subprocess.run, capture_output=True, text=True, env={**os.environ})
    listed = run([sys.executable, "-m", "service", "corpus", "passages", "--doc", "notre", "--json"])
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout) > 200_000 and len(json.loads(listed.stdout)) > 100  # long, and complete
    assert run([sys.executable, "-m", "service", "pas-une-commande"]).returncode == 2
    missing = run(
        [sys.executable, "-m", "service", "corpus", "passages", "--doc", "reen", "--article", "999"]
    )
    assert missing.returncode != 0 and missing.stderr.strip()
