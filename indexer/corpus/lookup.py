"""Passages and articles read straight from the corpus, one article at a time, when no bundle is published."""

from __future__ import annotations

import json
import os
import re
import threading
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexer.corpus.manifest import load_manifest
from indexer.corpus.parsers import parse_document
from indexer.corpus.parsers.lexlib import (
    FILE_NAME,
    ArticleHistory,
    HeadingResolver,
    load_structure,
    read_article_file,
)
from indexer.corpus.passages import article_passages, pick_in_force
from indexer.models import Article, Document, Passage
from indexer.settings import Settings
from indexer.text.tagging import load_taxonomy

WHOLE_ARTICLE = 10**9  # a token budget no article reaches: one passage per article
PASSAGE_CACHE_SIZE = 20_000


def _word_count(text: str) -> int:
    return len(text.split())


_HISTORY_KEY = re.compile(r'^\{"article": "(?P<number>[^"]*)", "legiarti": "(?P<legiarti>\d+)"')


def _history(entries: list[dict[str, Any]]) -> ArticleHistory:
    """Aggregate the version lines of one article file as `load_histories` does."""
    history = ArticleHistory()
    for entry in entries:
        history.add(entry)
    return history


class _LexlibTree:
    """One lexlib code read article by article, without walking the tree or decoding the whole history.

    The history file is split by article number with a cheap scan; an article's files are found from the
    LEGIARTI digits its history names (a walk of the tree is the fallback).
    """

    def __init__(self, doc: Document, corpus_dir: Path) -> None:
        self.doc = doc
        self.corpus_dir = corpus_dir
        self.root = corpus_dir / doc.path
        self._files: dict[str, list[Path]] | None = None
        self._lines: dict[str, list[str]] | None = None
        self._parts: list[Path] | None = None
        self._headings: HeadingResolver | None = None

    def _history_lines(self) -> dict[str, list[str]]:
        if self._lines is None:
            lines: dict[str, list[str]] = defaultdict(list)
            path = self.corpus_dir / self.doc.amendments if self.doc.amendments else None
            if path is not None and path.is_file():
                for raw in path.read_text(encoding="utf-8").splitlines():
                    match = _HISTORY_KEY.match(raw)
                    if match:
                        lines[match.group("number")].append(raw)
            self._lines = dict(lines)
        return self._lines

    def _walk(self) -> dict[str, list[Path]]:
        if self._files is None:
            files: dict[str, list[Path]] = defaultdict(list)
            for folder, _, names in os.walk(self.root):
                for name in names:
                    match = FILE_NAME.match(name)
                    if match:
                        files[match.group("number")].append(Path(folder) / name)
            self._files = dict(files)
        return self._files

    def _paths(self, number: str, histories: dict[str, ArticleHistory]) -> list[Path]:
        if self._parts is None:
            self._parts = sorted(p for p in self.root.iterdir() if p.is_dir())
        found = [
            folder / f"Article {number} - {legiarti}.md"
            for legiarti in histories
            for folder in self._parts
            if (folder / f"Article {number} - {legiarti}.md").is_file()
        ]
        return found or self._walk().get(number, [])

    def headings(self, number: str) -> list[str]:
        if self._headings is None:
            path = self.corpus_dir / "structure" / f"{self.doc.key}.structure.jsonl"
            self._headings = HeadingResolver(load_structure(path))
        return self._headings.resolve(number)[0]

    def articles(self, number: str) -> list[Article]:
        """Every file of one article number, parsed as `LexlibMarkdownParser` parses it."""
        versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for raw in self._history_lines().get(number, []):
            entry = json.loads(raw)
            versions[str(entry["legiarti"])].append(entry)
        histories = {legiarti: _history(entries) for legiarti, entries in versions.items()}
        self.headings(number)
        assert self._headings is not None
        articles = []
        for path in sorted(self._paths(number, histories)):
            match = FILE_NAME.match(path.name)
            assert match is not None  # only names built or matched with FILE_NAME get here
            history = histories.get(match.group("legiarti"))
            article = read_article_file(self.doc, self.corpus_dir, path, history, self._headings)
            if article is not None:
                articles.append(article)
        return articles


class CorpusLookup:
    """Passages built straight from the corpus, one article at a time (lexlib) or one document at a time.

    Used when no bundle is published. Each article gives one passage holding its whole text (id
    `doc/article`, tagged like the bundle's): splitting would need the model tokenizer, slow to load, and the
    knowledge answers cut their own excerpt around the cited paragraph anyway.
    """

    def __init__(self, settings: Settings) -> None:
        self.corpus_dir = settings.require_corpus()
        self.documents = {doc.key: doc for doc in load_manifest(self.corpus_dir)}
        self._trees: dict[str, _LexlibTree] = {}
        self._parsed: dict[str, dict[str, Article]] = {}
        self._passages: dict[tuple[str, str], list[Passage]] = {}  # tagging is slow: keep the results
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
                self._parsed[doc_key] = {
                    a.number: a for a in pick_in_force(parse_document(doc, self.corpus_dir))
                }
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
        key = (doc_key, article)
        cached = self._passages.get(key)
        if cached is not None:
            return list(cached)
        doc = self.documents.get(doc_key)
        chosen = pick_in_force(self.articles(doc_key, article))
        if doc is None or not chosen:
            return []
        passages = article_passages(
            doc, chosen[0], budget=WHOLE_ARTICLE, count=_word_count, taxonomy=load_taxonomy()
        )
        with self._lock:
            if len(self._passages) >= PASSAGE_CACHE_SIZE:
                self._passages.pop(next(iter(self._passages)))
            self._passages[key] = passages
        return list(passages)


@lru_cache(maxsize=2)
def _corpus_lookup(corpus_dir: Path) -> CorpusLookup:
    return CorpusLookup(Settings(corpus_dir=corpus_dir))


def corpus_lookup(settings: Settings) -> CorpusLookup:
    """The process-wide `CorpusLookup` of these settings (articles stay cached between calls)."""
    return _corpus_lookup(settings.corpus_dir.resolve())
