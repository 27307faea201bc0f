"""What the knowledge layer needs from the texts, as protocols: the passages of an article, and (for the
impact of a law) the corpus's documents, articles and headings. Implementations live with the corpus
(`indexer.corpus.lookup`) and the index (`indexer.index.lookup`); the `Retriever` is one too."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from indexer.models import Article, ArticleTags, Document, Passage


class PassageLookup(Protocol):
    """Anything that returns the passages of one article (the `Retriever` does)."""

    def passages_of_article(self, doc_key: str, article: str) -> list[Passage]: ...


class ArticleSource(Protocol):
    """The corpus seen article by article (`indexer.corpus.lookup.CorpusLookup`)."""

    corpus_dir: Path
    documents: dict[str, Document]

    def document(self, doc_key: str) -> Document | None: ...

    def articles(self, doc_key: str, article: str) -> list[Article]: ...

    def heading_path(self, doc_key: str, article: str) -> list[str]: ...

    def passages_of_article(self, doc_key: str, article: str) -> list[Passage]: ...


@runtime_checkable
class ArticleTagSource(Protocol):
    """A bundle that gives the tags of all its articles at once (the `Retriever`, `StoreLookup`)."""

    def article_tags(self) -> dict[str, ArticleTags]: ...
