"""Knowledge routes and CLI: competences by level, a profile's obligations, a law's impact, the profile page."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from helpers.api_checks import assert_error_shape
from typer.testing import CliRunner

from indexer.index.lookup import StoreLookup, default_lookup
from service.cli.main import app as cli_app
from service.settings import ServiceSettings

LEGAL_BASIS = re.compile(r"^[a-z0-9-]+/[A-Za-z0-9*-]+$")
LISTS = ("applicables", "non_applicables", "indetermines")


def test_competences_are_grouped_by_theme_with_cited_passages(client: TestClient) -> None:
    response = client.get("/v1/competences", params={"niveau": "communaute-de-communes"})
    assert response.status_code == 200
    body = response.json()
    assert body["niveau"] == "communaute-de-communes" and body["libelle"] == "Communauté de communes"
    themes = [group["theme"] for group in body["themes"]]
    assert len(themes) == len(set(themes)) and "eau-assainissement" in themes
    items = [c for group in body["themes"] for c in group["competences"]]
    assert body["total"] == len(items) == sum(body["par_categorie"].values())
    for item in items:
        assert item["categorie"] in body["par_categorie"]
        assert all(LEGAL_BASIS.match(ref) for ref in item["base"])
    water = next(c for c in items if c["id"] == "cc-eau")
    assert water["categorie_libelle"] == "obligatoire" and water["base"] == ["cgct/L5214-16"]
    (passage,) = water["passages"]
    # The bundle splits L5214-16 into parts: the citation points at the part holding "7° Eau".
    assert passage["trouve"] and passage["passage_id"].startswith("cgct/L5214-16")
    assert passage["extrait"].removeprefix("… ").startswith("7° Eau") and passage["statut"] == "en_vigueur"
    assert passage["version_date"] == "2020-10-28" and passage["citation"].startswith("CGCT, art. L5214-16")
    assert [change["loi"]["cle"] for change in water["changements"]][-1] == "eau-assainissement-2025"


def test_unknown_level_lists_the_accepted_ones(client: TestClient) -> None:
    error = assert_error_shape(
        client.get("/v1/competences", params={"niveau": "etat"}), 422, "niveau_inconnu"
    )
    assert "commune" in error["details"]["acceptes"] and "etat" not in error["details"]["acceptes"]
    assert error["message"].startswith("Niveau inconnu")


def test_profile_answer_has_three_lists_with_legal_bases(client: TestClient) -> None:
    response = client.post(
        "/v1/profil",
        json={"type": "commune", "population": 8000, "agents": 120, "date": "2026-01-01"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["profil"] == {
        "type": "commune",
        "type_libelle": "Commune",
        "population": 8000,
        "agents": 120,
        "date": "2026-01-01",
        "criteres": {},
    }
    statuses = {item["id"]: name for name in LISTS for item in body[name]}
    assert statuses["donnees-ouvertes"] == "applicables"
    assert statuses["strategie-numerique-responsable"] == "non_applicables"
    assert statuses["mise-en-ligne-documents-budgetaires"] == "indetermines"
    for name in LISTS:
        for item in body[name]:
            assert item["statut"] == {"applicables": "applicable", "non_applicables": "non_applicable"}.get(
                name, "indetermine"
            )
            assert item["base"] and all(LEGAL_BASIS.match(ref) for ref in item["base"])
            assert {p["article_id"] for p in item["passages"]} == set(item["base"])
    refused = next(i for i in body["non_applicables"] if i["id"] == "strategie-numerique-responsable")
    assert "50 000" in refused["motifs"][0]
    budget = next(i for i in body["indetermines"] if i["id"] == "mise-en-ligne-documents-budgetaires")
    assert [m["donnee"] for m in budget["manquants"]] == ["site_internet"]
    assert "site_internet" in body["criteres_disponibles"]


def test_profile_criteria_decide_what_was_undetermined(client: TestClient) -> None:
    body = client.post(
        "/v1/profil",
        json={"type": "commune", "population": 8000, "agents": 120, "criteres": {"site_internet": True}},
    ).json()
    assert "mise-en-ligne-documents-budgetaires" in {i["id"] for i in body["applicables"]}
    assert body["profil"]["criteres"]["site_internet"]["reponse"] is True


def test_profile_errors_are_french_422(client: TestClient) -> None:
    unknown = assert_error_shape(client.post("/v1/profil", json={"type": "canton"}), 422, "type_inconnu")
    assert "communaute-d-agglomeration" in unknown["details"]["acceptes"]
    criterion = assert_error_shape(
        client.post("/v1/profil", json={"type": "commune", "criteres": {"piscine": True}}),
        422,
        "critere_inconnu",
    )
    assert "site_internet" in criterion["details"]["acceptes"]
    negative = assert_error_shape(
        client.post("/v1/profil", json={"type": "commune", "population": -3}), 422, "parametre_invalide"
    )
    assert "« population » doit être supérieur ou égal à 0" in negative["message"]
    bad_date = assert_error_shape(
        client.post("/v1/profil", json={"type": "commune", "date": "2025-02-30"}), 422, "profil_invalide"
    )
    assert "Date invalide" in bad_date["message"]
    assert_error_shape(
        client.post("/v1/profil", json={"type": "commune", "taille": 3}), 422, "parametre_invalide"
    )


def test_law_impact_lists_l5214_16_for_communautes_de_communes(client: TestClient) -> None:
    response = client.get("/v1/lois/notre/impact", params={"niveau": "communaute-de-communes"})
    assert response.status_code == 200
    body = response.json()
    assert body["loi"]["numero"] == "2015-991" and body["niveau"] == "communaute-de-communes"
    articles = {a["article_id"]: a for g in body["niveaux"] for t in g["themes"] for a in t["articles"]}
    assert "cgct/L5214-16" in articles
    assert [e["date"] for e in articles["cgct/L5214-16"]["evenements"]] == [
        "2015-08-09",
        "2015-08-09",
        "2020-01-01",
    ]
    assert "codes/cgct.amendments.jsonl" in body["sources"]
    unknown = assert_error_shape(
        client.get("/v1/lois/notre/impact", params={"niveau": "canton"}), 422, "niveau_inconnu"
    )
    assert "region" in unknown["details"]["acceptes"]


def test_operation_ids_are_stable(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/v1/competences"]["get"]["operationId"] == "list_competences"
    assert paths["/v1/profil"]["post"]["operationId"] == "evaluate_profile"
    assert paths["/v1/lois/{key}/impact"]["get"]["operationId"] == "law_impact"


def test_profile_page_shows_three_lists_with_citations(client: TestClient) -> None:
    page = client.get("/ma-collectivite")
    assert page.status_code == 200 and '<label for="type">' in page.text and "<ol" not in page.text
    assert 'href="/ma-collectivite"' in client.get("/").text
    response = client.get(
        "/ma-collectivite",
        params={
            "type": "communaute-d-agglomeration",
            "population": "80 000",
            "agents": "600",
            "site_internet": "oui",
        },
    )
    assert response.status_code == 200
    text = html.unescape(response.text)
    for title in (
        "Obligations applicables",
        "À préciser : informations manquantes",
        "Obligations qui ne s'appliquent pas",
    ):
        assert title in text
    assert "<code>crpa/L312-1-1</code>" in text and "80 000 habitants" in text
    assert '<option value="oui" selected>' in text
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    error = client.get("/ma-collectivite", params={"type": "canton"})
    assert error.status_code == 422 and "Type de collectivité inconnu" in error.text


def test_cli_profil_json_prints_one_object_with_three_lists(corpus_dir: Path, tmp_path: Path) -> None:
    env = {"QFQ_CORPUS_DIR": str(corpus_dir), "QFQ_DATA_DIR": str(tmp_path / "sans-index")}
    args = ["profil", "--type", "communaute-d-agglomeration", "--population", "80000", "--agents", "600"]
    result = CliRunner().invoke(cli_app, [*args, "--date", "2026-01-01", "--json"], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(LISTS) <= set(body) and body["profil"]["type"] == "communaute-d-agglomeration"
    items = [item for name in LISTS for item in body[name]]
    assert items and all(
        item["base"] and all(LEGAL_BASIS.match(ref) for ref in item["base"]) for item in items
    )
    assert "pcaet" in {i["id"] for i in body["applicables"]}
    # Passages come from the corpus when no index is published.
    open_data = next(i for i in body["applicables"] if i["id"] == "donnees-ouvertes")
    assert open_data["passages"][0]["trouve"] and open_data["passages"][0]["statut"] == "en_vigueur"
    text = CliRunner().invoke(cli_app, [*args, "--critere", "site_internet=oui"], env=env)
    assert text.exit_code == 0 and "Obligations applicables" in text.stdout
    bad = CliRunner().invoke(cli_app, ["profil", "--type", "canton"], env=env)
    assert bad.exit_code == 2 and "Type de collectivité inconnu" in bad.stderr
    bad_criterion = CliRunner().invoke(cli_app, ["profil", "--type", "commune", "--critere", "site"], env=env)
    assert bad_criterion.exit_code == 2 and "nom=oui" in bad_criterion.stderr


def test_cli_reads_passages_from_the_published_index(
    fake_settings: ServiceSettings, fake_bundle: Path
) -> None:
    assert isinstance(default_lookup(fake_settings), StoreLookup)
    env = {
        "QFQ_CORPUS_DIR": str(fake_settings.corpus_dir),
        "QFQ_DATA_DIR": str(fake_settings.data_dir),
        "QFQ_MODEL": fake_settings.model,
    }
    args = ["profil", "--type", "departement", "--population", "500000", "--agents", "3000", "--json"]
    result = CliRunner().invoke(cli_app, [*args, "--critere", "porte_sdtan=oui"], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    passages = {p["article_id"]: p for name in LISTS for item in body[name] for p in item["passages"]}
    # The test index holds a few CGCT articles and two laws only: the CRPA is not in it.
    assert passages["cgct/L1425-2"]["trouve"] and passages["cgct/L1425-2"]["passage_id"].startswith(
        "cgct/L1425-2"
    )
    assert not passages["crpa/L312-1-1"]["trouve"] and passages["handicap-2005/47"]["trouve"]


def test_the_matrix_cites_the_article_with_its_version_date(client: TestClient) -> None:
    got = client.get("/v1/matrice", params=[("niveau", "commune"), ("niveau", "communaute-de-communes")])
    assert got.status_code == 200
    matrix = got.json()
    row = next(r for g in matrix["themes"] for r in g["lignes"] if r["sujet"] == "dechets")
    cell = row["cellules"]["communaute-de-communes"]
    assert cell["categorie"] == "obligatoire" and cell["base"] == ["cgct/L5214-16"]
    assert cell["version_date"] == "2020-10-28" and cell["url"].startswith("https://www.legifrance.gouv.fr/")
    refused = client.get("/v1/matrice", params={"niveau": "canton"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "niveau_inconnu"
