"""Tests of the SQLite passage store and of the numpy BM25 that mirrors its FTS5 index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from helpers.records import make_passage

from indexer.errors import BundleError
from indexer.index.lexical import (
    LexicalIndex,
    article_tokens,
    build_lexical_index,
    passage_fields,
    query_tokens,
)
from indexer.index.lookup import StoreLookup
from indexer.index.store import PassageStore, write_store
from indexer.models import ArticleTags, Passage


def _write(path: Path, passages: list[Passage]) -> PassageStore:
    fields = [passage_fields(p) for p in passages]
    docs = [
        {"key": k, "title": k, "short_name": k, "kind": "code"}
        for k in dict.fromkeys(p.doc_key for p in passages)
    ]
    write_store(path, passages, fields, docs, meta={"build_id": "test"})
    return PassageStore(path)


def test_round_trip_keeps_every_passage_field(tmp_path: Path, passages: list[Passage]) -> None:
    store = _write(tmp_path / "p.sqlite", passages)
    assert store.count() == len(passages)
    back = store.get(list(range(len(passages))))
    assert back == passages
    assert store.get([3, 0]) == [passages[3], passages[0]]
    assert store.meta()["build_id"] == "test"
    assert [d["key"] for d in store.documents()] == ["cgct", "reen", "handicap-2005", "guide-nr"]


def test_lookup_by_id_and_article(tmp_path: Path, passages: list[Passage]) -> None:
    store = _write(tmp_path / "p.sqlite", passages)
    assert store.rowid_of("cgct/L5214-16") == 0
    assert store.rowid_of("cgct/nope") is None
    assert store.rowids_of_article("cgct", "L5216-5") == [1, 2]
    with pytest.raises(KeyError):
        store.get([999])


def test_store_is_opened_read_only(tmp_path: Path, passages: list[Passage]) -> None:
    store = _write(tmp_path / "p.sqlite", passages)
    with pytest.raises(sqlite3.OperationalError):
        store._connection.execute("DELETE FROM passages")


def test_write_refuses_an_existing_file(tmp_path: Path, passages: list[Passage]) -> None:
    path = tmp_path / "p.sqlite"
    path.write_text("x")
    with pytest.raises(FileExistsError):
        write_store(path, passages, [passage_fields(p) for p in passages], [])


def test_garbage_file_is_a_bundle_error(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(BundleError) as info:
        PassageStore(path)
    assert info.value.code == "index_corrompu"


def test_fields_are_french_normalised() -> None:
    assert article_tokens("L5214-16") == ["l5214-16", "5214-16"]
    assert query_tokens("Les compétences des communautés de communes") == ["competent", "communaut", "commun"]


@pytest.mark.parametrize(
    "query",
    [
        "compétences de la communauté de communes",
        "collecte des déchets ménagers",
        "L5216-5 agglomération",
        "sobriété numérique introduction",
        "CGCT conseil municipal délibérations",
    ],
)
def test_numpy_bm25_equals_fts5_bm25(tmp_path: Path, passages: list[Passage], query: str) -> None:
    store = _write(tmp_path / "p.sqlite", passages)
    lexical = build_lexical_index(passage_fields(p) for p in passages)
    tokens = query_tokens(query)
    reference = store.fts_search(tokens, limit=100)
    assert reference, "the query must match something"
    scores = lexical.scores(tokens)
    assert {row for row, _ in reference} == set(np.flatnonzero(scores > 0).tolist())
    for row, score in reference:
        assert scores[row] == pytest.approx(score, rel=1e-5)
    found_scores, found_ids = lexical.search(tokens, 3)
    assert found_ids.tolist() == [row for row, _ in reference[:3]]
    np.testing.assert_allclose(found_scores, [s for _, s in reference[:3]], rtol=1e-5)


def test_lexical_search_honours_the_mask_and_persists(tmp_path: Path, passages: list[Passage]) -> None:
    lexical = build_lexical_index(passage_fields(p) for p in passages)
    tokens = query_tokens("compétences communauté")
    mask = np.zeros(len(passages), dtype=bool)
    mask[[2, 7]] = True
    _, ids = lexical.search(tokens, 10, mask)
    assert set(ids.tolist()) <= {2, 7} and len(ids) == 2
    lexical.save(tmp_path / "lex.npz")
    loaded = LexicalIndex.load(tmp_path / "lex.npz")
    np.testing.assert_array_equal(loaded.scores(tokens), lexical.scores(tokens))
    assert loaded.has_terms(0, ["competent", "zzz", "communaut"]) == ["competent", "communaut"]
    assert lexical.search(["absent"], 5)[1].tolist() == []


def test_bm25_constants_given_to_the_builder_are_used_and_saved(
    tmp_path: Path, passages: list[Passage]
) -> None:
    fields = [passage_fields(p) for p in passages]
    default = build_lexical_index(fields)
    flatter = build_lexical_index(fields, k1=0.8, b=0.4)
    assert (flatter.k1, flatter.b) == (0.8, 0.4)
    tokens = query_tokens("compétences de la communauté de communes")
    assert not np.allclose(flatter.scores(tokens), default.scores(tokens))
    flatter.save(tmp_path / "lex.npz")
    np.testing.assert_array_equal(
        LexicalIndex.load(tmp_path / "lex.npz").scores(tokens), flatter.scores(tokens)
    )


def test_article_tags_merge_the_parts_of_an_article(tmp_path: Path) -> None:
    parts = [
        make_passage("cgct", "L5214-16", "I. La communauté de communes…", part=1, levels=["communaute-de-communes"],
                     themes=["dechets"]),
        make_passage("cgct", "L5214-16", "II. … eau", part=2, levels=["communaute-de-communes", "epci-fp"],
                     themes=["eau-assainissement", "dechets"]),
        make_passage("cgct", "L2224-13", "Les communes…", levels=["commune"], themes=["dechets"]),
    ]  # fmt: skip
    tags = StoreLookup(_write(tmp_path / "p.sqlite", parts)).article_tags()
    assert set(tags) == {"cgct/L5214-16", "cgct/L2224-13"}
    merged = tags["cgct/L5214-16"]
    assert merged == ArticleTags(
        ("communaute-de-communes", "epci-fp"), ("dechets", "eau-assainissement"), parts[0].url, "en_vigueur"
    )
    assert tags["cgct/L2224-13"].levels == ("commune",)
