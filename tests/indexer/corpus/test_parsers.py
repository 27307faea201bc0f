"""Each parser on real corpus files, and on bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from indexer.corpus.parsers import known_formats, parse_document
from indexer.corpus.parsers.common import date_in_text
from indexer.corpus.parsers.lexlib import parse_links, split_markdown
from indexer.errors import CorpusError
from indexer.models import Document, Status
from indexer.text.dates import epoch_ms_to_iso


def by_number(parsed, key: str) -> dict:
    return {article.number: article for article in parsed(key)}


def test_registry_knows_every_format_of_the_manifest(corpus_documents: dict[str, Document]) -> None:
    assert {doc.format for doc in corpus_documents.values()} <= set(known_formats())


def test_ansvar_law_articles_keep_numbers_and_wording(parsed) -> None:
    articles = by_number(parsed, "reen")
    assert "35" in articles
    assert "stratégie numérique responsable" in articles["35"].text
    assert all(article.status is Status.EN_VIGUEUR for article in articles.values())


def test_ansvar_code_articles_use_legifrance_numbers(parsed) -> None:
    articles = by_number(parsed, "urbanisme")
    assert "L101-2" in articles
    assert "  " not in articles["L101-2"].text


def test_piste_tree_gives_status_dates_links_and_headings(parsed) -> None:
    articles = by_number(parsed, "crpa")
    article = articles["L312-1-1"]
    assert article.status is Status.EN_VIGUEUR
    assert article.date_debut and article.date_debut <= "2026-05-28"
    assert article.heading_path and article.heading_path[0].startswith("Livre III")
    assert article.legi_id.startswith("LEGIARTI")
    assert any(link.kind in {"cree", "modifie", "codifie"} and link.text for link in article.links)
    abrogated = [a for a in articles.values() if a.status is Status.ABROGE]
    assert abrogated, "the CRPA file holds one abrogated article"


def test_lexlib_links_block_is_parsed_and_removed(parsed) -> None:
    articles = by_number(parsed, "cgct")
    article = articles["L5214-16"]
    assert "Liens relatifs" not in article.text
    assert "Cité par" not in article.text
    assert article.text.startswith("I. ― La communauté de communes exerce de plein droit")
    modified = [link for link in article.links if link.kind == "modifie"]
    assert modified and modified[0].text.startswith("Loi n°2019-1428")
    assert modified[0].date == "2019-12-24"
    assert article.heading_path[-2] == "CHAPITRE IV : Communauté de communes"
    assert article.legi_id == "LEGIARTI000006393074"
    assert any("2015-991" in text for text in article.amending_texts), (
        "NOTRe changed it in an earlier version"
    )


def test_lexlib_abrogated_article_is_labelled(parsed) -> None:
    articles = by_number(parsed, "cgct")
    assert articles["L1414-7"].status is Status.ABROGE
    assert articles["L5214-16"].status is Status.EN_VIGUEUR


def test_lexlib_counts_abrogated_files_as_the_corpus_readme_says(parsed) -> None:
    articles = parsed("transports")
    assert sum(a.status is Status.ABROGE for a in articles) == 158


def test_markdown_guide_split_at_headings_without_front_matter(corpus_documents, corpus_dir) -> None:
    sections = parse_document(corpus_documents["open-data"], corpus_dir)
    assert len(sections) > 5
    texts = " ".join(section.text for section in sections)
    assert "metaLinks" not in texts and "{% hint" not in texts and "&#x20;" not in texts
    assert all(section.is_guide_section and section.title for section in sections)
    assert len({section.number for section in sections}) == len(sections)


def test_markdown_tool_cards_keep_their_description(corpus_documents, corpus_dir) -> None:
    sections = parse_document(corpus_documents["numerique-responsable"], corpus_dir)
    ecoclic = [s for s in sections if "pilotage" in s.text and "démarche responsable" in s.text]
    assert ecoclic
    assert not any("layout:" in s.text for s in sections)


def test_pdf_pages_are_numbered(corpus_documents, corpus_dir) -> None:
    pages = parse_document(corpus_documents["guide-achats-numeriques"], corpus_dir)
    assert len(pages) > 20
    assert pages[0].pages == [int(pages[0].number.removeprefix("page-"))]
    assert all(page.text for page in pages)


def test_unknown_format_is_reported_with_document_and_file(corpus_documents, corpus_dir) -> None:
    doc = replace(corpus_documents["reen"], format="docx")
    with pytest.raises(CorpusError) as error:
        parse_document(doc, corpus_dir)
    assert error.value.code == "format_inconnu"
    assert "reen" in error.value.message and "lois/reen.json" in error.value.message


def _doc(tmp_path: Path, name: str, content: bytes, fmt: str) -> tuple[Document, Path]:
    (tmp_path / name).write_bytes(content)
    doc = Document("bad", "Bad", "Bad", "loi", "", "", fmt, name, "2025-01-01", "tests", "")
    return doc, tmp_path


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        (b'{"provisions": [{"section": "1", "content": "Le', "ansvar-json"),
        (b"", "ansvar-json"),
        (b'{"data": {}, "type": "code", "children": [', "legi-piste-json"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog", "pdf"),
        (b"", "pdf"),
        (b'{"no": "provisions"}', "ansvar-json"),
    ],
)
def test_bad_files_raise_a_corpus_error_naming_the_document(tmp_path, content, fmt) -> None:
    doc, folder = _doc(tmp_path, "bad-file", content, fmt)
    with pytest.raises(CorpusError) as error:
        parse_document(doc, folder)
    assert "bad" in error.value.message and "bad-file" in error.value.message


def test_missing_file_is_reported(tmp_path) -> None:
    doc = Document("absent", "A", "A", "loi", "", "", "ansvar-json", "nope.json", "2025-01-01", "t", "")
    with pytest.raises(CorpusError) as error:
        parse_document(doc, tmp_path)
    assert error.value.code == "fichier_introuvable"


def test_link_block_parsing() -> None:
    block = "\n_Créé par_:\n\n  - Loi n°2015-991 du 7 août 2015 - art. 64 (V)\n_Abrogé par_:\n  - Décret n°2005-935 2005-08-02 art. 8\n"
    links = parse_links(block)
    assert [(link.kind, link.date) for link in links] == [("cree", "2015-08-07"), ("abroge", "2005-08-02")]


def test_split_markdown_separates_nota_and_links() -> None:
    raw = "# Article L1\n\nTexte.\n\n**Nota:**\n\nEntrée en vigueur.\n\n**Liens relatifs à cet article**\n\n_Cite_:\n  - X"
    heading, body, nota, links = split_markdown(raw)
    assert heading == "Article L1" and body.strip() == "Texte." and "Entrée" in nota and "_Cite_" in links


def test_dates() -> None:
    assert date_in_text("ORDONNANCE n°2015-899 du 23 juillet 2015 - art. 101") == "2015-07-23"
    assert date_in_text("Loi n°2019-1461 du 1er décembre 2019") == "2019-12-01"
    assert epoch_ms_to_iso(1451606400000) == "2016-01-01"
    assert epoch_ms_to_iso(32472144000000) == ""  # 2999-01-01: no end date
    assert json.dumps(epoch_ms_to_iso(None)) == '""'
