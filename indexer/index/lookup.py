"""Passages of an article from the published bundle's store, or from the corpus when nothing is published."""

from __future__ import annotations

from indexer.corpus.lookup import corpus_lookup
from indexer.errors import BundleError, CorpusError
from indexer.index.bundle import STORE_FILE, current_bundle_path
from indexer.index.store import PassageStore
from indexer.knowledge.lookup import PassageLookup
from indexer.models import ArticleTags, Passage
from indexer.settings import Settings


class StoreLookup:
    """Passages read from a bundle's SQLite store, without loading vectors or the model."""

    def __init__(self, store: PassageStore) -> None:
        self._store = store

    def passages_of_article(self, doc_key: str, article: str) -> list[Passage]:
        store = self._store
        return store.get(store.rowids_of_article(doc_key, article))

    def article_tags(self) -> dict[str, ArticleTags]:
        """Levels and themes of every article of the store (see `PassageStore.article_tags`)."""
        return self._store.article_tags()


def default_lookup(settings: Settings) -> PassageLookup:
    """The published bundle's passage store when there is one, else the corpus.

    Raises:
        ConfigError: no bundle and no corpus.
    """
    try:
        path = current_bundle_path(settings) / STORE_FILE
        if path.is_file():
            return StoreLookup(PassageStore(path))
    except (BundleError, CorpusError, OSError):
        pass
    return corpus_lookup(settings)
