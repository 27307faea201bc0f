"""PostgreSQL generations on a real server: publication, pointer switch, rollback, pruning, a build killed
before its commit, refusal of another model's generation, and search identical to the embedded bundle."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers.paths import REPO
from helpers.records import DOCS, make_document, sample_passages

from indexer.embedding.fake import FakeEncoder
from indexer.errors import BundleError
from indexer.index import backend, postgres
from indexer.index.build import build_bundle
from indexer.index.bundle import load_bundle
from indexer.search.filters import SearchFilters
from indexer.search.retriever import Retriever
from indexer.settings import Settings


def _pg(settings: Settings, url: str, **updates: object) -> Settings:
    return settings.model_copy(update={"backend": "postgres", "database_url": url, **updates})


def _built(settings: Settings, extra: str = "", dim: int = 64) -> Path:
    passages = sample_passages()
    passages[0].text += extra
    return build_bundle(
        settings, passages, [make_document(k) for k in DOCS], FakeEncoder(dim), publish_bundle=False
    )


def _publish(settings: Settings, extra: str = "") -> str:
    return backend.publish_built(settings, _built(settings, extra), FakeEncoder(64))


def _comparable(result: dict) -> dict:
    """A result without its timing, ranks and rank-based scores, its positive-score hits keyed by id.

    The fake encoder gives many passages a cosine of exactly 0, and FAISS and pgvector order such ties
    differently, which moves ranks; the real-model parity test (`test_postgres_parity.py`) compares order.
    """
    result = dict(result)
    result.pop("took_ms")
    hits = result.pop("hits")
    result["hits"] = {
        h["passage"]["id"]: (h["passage"], h["dense_score"], h["lexical_score"], h["article_match"])
        for h in hits
        if (h["dense_score"] or 0.0) > 0 or h["lexical_score"] > 0
    }
    return result


def test_a_published_generation_searches_like_the_bundle_it_was_copied_from(
    settings: Settings, database_url: str
) -> None:
    folder = _built(settings)
    embedded = Retriever(load_bundle(settings, folder), FakeEncoder(64))
    pg = _pg(settings, database_url)
    build_id = postgres.publish_generation(pg, folder, encoder=FakeEncoder(64))
    assert build_id == folder.name == backend.published_generation(pg)

    stored = Retriever.open(pg, FakeEncoder(64))
    assert stored.build_id == build_id and stored.manifest == embedded.manifest
    assert stored.documents() == embedded.documents() and stored.facets() == embedded.facets()
    assert stored.get_passage("cgct/L5214-16") == embedded.get_passage("cgct/L5214-16")
    assert stored.get_passage("absent") is None
    assert stored.passages_of_article("cgct", "L5214-16") == embedded.passages_of_article("cgct", "L5214-16")
    queries = ["collecte des déchets ménagers", "numérique responsable", "L5214-16", "handicap accessibilité"]
    for query in queries:
        for mode in ("hybrid", "dense", "lexical"):
            for filters in (None, SearchFilters(documents=("cgct",)), SearchFilters(include_abrogated=True)):
                for group in (False, True):
                    got = stored.search(query, k=50, mode=mode, filters=filters, group_by_article=group)
                    want = embedded.search(query, k=50, mode=mode, filters=filters, group_by_article=group)
                    assert _comparable(got.to_dict()) == _comparable(want.to_dict()), (query, mode)
                    assert len(got.hits) == len(want.hits)
    embedded.bundle.close()


def test_publishing_switches_the_pointer_and_rollback_switches_it_back(
    settings: Settings, database_url: str
) -> None:
    pg = _pg(settings, database_url)
    first = _publish(pg)
    second = _publish(pg, " deuxième")
    assert backend.published_generation(pg) == second
    rows = backend.list_indexes(pg)
    assert [(r["build_id"], r["role"]) for r in rows] == [(second, "courant"), (first, "précédent")]
    assert not list(settings.bundles_dir.glob("2*")), "the bundle folder is removed once copied"

    assert backend.rollback(pg) == first
    assert backend.published_generation(pg) == first
    assert Retriever.open(pg, FakeEncoder(64)).build_id == first
    assert backend.rollback(pg) == second  # the one rolled back from became the previous one


def test_rollback_without_a_previous_generation_is_refused(settings: Settings, database_url: str) -> None:
    pg = _pg(settings, database_url)
    _publish(pg)
    with pytest.raises(BundleError) as caught:
        backend.rollback(pg)
    assert caught.value.code == "retour_impossible"


def test_generations_beyond_the_kept_number_are_dropped(settings: Settings, database_url: str) -> None:
    pg = _pg(settings, database_url, keep_generations=2)
    published = [_publish(pg, f" version {i}") for i in range(4)]
    rows = backend.list_indexes(pg)
    assert [r["build_id"] for r in rows] == published[:1:-1]
    tables = postgres_tables(database_url)
    assert len(tables) == 2 * 4, tables  # four tables per kept generation, none of the dropped ones


def postgres_tables(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE tablename ~ '^qfq_g[0-9]+_'"
        ).fetchall()
    return sorted(r[0] for r in rows)


def test_a_build_killed_before_its_commit_leaves_the_current_generation_serving(
    settings: Settings, database_url: str
) -> None:
    pg = _pg(settings, database_url)
    first = _publish(pg)
    serving = Retriever.open(pg, FakeEncoder(64))
    folder = _built(settings, " tuée")
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from indexer.index import postgres
        from indexer.settings import Settings

        def kill(stage):
            if stage == "copied":
                os.kill(os.getpid(), signal.SIGKILL)

        postgres.publish_hook = kill
        settings = Settings(
            backend="postgres", database_url={database_url!r}, model="fake-64", data_dir={str(settings.data_dir)!r}
        )
        postgres.publish_generation(settings, Path({str(folder)!r}))
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert backend.published_generation(pg) == first
    assert serving.search("collecte des déchets", k=3).hits
    assert [r["build_id"] for r in backend.list_indexes(pg)] == [first]
    assert len(postgres_tables(database_url)) == 4  # the killed copy left no table behind
    # The advisory lock died with the killed connection: the next publication goes through.
    deadline = time.monotonic() + 10
    while True:
        try:
            second = postgres.publish_generation(pg, folder, encoder=FakeEncoder(64))
            break
        except BundleError as exc:
            assert exc.code == "construction_en_cours" and time.monotonic() < deadline
            time.sleep(0.2)
    assert backend.published_generation(pg) == second != first


def test_a_generation_of_another_model_is_refused(settings: Settings, database_url: str) -> None:
    pg = _pg(settings, database_url)
    first = _publish(pg)
    other = _pg(settings, database_url, model="fake-32")
    backend.publish_built(other, _built(other, " autre modèle", dim=32), FakeEncoder(32))
    with pytest.raises(BundleError) as caught:
        Retriever.open(pg, FakeEncoder(64))
    assert caught.value.code == "index_incompatible"
    assert "autre modèle" in caught.value.message
    with pytest.raises(BundleError) as refused:
        backend.rollback(other)  # the previous generation holds fake-64 vectors
    assert refused.value.code == "index_incompatible"
    assert backend.rollback(pg) == first


def test_a_bundle_of_another_model_is_not_published(settings: Settings, database_url: str) -> None:
    pg = _pg(settings, database_url)
    folder = _built(settings)
    with pytest.raises(BundleError) as caught:
        postgres.publish_generation(pg, folder, encoder=FakeEncoder(32))
    assert caught.value.code == "index_incompatible"
    assert backend.published_generation(pg) is None


def test_an_unreachable_database_is_a_clear_error(settings: Settings) -> None:
    pg = _pg(settings, "postgresql://postgres@127.0.0.1:9/qfq")
    started = time.monotonic()
    with pytest.raises(BundleError) as caught:
        backend.list_indexes(pg)
    assert caught.value.code == "base_injoignable" and "QFQ_DATABASE_URL" in caught.value.message
    assert time.monotonic() - started < postgres.CONNECT_TIMEOUT_SECONDS + 2
    with pytest.raises(BundleError) as again:
        Retriever.open(pg, FakeEncoder(64))
    assert again.value.code == "base_injoignable"
    postgres.close_pools()


def test_a_missing_database_url_is_a_configuration_error(settings: Settings) -> None:
    with pytest.raises(Exception) as caught:
        backend.published_generation(settings.model_copy(update={"backend": "postgres"}))
    assert getattr(caught.value, "code", "") == "base_non_configuree"


def test_a_second_publication_at_the_same_time_is_refused(settings: Settings, database_url: str) -> None:
    import psycopg

    pg = _pg(settings, database_url)
    first = _publish(pg)
    with psycopg.connect(database_url, autocommit=True) as other_build:
        other_build.execute("SELECT pg_advisory_lock(%s)", (postgres._LOCK_KEY,))
        with pytest.raises(BundleError) as caught:
            _publish(pg, " en même temps")
        assert caught.value.code == "construction_en_cours"
        with pytest.raises(BundleError):
            backend.rollback(pg)
    assert backend.published_generation(pg) == first
    assert not list(settings.bundles_dir.glob("2*")), "the refused bundle folder is removed"


def test_a_bundle_built_with_hnsw_becomes_a_generation_with_a_pgvector_hnsw_index(
    settings: Settings, database_url: str
) -> None:
    import psycopg

    passages = sample_passages()
    documents = [make_document(k) for k in DOCS]
    folder = build_bundle(
        settings, passages, documents, FakeEncoder(64), index_kind="hnsw", publish_bundle=False
    )
    embedded = Retriever(load_bundle(settings, folder), FakeEncoder(64))
    pg = _pg(settings, database_url)
    postgres.publish_generation(pg, folder, encoder=FakeEncoder(64))
    with psycopg.connect(database_url) as connection:
        indexes = connection.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename ~ '_vectors$'"
        ).fetchall()
    assert any("USING hnsw" in row[0] and "vector_ip_ops" in row[0] for row in indexes), indexes
    stored = Retriever.open(pg, FakeEncoder(64))
    for filters in (None, SearchFilters(documents=("cgct",))):
        got = stored.search("collecte des déchets ménagers", k=3, mode="dense", filters=filters)
        want = embedded.search("collecte des déchets ménagers", k=3, mode="dense", filters=filters)
        assert got.hits[0].passage.id == want.hits[0].passage.id
        assert got.hits[0].dense_score == pytest.approx(want.hits[0].dense_score)
        if filters is not None:
            assert {h.passage.doc_key for h in got.hits} == {"cgct"}
    embedded.bundle.close()
