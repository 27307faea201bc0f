"""`qfq serve` on a fresh machine: builds the index first (with progress), pins threads, runs uvicorn."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from indexer.index.bundle import current_bundle_path, has_vectors, read_manifest
from service import first_run
from service.cli.main import app as cli
from service.settings import ServiceSettings
from service.threads import THREAD_VARIABLES


@pytest.fixture
def fresh_env(
    fake_settings: ServiceSettings, fake_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    data_dir = tmp_path / "data"
    # Reuse the parsed passages of the session bundle: the test is about serve, not parsing.
    shutil.copytree(fake_settings.cache_dir / "passages", data_dir / "cache" / "passages")
    monkeypatch.setenv("QFQ_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QFQ_CORPUS_DIR", str(fake_settings.corpus_dir))
    monkeypatch.setenv("QFQ_MODEL", "fake-64")
    monkeypatch.setenv("QFQ_THREADS", "2")
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return data_dir


@pytest.fixture
def background_builds(monkeypatch: pytest.MonkeyPatch) -> list[list[str] | None]:
    """The background builds `qfq serve` starts (recorded instead of run: `test_e2e_server.py` runs one)."""
    started: list[list[str] | None] = []
    monkeypatch.setattr(first_run, "start_background_build", lambda settings, only=None: started.append(only))
    return started


def test_serve_publishes_a_lexical_index_first_then_runs_uvicorn(
    fresh_env: Path, monkeypatch: pytest.MonkeyPatch, background_builds: list
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run(app: FastAPI, **options: Any) -> None:
        calls.append({"app": app, **options})

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(cli, ["serve", "--host", "127.0.0.1", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "Aucun index publié" in result.output and "Index lexical d'abord" in result.output
    assert "Index publié" in result.output and "Encodage des passages en arrière-plan" in result.output
    assert "Service sur http://127.0.0.1:8123/" in result.output
    settings = ServiceSettings()
    assert not has_vectors(read_manifest(current_bundle_path(settings)))
    assert background_builds == [None]
    assert [(c["host"], c["port"], c["access_log"]) for c in calls] == [("127.0.0.1", 8123, False)]
    assert all(os.environ[name] == "1" for name in THREAD_VARIABLES)  # one compute thread per search
    app = calls[0]["app"]
    with TestClient(app) as client:
        assert app.state.index.wait(30)
        body = client.get("/v1/search", params={"q": "collecte des déchets"}).json()
        assert body["mode_effectif"] == "lexical" and body["hits"][0]["doc_key"] == "cgct"

    # Restarted before the passages are embedded: the background build starts again (it resumes).
    calls.clear()
    again = CliRunner().invoke(cli, ["serve"])
    assert again.exit_code == 0 and "Aucun index publié" not in again.output
    assert "reprise de l'encodage" in again.output and background_builds == [None, None]

    # Once the full build has published the hybrid index, serve just serves it.
    assert CliRunner().invoke(cli, ["build"]).exit_code == 0
    calls.clear()
    last = CliRunner().invoke(cli, ["serve"])
    assert last.exit_code == 0 and "Encodage des passages" not in last.output and "reprise" not in last.output
    assert background_builds == [None, None] and calls[0]["port"] == 8000
    assert has_vectors(read_manifest(current_bundle_path(settings)))


def test_serve_without_build_starts_not_ready(fresh_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apps: list[FastAPI] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: apps.append(app))
    result = CliRunner().invoke(cli, ["serve", "--sans-construction"])
    assert result.exit_code == 0 and not (fresh_env / "bundles").exists()
    with TestClient(apps[0]) as client:
        apps[0].state.index.wait(30)
        assert client.get("/readyz").status_code == 503


def test_serve_reports_a_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QFQ_PORT", "pas-un-port")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2 and "« QFQ_PORT » doit être un nombre entier" in result.output
    assert "pydantic" not in result.output and "Input should" not in result.output
