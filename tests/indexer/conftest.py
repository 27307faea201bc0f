"""Fixtures for the bundle, store and retriever tests: hand-made passages and a temporary data folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.records import DOCS, make_document, make_passage, sample_passages

from indexer.models import Document, Passage
from indexer.settings import Settings


@pytest.fixture
def passages() -> list[Passage]:
    return sample_passages()


@pytest.fixture
def documents() -> list[Document]:
    return [make_document(key) for key in DOCS]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.toml").write_text("# test corpus\n", encoding="utf-8")
    return Settings(data_dir=tmp_path / "data", corpus_dir=corpus, model="fake-64", threads=1)


@pytest.fixture
def passage_factory() -> Callable[..., Passage]:
    return make_passage


@pytest.fixture
def fields_of() -> Callable[[Passage], dict[str, Any]]:
    from indexer.index.lexical import passage_fields

    return passage_fields
