"""Fetching from the Légifrance API against a fake PISTE server on loopback that serves the CRPA."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import threading
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import typer
from typer.testing import CliRunner

from indexer.corpus.manifest import load_manifest, render_manifest, verify_checksums
from indexer.corpus.parsers import parse_document
from indexer.errors import ConfigError, CorpusError
from indexer.fetch.changes import diff_trees, render_fr
from indexer.fetch.client import PisteClient, PisteCredentials, RetryPolicy
from indexer.fetch.convert import build_tree, check_tree, iso_date, toc_articles, toc_version, tree_articles
from indexer.fetch.errors import FetchError
from indexer.fetch.pipeline import FetchResult, run_fetch
from indexer.fetch.sources import DEFAULT_SOURCES, Source, load_sources
from indexer.fetch.writer import rollback, sibling
from indexer.settings import Settings
from service.cli.fetch import fetch as fetch_command

CORPUS = Settings().corpus_dir.resolve()
CRPA_ID = "LEGITEXT000031366350"
LAW_ID = "JORFTEXT000099999999"
DAY = "2026-06-01"
SECRET = "s3cr3t-never-logged"
API_PREFIX = "/dila/legifrance/lf-engine-app"


def crpa_tree() -> dict[str, Any]:
    return json.loads((CORPUS / "codes/crpa.piste.json").read_text(encoding="utf-8"))


# --- the fake PISTE server -------------------------------------------------------------------------


def tree_to_toc(tree: dict[str, Any], modif_date: str) -> dict[str, Any]:
    """The `/consult/legi/tableMatieres` response the real API gives for this tree (ids and states only)."""

    def split(node: dict[str, Any]) -> dict[str, Any]:
        sections, articles = [], []
        for child in node["children"]:
            data = child["data"]
            if child["type"] == "article":
                articles.append(
                    {
                        "id": data["id"],
                        "cid": data["cid"],
                        "num": data["num"],
                        "etat": data["etat"],
                        "intOrdre": data["intOrdre"],
                        "dateDebut": data["dateDebut"],
                        "dateFin": data["dateFin"],
                    }
                )
                articles.extend(child.get("older_versions", []))
            else:
                sections.append({**{k: data.get(k) for k in data}, **split(child)})
        return {"sections": sections, "articles": articles}

    data = tree["data"]
    return {
        "executionTime": 17,
        "dereferenced": False,
        "id": f"{data['id']}_{modif_date}",
        "cid": data["cid"],
        "title": data["title"],
        "etat": data["etat"],
        "modifDate": modif_date,
        "dateDebutVersion": data.get("dateDebutVersion"),
        "dateFinVersion": data.get("dateFinVersion"),
        **split(tree),
    }


def article_response(data: dict[str, Any]) -> dict[str, Any]:
    """The `/consult/getArticle` response: the article with `ordre`, plus fields the fetch ignores."""
    article = {k: v for k, v in data.items() if k != "intOrdre"}
    article.update(ordre=data["intOrdre"], versionArticle="1.0", textTitles=[], fullSectionsTitre="…")
    return {"executionTime": 3, "dereferenced": False, "article": article}


@dataclass
class Fault:
    """Misbehaviour injected on a route (`oauth`, `toc`, `article`): `skip` matching calls pass first."""

    route: str
    kind: str  # expire, 401, 429, 500, truncated, bad_json
    times: int = 1
    skip: int = 0
    retry_after: str = "0.1"


class FakePiste:
    """State of the fake PISTE portal and Légifrance API."""

    def __init__(self, texts: dict[str, tuple[dict[str, Any], str]]) -> None:
        self.texts = texts  # textId -> (tree, modifDate)
        self.articles: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.issued = 0
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.index()

    def index(self) -> None:
        for tree, _ in self.texts.values():
            for data in tree_articles(tree):
                self.articles[data["id"]] = copy.deepcopy(data)

    def take_fault(self, route: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.route != route or fault.times <= 0:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.times -= 1
                return fault
        return None

    def new_token(self) -> str:
        with self.lock:
            self.issued += 1
            token = f"token-{self.issued}"
            self.tokens.add(token)
            return token


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One buffered write per response and no Nagle delay: keep-alive requests then take microseconds.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), headers)

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        route = {
            "/api/oauth/token": "oauth",
            f"{API_PREFIX}/consult/legi/tableMatieres": "toc",
            f"{API_PREFIX}/consult/getArticle": "article",
        }.get(self.path)
        if route is None:
            self._json(404, {"error": "route inconnue"})
            return
        fake.counts[route] += 1
        if route == "oauth":
            self._oauth(fake, raw)
            return
        body = json.loads(raw)
        fake.bodies.append((route, body))
        fault = fake.take_fault(route)
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if fault is not None and fault.kind == "expire":
            fake.tokens.clear()
        if token not in fake.tokens or (fault is not None and fault.kind == "401"):
            self._json(401, {"error": "invalid_token"})
            return
        payload = self._payload(fake, route, body)
        if payload is None:
            self._json(404, {"error": "introuvable"})
            return
        if fault is not None and self._misbehave(fault, payload):
            return
        self._json(200, payload)

    def _oauth(self, fake: FakePiste, raw: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        fault = fake.take_fault("oauth")
        if fault is not None and self._misbehave(fault, {}):
            return
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_secret") != SECRET
            or form.get("scope") != "openid"
        ):
            self._json(401, {"error": "invalid_client"})
            return
        token = fake.new_token()
        self._json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": "openid"}
        )

    def _payload(self, fake: FakePiste, route: str, body: dict[str, Any]) -> dict[str, Any] | None:
        if route == "toc":
            served = fake.texts.get(body.get("textId", ""))
            return tree_to_toc(*served) if served else None
        data = fake.articles.get(body.get("id", ""))
        return article_response(data) if data else None

    def _misbehave(self, fault: Fault, payload: dict[str, Any]) -> bool:
        if fault.kind == "429":
            self._json(429, {"error": "quota"}, {"Retry-After": fault.retry_after})
        elif fault.kind == "500":
            self._json(500, {"error": "erreur interne"})
        elif fault.kind == "truncated":
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif fault.kind == "bad_json":
            self._send(200, json.dumps(payload).encode()[:40])
        else:
            return False
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakePiste


@dataclass
class Api:
    fake: FakePiste
    url: str
    sleeps: list[float]

    def client(self, **policy: Any) -> PisteClient:
        settings = dict(
            max_attempts=4, backoff_base=0.01, backoff_max=0.05, max_retry_after=5, max_total_wait=10
        )
        settings.update(policy)
        return PisteClient(
            client_id="client-test",
            client_secret=SECRET,
            oauth_url=self.url + "/api/oauth/token",
            api_url=self.url + API_PREFIX,
            policy=RetryPolicy(**settings),
            sleep=self.sleeps.append,
        )


def law_tree() -> dict[str, Any]:
    """A small "law" made of the CRPA's first part, with its own JORFTEXT id."""
    crpa = crpa_tree()
    tree = {
        "data": {
            **crpa["data"],
            "id": LAW_ID,
            "cid": LAW_ID,
            "title": "LOI n° 2099-1 du 1er janvier 2099 d'essai",
        },
        "type": "texte",
        "children": copy.deepcopy(crpa["children"][:1]),
    }
    for node in _article_nodes(tree):  # article versions of its own, as a real law has
        data = node["data"]
        data["id"] = f"LEGIARTI{800000000000 + int(data['id'][8:]):012d}"
        data["cid"] = f"LEGIARTI{800000000000 + int(data['cid'][8:]):012d}"
    return tree


@pytest.fixture
def api() -> Iterator[Api]:
    fake = FakePiste({CRPA_ID: (crpa_tree(), "2026-05-28"), LAW_ID: (law_tree(), "2026-04-01")})
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield Api(fake, f"http://{host}:{port}", [])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


TEST_SOURCES = f"""
[[texts]]
key = "crpa"
short_name = "CRPA"
kind = "code"
official_id = "{CRPA_ID}"
title = "Code des relations entre le public et l'administration"
url = "https://www.legifrance.gouv.fr/codes/texte_lc/{CRPA_ID}/"

[[texts]]
key = "loi-essai"
short_name = "Loi d'essai"
kind = "loi"
official_id = "{LAW_ID}"
title = "LOI n° 2099-1 du 1er janvier 2099 d'essai"
url = "https://www.legifrance.gouv.fr/loda/id/{LAW_ID}"

[[texts]]
key = "open-data"
short_name = "Guide juridique data.gouv.fr"
kind = "guide"
official_id = ""
title = "Guide juridique"
url = "https://github.com/datagouv/guides.data.gouv.fr"
"""


@pytest.fixture(scope="module")
def base_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus a first fetch starts from (QFQ_CORPUS_DIR): only the open-data guide of the shared one."""
    folder = tmp_path_factory.mktemp("base")
    manifest = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))["documents"]
    entry = next(doc for doc in manifest if doc["key"] == "open-data")
    (folder / "manifest.toml").write_text(
        render_manifest([entry], "Corpus de départ des tests"), encoding="utf-8"
    )
    shutil.copytree(CORPUS / entry["path"], folder / entry["path"])
    return folder


@pytest.fixture
def sources(tmp_path: Path) -> list[Source]:
    path = tmp_path / "sources.toml"
    path.write_text(TEST_SOURCES, encoding="utf-8")
    return load_sources(path)


def fetch(api: Api, out: Path, sources: list[Source], base: Path, **kwargs: Any) -> FetchResult:
    with api.client(**kwargs.pop("policy", {})) as client:
        return run_fetch(
            Settings(corpus_dir=base),
            client,
            out=out,
            sources=sources,
            date=kwargs.pop("date", DAY),
            now=lambda: "2026-06-01T08:00:00+00:00",
            **kwargs,
        )


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under a folder, by relative path."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, base_corpus: Path) -> Path:
    """A corpus fetched once from the unmodified fake API, copied by each test that needs one."""
    folder = tmp_path_factory.mktemp("baseline")
    path = folder / "sources.toml"
    path.write_text(TEST_SOURCES, encoding="utf-8")
    fake = FakePiste({CRPA_ID: (crpa_tree(), "2026-05-28"), LAW_ID: (law_tree(), "2026-04-01")})
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        result = fetch(
            Api(fake, f"http://{host}:{port}", []), folder / "corpus", load_sources(path), base_corpus
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.swapped
    return folder / "corpus"


@pytest.fixture
def corpus(baseline: Path, tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(baseline, target)
    return target


def change_served_crpa(api: Api) -> dict[str, str]:
    """A new consolidated version of the CRPA: one article reworded (new LEGIARTI version), one abrogated."""
    tree, _ = api.fake.texts[CRPA_ID]
    articles = [node for node in _article_nodes(tree)]
    reworded, abrogated = articles[10], articles[20]
    old = reworded["data"]
    new_id = f"LEGIARTI{990000000000 + int(old['id'][8:]) % 1000000:012d}"
    reworded["older_versions"] = [
        {
            "id": old["id"],
            "cid": old["cid"],
            "num": old["num"],
            "etat": "MODIFIE",
            "intOrdre": old["intOrdre"],
        }
    ]
    reworded["data"] = {**old, "id": new_id, "texte": old["texte"] + " Le présent alinéa a été modifié."}
    abrogated["data"] = {**abrogated["data"], "etat": "ABROGE"}
    api.fake.texts[CRPA_ID] = (tree, "2026-06-15")
    api.fake.index()
    return {"modified": old["num"], "abrogated": abrogated["data"]["num"], "new_id": new_id}


def _article_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in node.get("children", []):
        if child["type"] == "article":
            yield child
        else:
            yield from _article_nodes(child)


# --- sources.toml ----------------------------------------------------------------------------------


def test_sources_list_the_shared_corpus_texts_with_the_same_keys() -> None:
    manifest = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))["documents"]
    sources = {source.key: source for source in load_sources(DEFAULT_SOURCES)}
    assert set(sources) == {doc["key"] for doc in manifest}
    for doc in manifest:
        source = sources[doc["key"]]
        assert (source.short_name, source.kind) == (doc["short_name"], doc["kind"])
        if doc["kind"] == "loi":
            assert source.official_id == doc["official_id"]
        if doc["kind"] == "guide":
            assert source.url.startswith("https://") and not source.fetchable
    codes = {key: s.official_id for key, s in sources.items() if s.kind == "code"}
    assert codes == {
        "cgct": "LEGITEXT000006070633",
        "environnement": "LEGITEXT000006074220",
        "transports": "LEGITEXT000023086525",
        "crpa": "LEGITEXT000031366350",
        "energie": "LEGITEXT000023983208",
        "urbanisme": "LEGITEXT000006074075",
        "cpce": "LEGITEXT000006070987",
    }
    assert sum(s.kind == "loi" for s in sources.values()) == 18


def test_sources_reject_a_law_without_a_jorftext_id(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(TEST_SOURCES.replace(LAW_ID, "LEGITEXT000000000001"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sources(path)
    assert caught.value.code == "sources_identifiant_invalide"


# --- conversion ------------------------------------------------------------------------------------


def test_build_tree_gives_back_the_legi_data_tree_of_the_crpa() -> None:
    crpa = crpa_tree()
    toc = tree_to_toc(crpa, "2026-05-28")
    articles = {data["id"]: article_response(data)["article"] for data in tree_articles(crpa)}
    rebuilt = build_tree(toc, articles, "code")
    assert rebuilt == crpa
    assert check_tree(rebuilt) == []


def test_build_tree_keeps_one_in_force_version_per_article() -> None:
    toc = {
        "id": "LEGITEXT000000000001_01-01-2026",
        "cid": "LEGITEXT000000000001",
        "title": "Code d'essai",
        "modifDate": 1767225600000,  # 2026-01-01 as epoch milliseconds
        "sections": [
            {"id": "LEGISCTA1", "cid": "LEGISCTA1", "title": "Abrogée", "etat": "ABROGE", "intOrdre": 1,
             "articles": [{"id": "LEGIARTI000000000009", "cid": "C9", "num": "9", "etat": "VIGUEUR"}]},
        ],
        "articles": [
            {"id": "LEGIARTI000000000001", "cid": "C1", "num": "1", "etat": "MODIFIE", "intOrdre": 1},
            {"id": "LEGIARTI000000000002", "cid": "C1", "num": "1", "etat": "VIGUEUR", "intOrdre": 1},
            {"id": "LEGIARTI000000000003", "cid": "C1", "num": "1", "etat": "VIGUEUR_DIFF", "intOrdre": 1},
            {"id": "LEGIARTI000000000004", "cid": "C2", "num": "2", "etat": "ABROGE", "intOrdre": 2},
            {"id": "LEGIARTI000000000005", "cid": "C3", "num": "3", "etat": "ABROGE_DIFF", "intOrdre": 3},
        ],
    }  # fmt: skip
    listed = toc_articles(toc)
    assert [(item.id, item.num) for item in listed] == [
        ("LEGIARTI000000000002", "1"),
        ("LEGIARTI000000000005", "3"),
    ]
    marker, version_date = toc_version(toc)
    assert version_date == "2026-01-01" and marker.startswith("2026-01-01|")
    articles = {
        item.id: {
            "id": item.id,
            "cid": item.cid,
            "num": item.num,
            "texte": "x",
            "etat": item.etat,
            "ordre": None,
            "dateDebut": 1,
            "dateFin": 32472144000000,
        }
        for item in listed
    }
    tree = build_tree(toc, articles, "loi")
    assert tree["type"] == "texte" and tree["data"]["id"] == "LEGITEXT000000000001"
    assert [child["data"]["intOrdre"] for child in tree["children"]] == [1, 3]  # order from the listing
    assert check_tree(tree) == []


def test_version_marker_changes_with_a_new_article_version() -> None:
    crpa = crpa_tree()
    before = toc_version(tree_to_toc(crpa, "2026-05-28"))[0]
    first = next(_article_nodes(crpa))
    first["data"] = {**first["data"], "id": "LEGIARTI099999999999"}
    assert toc_version(tree_to_toc(crpa, "2026-05-28"))[0] != before


def test_iso_date_reads_the_api_date_forms() -> None:
    assert iso_date(1451606400000) == "2016-01-01"
    assert iso_date("2021-04-15T16:49:47.707+0000") == "2021-04-15"
    assert iso_date("1451606400000") == "2016-01-01"
    assert iso_date(None) == ""


def test_check_tree_names_what_is_missing() -> None:
    tree = crpa_tree()
    first = next(_article_nodes(tree))
    del first["data"]["texte"]
    problems = check_tree(tree)
    assert len(problems) == 1 and "texte" in problems[0] and first["data"]["num"] in problems[0]
    assert check_tree({"data": {}, "type": "code", "children": []}) == ["aucun article"]


# --- change report ---------------------------------------------------------------------------------


def _tree(*articles: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "data": {},
        "type": "code",
        "children": [
            {"data": {"cid": f"C{num}", "num": num, "texte": text, "etat": etat}, "type": "article"}
            for num, text, etat in articles
        ],
    }


def test_diff_counts_new_modified_and_abrogated_articles() -> None:
    old = _tree(
        ("1", "un", "VIGUEUR"), ("2", "deux", "VIGUEUR"), ("3", "trois", "VIGUEUR"), ("4", "x", "ABROGE")
    )
    new = _tree(
        ("1", "un  ", "VIGUEUR"),
        ("2", "deux bis", "VIGUEUR"),
        ("4", "x", "VIGUEUR"),
        ("5", "cinq", "VIGUEUR"),
    )
    assert diff_trees(old, new) == (["4", "5"], ["2"], ["3"])
    assert diff_trees(
        old, _tree(("1", "un", "ABROGE"), ("2", "deux", "VIGUEUR"), ("3", "trois", "VIGUEUR"))
    ) == (
        [],
        [],
        ["1"],
    )
    assert diff_trees(None, new)[0] == ["1", "2", "4", "5"]


def test_manifest_rendering_round_trips_through_toml() -> None:
    entry = {"key": "k", "title": 'Loi « x » \\ "guillemets"\nligne 2', "short_name": "K", "kind": "loi"}
    text = render_manifest([entry], "En-tête\nsur deux lignes")
    parsed = tomllib.loads(text)["documents"][0]
    assert parsed["title"] == entry["title"] and parsed["path"] == "" and "amendments" not in parsed


# --- client ----------------------------------------------------------------------------------------


def test_client_requires_credentials() -> None:
    with pytest.raises(ConfigError) as caught:
        PisteClient.from_credentials(
            PisteCredentials(
                client_id="", client_secret="", oauth_url="https://o.test", api_url="https://a.test"
            )
        )
    assert "QFQ_PISTE_CLIENT_ID" in caught.value.message


def test_client_refreshes_an_expired_token_and_honours_retry_after(api: Api) -> None:
    api.fake.faults = [Fault("article", "expire"), Fault("article", "429", retry_after="0.1")]
    with api.client() as client:
        body = client.post("/consult/getArticle", {"id": next(iter(api.fake.articles))})
    assert body["article"]["texte"]
    assert api.fake.counts["oauth"] == 2  # the first token, then a new one after the 401
    assert api.sleeps == [0.1]


def test_client_backs_off_on_server_errors_and_truncated_bodies(api: Api) -> None:
    api.fake.faults = [Fault("toc", "500"), Fault("toc", "truncated"), Fault("toc", "bad_json")]
    with api.client() as client:
        toc = client.post("/consult/legi/tableMatieres", {"textId": CRPA_ID, "date": DAY, "nature": "CODE"})
    assert toc["cid"] == CRPA_ID
    assert api.fake.counts["toc"] == 4
    assert api.sleeps == [0.01, 0.02, 0.04]  # exponential backoff


def test_client_gives_up_after_bounded_attempts(api: Api) -> None:
    api.fake.faults = [Fault("toc", "500", times=100)]
    with api.client() as client, pytest.raises(FetchError) as caught:
        client.post("/consult/legi/tableMatieres", {"textId": CRPA_ID, "date": DAY})
    assert caught.value.code == "api_indisponible"
    assert api.fake.counts["toc"] == 4


def test_client_stops_at_once_on_a_retry_after_beyond_its_limit(api: Api) -> None:
    api.fake.faults = [Fault("toc", "429", retry_after="3600")]
    with api.client() as client, pytest.raises(FetchError) as caught:
        client.post("/consult/legi/tableMatieres", {"textId": CRPA_ID, "date": DAY})
    assert caught.value.code == "quota_depasse" and api.sleeps == []


def test_client_reports_refused_credentials_without_the_secret(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    client = PisteClient(
        client_id="x", client_secret="wrong-secret", oauth_url=api.url + "/api/oauth/token", api_url=api.url
    )
    with client, pytest.raises(ConfigError) as caught:
        client.post("/consult/getArticle", {"id": "LEGIARTI000000000001"})
    assert caught.value.code == "identifiants_refuses"
    assert "wrong-secret" not in caught.value.message and "wrong-secret" not in repr(client)


# --- fetch end to end ------------------------------------------------------------------------------


def test_first_fetch_writes_a_valid_corpus(baseline: Path, base_corpus: Path) -> None:
    documents = {doc.key: doc for doc in load_manifest(baseline)}
    assert list(documents) == ["crpa", "loi-essai", "open-data"]
    assert documents["crpa"].format == "legi-piste-json" and documents["crpa"].version_date == "2026-05-28"
    assert documents["loi-essai"].path == "lois/loi-essai.piste.json"
    assert documents["open-data"].format == "markdown"  # carried over from QFQ_CORPUS_DIR
    guide = documents["open-data"].path
    copied = [p for p in (baseline / guide).rglob("*") if p.is_file()]
    assert copied and not any(p.samefile(base_corpus / p.relative_to(baseline)) for p in copied)
    assert verify_checksums(baseline).ok and verify_checksums(baseline).checked == len(snapshot(baseline)) - 1
    served = json.loads((baseline / "codes/crpa.piste.json").read_text(encoding="utf-8"))
    assert served == crpa_tree()
    articles = parse_document(documents["crpa"], baseline)
    assert len(articles) == 476 and articles[0].number == "L100-1"
    state = json.loads((baseline / "fetch-state.json").read_text(encoding="utf-8"))
    record = state["texts"]["crpa"]
    assert record["sha256"] == hashlib.sha256((baseline / "codes/crpa.piste.json").read_bytes()).hexdigest()
    assert record["version"].startswith("2026-05-28|") and record["fetched_at"] and record["articles"] == 476
    assert not sibling(baseline, ".partial").exists() and not sibling(baseline, ".new").exists()


def test_unchanged_version_is_not_downloaded_again(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    before = snapshot(corpus)
    result = fetch(api, corpus, sources, base_corpus)
    assert api.fake.counts["article"] == 0
    assert api.fake.counts["toc"] == 2  # one table of contents per text, nothing else
    assert not result.swapped and [c.status for c in result.changes] == ["inchange", "inchange"]
    assert snapshot(corpus) == before and not sibling(corpus, ".previous").exists()
    assert "Corpus déjà à jour" in render_fr(
        result.changes, swapped=False, out=str(corpus), requests=result.requests
    )


def test_changed_version_downloads_only_new_article_versions(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    before = snapshot(corpus)
    changed = change_served_crpa(api)
    result = fetch(api, corpus, sources, base_corpus)
    crpa = result.changes[0]
    assert result.swapped and crpa.status == "mis_a_jour"
    assert (crpa.new, crpa.modified, crpa.abrogated) == ([], [changed["modified"]], [changed["abrogated"]])
    assert crpa.version_date == "2026-06-15" and crpa.previous_version_date == "2026-05-28"
    assert api.fake.counts["article"] == 1 and crpa.downloaded_articles == 1
    assert result.changes[1].status == "inchange"
    assert snapshot(sibling(corpus, ".previous")) == before
    articles = {a.number: a for a in parse_document(load_manifest(corpus)[0], corpus)}
    assert changed["abrogated"] not in articles and articles[changed["modified"]].text.endswith("modifié.")
    assert verify_checksums(corpus).ok
    report = render_fr(result.changes, swapped=True, out=str(corpus), requests=result.requests)
    assert (
        f"1 modifié : {changed['modified']}" in report
        and f"1 abrogé ou retiré : {changed['abrogated']}" in report
        and "l'ancien est conservé" in report
    )


FAULTS = [
    pytest.param(Fault("article", "401", times=100), id="jeton-toujours-refuse"),
    pytest.param(Fault("oauth", "500", times=100, skip=1), id="jeton-non-renouvelable"),
    pytest.param(Fault("article", "429", times=100), id="quota-429"),
    pytest.param(Fault("article", "500", times=100), id="erreur-500"),
    pytest.param(Fault("toc", "truncated", times=100, skip=1), id="corps-tronque"),
    pytest.param(Fault("toc", "bad_json", times=100), id="json-coupe"),
]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_fetch_leaves_the_corpus_intact_and_the_next_run_completes(
    api: Api, corpus: Path, sources: list[Source], fault: Fault, base_corpus: Path
) -> None:
    before = snapshot(corpus)
    changed = change_served_crpa(api)
    if fault.kind == "401" or fault.route == "oauth":
        api.fake.faults = [Fault("article", "expire"), fault]
    else:
        api.fake.faults = [fault]
    with pytest.raises(FetchError):
        fetch(api, corpus, sources, base_corpus)
    assert snapshot(corpus) == before
    assert not sibling(corpus, ".new").exists() and not sibling(corpus, ".previous").exists()

    api.fake.faults = []
    result = fetch(api, corpus, sources, base_corpus)
    assert result.swapped
    crpa = result.changes[0]
    assert (crpa.modified, crpa.abrogated) == ([changed["modified"]], [changed["abrogated"]])
    assert snapshot(sibling(corpus, ".previous")) == before
    assert verify_checksums(corpus).ok and not sibling(corpus, ".partial").exists()


def test_transient_faults_are_absorbed_within_one_run(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    change_served_crpa(api)
    api.fake.faults = [
        Fault("toc", "expire"),
        Fault("toc", "truncated"),
        Fault("article", "429", retry_after="0.1"),
        Fault("article", "500", times=2),
        Fault("article", "bad_json"),
    ]
    result = fetch(api, corpus, sources, base_corpus, policy={"max_attempts": 6})
    assert result.swapped and result.changes[0].status == "mis_a_jour"
    # The 401 is retried at once with a new token; Retry-After is honoured; 5xx and bad bodies back off.
    assert api.sleeps == [0.02, 0.1, 0.02, 0.04, 0.05]
    assert api.fake.counts["oauth"] == 2


def test_an_interrupted_first_fetch_resumes_without_downloading_again(
    api: Api, tmp_path: Path, sources: list[Source], base_corpus: Path
) -> None:
    out = tmp_path / "nouveau"
    api.fake.faults = [Fault("article", "500", times=100, skip=150)]
    with pytest.raises(FetchError):
        fetch(api, out, sources, base_corpus)
    assert not out.exists() and sibling(out, ".partial").is_dir()
    first = api.fake.counts["article"]

    api.fake.faults = []
    api.fake.counts.clear()
    lines: list[str] = []
    result = fetch(api, out, sources, base_corpus, progress=lines.append)
    assert "crpa : 476 articles, 326 à télécharger." in lines
    total = 476 + sum(1 for _ in tree_articles(law_tree()))
    assert result.swapped and api.fake.counts["article"] == total - 150
    assert first == 150 + 4  # the 151st request failed four times
    assert json.loads((out / "codes/crpa.piste.json").read_text(encoding="utf-8")) == crpa_tree()


def test_a_finished_text_is_not_fetched_again_when_the_next_one_fails(
    api: Api, tmp_path: Path, sources: list[Source], base_corpus: Path
) -> None:
    out = tmp_path / "nouveau"
    api.fake.faults = [Fault("toc", "500", times=100, skip=1)]  # the law's table of contents fails
    with pytest.raises(FetchError):
        fetch(api, out, sources, base_corpus)
    api.fake.faults = []
    api.fake.bodies.clear()
    fetch(api, out, sources, base_corpus)
    asked = [body.get("textId") for route, body in api.fake.bodies if route == "toc"]
    assert asked == [LAW_ID]


def test_downloaded_articles_are_kept_for_a_run_at_another_date(
    api: Api, tmp_path: Path, sources: list[Source], base_corpus: Path
) -> None:
    out = tmp_path / "nouveau"
    api.fake.faults = [Fault("toc", "500", times=100, skip=1)]
    with pytest.raises(FetchError):
        fetch(api, out, sources, base_corpus)
    api.fake.faults = []
    api.fake.counts.clear()
    api.fake.bodies.clear()
    result = fetch(api, out, sources, base_corpus, date="2026-06-02")
    asked = [(body.get("textId"), body.get("date")) for route, body in api.fake.bodies if route == "toc"]
    assert asked == [(CRPA_ID, "2026-06-02"), (LAW_ID, "2026-06-02")]  # finished texts were for another date
    assert result.changes[0].downloaded_articles == 0  # but article versions do not depend on the date


def test_only_fetches_the_named_texts_and_carries_the_others(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    change_served_crpa(api)
    result = fetch(api, corpus, sources, base_corpus, only=["loi-essai"])
    assert [c.key for c in result.changes] == ["loi-essai"] and not result.swapped
    with pytest.raises(ConfigError):
        fetch(api, corpus, sources, base_corpus, only=["open-data"])
    with pytest.raises(ConfigError):
        fetch(api, corpus, sources, base_corpus, only=["inconnu"])


def test_an_invalid_text_is_refused_and_the_corpus_kept(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    before = snapshot(corpus)
    changed = change_served_crpa(api)
    del api.fake.articles[changed["new_id"]]["num"]
    with pytest.raises(FetchError) as caught:
        fetch(api, corpus, sources, base_corpus)
    assert caught.value.code == "texte_mal_forme" and snapshot(corpus) == before


def test_validation_uses_the_project_parser(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    before = snapshot(corpus)
    change_served_crpa(api)

    def refuse(doc: Any, folder: Path) -> list[str]:
        return [f"{doc.key} : refusé par le parseur"] if doc.key == "crpa" else []

    with pytest.raises(CorpusError) as caught:
        fetch(api, corpus, sources, base_corpus, check=refuse)
    assert "refusé par le parseur" in caught.value.message and snapshot(corpus) == before
    assert not sibling(corpus, ".new").exists()


def test_rollback_restores_the_previous_corpus(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    before = snapshot(corpus)
    change_served_crpa(api)
    fetch(api, corpus, sources, base_corpus)
    after = snapshot(corpus)
    rollback(corpus)
    assert snapshot(corpus) == before and snapshot(sibling(corpus, ".previous")) == after


def test_a_swap_cut_between_its_two_renames_is_undone(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    before = snapshot(corpus)
    corpus.rename(sibling(corpus, ".previous"))  # as if the process died right after the first rename
    result = fetch(api, corpus, sources, base_corpus)
    assert not result.swapped and snapshot(corpus) == before


# --- command line ----------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(fetch_command)
    return app


def test_command_prints_the_change_report_in_json(api: Api, corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(TEST_SOURCES, encoding="utf-8")
    changed = change_served_crpa(api)
    env = {
        "QFQ_PISTE_CLIENT_ID": "client-test",
        "QFQ_PISTE_CLIENT_SECRET": SECRET,
        "QFQ_PISTE_OAUTH_URL": api.url + "/api/oauth/token",
        "QFQ_PISTE_API_URL": api.url + API_PREFIX,
        "QFQ_CORPUS_DIR": str(CORPUS),
    }
    args = ["--out", str(corpus), "--sources", str(path), "--date", DAY]
    result = CliRunner().invoke(_app(), [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    crpa = report["texts"][0]
    assert (
        report["swapped"]
        and report["replaced"]
        and crpa["counts"] == {"new": 0, "modified": 1, "abrogated": 1}
    )
    assert crpa["modified"] == [changed["modified"]]
    assert SECRET not in result.output

    again = CliRunner().invoke(_app(), args, env=env)
    assert again.exit_code == 0 and "Corpus déjà à jour" in again.stdout

    bad = CliRunner().invoke(_app(), [*args, "--date", "01/06/2026"], env=env)
    assert bad.exit_code == 1 and "date_invalide" in bad.output


def test_command_without_credentials_says_what_to_set(tmp_path: Path) -> None:
    env = {"QFQ_PISTE_CLIENT_ID": "", "QFQ_PISTE_CLIENT_SECRET": ""}
    result = CliRunner().invoke(_app(), ["--out", str(tmp_path / "c")], env=env)
    assert result.exit_code == 1 and "QFQ_PISTE_CLIENT_SECRET" in result.output


def test_first_fetch_reuses_the_article_versions_of_the_current_corpus(
    api: Api, tmp_path: Path, sources: list[Source]
) -> None:
    result = fetch(api, tmp_path / "c", sources, CORPUS)  # QFQ_CORPUS_DIR holds crpa.piste.json
    law_articles = sum(1 for _ in tree_articles(law_tree()))
    assert result.swapped and not result.replaced and api.fake.counts["article"] == law_articles
    assert [(c.key, c.status, c.downloaded_articles) for c in result.changes] == [
        ("crpa", "inchange", 0),
        ("loi-essai", "nouveau", law_articles),
    ]


def test_a_tampered_corpus_file_is_downloaded_again(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    path = corpus / "lois/loi-essai.piste.json"
    path.write_text(
        path.read_text(encoding="utf-8").replace("administration", "ADMINISTRATION"), encoding="utf-8"
    )
    result = fetch(api, corpus, sources, base_corpus)
    assert api.fake.counts["toc"] == 2 and result.changes[1].status == "mis_a_jour"
    assert api.fake.counts["article"] == sum(1 for _ in tree_articles(law_tree()))  # not trusted: all again
    assert result.swapped and "ADMINISTRATION" not in path.read_text(encoding="utf-8")


def test_one_fetch_at_a_time_and_never_over_a_folder_that_is_not_a_corpus(
    api: Api, corpus: Path, tmp_path: Path, sources: list[Source], base_corpus: Path
) -> None:
    import fcntl

    with sibling(corpus, ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(ConfigError) as caught:
            fetch(api, corpus, sources, base_corpus)
    assert caught.value.code == "mise_a_jour_en_cours"
    other = tmp_path / "documents"
    other.mkdir()
    (other / "notes.txt").write_text("à garder", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        fetch(api, other, sources, base_corpus)
    assert caught.value.code == "dossier_non_corpus" and api.fake.counts["toc"] == 0


def test_force_downloads_every_article_again(
    api: Api, corpus: Path, sources: list[Source], base_corpus: Path
) -> None:
    tree, _ = api.fake.texts[CRPA_ID]
    first = next(_article_nodes(tree))
    first["data"]["texte"] += " Rectifié sans nouvelle version."  # an edit that keeps the LEGIARTI id
    api.fake.index()
    result = fetch(api, corpus, sources, base_corpus, force=True)
    law_articles = sum(1 for _ in tree_articles(law_tree()))
    assert api.fake.counts["article"] == 476 + law_articles
    assert result.swapped and result.changes[0].modified == [first["data"]["num"]]
