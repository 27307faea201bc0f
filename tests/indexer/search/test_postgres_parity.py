"""The real model on a real corpus subset: search against PostgreSQL gives the embedded bundle's results
on the public gold set (nDCG@10 within 0.01, and in practice the same top 10)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.corpus_subset import make_subset_corpus
from helpers.paths import REPO

from evaluations.gold import GoldSplit, load_gold
from evaluations.runner import run_split
from indexer.corpus.passages import load_passages
from indexer.embedding.factory import load_encoder
from indexer.index import postgres
from indexer.index.build import build_bundle
from indexer.index.bundle import load_bundle
from indexer.search.filters import SearchFilters
from indexer.search.retriever import Retriever
from indexer.settings import Settings

pytestmark = pytest.mark.slow

GOLD = REPO / "evaluations" / "datasets" / "qfq-dev"


@pytest.fixture(scope="module")
def retrievers(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory, postgres_server):
    """(embedded, postgres) retrievers over the same real-model bundle of a corpus subset."""
    tmp = tmp_path_factory.mktemp("parity")
    corpus = make_subset_corpus(corpus_dir, tmp / "corpus")
    data = tmp / "data"
    data.mkdir()
    cache = os.environ.get("QFQ_TEST_MODEL_CACHE")
    if cache and (Path(cache) / "models").is_dir():
        (data / "models").symlink_to(Path(cache).resolve() / "models")
    settings = Settings(corpus_dir=corpus, data_dir=data, threads=2)
    if not (data / "models").exists():
        from indexer.embedding.packaged.prepare import prepare_model

        prepare_model(settings)
    passages = load_passages(settings, strict=True)
    encoder = load_encoder(settings)
    folder = build_bundle(settings, passages.passages, passages.documents, encoder, publish_bundle=False)
    embedded = Retriever(load_bundle(settings, folder, encoder=encoder), encoder)
    pg = settings.model_copy(
        update={"backend": "postgres", "database_url": postgres_server.create_database("parity")}
    )
    postgres.publish_generation(pg, folder, encoder=encoder)
    try:
        yield embedded, Retriever.open(pg, encoder)
    finally:
        embedded.bundle.close()
        postgres.close_pools()


def _answerable(gold: GoldSplit, retriever: Retriever) -> GoldSplit:
    """The gold questions whose filters name only values the subset holds (others are refused)."""
    facets = retriever.facets()
    kept = {
        qid: query
        for qid, query in gold.queries.items()
        if set(query.filters.documents) <= set(facets["documents"])
        and set(query.filters.levels) <= set(facets["levels"])
        and set(query.filters.themes) <= set(facets["themes"])
    }
    assert len(kept) > 0.5 * len(gold.queries)
    return replace(gold, queries=kept, qrels={qid: gold.qrels.get(qid, {}) for qid in kept})


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_gold_set_scores_match_the_embedded_backend(retrievers, mode: str) -> None:
    embedded, stored = retrievers
    gold = _answerable(load_gold(GOLD, "test"), embedded)
    want = run_split(embedded, gold, mode=mode, progress=None)
    got = run_split(stored, gold, mode=mode, progress=None)
    assert abs(got.metrics["ndcg@10"] - want.metrics["ndcg@10"]) <= 0.01
    assert (
        want.metrics["ndcg@10"] > 0.05
    )  # the subset answers part of the gold set: the check means something
    same = sum(list(got.run[q]) == list(want.run[q]) for q in want.run)
    print(
        f"{mode}: nDCG@10 embedded {want.metrics['ndcg@10']:.4f}, postgres {got.metrics['ndcg@10']:.4f}, "
        f"{same}/{len(want.run)} identical top lists"
    )
    assert same >= 0.98 * len(want.run), f"{same}/{len(want.run)} identical top lists"


def test_scores_filters_grouping_and_article_lookup_match(retrievers) -> None:
    embedded, stored = retrievers
    cases = [
        ("Quelles compétences exerce une communauté de communes ?", {}),
        ("collecte des déchets ménagers", {"filters": SearchFilters(levels=("commune",))}),
        ("article L5214-16 du CGCT", {"group_by_article": True}),
        ("accessibilité des services numériques publics", {"filters": SearchFilters(date="2015-01-01")}),
        ("réseaux de communications électroniques", {"offset": 5, "k": 5}),
    ]
    for query, options in cases:
        want = embedded.search(query, **options).to_dict()
        got = stored.search(query, **options).to_dict()
        want.pop("took_ms"), got.pop("took_ms")
        for hit_got, hit_want in zip(got["hits"], want["hits"], strict=True):
            assert hit_got["passage"]["id"] == hit_want["passage"]["id"], query
            assert hit_got["score"] == pytest.approx(hit_want["score"], abs=1e-5)
            assert hit_got["lexical_score"] == hit_want["lexical_score"]
        assert got["total_candidates"] == want["total_candidates"]
    assert stored.passages_of_article("cgct", "L5214-16") == embedded.passages_of_article("cgct", "L5214-16")
