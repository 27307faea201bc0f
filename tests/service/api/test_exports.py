"""Exports for trainers: the cited Markdown sheet, the CSV table and the JSON file."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from service.api.exports import CSV_COLUMNS, file_name, render_csv
from service.api.schemas import AppliedFilters, Scores, SearchHit, SearchResponse

QUESTION = "Qui assure la collecte des déchets ménagers ?"


def test_markdown_sheet_cites_every_excerpt(client: TestClient) -> None:
    response = client.get("/v1/search/export", params={"q": QUESTION, "k": 3, "format": "md"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="qfq-qui-assure-la-collecte-des-dechets-menagers.md"'
    )
    hits = client.get("/v1/search", params={"q": QUESTION, "k": 3}).json()["hits"]
    sheet = response.text
    assert sheet.startswith(f"# {QUESTION}\n")
    assert f"index {response.headers['x-build-id']}" in sheet
    assert "dispositions abrogées exclues" in sheet
    for hit in hits:
        assert f"## {hit['rank']}. {hit['citation']}" in sheet
        assert f"- **Version du** : {hit['version_date']}" in sheet
        assert f"<{hit['url']}>" in sheet
        assert "> " + hit["text"].splitlines()[0][:80] in sheet
    table = sheet.split("## Références", 1)[1]
    assert table.count("\n| ") == len(hits) + 1  # header row + one row per hit


def test_csv_table_opens_in_a_spreadsheet(client: TestClient) -> None:
    response = client.get(
        "/v1/search/export", params={"q": QUESTION, "k": 4, "format": "csv", "niveau": "commune"}
    )
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    searched = client.get("/v1/search", params={"q": QUESTION, "k": 4, "niveau": "commune"}).json()
    # The knowledge's answer comes first, one row per cited article, then one row per hit.
    cited = [
        p for level in searched["reponse"]["niveaux"] for c in level["competences"] for p in c["passages"]
    ]
    answer_rows = [row for row in rows[1:] if row[0] == "réponse"]
    assert rows[1 : 1 + len(cited)] == answer_rows and len(answer_rows) == len(cited) > 0
    assert [row[4] for row in answer_rows] == [p["article_id"] for p in cited]
    hits = searched["hits"]
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 1 + len(cited) + 4
    for row, hit in zip(rows[1 + len(cited) :], hits, strict=True):
        record = dict(zip(CSV_COLUMNS, row, strict=True))
        assert record["citation"] == hit["citation"] and record["passage_id"] == hit["passage_id"]
        assert record["statut"] == hit["status_label"] and record["lien"] == hit["url"]
        assert record["extrait"].lstrip("'") == hit["text"]
        # A decimal comma: French spreadsheet software reads "0.5" as text.
        assert "." not in record["score"] and float(record["score"].replace(",", ".")) == pytest.approx(
            hit["scores"]["score"], abs=1e-6
        )


def test_json_export_matches_the_search_answer(client: TestClient) -> None:
    body = {"q": QUESTION, "k": 2, "format": "json", "document": ["cgct"]}
    response = client.post("/v1/search/export", json=body)
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].endswith('.json"')
    exported = json.loads(response.text)
    search = client.post("/v1/search", json={k: v for k, v in body.items() if k != "format"}).json()
    assert [h["passage_id"] for h in exported["hits"]] == [h["passage_id"] for h in search["hits"]]
    assert exported["filters"]["document"] == ["cgct"]


def _hit(text: str) -> SearchHit:
    return SearchHit(
        rank=1,
        passage_id="x/1",
        article_id="x/1",
        article="1",
        part=0,
        title="",
        text=text,
        highlighted=text,
        matched_terms=[],
        doc_key="x",
        document_title="=Titre",
        short_name="X",
        kind="loi",
        heading_path=[],
        version_date="2025-07-13",
        status="en_vigueur",
        status_label="en vigueur",
        url="https://example.org",
        citation="X, art. 1 (version du 2025-07-13)",
        levels=[],
        themes=[],
        article_match=False,
        other_parts=[],
        scores=Scores(score=1.0, dense=None, lexical=1.0, fused=1.0, dense_rank=None, lexical_rank=1),
    )


def test_csv_cells_cannot_run_as_formulas() -> None:
    filters = AppliedFilters(niveau=[], theme=[], document=[], type=[], en_vigueur=True, date=None)
    response = SearchResponse(
        query="q",
        mode="hybrid",
        mode_effectif="hybrid",
        k=1,
        offset=0,
        total_candidates=1,
        filters=filters,
        build_id="b",
        took_ms=1.0,
        hits=[_hit('-les communes; "citées"\n=SUM(A1)')],
    )
    row = list(csv.reader(io.StringIO(render_csv(response).lstrip("\ufeff")), delimiter=";"))[1]
    record = dict(zip(CSV_COLUMNS, row, strict=True))
    assert record["extrait"] == '\'-les communes; "citées"\n=SUM(A1)'
    assert record["document"] == "'=Titre"


def test_file_name_is_ascii() -> None:
    assert (
        file_name("Qu'est-ce qu'un EPCI à fiscalité propre ?", "md")
        == "qfq-qu-est-ce-qu-un-epci-a-fiscalite-propre.md"
    )
    assert file_name("???", "csv") == "qfq-recherche.csv"
