"""The change watch over HTTP: JSON by theme, the Atom feed (parsed and checked against RFC 4287), errors."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from helpers.api_checks import assert_error_shape

from indexer.search.retriever import Retriever
from service.app import create_app
from service.settings import ServiceSettings

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
CC = {"niveau": "communaute-de-communes", "depuis": "2015-01-01"}


@pytest.fixture(scope="module")
def api(fake_settings: ServiceSettings, retriever: Retriever) -> Iterator[TestClient]:
    with TestClient(create_app(fake_settings, retriever=retriever)) as client:
        yield client


def test_changes_are_grouped_by_theme_with_amending_texts(api: TestClient) -> None:
    got = api.get("/v1/changements", params=CC)
    assert got.status_code == 200
    body = got.json()
    assert body["depuis"] == "2015-01-01" and body["niveaux_suivis"] == ["communaute-de-communes", "epci-fp"]
    articles = {a["article_id"]: a for group in body["themes"] for a in group["articles"]}
    l5214 = articles["cgct/L5214-16"]
    assert all(e["date"] >= "2015-01-01" for e in l5214["evenements"])
    assert any("2015-991" in text for e in l5214["evenements"] for text in e["textes"])
    # The bundle's tags: L5214-16 is in the subset index, tagged for the communauté de communes.
    assert "communaute-de-communes" in l5214["niveaux"] and l5214["statut"] == "en_vigueur"
    assert {e["competence"] for e in body["evolutions"]} >= {"cc-eau", "cc-dechets"}
    assert body["couverture"]["consolide_au"] == "2020-10-28"
    assert any("2020-10-28" in remark for remark in body["remarques"])


def test_a_theme_keeps_only_its_articles(api: TestClient) -> None:
    body = api.get("/v1/changements", params={**CC, "theme": "dechets"}).json()
    assert [group["theme"] for group in body["themes"]] == ["dechets"]
    assert all("dechets" in a["themes"] for a in body["themes"][0]["articles"])
    assert all(e["theme"] == "dechets" for e in body["evolutions"])


def test_the_feed_is_valid_atom_and_lists_l5214_16(api: TestClient) -> None:
    got = api.get("/v1/changements.atom", params=CC)
    assert got.status_code == 200 and got.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(got.content)
    assert feed.tag == f"{ATOM}feed"
    # RFC 4287 4.1.1: one id, title and updated; an author (for entries without one); a self link.
    for tag in ("id", "title", "updated", "author"):
        assert len(feed.findall(f"{ATOM}{tag}")) == 1, tag
    assert RFC3339.match(feed.findtext(f"{ATOM}updated") or "")
    self_link = next(link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self")
    assert "/v1/changements.atom?" in (self_link.get("href") or "")
    entries = feed.findall(f"{ATOM}entry")
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert entries and len(ids) == len(set(ids)) and all(i and i.startswith("tag:") for i in ids)
    for entry in entries:  # 4.1.2: id, title, updated; a link since there is no content
        assert entry.findtext(f"{ATOM}title") and RFC3339.match(entry.findtext(f"{ATOM}updated") or "")
        assert entry.find(f"{ATOM}link") is not None and entry.find(f"{ATOM}link").get("href")
    titles = [entry.findtext(f"{ATOM}title") or "" for entry in entries]
    assert any(title.startswith("CGCT, art. L5214-16 :") for title in titles)
    assert any("consolidés au 2020-10-28" in title for title in titles)
    # Newest article changes first.
    article_dates = [
        e.findtext(f"{ATOM}updated") for e in entries if "/article/" in (e.findtext(f"{ATOM}id") or "")
    ]
    assert article_dates == sorted(article_dates, reverse=True)


def test_the_feed_date_is_optional(api: TestClient) -> None:
    got = api.get("/v1/changements.atom", params={"niveau": "communaute-de-communes"})
    assert got.status_code == 200
    feed = ET.fromstring(got.content)
    assert "derniers" not in (feed.findtext(f"{ATOM}subtitle") or "")  # the subtitle names the real date
    assert re.search(r"depuis le \d{4}-\d{2}-\d{2}", feed.findtext(f"{ATOM}subtitle") or "")


@pytest.mark.parametrize("path", ["/v1/changements", "/v1/changements.atom"])
def test_a_bad_date_is_a_french_422(api: TestClient, path: str) -> None:
    error = assert_error_shape(
        api.get(path, params={"niveau": "commune", "depuis": "2015-02-30"}), 422, "date_invalide"
    )
    assert "AAAA-MM-JJ" in error["message"]
    assert_error_shape(api.get(path, params={"niveau": "canton"}), 422, "niveau_inconnu")
