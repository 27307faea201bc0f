"""End to end: `qfq serve` on a fresh data folder builds a real-model index of a corpus subset, then answers
over HTTP on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.api_checks import free_port
from helpers.paths import REPO

from indexer.embedding.packaged.prepare import prepare_model
from service.settings import ServiceSettings

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 900  # parsing, embedding ~300 passages with the real model on 2 shared cores, loading


@pytest.fixture(scope="module")
def prepared_models_dir() -> Path:
    """The project's prepared model folder (reused across runs, prepared once if missing)."""
    settings = ServiceSettings(data_dir=REPO / "data")
    prepare_model(settings)
    return settings.models_dir.resolve()


@pytest.fixture(scope="module")
def live_server(
    subset_corpus: Path, prepared_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("e2e-data")
    (data_dir / "models").symlink_to(prepared_models_dir, target_is_directory=True)
    port = free_port()
    env = {
        **os.environ,
        "QFQ_DATA_DIR": str(data_dir),
        "QFQ_CORPUS_DIR": str(subset_corpus),
        "QFQ_MODEL": "multilingual-e5-small",
        "QFQ_THREADS": "2",
        "QFQ_RATE_LIMIT_PER_MINUTE": "0",
    }
    log = data_dir / "serve.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert process.poll() is None, f"qfq serve s'est arrêté :\n{log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"index pas prêt à temps :\n{log.read_text(errors='replace')}"
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        yield base, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_for_hybrid(client: httpx.Client, log: Path) -> dict:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        ready = client.get("/readyz").json()
        if ready.get("mode_effectif") == "hybrid":
            return ready
        assert time.monotonic() < deadline, (
            f"pas d'index hybride à temps :\n{log.read_text(errors='replace')}"
        )
        time.sleep(0.5)


def test_fresh_start_answers_lexically_then_switches_to_hybrid(live_server: tuple[str, Path]) -> None:
    """The first run serves a lexical index at once, embeds in the background, then swaps without restart."""
    base, log = live_server
    output = log.read_text(errors="replace")
    assert "Aucun index publié" in output and "Index lexical d'abord" in output
    with httpx.Client(base_url=base, timeout=30) as client:
        first = client.get("/readyz").json()
        assert first["mode_effectif"] == "lexical", first  # the embedding build takes longer than loading
        assert first["construction"]["etat"] == "en_cours"
        lexical = client.get(
            "/v1/search", params={"q": "Qui assure la collecte des déchets ménagers ?"}
        ).json()
        assert lexical["mode"] == "hybrid" and lexical["mode_effectif"] == "lexical"
        assert lexical["hits"] and lexical["build_id"] == first["build_id"]
        assert all(hit["scores"]["dense"] is None for hit in lexical["hits"])
        assert "Recherche lexicale seulement" in client.get("/").text

        ready = _wait_for_hybrid(client, log)
        assert ready["build_id"] != first["build_id"] and ready["construction"] is None
        assert "Recherche lexicale seulement" not in client.get("/").text
        built = (log.parent / "logs" / "construction.log").read_text(errors="replace")
        assert "Index publié" in built
        assert ready["passages"] > 250
        manifest = client.get("/v1/index").json()
        assert (
            manifest["model"]["id"].startswith("multilingual-e5-small")
            and manifest["model"]["dimension"] == 384
        )

        answer = client.get(
            "/v1/search", params={"q": "Qui assure la collecte des déchets ménagers ?", "k": 5}
        ).json()
        assert answer["hits"][0]["passage_id"].startswith("cgct/L2224-1")
        assert answer["build_id"] == ready["build_id"] and answer["mode_effectif"] == "hybrid"
        assert answer["hits"][0]["scores"]["dense"] is not None

        powers = client.post(
            "/v1/search",
            json={
                "q": "Quelles compétences exerce de plein droit une communauté de communes ?",
                "k": 5,
                "grouper": True,
            },
            headers={"X-Request-ID": "e2e-1"},
        )
        assert powers.headers["x-request-id"] == "e2e-1"
        assert "cgct/L5214-16" in [h["article_id"] for h in powers.json()["hits"]]

        sheet = client.get(
            "/v1/search/export", params={"q": "accessibilité des sites internet publics", "format": "md"}
        )
        assert sheet.status_code == 200 and "Loi handicap 2005, art. 47" in sheet.text

        bad_inputs = [
            (client.get("/v1/search", params={"q": ""}), 422, "parametre_invalide"),
            (client.get("/v1/search", params={"q": "mot " * 2560}), 422, "parametre_invalide"),
            (client.get("/v1/search", params={"q": "déchets", "k": 0}), 422, "parametre_invalide"),
            (client.get("/v1/search", params={"q": "déchets", "k": 1000}), 422, "parametre_invalide"),
            (client.get("/v1/search", params={"q": "déchets", "niveau": "canton"}), 422, "filtre_invalide"),
            (
                client.post("/v1/search", content=b'{"q": ', headers={"content-type": "application/json"}),
                400,
                "json_invalide",
            ),
            (client.get("/v1/search?q=d%E9chets"), 400, "encodage_invalide"),
            (client.post("/v1/search", json={"q": "x" * 20_000}), 413, "corps_trop_volumineux"),
        ]
        for response, status, code in bad_inputs:
            assert (response.status_code, response.json()["error"]["code"]) == (status, code)
        page = client.get("/", params={"q": "collecte des déchets ménagers"})
        assert page.status_code == 200 and "CGCT, art. L2224-" in page.text
        assert 'route="/v1/search"' in client.get("/metrics").text

    access_lines = [
        line for line in log.read_text(errors="replace").splitlines() if '"logger": "qfq.access"' in line
    ]
    assert any('"request_id": "e2e-1"' in line and '"status": 200' in line for line in access_lines)
