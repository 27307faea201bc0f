"""Where cited passages come from: a bundle (retriever or passage store) or, without one, the corpus itself."""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from indexer.corpus import load_manifest
from indexer.errors import BundleError, CorpusError
from indexer.models import Article, Document, Passage
from indexer.parsers import parse_document
from indexer.parsers.lexlib import (
    FILE_NAME,
    ArticleHistory,
    HeadingResolver,
    lexlib_status,
    load_histories,
    load_structure,
    parse_links,
    split_markdown,
)
from indexer.passages import article_passages, pick_in_force
from indexer.settings import Settings
from indexer.tagging import load_taxonomy
from indexer.textnorm import normalize_whitespace


class PassageLookup(Protocol):
    """Anything that returns the passages of one article (the `Retriever` does)."""

    def passages_of_article(self, doc_key: str, article: str) -> list[Passage]: ...


class StoreLookup:
    """Passages read from a bundle's SQLite store, without loading vectors or the model."""

    def __init__(self, store: object) -> None:
        self._store = store

    def passages_of_article(self, doc_key: str, article: str) -> list[Passage]:
        store = self._store
        return store.get(store.rowids_of_article(doc_key, article))  # type: ignore[attr-defined]


class _LexlibTree:
    """One lexlib code read article by article: file index, histories and headings loaded lazily."""

    def __init__(self, doc: Document, corpus_dir: Path) -> None:
        self.doc = doc
        self.corpus_dir = corpus_dir
        self._files: dict[str, list[Path]] | None = None
        self._histories: dict[tuple[str, str], ArticleHistory] | None = None
        self._headings: HeadingResolver | None = None

    def _index(self) -> dict[str, list[Path]]:
        if self._files is None:
            files: dict[str, list[Path]] = defaultdict(list)
            for folder, _, names in os.walk(self.corpus_dir / self.doc.path):
                for name in names:
                    match = FILE_NAME.match(name)
                    if match:
                        files[match.group("number")].append(Path(folder) / name)
            self._files = dict(files)
        return self._files

    def headings(self, number: str) -> list[str]:
        if self._headings is None:
            path = self.corpus_dir / "structure" / f"{self.doc.key}.structure.jsonl"
            self._headings = HeadingResolver(load_structure(path))
        return self._headings.resolve(number)[0]

    def articles(self, number: str) -> list[Article]:
        """Every file of one article number, parsed as `LexlibMarkdownParser` parses it."""
        paths = self._index().get(number, [])
        if not paths:
            return []
        if self._histories is None:
            amendments = self.corpus_dir / self.doc.amendments if self.doc.amendments else None
            self._histories = load_histories(amendments) if amendments else {}
        articles = []
        for path in sorted(paths):
            match = FILE_NAME.match(path.name)
            assert match is not None  # the index only holds matching names
            number_heading, body, nota, links_block = split_markdown(path.read_text(encoding="utf-8"))
            text = normalize_whitespace(body)
            if nota.strip():
                note = normalize_whitespace(nota)
                text = f"{text}\n\nNota : {note}" if text else note
            if not text:
                continue
            legiarti = match.group("legiarti")
            history = self._histories.get((match.group("number"), legiarti))
            links = parse_links(links_block)
            if self._headings is None:
                self.headings(number)
            assert self._headings is not None
            heading_path, inferred = self._headings.resolve(number)
            articles.append(
                Article(
                    doc_key=self.doc.key,
                    number=number_heading.removeprefix("Article").strip() or number,
                    text=text,
                    heading_path=list(heading_path),
                    status=lexlib_status(links, history),
                    date_debut=history.last_version_date if history else "",
                    links=links,
                    source_file=str(path.relative_to(self.corpus_dir)),
                    legi_id=f"LEGIARTI{int(legiarti):012d}",
                    amending_texts=list(history.amending_texts) if history else [],
                    heading_inferred=inferred,
                )
            )
        return articles


class CorpusLookup:
    """Passages built straight from the corpus, one article at a time (lexlib) or one document at a time.

    Used when no bundle is published; results are the passages a bundle of the same corpus would hold.
    """

    def __init__(self, settings: Settings) -> None:
        self.corpus_dir = settings.require_corpus()
        self.budget = settings.max_passage_tokens
        self.documents = {doc.key: doc for doc in load_manifest(self.corpus_dir)}
        self._trees: dict[str, _LexlibTree] = {}
        self._parsed: dict[str, dict[str, Article]] = {}
        self._lock = threading.Lock()

    def document(self, doc_key: str) -> Document | None:
        return self.documents.get(doc_key)

    def articles(self, doc_key: str, article: str) -> list[Article]:
        """Parsed versions of one article (several files when LEGI renumbered it), empty when unknown."""
        doc = self.documents.get(doc_key)
        if doc is None:
            return []
        with self._lock:
            if doc.format == "lexlib-markdown":
                tree = self._trees.setdefault(doc_key, _LexlibTree(doc, self.corpus_dir))
                return tree.articles(article)
            if doc_key not in self._parsed:
                self._parsed[doc_key] = {a.number: a for a in pick_in_force(parse_document(doc, self.corpus_dir))}
            found = self._parsed[doc_key].get(article)
            return [found] if found else []

    def heading_path(self, doc_key: str, article: str) -> list[str]:
        """Headings above an article, also for articles whose file is gone (lexlib codes only)."""
        doc = self.documents.get(doc_key)
        if doc is None or doc.format != "lexlib-markdown":
            return []
        with self._lock:
            tree = self._trees.setdefault(doc_key, _LexlibTree(doc, self.corpus_dir))
            return tree.headings(article)

    def passages_of_article(self, doc_key: str, article: str) -> list[Passage]:
        doc = self.documents.get(doc_key)
        chosen = pick_in_force(self.articles(doc_key, article))
        if doc is None or not chosen:
            return []
        from indexer.tokenizer import count_tokens

        return article_passages(doc, chosen[0], budget=self.budget, count=count_tokens, taxonomy=load_taxonomy())


@lru_cache(maxsize=2)
def _corpus_lookup(corpus_dir: Path, budget: int) -> CorpusLookup:
    return CorpusLookup(Settings(corpus_dir=corpus_dir, max_passage_tokens=budget))


def corpus_lookup(settings: Settings) -> CorpusLookup:
    """The process-wide `CorpusLookup` of these settings (articles stay cached between calls)."""
    return _corpus_lookup(settings.corpus_dir.resolve(), settings.max_passage_tokens)


def default_lookup(settings: Settings) -> PassageLookup:
    """The published bundle's passage store when there is one, else the corpus.

    Raises:
        ConfigError: no bundle and no corpus.
    """
    try:
        from indexer.bundle import STORE_FILE, current_bundle_path
        from indexer.store import PassageStore

        path = current_bundle_path(settings) / STORE_FILE
        if path.is_file():
            return StoreLookup(PassageStore(path))
    except (BundleError, CorpusError, ImportError, OSError):
        pass
    return corpus_lookup(settings)
