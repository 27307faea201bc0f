"""The first run's lexical-only index: built without vectors, searched lexically and labelled as such in the
API, `/readyz` and the pages, until the hybrid index replaces it (the real run: `test_e2e_server.py`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.embedding.fake import FakeEncoder
from indexer.errors import BundleError
from indexer.index.build import build_bundle
from indexer.index.bundle import load_bundle
from indexer.index.progress import (
    INTERRUPTED,
    PROGRESS_FILE,
    RUNNING,
    ProgressFile,
    progress_path,
    read_progress,
)
from service.app import create_app
from service.settings import ServiceSettings

QUESTION = "Qui assure la collecte des déchets ménagers ?"


def test_lexical_only_bundle_is_searched_lexically_in_every_mode(lexical_retriever, retriever) -> None:
    assert lexical_retriever.bundle.index is None and not lexical_retriever.has_vectors
    lexical = retriever.search(QUESTION, k=5, mode="lexical")
    for mode in ("hybrid", "dense", "lexical"):
        result = lexical_retriever.search(QUESTION, k=5, mode=mode)
        assert result.mode == mode and result.effective_mode == "lexical"
        assert result.hits and all(hit.dense_score is None and hit.dense_rank is None for hit in result.hits)
    # Dense falls back to the lexical ranking itself; hybrid fuses the lexical list (and any evidence).
    dense = lexical_retriever.search(QUESTION, k=5, mode="dense")
    assert [h.passage.id for h in dense.hits] == [h.passage.id for h in lexical.hits]
    assert retriever.search(QUESTION, k=5).effective_mode == "hybrid"
    evidence = lexical_retriever.search(QUESTION, k=5, evidence=[("cgct", "L5214-16")])
    assert "cgct/L5214-16" in [h.passage.article_id for h in evidence.hits]


def test_a_damaged_lexical_only_bundle_is_refused(
    lexical_settings: ServiceSettings, lexical_retriever, tmp_path: Path
) -> None:
    copy = tmp_path / "copie"
    shutil.copytree(lexical_retriever.bundle.path, copy)
    assert load_bundle(lexical_settings, copy).index is None
    size = (copy / "lexical.npz").stat().st_size
    (copy / "lexical.npz").write_bytes(b"x" * size)  # same size, other content
    with pytest.raises(BundleError, match="modifié ou est abîmé"):
        load_bundle(lexical_settings, copy)


def test_postgres_backend_takes_no_lexical_only_bundle(lexical_settings: ServiceSettings) -> None:
    settings = lexical_settings.model_copy(update={"backend": "postgres"})
    with pytest.raises(ValueError, match="embedded backend only"):
        build_bundle(settings, [], [], FakeEncoder(64), lexical_only=True)


def test_api_readyz_and_page_say_the_search_is_lexical(
    lexical_settings: ServiceSettings, lexical_retriever, retriever
) -> None:
    record = ProgressFile(progress_path(lexical_settings.bundles_dir))
    record.update("embeddings", 100, 400)
    app = create_app(lexical_settings, retriever=lexical_retriever)
    with TestClient(app) as client:
        ready = client.get("/readyz").json()
        assert ready["mode_effectif"] == "lexical"
        assert ready["construction"]["etat"] == RUNNING
        assert (ready["construction"]["faits"], ready["construction"]["total"]) == (100, 400)
        body = client.get("/v1/search", params={"q": QUESTION, "mode": "dense"}).json()
        assert (body["mode"], body["mode_effectif"]) == ("dense", "lexical")
        page = client.get("/", params={"q": QUESTION}).text
        assert "Recherche lexicale seulement" in page and "25 %" in page
        assert "Recherche lexicale seulement" in client.get("/matrice").text  # on every page

        app.state.index.set(retriever)  # what the watcher does when the hybrid index is published
        ready = client.get("/readyz").json()
        assert ready["mode_effectif"] == "hybrid" and ready["construction"] is None
        assert client.get("/v1/search", params={"q": QUESTION}).json()["mode_effectif"] == "hybrid"
        assert "Recherche lexicale seulement" not in client.get("/", params={"q": QUESTION}).text


def test_progress_file_reports_rate_time_left_and_a_dead_build(tmp_path: Path) -> None:
    now = [0.0]
    record = ProgressFile(tmp_path / PROGRESS_FILE, clock=lambda: now[0])
    record.update("embeddings", 1000, 5000)  # 1 000 from the cache
    now[0] = 10.0
    record.update("embeddings", 1100, 5000)  # 100 computed in 10 s
    now[0] = 20.0
    record.update("embeddings", 1200, 5000)
    data = read_progress(tmp_path)
    assert data is not None and data["etat"] == RUNNING
    assert (data["repris_du_cache"], data["passages_par_seconde"], data["reste_secondes"]) == (
        1000,
        10.0,
        380,
    )

    # A record left by a process that is gone reads as interrupted.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    data["pid"] = int(dead.stdout)
    (tmp_path / PROGRESS_FILE).write_text(json.dumps(data), encoding="utf-8")
    assert read_progress(tmp_path)["etat"] == INTERRUPTED
    assert read_progress(tmp_path / "nowhere") is None
    assert os.getpid() != data["pid"]
