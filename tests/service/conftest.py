"""Fixtures of the service tests: a bundle of real corpus passages (a subset) embedded with FakeEncoder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers.corpus_subset import make_subset_corpus

from indexer.corpus.passage_cache import load_passages_cached
from indexer.embedding.fake import FakeEncoder
from indexer.index.build import build_bundle
from indexer.index.bundle import NO_VECTORS, VECTORS_FILE, has_vectors, read_manifest
from indexer.search.retriever import Retriever
from service.app import create_app
from service.settings import ServiceSettings


@pytest.fixture(scope="session")
def subset_corpus(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder with a few CGCT articles and two short laws (symlinks to the real files)."""
    return make_subset_corpus(corpus_dir, tmp_path_factory.mktemp("corpus-subset"))


@pytest.fixture(scope="session")
def fake_settings(subset_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceSettings:
    """ServiceSettings of the fast tests: fake model, no rate limit, one thread."""
    return ServiceSettings(
        corpus_dir=subset_corpus,
        data_dir=tmp_path_factory.mktemp("data"),
        model="fake-64",
        threads=1,
        rate_limit_per_minute=0,
    )


@pytest.fixture(scope="session")
def fake_bundle(fake_settings: ServiceSettings) -> Path:
    """The published bundle of the subset, embedded with FakeEncoder."""
    corpus = load_passages_cached(fake_settings)
    assert not corpus.problems, corpus.problems
    return build_bundle(
        fake_settings, corpus.passages, corpus.documents, FakeEncoder(64), fields=corpus.fields
    )


@pytest.fixture(scope="session")
def retriever(fake_settings: ServiceSettings, fake_bundle: Path) -> Iterator[Retriever]:
    opened = Retriever.open(fake_settings, FakeEncoder(64))
    yield opened
    opened.bundle.close()


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(fake_settings: ServiceSettings, retriever: Retriever) -> AppFactory:
    """Build an app over the shared retriever, with settings overridden by keyword."""

    def factory(**updates: Any) -> FastAPI:
        settings = ServiceSettings.model_validate({**fake_settings.model_dump(), **updates})
        return create_app(settings, retriever=retriever)

    return factory


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    with TestClient(make_app()) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def lexical_settings(
    fake_settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> ServiceSettings:
    return fake_settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("first-run")})


@pytest.fixture(scope="session")
def lexical_retriever(lexical_settings: ServiceSettings) -> Iterator[Retriever]:
    """A lexical-only bundle of the subset (what the first run publishes), checked, and its retriever."""
    corpus = load_passages_cached(lexical_settings)
    folder = build_bundle(
        lexical_settings,
        corpus.passages,
        corpus.documents,
        FakeEncoder(64),
        fields=corpus.fields,
        lexical_only=True,
    )
    manifest = read_manifest(folder)
    assert manifest["vector_index"]["kind"] == NO_VECTORS and not has_vectors(manifest)
    assert not (folder / VECTORS_FILE).exists() and VECTORS_FILE not in manifest["artifacts"]
    assert manifest["embedding"] == {
        "embedded": 0,
        "from_cache": 0,
        "seconds": manifest["embedding"]["seconds"],
    }
    opened = Retriever.open(lexical_settings, FakeEncoder(64))
    yield opened
    opened.bundle.close()
