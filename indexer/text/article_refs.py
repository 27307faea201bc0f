"""Find article references in a query ("L5214-16", "article 35 de la loi REEN") and map them to passages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from indexer.text.normalize import fold

# "L5214-16", "L. 1425-1", "R*331-45", "L.O. 1112-1", "D. 2224-6": a letter prefix then hyphenated numbers.
_CODE_ARTICLE = re.compile(r"(?<![a-z0-9])(l\.?\s*o|[lrda])\s*\.?\s*\*?\s*(\d+(?:\s*-\s*\d+)+)(?![0-9])")
# "article 35", "art. 47-1", "article 1er", "article 4 bis": numbered articles of laws.
_NUMBERED_ARTICLE = re.compile(
    r"\bart(?:icle|\.)?s?\s*(\d+(?:-\d+)*)\s*(er|premier)?(?:\s+(bis|ter|quater|quinquies|sexies|septies))?\b"
)
_LAW_NUMBER = re.compile(r"\b(\d{4}-\d{1,5})\b")
_LAW_DATE = re.compile(r"\bdu\s+(\d{1,2}(?:er)?\s+[a-z]+\s+\d{4})\b")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_LAW_YEAR = re.compile(r"\bloi\b(?:(?!\bart(?:icle|\.)).){0,40}?\b((?:19|20)\d{2})\b")
# Single-word names that are also ordinary French words: only matched when written in capitals.
_COMMON_WORDS = frozenset({"notre", "elan"})


def canonical_article(number: str) -> str:
    """Comparable form of an article number: "L. 5214-16" -> "L5214-16", "1er" -> "1", "R*331-4" -> "R331-4"."""
    text = fold(number).strip()
    text = re.sub(r"^(\d+)\s*(er|premier)\b", r"\1", text)
    return re.sub(r"[\s.*]", "", text).upper()


@dataclass(frozen=True)
class ArticleRef:
    """An article named in a query and the passages' (doc_key, article) it designates."""

    text: str  # as found in the query, e.g. "l. 1425-1"
    targets: tuple[tuple[str, str], ...]


class ArticleResolver:
    """Maps article references in queries to (doc_key, article) pairs that exist in a bundle."""

    def __init__(self, documents: Iterable[Mapping[str, Any]], articles: Iterable[tuple[str, str]]) -> None:
        """Prepare name patterns and the article lookup table.

        Args:
            documents: bundle documents (key, title, short_name, kind).
            articles: every (doc_key, article) of the bundle.
        """
        self._docs = [dict(d) for d in documents]
        self._by_number: dict[str, list[tuple[str, str]]] = {}
        for doc_key, article in articles:
            self._by_number.setdefault(canonical_article(article), []).append((doc_key, article))
        self._aliases: list[tuple[re.Pattern[str], str]] = []
        self._acronyms: list[tuple[re.Pattern[str], str, bool]] = []
        self._numbers: dict[str, str] = {}
        self._dates: dict[str, str] = {}
        self._years: dict[str, list[str]] = {}
        for doc in self._docs:
            self._add_document(doc)

    def _add_document(self, doc: Mapping[str, Any]) -> None:
        key = str(doc["key"])
        title = fold(str(doc.get("title", "")))
        short = fold(str(doc.get("short_name", "")))
        names = {title, short}
        if doc.get("kind") == "loi":
            bare = re.sub(r"^loi\s+", "", short)
            names.add(f"loi {bare}")
            if re.fullmatch(r"[a-z0-9]{3,}", bare):
                self._acronyms.append(
                    (re.compile(rf"\b{re.escape(bare)}\b", re.I), key, bare in _COMMON_WORDS)
                )
            number = _LAW_NUMBER.search(title)
            if number:
                self._numbers[number.group(1)] = key
            date = _LAW_DATE.search(title)
            if date:
                self._dates[date.group(1)] = key
                year = _YEAR.search(date.group(1))
                if year:
                    self._years.setdefault(year.group(0), []).append(key)
        elif re.fullmatch(r"[a-z]{3,6}", short):
            self._acronyms.append((re.compile(rf"\b{re.escape(short)}\b", re.I), key, False))
        for name in names:
            if len(name) >= 3:
                self._aliases.append((re.compile(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])"), key))

    def documents_named(self, query: str) -> list[str]:
        """Keys of the documents a query names (by title, short name, acronym, law number or date)."""
        folded = fold(query)
        found: list[str] = []
        for pattern, key in self._aliases:
            if pattern.search(folded):
                found.append(key)
        for pattern, key, needs_capitals in self._acronyms:
            for match in pattern.finditer(query):
                word = match.group(0)
                if not needs_capitals or sum(ch.isupper() for ch in word) >= 2:
                    found.append(key)
        for number, key in self._numbers.items():
            if re.search(rf"(?<![0-9-]){re.escape(number)}(?![0-9])", folded):
                found.append(key)
        for date, key in self._dates.items():
            if date in folded:
                found.append(key)
        if not found:
            for match in _LAW_YEAR.finditer(folded):
                found.extend(self._years.get(match.group(1), []))
        return list(dict.fromkeys(found))

    def resolve(self, query: str) -> list[ArticleRef]:
        """Article references of a query that exist in the bundle, in query order.

        A code-style number ("L5214-16") matches in every document that has it unless the query names
        documents; a bare number ("article 35") needs a named document.

        Args:
            query: the user's question.

        Returns:
            One `ArticleRef` per reference that designates at least one existing article.
        """
        folded = fold(query)
        named = set(self.documents_named(query))
        refs: list[ArticleRef] = []
        spans: list[tuple[int, int]] = []
        for match in _CODE_ARTICLE.finditer(folded):
            number = canonical_article(match.group(1) + match.group(2).replace(" ", ""))
            targets = self._targets(number, named, require_document=False)
            spans.append(match.span())
            if targets:
                refs.append(ArticleRef(match.group(0).strip(), targets))
        for match in _NUMBERED_ARTICLE.finditer(folded):
            if any(start <= match.start(1) < end for start, end in spans) or not named:
                continue
            number = canonical_article(match.group(1) + (match.group(3) or ""))
            targets = self._targets(number, named, require_document=True)
            if targets:
                refs.append(ArticleRef(match.group(0).strip(), targets))
        refs.sort(key=lambda ref: folded.find(ref.text))
        return refs

    def _targets(self, number: str, named: set[str], require_document: bool) -> tuple[tuple[str, str], ...]:
        candidates = self._by_number.get(number, [])
        if named:
            inside = [c for c in candidates if c[0] in named]
            if inside or require_document:
                return tuple(inside)
        return tuple(candidates)
