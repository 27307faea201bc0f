"""One error shape everywhere: every route answers bad input with `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers.api_checks import assert_error_shape

from indexer.embedding.fake import FakeEncoder
from indexer.search.retriever import Retriever
from service.app import create_app
from service.deps import get_retriever
from service.errors import INTERNAL_MESSAGE

LONG_QUERY = "compétences " * 900  # about 10 KB

# (method, url, keyword arguments of the request, status, code): at least one bad input per route.
BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("GET", "/v1/search", {"params": {"q": ""}}, 422, "parametre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "   "}}, 422, "requete_vide"),
    ("GET", "/v1/search", {}, 422, "parametre_invalide"),
    ("GET", "/v1/search", {"params": {"q": LONG_QUERY}}, 422, "parametre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "k": 0}}, 422, "parametre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "k": 1000}}, 422, "parametre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "k": "dix"}}, 422, "parametre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "offset": -1}}, 422, "parametre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "niveau": "canton"}}, 422, "filtre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "theme": "pêche"}}, 422, "filtre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "document": "code-civil"}}, 422, "filtre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "date": "2021-02-30"}}, 422, "date_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "date": "01/02/2021"}}, 422, "parametre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "mode": "magique"}}, 422, "parametre_invalide"),
    ("GET", "/v1/search", {"params": {"q": "déchets", "en_vigueur": "peut-être"}}, 422, "parametre_invalide"),
    ("GET", "/v1/search?q=%FF%FE", {}, 400, "encodage_invalide"),
    ("POST", "/v1/search", {"json": {"q": ""}}, 422, "parametre_invalide"),
    ("POST", "/v1/search", {"json": {"q": LONG_QUERY}}, 422, "parametre_invalide"),
    ("POST", "/v1/search", {"json": {"q": "déchets", "k": 0}}, 422, "parametre_invalide"),
    ("POST", "/v1/search", {"json": {"q": "déchets", "k": 1000}}, 422, "parametre_invalide"),
    ("POST", "/v1/search", {"json": {"q": "déchets", "niveau": ["canton"]}}, 422, "filtre_invalide"),
    ("POST", "/v1/search", {"json": {"q": "déchets", "inconnu": 1}}, 422, "parametre_invalide"),
    ("POST", "/v1/search", {"json": ["déchets"]}, 422, "parametre_invalide"),
    ("POST", "/v1/search", {"json": {"q": "x" * 20_000}}, 413, "corps_trop_volumineux"),
    (
        "POST",
        "/v1/search",
        {"content": b'{"q": "d\xe9chets"}', "headers": {"content-type": "application/json"}},
        400,
        "encodage_invalide",
    ),
    (
        "POST",
        "/v1/search",
        {"content": '{"q": "déchets",'.encode(), "headers": {"content-type": "application/json"}},
        400,
        "json_invalide",
    ),
    ("GET", "/v1/search/export", {"params": {"q": "déchets", "format": "pdf"}}, 422, "parametre_invalide"),
    ("GET", "/v1/search/export", {"params": {"q": ""}}, 422, "parametre_invalide"),
    ("POST", "/v1/search/export", {"json": {"q": "déchets", "format": "docx"}}, 422, "parametre_invalide"),
    ("POST", "/v1/search/export", {"json": {"q": "déchets", "type": ["roman"]}}, 422, "filtre_invalide"),
    ("GET", "/v1/passages/cgct/L0000-0", {}, 404, "passage_introuvable"),
    ("GET", "/v1/passages/" + "x" * 400, {}, 422, "parametre_invalide"),
    ("GET", "/v1/passages/cgct/%C3%28", {}, 400, "encodage_invalide"),
    ("GET", "/v1/documents/cgct/articles/L0000-0", {}, 404, "article_introuvable"),
    ("GET", "/v1/documents/code-civil/articles/1240", {}, 404, "document_introuvable"),
    ("GET", "/v1/documents/code-civil", {}, 404, "document_introuvable"),
    ("POST", "/v1/documents", {}, 405, "methode_non_autorisee"),
    ("POST", "/v1/taxonomy", {}, 405, "methode_non_autorisee"),
    ("DELETE", "/v1/index", {}, 405, "methode_non_autorisee"),
    ("POST", "/livez", {}, 405, "methode_non_autorisee"),
    ("POST", "/readyz", {}, 405, "methode_non_autorisee"),
    ("POST", "/metrics", {}, 405, "methode_non_autorisee"),
    ("GET", "/v2/search", {}, 404, "route_introuvable"),
    # Knowledge routes (competences, profile, law impact).
    ("GET", "/v1/competences", {}, 422, "parametre_invalide"),
    ("GET", "/v1/competences", {"params": {"niveau": "canton"}}, 422, "niveau_inconnu"),
    ("POST", "/v1/profil", {"json": {}}, 422, "parametre_invalide"),
    ("POST", "/v1/profil", {"json": {"type": "canton"}}, 422, "type_inconnu"),
    ("GET", "/v1/lois/loi-inexistante/impact", {}, 404, "loi_inconnue"),
    ("GET", "/v1/matrice", {"params": {"niveau": "canton"}}, 422, "niveau_inconnu"),
    ("GET", "/v1/matrice", {"params": {"theme": "loisirs"}}, 422, "theme_inconnu"),
    ("GET", "/v1/matrice", {"params": {"format": "pdf"}}, 422, "parametre_invalide"),
    # The change watch (JSON and Atom).
    ("GET", "/v1/changements", {}, 422, "parametre_invalide"),
    (
        "GET",
        "/v1/changements",
        {"params": {"niveau": "commune", "depuis": "2015-13-01"}},
        422,
        "date_invalide",
    ),
    ("GET", "/v1/changements", {"params": {"niveau": "canton"}}, 422, "niveau_inconnu"),
    ("GET", "/v1/changements", {"params": {"niveau": "commune", "theme": "loisirs"}}, 422, "theme_inconnu"),
    (
        "GET",
        "/v1/changements.atom",
        {"params": {"niveau": "commune", "depuis": "hier"}},
        422,
        "date_invalide",
    ),
    (
        "GET",
        "/v1/changements.atom",
        {"params": {"niveau": "commune", "format": "rss"}},
        422,
        "parametre_invalide",
    ),
]


@pytest.mark.parametrize(("method", "url", "kwargs", "status", "code"), BAD_REQUESTS)
def test_bad_input_gets_the_error_shape(
    client: TestClient, method: str, url: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    assert_error_shape(client.request(method, url, **kwargs), status, code)


def _matches(template: str, url: str) -> bool:
    return re.fullmatch(re.sub(r"\{[^}]+\}", ".+", template), url.split("?")[0]) is not None


def test_every_api_route_is_probed(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
            assert any(
                _matches(path, url) and (m == method.upper() or not takes_input)
                for m, url, *_ in BAD_REQUESTS
            ), f"{method.upper()} {path} n'est essayée avec aucune entrée invalide"


def test_unknown_filter_lists_allowed_values_in_french(client: TestClient, retriever: Retriever) -> None:
    response = client.get("/v1/search", params={"q": "déchets", "niveau": ["commune", "canton"]})
    error = assert_error_shape(response, 422, "filtre_invalide")
    assert error["message"].startswith("Valeur de niveau inconnue : canton. Valeurs possibles : ")
    assert error["details"]["inconnues"] == ["canton"]
    assert (
        error["details"]["acceptes"] == retriever.facets()["levels"]
        and "commune" in error["details"]["acceptes"]
    )


def test_validation_messages_are_french_and_name_the_field(client: TestClient) -> None:
    error = assert_error_shape(
        client.get("/v1/search", params={"q": "x", "k": 1000}), 422, "parametre_invalide"
    )
    assert error["message"] == "Requête invalide : « k » doit être inférieur ou égal à 50."
    assert error["details"]["erreurs"] == [
        {
            "champ": "k",
            "emplacement": "query",
            "type": "less_than_equal",
            "message": "« k » doit être inférieur ou égal à 50.",
        }
    ]
    long = assert_error_shape(client.get("/v1/search", params={"q": LONG_QUERY}), 422, "parametre_invalide")
    assert "au plus 500 caractères" in long["message"]


def test_unexpected_failure_is_a_french_500_without_trace(make_app) -> None:  # noqa: ANN001
    app = make_app()

    class Broken:
        build_id = "x"

        def search(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("secret internal detail")

    app.dependency_overrides[get_retriever] = lambda: Broken()
    with TestClient(app) as client:
        response = client.get("/v1/search", params={"q": "déchets"})
    error = assert_error_shape(response, 500, "erreur_interne")
    assert error["message"] == INTERNAL_MESSAGE and "secret" not in response.text
    assert error["details"]["request_id"] == response.headers["x-request-id"]


def test_not_ready_until_the_index_is_loaded(fake_settings) -> None:  # noqa: ANN001
    release = threading.Event()

    def slow_loader() -> Retriever:
        release.wait(10)
        return Retriever.open(fake_settings, FakeEncoder(64))  # a retriever of its own: closed at shutdown

    app = create_app(fake_settings, loader=slow_loader)
    with TestClient(app) as client:
        assert client.get("/livez").status_code == 200
        error = assert_error_shape(client.get("/readyz"), 503, "index_indisponible")
        assert error["details"] == {"cause": "chargement_en_cours"}
        search = client.get("/v1/search", params={"q": "déchets"})
        assert_error_shape(search, 503, "index_indisponible")
        assert search.headers["retry-after"] == "5"
        page = client.get("/", params={"q": "déchets"})
        assert page.status_code == 503 and "en cours de chargement" in page.text
        release.set()
        assert app.state.index.wait(10)
        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/search", params={"q": "déchets"}).status_code == 200


def test_missing_bundle_keeps_readyz_503_with_the_cause(fake_settings, tmp_path) -> None:  # noqa: ANN001
    settings = fake_settings.model_copy(update={"data_dir": tmp_path / "vide"})
    app = create_app(settings)
    with TestClient(app) as client:
        assert not app.state.index.wait(30)
        error = assert_error_shape(client.get("/readyz"), 503, "index_indisponible")
        assert error["details"] == {"cause": "index_absent"} and "qfq build" in error["message"]
        search = assert_error_shape(client.get("/v1/documents"), 503, "index_indisponible")
        assert search["details"]["cause"] == "index_absent"


def test_docs_page_needs_no_internet_and_can_send_a_key(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text and "cdn." not in page.text
    script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/static/swagger-ui/swagger-ui.css").status_code == 200
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["cleApi"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "Une clé de QFQ_API_KEYS.",
    }
    assert {} in schema["security"] and {"cleApi": []} in schema["security"]
    assert client.get("/redoc").status_code == 404
