"""The `reponse` block of `/v1/search` (GET and POST), its exports and its place in the OpenAPI schema."""

from __future__ import annotations

from fastapi.testclient import TestClient

QUESTION = "Notre communauté de communes doit-elle gérer la collecte des ordures ménagères ?"


def test_the_search_answers_with_the_level_category_and_cited_article(client: TestClient) -> None:
    got = client.get("/v1/search", params={"q": QUESTION, "k": 3})
    assert got.status_code == 200
    answer = got.json()["reponse"]
    assert answer["type"] == "competence"
    assert answer["pourquoi"] == {
        "mots": ["ordures ménagères"],
        "niveaux_reconnus": ["communaute-de-communes"],
        "faits": {},
    }
    [level] = answer["niveaux"]
    assert (level["niveau"], level["categorie"]) == ("communaute-de-communes", "obligatoire")
    [competence] = level["competences"]
    assert competence["id"] == "cc-dechets" and competence["base"] == ["cgct/L5214-16"]
    assert competence["loi"]["cle"] == "notre"
    [cited] = competence["passages"]
    assert cited["trouve"] and cited["passage_id"].startswith("cgct/L5214-16#")
    assert "déchets des ménages" in cited["extrait"]
    assert cited["version_date"] and cited["statut"] == "en_vigueur"
    posted = client.post("/v1/search", json={"q": QUESTION, "k": 3})
    assert posted.json()["reponse"] == answer


def test_no_answer_for_a_question_the_knowledge_does_not_cover(client: TestClient) -> None:
    got = client.get("/v1/search", params={"q": "horaires de la piscine municipale"})
    assert got.status_code == 200 and got.json()["reponse"] is None
    assert got.json()["hits"]  # the passages are still there


def test_a_population_in_the_question_evaluates_the_obligation(client: TestClient) -> None:
    question = "Une commune de 2 000 habitants doit-elle publier ses données en open data ?"
    answer = client.get("/v1/search", params={"q": question}).json()["reponse"]
    assert answer["type"] == "obligation" and answer["pourquoi"]["faits"] == {
        "type": "commune",
        "population": 2000,
    }
    [obligation] = answer["obligations"]
    assert obligation["id"] == "donnees-ouvertes" and obligation["statut"] == "non_applicable"
    assert any("3 500" in reason or "3500" in reason for reason in obligation["motifs"])
    assert "population" in obligation["conditions"]


def test_exports_carry_the_answer(client: TestClient) -> None:
    sheet = client.get("/v1/search/export", params={"q": QUESTION, "k": 2, "format": "md"}).text
    assert "## Réponse : Collecte et traitement des déchets ménagers" in sheet
    assert "CGCT, art. L5214-16" in sheet.split("## Réponse", 1)[1].split("## 1.", 1)[0]
    exported = client.get("/v1/search/export", params={"q": QUESTION, "k": 2, "format": "json"}).json()
    assert exported["reponse"]["niveaux"][0]["competences"][0]["id"] == "cc-dechets"


def test_openapi_documents_the_answer(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert "reponse" in schemas["SearchResponse"]["properties"]
    assert {"sujets", "niveaux", "obligations", "pourquoi"} <= set(schemas["Answer"]["properties"])


def test_a_partial_index_says_which_cited_documents_it_lacks(client: TestClient) -> None:
    # The test index holds part of the CGCT and two laws: the CRPA cited by the profile is missing.
    profile = client.post("/v1/profil", json={"type": "commune", "population": 8000, "agents": 120}).json()
    assert profile["articles_absents"] and any(a.startswith("crpa/") for a in profile["articles_absents"])
    assert "crpa" in profile["avertissement"] and "qfq build" in profile["avertissement"]
    found = [
        p
        for group in ("applicables", "indetermines")
        for o in profile[group]
        for p in o["passages"]
        if p["trouve"]
    ]
    assert found  # what the index holds is still cited
    answer = client.get("/v1/search", params={"q": QUESTION}).json()["reponse"]
    assert answer["articles_absents"] == [] and answer["avertissement"] is None
    page = client.get(
        "/ma-collectivite", params={"type": "commune", "population": "8000", "agents": "120"}
    ).text
    assert 'class="warning"' in page and "crpa" in page


def test_a_question_on_how_a_competence_moves_gets_the_mechanism_and_its_articles(client: TestClient) -> None:
    question = (
        "Comment une commune peut-elle reprendre une compétence transférée à sa communauté de communes ?"
    )
    got = client.get("/v1/search", params={"q": question, "k": 5}).json()
    assert got["reponse"] is None  # who holds it is not the question
    [mechanism, *_] = got["mecanismes"]
    assert mechanism["id"] == "restitution-competence" and mechanism["base"][0] == "cgct/L5211-17-1"
    cited = mechanism["passages"][0]
    assert cited["trouve"] and cited["version_date"] and cited["statut"] == "en_vigueur"
    assert "restitu" in cited["extrait"]
    # The mechanism's articles are evidence for the ranking: the governing article is among the passages.
    grouped = client.get("/v1/search", params={"q": question, "k": 5, "grouper": "true"}).json()
    assert "cgct/L5211-17-1" in [hit["article_id"] for hit in grouped["hits"]]
    sheet = client.get("/v1/search/export", params={"q": question, "k": 2, "format": "md"}).text
    assert "## Mécanisme : Rendre une compétence aux communes" in sheet
    table = client.get("/v1/search/export", params={"q": question, "k": 2, "format": "csv"}).text
    assert any(line.startswith("mécanisme;CGCT, art. L5211-17-1") for line in table.splitlines())
    assert client.get("/v1/search", params={"q": QUESTION}).json()["mecanismes"] == []


def test_a_mechanism_cites_first_the_article_written_for_the_level_named(client: TestClient) -> None:
    def first_cited(question: str) -> dict:
        [mechanism] = client.get("/v1/search", params={"q": question, "k": 1}).json()["mecanismes"]
        assert mechanism["id"] == "fonds-de-concours"
        return mechanism["passages"][0]

    agglomeration = first_cited(
        "Une communauté d'agglomération peut-elle verser un fonds de concours à une commune ?"
    )
    assert agglomeration["article_id"] == "cgct/L5216-5" and "fonds de concours" in agglomeration["extrait"]
    assert agglomeration["extrait"].removeprefix("… ").startswith("VI.")
    communes = first_cited("Une commune peut-elle verser un fonds de concours à sa communauté de communes ?")
    assert communes["article_id"] == "cgct/L5214-16"
