"""The formal gold set (written questions, FAQ) loads, is stratified and judges only existing in-force texts."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from helpers.gold_checks import articles_not_in_force, judged_articles
from helpers.paths import REPO

from evaluations.gold import available_splits, load_gold, load_qrels, load_queries

GOLD = REPO / "evaluations" / "datasets" / "qfq-formel"
STYLES = {"question-ecrite", "faq"}


@pytest.fixture(scope="module")
def splits():
    return {name: load_gold(GOLD, name) for name in ("dev", "test")}


def test_eighty_questions_split_in_two_disjoint_halves(splits) -> None:
    queries = load_queries(GOLD)
    dev, test = set(splits["dev"].queries), set(splits["test"].queries)
    assert available_splits(GOLD) == ["dev", "test"]
    assert len(queries) == 80
    assert all(re.fullmatch(r"f\d{3}", query_id) for query_id in queries)
    assert not dev & test
    assert dev | test == set(queries)
    assert len(dev) == len(test) == 40


def test_every_question_has_a_primary_answer_and_formal_text(splits) -> None:
    for split in splits.values():
        for query_id, judged in split.qrels.items():
            assert max(judged.values()) == 2, query_id
            assert set(judged.values()) <= {1, 2}, query_id
            query = split.queries[query_id]
            text = query.text
            assert 150 <= len(text) <= 900 and text.endswith("?"), query_id
            if query.extra["metadata"]["style"] == "question-ecrite":
                assert 200 <= len(text) <= 700, query_id


def test_metadata_use_the_taxonomy_and_both_styles() -> None:
    from indexer.text.tagging import load_taxonomy

    taxonomy = load_taxonomy()
    levels, themes = set(taxonomy.level_ids()), set(taxonomy.theme_ids())
    styles: Counter[str] = Counter()
    for query in load_queries(GOLD).values():
        metadata = query.extra["metadata"]
        assert metadata["niveaux"] and set(metadata["niveaux"]) <= levels, query.id
        assert metadata["themes"] and set(metadata["themes"]) <= themes, query.id
        assert metadata["style"] in STYLES, query.id
        assert metadata["sujet"], query.id
        styles[metadata["style"]] += 1
    # About two thirds written questions, one third FAQ.
    assert 50 <= styles["question-ecrite"] <= 57
    assert styles["question-ecrite"] + styles["faq"] == 80


def test_both_splits_cover_the_same_subjects_and_styles(splits) -> None:
    seen = {
        name: {q.extra["metadata"]["sujet"] for q in split.queries.values()} for name, split in splits.items()
    }
    assert seen["dev"] == seen["test"]
    assert len(seen["dev"]) >= 15
    for split in splits.values():
        styles = Counter(q.extra["metadata"]["style"] for q in split.queries.values())
        assert styles["faq"] >= 10 and styles["question-ecrite"] >= 24, split.split


def test_every_judged_article_exists_and_is_in_force(corpus_dir: Path, corpus_documents) -> None:
    # Same check as the public set: parse only the judged documents and keep the version the indexer keeps.
    wanted = judged_articles(GOLD)
    assert all(
        "/" in cid
        for split in ("dev", "test")
        for judged in load_qrels(GOLD, split).values()
        for cid in judged
    )
    assert set(wanted) <= set(corpus_documents)
    problems = articles_not_in_force(wanted, corpus_dir, corpus_documents)
    assert not problems, problems
