"""Fixtures shared by every test package: the real corpus folder, read through the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.corpus import load_manifest
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
