"""Request id, JSON access log, body limit, API keys, rate limit and CORS."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from helpers.api_checks import assert_error_shape

from service.logs import JsonFormatter
from service.middleware import MAX_BODY_BYTES, TokenBuckets

SEARCH = {"q": "collecte des déchets"}


def test_request_id_is_generated_or_propagated(client: TestClient) -> None:
    generated = client.get("/livez").headers["x-request-id"]
    assert len(generated) == 32 and generated != client.get("/livez").headers["x-request-id"]
    assert client.get("/livez", headers={"X-Request-ID": "appel-42"}).headers["x-request-id"] == "appel-42"
    forged = client.get("/livez", headers={"X-Request-ID": "a b\x7f" + "x" * 100}).headers["x-request-id"]
    assert forged != "a b" and len(forged) == 32


def test_access_log_is_one_json_line_with_the_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="qfq.access"):
        response = client.get("/v1/search", params=SEARCH, headers={"X-Request-ID": "trace-1"})
    records = [r for r in caplog.records if r.name == "qfq.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == "trace-1" == response.headers["x-request-id"]
    assert line["status"] == 200 and line["route"] == "/v1/search" and line["method"] == "GET"
    assert line["duration_ms"] > 0 and line["bytes"] == len(response.content) and line["level"] == "info"
    assert "q=" not in json.dumps(line)  # questions are not written to the access log


def _chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_body_limit_with_and_without_content_length(client: TestClient) -> None:
    padded = json.dumps({"q": "déchets", "niveau": []}).encode() + b" " * (MAX_BODY_BYTES - 40)
    assert len(padded) <= MAX_BODY_BYTES
    ok = client.post("/v1/search", content=padded, headers={"content-type": "application/json"})
    assert ok.status_code == 200
    declared = client.post(
        "/v1/search", content=b" " * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"}
    )
    assert_error_shape(declared, 413, "corps_trop_volumineux")
    streamed = client.post(
        "/v1/search", content=_chunks(MAX_BODY_BYTES + 10), headers={"content-type": "application/json"}
    )
    assert "content-length" not in streamed.request.headers
    error = assert_error_shape(streamed, 413, "corps_trop_volumineux")
    assert error["details"] == {"limite_octets": MAX_BODY_BYTES}


def test_rate_limit_answers_429_with_retry_after(make_app) -> None:  # noqa: ANN001
    with TestClient(make_app(rate_limit_per_minute=3)) as client:
        answers = [client.get("/v1/search", params=SEARCH) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        assert {a.headers["ratelimit-limit"] for a in answers} == {"3"}
        limited = client.get("/v1/search", params=SEARCH)
        error = assert_error_shape(limited, 429, "trop_de_requetes")
        assert limited.headers["retry-after"] == "20"  # one token every 20 s at 3 per minute
        assert limited.headers["ratelimit-limit"] == "3" and limited.headers["ratelimit-remaining"] == "0"
        assert limited.headers["ratelimit-reset"] == "20"
        assert error["details"] == {"limite_par_minute": 3, "reessayer_dans_s": 20}
        assert client.get("/livez").status_code == 200 and client.get("/readyz").status_code == 200
        assert "qfq_rate_limited_requests_total 1.0" in client.get("/metrics").text


def test_rate_limit_is_per_key(make_app) -> None:  # noqa: ANN001
    app = make_app(rate_limit_per_minute=2, api_keys=["cle-a", "cle-b"])
    with TestClient(app) as client:
        for _ in range(2):
            assert client.get("/v1/taxonomy", headers={"X-API-Key": "cle-a"}).status_code == 200
        assert client.get("/v1/taxonomy", headers={"X-API-Key": "cle-a"}).status_code == 429
        assert client.get("/v1/taxonomy", headers={"X-API-Key": "cle-b"}).status_code == 200


def test_token_bucket_refills_continuously() -> None:
    buckets = TokenBuckets(per_minute=60)
    assert all(buckets.take("a", now=100.0) == 0.0 for _ in range(60))
    assert buckets.take("a", now=100.0) == pytest.approx(1.0)
    assert buckets.take("a", now=100.5) == pytest.approx(0.5)
    assert buckets.take("a", now=101.0) == 0.0
    assert buckets.take("b", now=101.0) == 0.0
    small = TokenBuckets(per_minute=1, max_clients=2)
    for name in ("x", "y", "z"):
        small.take(name, now=0.0)
    assert len(small._buckets) <= 2


def test_api_keys(make_app) -> None:  # noqa: ANN001
    with TestClient(make_app(api_keys=["s3cret", "autre"])) as client:
        missing = client.get("/v1/search", params=SEARCH)
        assert_error_shape(missing, 401, "cle_api_requise")
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert_error_shape(
            client.get("/v1/search", params=SEARCH, headers={"X-API-Key": "faux"}), 403, "cle_api_invalide"
        )
        assert client.get("/v1/search", params=SEARCH, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert (
            client.get("/v1/search", params=SEARCH, headers={"Authorization": "Bearer autre"}).status_code
            == 200
        )
        assert client.get("/", headers={"Authorization": "Basic czNjcmV0"}).status_code == 401
        for open_path in ("/livez", "/readyz", "/openapi.json", "/static/style.css"):
            assert client.get(open_path).status_code == 200, open_path
        assert client.get("/metrics").status_code == 401


def test_cors_allow_list(make_app) -> None:  # noqa: ANN001
    with TestClient(make_app(cors_origins=["https://intranet.example"])) as client:
        preflight = client.options(
            "/v1/search",
            headers={
                "Origin": "https://intranet.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-api-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://intranet.example"
        assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
        simple = client.get("/v1/search", params=SEARCH, headers={"Origin": "https://intranet.example"})
        assert simple.headers["access-control-allow-origin"] == "https://intranet.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        other = client.get("/v1/search", params=SEARCH, headers={"Origin": "https://ailleurs.example"})
        assert "access-control-allow-origin" not in other.headers
        refused = client.options(
            "/v1/search",
            headers={"Origin": "https://ailleurs.example", "Access-Control-Request-Method": "GET"},
        )
        error = assert_error_shape(refused, 400, "cors_refuse")
        assert error["details"] == {"refus": ["origine non autorisée"]}
        assert "non autorisé(s)" not in error["message"] and "QFQ_CORS_ORIGINS" in error["message"]


def test_no_cors_headers_by_default(client: TestClient) -> None:
    response = client.get("/v1/taxonomy", headers={"Origin": "https://intranet.example"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
