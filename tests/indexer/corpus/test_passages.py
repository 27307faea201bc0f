"""Passages of real documents: ids, headers, statuses, duplicates, metadata."""

from __future__ import annotations

import pytest

from indexer.corpus.passages import load_passages, pick_in_force
from indexer.embedding.tokenizer import count_tokens
from indexer.models import Article, Status
from indexer.settings import Settings


@pytest.fixture(scope="module")
def small_corpus(real_passages):
    return real_passages


@pytest.fixture(scope="module")
def by_id(small_corpus):
    return {passage.id: passage for passage in small_corpus.passages}


def test_ids_are_unique_and_follow_the_scheme(small_corpus) -> None:
    ids = [passage.id for passage in small_corpus.passages]
    assert len(ids) == len(set(ids))
    for passage in small_corpus.passages:
        if passage.kind == "guide":
            assert passage.id == f"{passage.doc_key}/{passage.article}#{passage.part}"
        elif passage.part == 0:
            assert passage.id == f"{passage.doc_key}/{passage.article}"
        else:
            assert passage.id == f"{passage.doc_key}/{passage.article}#{passage.part}"


def test_long_article_parts_fit_the_model_and_repeat_a_header(by_id) -> None:
    parts = [p for pid, p in by_id.items() if pid.startswith("cgct/L5214-16#")]
    assert len(parts) >= 2
    assert [p.part for p in sorted(parts, key=lambda p: p.part)] == list(range(1, len(parts) + 1))
    for part in parts:
        assert part.header.startswith("CGCT, art. L5214-16")
        assert count_tokens(part.embedding_text()) <= 350 + 30
        assert part.text[-1] in ".;:»)"  # never cut mid-sentence
    continued = [p for p in parts if p.text.startswith(("2°", "3°", "4°", "5°", "6°", "7°"))]
    assert any("I. ―" in p.header for p in continued)


def test_short_article_is_one_passage_with_metadata(by_id) -> None:
    passage = by_id["reen/35"]
    assert passage.part == 0
    assert passage.short_name == "Loi REEN" and passage.kind == "loi"
    assert passage.version_date == "2025-07-13"
    assert passage.status is Status.EN_VIGUEUR
    assert passage.url.startswith("https://www.legifrance.gouv.fr/")
    assert "numerique-donnees" in passage.themes
    assert passage.citation() == "Loi REEN, art. 35 (version du 2025-07-13)"


def test_lexlib_passage_has_links_url_and_history(by_id) -> None:
    passage = by_id["cgct/L5214-16#1"]
    assert passage.url == "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000006393074"
    assert any(link.kind == "modifie" for link in passage.links)
    assert all(link.kind in {"cree", "modifie", "abroge", "codifie", "transfere"} for link in passage.links)
    assert any("2015-991" in text for text in passage.amended_by)
    assert passage.heading_path[-2] == "CHAPITRE IV : Communauté de communes"
    assert "communaute-de-communes" in passage.levels


def test_abrogated_articles_stay_in_the_store_labelled(small_corpus, by_id) -> None:
    assert {p.status for p in small_corpus.passages if p.article_id == "cgct/L1414-7"} == {Status.ABROGE}
    statuses = small_corpus.by_status()
    assert statuses["abroge"] > 1000 and statuses["en_vigueur"] > 5000


def test_piste_dates_are_carried(by_id) -> None:
    passage = by_id["crpa/L312-1-1"]
    assert passage.date_debut and not passage.date_fin
    assert passage.url.startswith("https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI")


def test_guide_sections_use_slug_ids(small_corpus) -> None:
    guide = [p for p in small_corpus.passages if p.doc_key == "open-data"]
    assert guide and all("#" in p.id and p.header.startswith(p.short_name) for p in guide)


def test_in_force_file_wins_over_an_abrogated_one_with_the_same_number() -> None:
    old = Article("cgct", "L1", "ancien", status=Status.ABROGE, legi_id="LEGIARTI000000000009")
    new = Article("cgct", "L1", "nouveau", status=Status.EN_VIGUEUR, legi_id="LEGIARTI000000000001")
    assert [a.text for a in pick_in_force([old, new])] == ["nouveau"]
    assert [a.text for a in pick_in_force([new, old])] == ["nouveau"]
    newer = Article("cgct", "L1", "récent", status=Status.EN_VIGUEUR, date_debut="2020-01-01")
    older = Article("cgct", "L1", "vieux", status=Status.EN_VIGUEUR, date_debut="2010-01-01")
    assert [a.text for a in pick_in_force([older, newer])] == ["récent"]


def test_real_duplicate_numbers_resolve_to_one_passage(small_corpus) -> None:
    numbers = [p.article for p in small_corpus.passages if p.doc_key == "cgct" and p.part in (0, 1)]
    assert len(numbers) == len(set(numbers))


def test_parallel_and_sequential_parsing_agree() -> None:
    settings = Settings()
    one = load_passages(settings, only={"reen", "notre", "open-data"}, workers=1)
    two = load_passages(settings, only={"reen", "notre", "open-data"}, workers=2)
    assert [p.to_dict() for p in one.passages] == [p.to_dict() for p in two.passages]


def test_the_encoder_reads_the_chapter_and_section_a_code_article_sits_in(by_id) -> None:
    passage = by_id["cgct/L5214-16#1"]
    header, context, *_ = passage.embedding_text().split("\n")
    assert header == passage.header
    assert context.endswith("Communauté de communes › Compétences")
    assert "Partie législative" not in context and "CHAPITRE" not in context
    law = by_id["reen/35"]
    assert law.embedding_text() == f"{law.header}\n{law.text}"  # laws have no heading path
