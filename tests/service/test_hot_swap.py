"""A running service switches to a newly published index without a restart, and keeps serving the old one
when the new one cannot be loaded."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from helpers.api_checks import wait_until_serving
from helpers.records import DOCS, make_document, sample_passages

from indexer.embedding.fake import FakeEncoder
from indexer.index.build import build_bundle
from indexer.index.bundle import MANIFEST_SIGNATURE_FILE
from indexer.search.retriever import Retriever
from service.app import create_app
from service.settings import ServiceSettings


def _settings(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(
        data_dir=tmp_path / "data",
        corpus_dir=tmp_path,
        model="fake-64",
        threads=1,
        rate_limit_per_minute=0,
        reload_seconds=0.1,
    )


def _build(settings: ServiceSettings, extra: str = "") -> str:
    passages = sample_passages()
    passages[0].text += extra
    folder = build_bundle(settings, passages, [make_document(k) for k in DOCS], FakeEncoder(64))
    return folder.name


def test_a_new_published_index_is_served_without_restart(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = _build(settings)
    app = create_app(settings, loader=lambda: Retriever.open(settings, FakeEncoder(64)))
    with TestClient(app) as client:
        wait_until_serving(client, first)
        before = client.get("/v1/search", params={"q": "collecte des déchets"})
        assert before.headers["x-build-id"] == first
        old = app.state.index.retriever

        second = _build(settings, " version suivante")
        wait_until_serving(client, second)
        after = client.get("/v1/search", params={"q": "collecte des déchets"})
        assert after.status_code == 200 and after.headers["x-build-id"] == second
        assert app.state.index.swaps == 1
        # The replaced index still answers a request that started on it.
        assert old.search("collecte des déchets", k=1).hits


def test_a_broken_new_index_leaves_the_old_onewait_until_serving(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = _build(settings)
    app = create_app(settings, loader=lambda: Retriever.open(settings, FakeEncoder(64)))
    with TestClient(app) as client:
        wait_until_serving(client, first)
        second = _build(settings, " version abîmée")
        (settings.bundles_dir / second / MANIFEST_SIGNATURE_FILE).unlink()  # refused on load
        time.sleep(1.0)  # ten checks
        ready = client.get("/readyz").json()
        assert ready["build_id"] == first and app.state.index.swaps == 0
        assert client.get("/v1/search", params={"q": "déchets"}).headers["x-build-id"] == first
        third = _build(settings, " version réparée")
        wait_until_serving(client, third)
