"""Fixtures shared by every test package: the real corpus folder, read through the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.corpus.manifest import load_manifest
from indexer.models import Document
from indexer.settings import Settings


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The real corpus, found through QFQ_CORPUS_DIR (CI sets it to ../shared/corpus)."""
    folder = Settings().corpus_dir
    if not (folder / "manifest.toml").is_file():
        pytest.fail(f"Corpus introuvable : {folder}. Définissez QFQ_CORPUS_DIR.")
    return folder


@pytest.fixture(scope="session")
def corpus_documents(corpus_dir: Path) -> dict[str, Document]:
    return {doc.key: doc for doc in load_manifest(corpus_dir)}


@pytest.fixture(scope="session")
def parsed(corpus_dir: Path, corpus_documents: dict[str, Document]):
    """`parsed(key)` -> the articles of one real document, parsed once per test session."""
    from indexer.corpus.parsers import parse_document

    cache: dict[str, list] = {}

    def get(key: str) -> list:
        if key not in cache:
            cache[key] = parse_document(corpus_documents[key], corpus_dir)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def real_passages():
    """Passages of a real subset (CGCT, CRPA, loi REEN, loi NOTRe, open-data guide), built once."""
    from indexer.corpus.passages import load_passages

    return load_passages(Settings(), only={"cgct", "reen", "crpa", "notre", "open-data"})


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL 18 + pgvector server (non-root, 127.0.0.1, temporary folder) for the session."""
    from helpers.pgserver import PostgresServer

    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres_server, request: pytest.FixtureRequest):
    """A fresh database on the test server; the process's connection pools are closed afterwards."""
    from indexer.index.postgres import close_pools

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    postgres_server.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        close_pools()
