"""A service on the PostgreSQL backend switches to a newly published generation (the pointer row) under
load without a failed request, follows a rollback, and keeps serving when a generation is refused."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from helpers.api_checks import wait_until_serving
from helpers.records import DOCS, make_document, sample_passages

from indexer.embedding.fake import FakeEncoder
from indexer.index import backend
from indexer.index.build import build_bundle
from indexer.search.retriever import Retriever
from service.app import create_app
from service.settings import ServiceSettings


def _settings(tmp_path: Path, url: str, **updates: object) -> ServiceSettings:
    values: dict = {
        "data_dir": tmp_path / "data",
        "corpus_dir": tmp_path,
        "model": "fake-64",
        "threads": 2,
        "rate_limit_per_minute": 0,
        "reload_seconds": 0.1,
        "backend": "postgres",
        "database_url": url,
    }
    return ServiceSettings(**{**values, **updates})


def _publish(settings: ServiceSettings, extra: str = "", dim: int = 64) -> str:
    passages = sample_passages()
    passages[0].text += extra
    folder = build_bundle(
        settings, passages, [make_document(k) for k in DOCS], FakeEncoder(dim), publish_bundle=False
    )
    return backend.publish_built(settings, folder, FakeEncoder(dim))


class _Load:
    """Clients searching in a loop, recording each answer's status and build id."""

    def __init__(self, client: TestClient, workers: int = 4) -> None:
        self.client = client
        self.seen: Counter[tuple[int, str]] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(workers)]

    def _run(self, worker: int) -> None:
        queries = ["collecte des déchets", "numérique responsable", "L5214-16", "accessibilité handicap"]
        i = worker
        while not self._stop.is_set():
            answer = self.client.get("/v1/search", params={"q": queries[i % len(queries)], "k": 3})
            with self._lock:
                self.seen[(answer.status_code, answer.headers.get("x-build-id", ""))] += 1
            i += 1

    def __enter__(self) -> _Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)


def test_a_new_generation_is_served_under_load_without_a_failed_request(
    tmp_path: Path, database_url: str
) -> None:
    settings = _settings(tmp_path, database_url)
    first = _publish(settings)
    app = create_app(settings, loader=lambda: Retriever.open(settings, FakeEncoder(64)))
    with TestClient(app) as client:
        wait_until_serving(client, first)
        old = app.state.index.retriever
        with _Load(client) as load:
            time.sleep(0.5)
            second = _publish(settings, " deuxième version")
            wait_until_serving(client, second)
            time.sleep(0.5)
        statuses = Counter(status for status, _ in load.seen.elements())
        assert set(statuses) == {200}, load.seen
        assert load.seen[(200, first)] > 0 and load.seen[(200, second)] > 0
        assert app.state.index.swaps == 1
        # The replaced generation still answers a request that started on it.
        assert old.search("collecte des déchets", k=1).hits

        assert backend.rollback(settings) == first
        ready = wait_until_serving(client, first)
        assert ready["build_id"] == first
        assert client.get("/v1/search", params={"q": "déchets"}).headers["x-build-id"] == first


def test_a_generation_of_another_model_leaves_the_current_onewait_until_serving(
    tmp_path: Path, database_url: str
) -> None:
    settings = _settings(tmp_path, database_url)
    first = _publish(settings)
    app = create_app(settings, loader=lambda: Retriever.open(settings, FakeEncoder(64)))
    with TestClient(app) as client:
        wait_until_serving(client, first)
        other = _publish(_settings(tmp_path, database_url, model="fake-32"), " autre modèle", dim=32)
        assert backend.published_generation(settings) == other
        time.sleep(1.0)  # ten checks
        assert client.get("/readyz").json()["build_id"] == first and app.state.index.swaps == 0
        answer = client.get("/v1/search", params={"q": "déchets"})
        assert answer.status_code == 200 and answer.headers["x-build-id"] == first
        third = _publish(settings, " retour au bon modèle")
        wait_until_serving(client, third)


def test_search_answers_503_in_french_when_the_database_goes_away(tmp_path: Path, database_url: str) -> None:
    settings = _settings(tmp_path, database_url)
    first = _publish(settings)
    app = create_app(settings, loader=lambda: Retriever.open(settings, FakeEncoder(64)))
    with TestClient(app) as client:
        wait_until_serving(client, first)
        retriever = app.state.index.retriever
        # The serving generation's tables vanish (dropped by hand): a clear 503, not a 500.
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as connection:
            number = retriever.bundle.number
            connection.execute(f"DROP TABLE qfq_g{number}_terms")
        answer = client.get("/v1/search", params={"q": "déchets"})
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "generation_absente"
