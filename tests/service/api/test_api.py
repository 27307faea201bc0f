"""Every /v1 route over a bundle of real corpus passages (FakeEncoder): answers, filters, paging, metadata."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from indexer.search.retriever import Retriever


def _ids(payload: dict) -> list[str]:
    return [hit["passage_id"] for hit in payload["hits"]]


def test_search_hit_carries_citation_source_and_scores(client: TestClient, retriever: Retriever) -> None:
    response = client.get("/v1/search", params={"q": "collecte des déchets ménagers", "k": 5})
    assert response.status_code == 200
    payload = response.json()
    assert payload["build_id"] == retriever.build_id == response.headers["x-build-id"]
    assert payload["took_ms"] > 0 and response.headers["server-timing"].startswith("search;dur=")
    assert payload["k"] == 5 and len(payload["hits"]) == 5 and payload["mode"] == "hybrid"
    hit = payload["hits"][0]
    assert hit["passage_id"] == "cgct/L2224-16" and hit["rank"] == 1
    assert hit["doc_key"] == "cgct" and hit["short_name"] == "CGCT"
    assert hit["document_title"] == "Code général des collectivités territoriales"
    assert hit["article"] == "L2224-16" and hit["version_date"] == "2020-10-28"
    assert hit["status"] == "en_vigueur" and hit["status_label"] == "en vigueur"
    assert hit["url"].startswith("https://www.legifrance.gouv.fr/")
    assert hit["citation"] == "CGCT, art. L2224-16 (version du 2020-10-28)"
    assert "<mark>déchets</mark>" in hit["highlighted"] and "déchets" in hit["matched_terms"]
    assert html.unescape(re.sub(r"</?mark>", "", hit["highlighted"])) == hit["text"]
    scores = hit["scores"]
    assert scores["score"] == scores["fused"] > 0 and scores["lexical"] > 0
    assert -1 <= scores["dense"] <= 1 and scores["dense_rank"] >= 1 and scores["lexical_rank"] >= 1
    assert [h["rank"] for h in payload["hits"]] == [1, 2, 3, 4, 5]


def test_post_search_equals_get(client: TestClient) -> None:
    params: dict[str, str | int] = {
        "q": "compétences de la communauté de communes",
        "k": 4,
        "niveau": "communaute-de-communes",
    }
    by_get = client.get("/v1/search", params=params).json()
    by_post = client.post("/v1/search", json={**params, "niveau": ["communaute-de-communes"]}).json()
    assert _ids(by_get) == _ids(by_post) and len(by_get["hits"]) == 4
    assert by_get["filters"]["niveau"] == ["communaute-de-communes"]


def test_filters_restrict_hits(client: TestClient) -> None:
    query = "communes services publics"
    only_reen = client.get("/v1/search", params={"q": query, "document": "reen", "k": 20}).json()
    assert only_reen["hits"] and {h["doc_key"] for h in only_reen["hits"]} == {"reen"}
    laws = client.get("/v1/search", params={"q": query, "type": "loi", "k": 20}).json()
    assert {h["kind"] for h in laws["hits"]} == {"loi"}
    themed = client.get("/v1/search", params={"q": query, "theme": "dechets", "k": 20}).json()
    assert themed["hits"] and all("dechets" in h["themes"] for h in themed["hits"])
    several = client.get("/v1/search", params=[("q", query), ("niveau", "region,departement"), ("k", "20")])
    assert several.status_code == 200
    hits = several.json()["hits"]
    assert hits and all({"region", "departement"} & set(h["levels"]) for h in hits)
    assert several.json()["filters"]["niveau"] == ["departement", "region"]


def test_abrogated_passages_only_when_asked(client: TestClient) -> None:
    query = "article L5214-12"
    default = client.get("/v1/search", params={"q": query, "k": 50}).json()
    assert "abroge" not in {h["status"] for h in default["hits"]}
    assert "cgct/L5214-12" not in _ids(default)
    everything = client.get("/v1/search", params={"q": query, "k": 5, "en_vigueur": "false"}).json()
    first = everything["hits"][0]
    assert first["passage_id"] == "cgct/L5214-12" and first["status"] == "abroge"
    assert first["status_label"] == "abrogé" and first["article_match"] is True


def test_date_filter(client: TestClient) -> None:
    # L1111-10 in its current version starts on 2019-12-29: not in force on 2010-01-01.
    query = "article L1111-10"
    later = _ids(client.get("/v1/search", params={"q": query, "date": "2020-06-01"}).json())
    earlier = _ids(client.get("/v1/search", params={"q": query, "date": "2010-01-01"}).json())
    assert later[0].startswith("cgct/L1111-10#")
    assert not any(pid.startswith("cgct/L1111-10#") for pid in earlier)


def test_paging_and_modes(client: TestClient) -> None:
    query = "compétences de la communauté d'agglomération"
    first = client.get("/v1/search", params={"q": query, "k": 6}).json()
    second = client.get("/v1/search", params={"q": query, "k": 3, "offset": 3}).json()
    assert _ids(second) == _ids(first)[3:6] and second["hits"][0]["rank"] == 4
    lexical = client.get("/v1/search", params={"q": query, "mode": "lexical", "k": 3}).json()
    assert lexical["mode"] == "lexical" and all(h["scores"]["dense"] is None for h in lexical["hits"])
    grouped = client.get("/v1/search", params={"q": query, "grouper": "true", "k": 10}).json()
    articles = [h["article_id"] for h in grouped["hits"]]
    assert len(articles) == len(set(articles))


def test_passage_by_id_and_article(client: TestClient) -> None:
    response = client.get("/v1/passages/handicap-2005/47%232")
    assert response.status_code == 200
    passage = response.json()
    assert passage["passage_id"] == "handicap-2005/47#2" and passage["part"] == 2
    assert passage["article_parts"][:2] == ["handicap-2005/47#1", "handicap-2005/47#2"]
    assert passage["citation"].startswith("Loi handicap 2005, art. 47")
    article = client.get("/v1/documents/handicap-2005/articles/47").json()
    assert [p["passage_id"] for p in article["passages"]] == passage["article_parts"]
    whole = client.get("/v1/passages/cgct/L2224-16").json()
    assert whole["article_parts"] == ["cgct/L2224-16"] and whole["links"]
    assert {"kind", "text", "date"} <= set(whole["links"][0])


def test_documents_taxonomy_and_manifest(client: TestClient, retriever: Retriever) -> None:
    documents = client.get("/v1/documents").json()
    assert documents["count"] == 3 and documents["build_id"] == retriever.build_id
    cgct = next(d for d in documents["documents"] if d["key"] == "cgct")
    assert cgct["version_date"] == "2020-10-28" and cgct["head_version_date"] == "2026-01-01"
    assert cgct["passages"] == sum(cgct["by_status"].values()) and cgct["articles"] > 50
    assert client.get("/v1/documents/cgct").json() == cgct
    taxonomy = client.get("/v1/taxonomy").json()
    levels = {t["id"]: t["label"] for t in taxonomy["levels"]}
    assert levels["commune"] == "Commune" and taxonomy["themes"] and taxonomy["kinds"] == ["code", "loi"]
    manifest = client.get("/v1/index").json()
    assert manifest["build_id"] == retriever.build_id and manifest["model"]["id"] == "fake-hash-64"
    assert manifest["counts"]["passages"] == sum(d["passages"] for d in documents["documents"])


def test_health_and_metrics(client: TestClient, retriever: Retriever) -> None:
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "pret" and ready["build_id"] == retriever.build_id and ready["passages"] > 200
    client.get("/v1/search", params={"q": "déchets"})
    client.get("/v1/search", params={"q": ""})
    text = client.get("/metrics").text
    assert 'qfq_http_requests_total{method="GET",route="/v1/search",status="200"} 1.0' in text
    assert 'qfq_http_requests_total{method="GET",route="/v1/search",status="422"} 1.0' in text
    assert 'qfq_search_duration_seconds_count{mode="hybrid"} 1.0' in text
    assert "qfq_index_ready 1.0" in text
    assert f'qfq_index_info{{build_id="{retriever.build_id}",model="fake-hash-64"}} 1.0' in text


def test_openapi_has_stable_operation_ids_and_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = {
        op["operationId"]: (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    assert (
        operations.items()
        >= {
            "search": ("GET", "/v1/search"),
            "search_post": ("POST", "/v1/search"),
            "search_export": ("GET", "/v1/search/export"),
            "search_export_post": ("POST", "/v1/search/export"),
            "get_passage": ("GET", "/v1/passages/{passage_id}"),
            "get_article": ("GET", "/v1/documents/{doc_key}/articles/{article}"),
            "list_documents": ("GET", "/v1/documents"),
            "get_document": ("GET", "/v1/documents/{doc_key}"),
            "get_taxonomy": ("GET", "/v1/taxonomy"),
            "get_index_manifest": ("GET", "/v1/index"),
            "livez": ("GET", "/livez"),
            "readyz": ("GET", "/readyz"),
            "metrics": ("GET", "/metrics"),
        }.items()
    )
    body = spec["components"]["schemas"]["SearchBody"]
    assert body["examples"][0]["q"] and body["additionalProperties"] is False
    search = spec["paths"]["/v1/search"]["get"]
    q = next(p for p in search["parameters"] if p["name"] == "q")
    assert q["schema"]["maxLength"] == 500 and q["schema"]["minLength"] == 1
    assert {"400", "413", "422", "429", "503"} <= set(search["responses"])


def test_search_reports_acronyms_and_levels_recognised(client: TestClient) -> None:
    payload = client.get(
        "/v1/search", params={"q": "La GEMAPI est-elle une compétence de l'agglo ?", "k": 3}
    ).json()
    assert payload["sigles_developpes"] == [
        {
            "sigle": "GEMAPI",
            "developpement": "gestion des milieux aquatiques et prévention des inondations",
        }
    ]
    assert payload["niveaux_reconnus"] == ["communaute-d-agglomeration"]
    assert all(isinstance(hit["level_match"], bool) for hit in payload["hits"])
    plain = client.get("/v1/search", params={"q": "collecte des déchets", "k": 3}).json()
    assert plain["sigles_developpes"] == [] and plain["niveaux_reconnus"] == []
