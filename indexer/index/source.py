"""What search reads from a published index, whatever stores it: the `IndexSource` protocol and its parts.

The embedded bundle (`indexer.index.bundle.Bundle`) satisfies it with a SQLite store, a FAISS index and numpy
postings; a PostgreSQL generation (`indexer.index.postgres.Generation`) with tables queried per search.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from indexer.index.bundle import BundleManifest
from indexer.models import ArticleTags, Passage


class PassageSource(Protocol):
    """Passages and their metadata by row (row = vector id = position in the build)."""

    def count(self) -> int: ...

    def get(self, rowids: Sequence[int]) -> list[Passage]: ...

    def rowids_of_article(self, doc_key: str, article: str) -> list[int]: ...

    def filter_columns(self) -> Sequence[Any]: ...  # rows readable by column name

    def article_tags(self) -> dict[str, ArticleTags]: ...  # levels and themes of every article

    def documents(self) -> list[dict[str, Any]]: ...


class DenseSource(Protocol):
    """Inner-product search over the passages' normalised vectors (ids are rows)."""

    @property
    def ntotal(self) -> int: ...

    @property
    def dim(self) -> int: ...

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def reconstruct(self, ids: np.ndarray) -> np.ndarray: ...


class LexicalSource(Protocol):
    """BM25 of every row for analysed query tokens (see `indexer.index.lexical.LexicalIndex.scores`)."""

    @property
    def n_rows(self) -> int: ...

    def scores(self, tokens: Sequence[str]) -> np.ndarray: ...


class IndexSource(Protocol):
    """One published, verified index: its manifest and the three parts search reads."""

    @property
    def manifest(self) -> BundleManifest: ...

    @property
    def store(self) -> PassageSource: ...

    @property
    def index(self) -> DenseSource | None: ...  # None: a lexical-only bundle (first run)

    @property
    def lexical(self) -> LexicalSource: ...

    @property
    def build_id(self) -> str: ...

    def close(self) -> None: ...
