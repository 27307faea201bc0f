"""GET and POST follow the same rules: unknown names refused with the accepted ones listed, strict types,
and every message in French."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("path", "params", "unknown"),
    [
        ("/v1/search", {"q": "déchets", "foo": "bar"}, "foo"),
        ("/v1/search", {"q": "déchets", "format": "csv"}, "format"),  # an export parameter on the search
        ("/v1/documents", {"page": "2"}, "page"),
        ("/v1/passages/cgct%2FL5214-16%231", {"zz": "1"}, "zz"),
        ("/livez", {"x": "1"}, "x"),
    ],
)
def test_unknown_query_parameters_are_refused_with_the_accepted_ones(
    client: TestClient, path: str, params: dict[str, str], unknown: str
) -> None:
    got = client.get(path, params=params)
    assert got.status_code == 422
    error = got.json()["error"]
    assert error["code"] == "parametre_invalide" and f"« {unknown} »" in error["message"]
    assert unknown not in error["details"]["acceptes"]
    if path == "/v1/search":
        assert {"q", "k", "niveau", "mode"} <= set(error["details"]["acceptes"])
        assert "Paramètres acceptés : date, document" in error["message"]


def test_unknown_body_fields_are_refused_with_the_accepted_ones(client: TestClient) -> None:
    got = client.post("/v1/search", json={"q": "déchets", "limit": 3})
    error = got.json()["error"]
    assert got.status_code == 422 and "Champ inconnu : « limit »." in error["message"]
    assert "Champs acceptés : date, document" in error["message"] and "k" in error["details"]["acceptes"]


def test_export_accepts_its_format(client: TestClient) -> None:
    assert client.get("/v1/search/export", params={"q": "déchets", "format": "csv"}).status_code == 200


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_number(client: TestClient, value: bool) -> None:
    got = client.post("/v1/search", json={"q": "déchets", "k": value})
    assert got.status_code == 422
    assert "« k » : un nombre entier est attendu, pas true ou false" in got.json()["error"]["message"]


def test_an_empty_body_says_what_to_send(client: TestClient) -> None:
    got = client.post("/v1/search", content=b"", headers={"content-type": "application/json"})
    assert got.status_code == 422
    message = got.json()["error"]["message"]
    assert "Le corps de la requête est vide" in message and "body" not in message


def test_choices_are_listed_in_french(client: TestClient) -> None:
    got = client.get("/v1/search", params={"q": "déchets", "mode": "magique"})
    message = got.json()["error"]["message"]
    assert "Valeurs possibles : « hybrid », « dense » ou « lexical »." in message
    assert " or " not in message and "'" not in message
