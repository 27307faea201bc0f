"""Real model on a real subset of the CGCT: build a bundle, then check known top hits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.paths import REPO

from indexer.corpus.passages import load_passages
from indexer.embedding.factory import load_encoder
from indexer.index.build import build_bundle
from indexer.index.bundle import load_bundle
from indexer.search.filters import SearchFilters
from indexer.search.retriever import Retriever
from indexer.settings import Settings

# Chapters a question about intercommunal and municipal powers should find, among distractors.
TARGET_PREFIXES = ("L5214-", "L5216-", "L5215-", "L5217-", "L2224-", "L1425-")
DISTRACTOR_STEP = 40  # plus every 40th other legislative article of the code


def _cgct_entry(manifest: str) -> str:
    blocks = manifest.split("[[documents]]")
    block = next(b for b in blocks if re.search(r'^key = "cgct"$', b, re.M))
    return "[[documents]]" + block.rstrip() + "\n"


def _subset_corpus(real: Path, into: Path) -> int:
    """A corpus folder holding only the CGCT, with a subset of its article files (symbolic links)."""
    (into / "structure").mkdir(parents=True)
    (into / "codes").mkdir()
    (into / "manifest.toml").write_text(
        _cgct_entry((real / "manifest.toml").read_text(encoding="utf-8")), encoding="utf-8"
    )
    (into / "codes" / "cgct.amendments.jsonl").symlink_to(real / "codes" / "cgct.amendments.jsonl")
    (into / "structure" / "cgct.structure.jsonl").symlink_to(real / "structure" / "cgct.structure.jsonl")
    legislative = next((real / "codes" / "cgct").glob("01*"))
    dest = into / "codes" / "cgct" / legislative.name
    dest.mkdir(parents=True)
    count = 0
    for i, path in enumerate(sorted(legislative.glob("Article *.md"))):
        number = path.name.removeprefix("Article ").split(" - ")[0]
        if number.startswith(TARGET_PREFIXES) or i % DISTRACTOR_STEP == 0:
            (dest / path.name).symlink_to(path)
            count += 1
    return count


@pytest.fixture(scope="module")
def real_retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    base = Settings()
    real_corpus = base.corpus_dir.resolve()
    if not (real_corpus / "manifest.toml").is_file():
        pytest.fail(f"corpus introuvable : {real_corpus} (QFQ_CORPUS_DIR)")
    tmp = tmp_path_factory.mktemp("real")
    files = _subset_corpus(real_corpus, tmp / "corpus")
    assert files > 250
    data = tmp / "data"
    data.mkdir()
    # Reuse the model prepared in the project's data folder when there is one (preparing takes a while).
    prepared = (REPO / base.models_dir).resolve()
    if prepared.is_dir():
        (data / "models").symlink_to(prepared)
    settings = base.model_copy(update={"corpus_dir": tmp / "corpus", "data_dir": data})
    passages = load_passages(settings, only={"cgct"}, strict=True)
    assert {"cgct/L5214-16", "cgct/L1425-1"} <= {p.article_id for p in passages.passages}
    encoder = load_encoder(settings)
    build_bundle(settings, passages.passages, passages.documents, encoder)
    bundle = load_bundle(settings, encoder=encoder)
    assert bundle.manifest["model"]["id"] == encoder.model_id
    return Retriever(bundle, encoder)


@pytest.mark.slow
def test_community_of_communes_powers_are_found(real_retriever: Retriever) -> None:
    result = real_retriever.search(
        "Quelles compétences exerce une communauté de communes ?", k=3, group_by_article=True
    )
    assert "cgct/L5214-16" in [hit.passage.article_id for hit in result.hits]


@pytest.mark.slow
def test_named_article_on_real_data(real_retriever: Retriever) -> None:
    result = real_retriever.search("Que prévoit l'article L. 1425-1 du CGCT ?", k=3)
    assert result.hits[0].passage.article_id == "cgct/L1425-1"
    assert result.hits[0].article_match


@pytest.mark.slow
def test_real_hits_carry_score_components_and_respect_filters(real_retriever: Retriever) -> None:
    result = real_retriever.search("collecte et traitement des déchets des ménages", k=5)
    assert all(hit.dense_score is not None and hit.dense_score > 0.5 for hit in result.hits)
    assert any(hit.lexical_rank is not None for hit in result.hits)
    statuses = {hit.passage.status for hit in real_retriever.search("déchets", k=50).hits}
    assert "abroge" not in statuses
    everything = real_retriever.search("déchets", k=50, filters=SearchFilters(include_abrogated=True))
    assert len(everything.hits) == 50


@pytest.mark.slow
def test_half_precision_prefilter_on_real_vectors_gives_the_exact_ranking(real_retriever: Retriever) -> None:
    from indexer.index.vectors import FaissFlatIndex

    index = real_retriever.bundle.index
    assert isinstance(index, FaissFlatIndex)
    questions = [
        "Quelles compétences exerce une communauté de communes ?",
        "collecte et traitement des déchets des ménages",
        "réseaux de communications électroniques des collectivités",
    ]
    vectors = real_retriever.encoder.encode_queries(questions)
    mask = real_retriever.mask(SearchFilters())
    before = dict(index.prefilter_stats)
    index.prefilter_min_vectors = 0
    try:
        for vector in vectors:
            _, exact = index.search(vector[None, :].repeat(5, axis=0), 100, mask)  # a batch: float32 scan
            _, prefiltered = index.search(vector[None, :], 100, mask)
            assert prefiltered[0].tolist() == exact[0].tolist()
    finally:
        index.prefilter_min_vectors = FaissFlatIndex.PREFILTER_MIN_VECTORS
    assert index.prefilter_stats["certified"] - before["certified"] == len(questions)
