"""Cited passages of a legal basis: the part holding the cited paragraph, an excerpt around it, date and status."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from indexer.knowledge.lookup import PassageLookup
from indexer.knowledge.model import LegalBasis
from indexer.models import STATUS_LABELS, Passage, Status
from indexer.text.normalize import fold

EXCERPT_CHARS = 360


@dataclass(frozen=True)
class Citation:
    """One legal basis as found in the corpus (or the bundle)."""

    basis: LegalBasis
    found: bool
    passage_id: str = ""
    citation: str = ""
    excerpt: str = ""
    version_date: str = ""
    status: str = ""
    url: str = ""
    anchor_found: bool = False

    def to_dict(self) -> dict[str, Any]:
        status_label = STATUS_LABELS.get(Status(self.status), self.status) if self.status else ""
        return {
            "article_id": self.basis.ref,
            "passage_id": self.passage_id or None,
            "trouve": self.found,
            "citation": self.citation,
            "extrait": self.excerpt,
            "repere": self.basis.anchor or None,
            "version_date": self.version_date or None,
            "statut": self.status or None,
            "statut_libelle": status_label or None,
            "url": self.url or None,
        }


# Runs of whitespace and runs of anything else (`\s` is `str.isspace` on str patterns).
_RUNS = re.compile(r"\s+|\S+")
_WORD = re.compile(r"\S+")
_CHAR_FOLDS: dict[str, str] = {}  # fold of each character met (a few hundred distinct ones)
_ONE_TO_ONE: set[str] = set()  # characters met whose fold is one character


def _fold_char(char: str) -> str:
    folded = _CHAR_FOLDS.get(char)
    if folded is None:
        folded = _CHAR_FOLDS[char] = fold(char)
    return folded


def _folds_one_to_one(text: str) -> bool:
    """Whether folding `text` keeps each character's place: each folds to exactly one character, and no
    capital sigma (the one character whose lower case depends on its neighbours)."""
    chars = set(text)
    if chars <= _ONE_TO_ONE:
        return True
    if "Σ" in chars:
        return False
    for char in chars - _ONE_TO_ONE:
        if len(_fold_char(char)) != 1:
            return False
        _ONE_TO_ONE.add(char)
    return True


def _folded_with_map(text: str) -> tuple[str, list[int]]:
    """Folded text with runs of whitespace collapsed, and the source index of every folded character.

    Each character is folded on its own, leading whitespace is dropped and any other run of whitespace
    becomes one space at the run's first index. When every character folds to one (nearly always), the
    text, else each such word, is folded at once and keeps its indexes as a range.
    """
    out: list[str] = []
    positions: list[int] = []
    whole = fold(text) if _folds_one_to_one(text) else None
    for match in _RUNS.finditer(text):
        start, end = match.span()
        if text[start].isspace():
            if start:
                out.append(" ")
                positions.append(start)
            continue
        if whole is not None:
            out.append(whole[start:end])
            positions.extend(range(start, end))
            continue
        run = match.group()
        if _folds_one_to_one(run):
            out.append(fold(run))
            positions.extend(range(start, end))
            continue
        for offset, char in enumerate(run):
            piece = _fold_char(char)
            out.append(piece)
            positions.extend([start + offset] * len(piece))
    return "".join(out), positions


def _source_index(text: str, index: int) -> int:
    """Index in `text` of character `index` of its folded words joined by single spaces (a joining space:
    the first index of the whitespace it stands for)."""
    offset = 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        word = match.group()
        length = end - start if word.isascii() else len(fold(word))
        if index < offset + length:
            if length == end - start and _folds_one_to_one(word):
                return start + index - offset
            rest = index - offset
            for position, char in enumerate(word, start):
                size = len(_fold_char(char))
                if rest < size:
                    return position
                rest -= size
        if index == offset + length:
            return end
        offset += length + 1
    raise IndexError(index)


@lru_cache(maxsize=1024)
def _searchable(text: str) -> str:
    """The folded words of `text` joined by single spaces. Remembered: the knowledge cites a few hundred
    articles, and one answer cites the same article for several entries, each with its own anchor."""
    return fold(" ".join(text.split()))


def locate(text: str, anchor: str) -> tuple[int, int] | None:
    """Where `anchor` occurs in `text`, ignoring case, accents and whitespace differences.

    Returns:
        (start, end) indexes in `text`, or None.
    """
    needle, _ = _folded_with_map(anchor.strip())
    if not needle:
        return None
    wanted = needle.strip()
    if wanted and "Σ" not in text:
        # Folding a text at once gives the characters of folding each one (but for the capital sigma, whose
        # lower case depends on its neighbours): the folded words joined by single spaces are the text
        # `_folded_with_map` builds (less a trailing space no match can end on), searched in C, and only
        # the two ends of a match are mapped back.
        found = _searchable(text).find(wanted)
        if found < 0:
            return None
        return _source_index(text, found), _source_index(text, found + len(wanted) - 1) + 1
    haystack, positions = _folded_with_map(text)
    found = haystack.find(wanted)
    if found < 0:
        return None
    end = found + len(wanted) - 1
    return positions[found], positions[end] + 1


def excerpt(text: str, start: int = 0, width: int = EXCERPT_CHARS) -> str:
    """About `width` characters of `text` from `start`, cut on word boundaries, with "…" where cut."""
    flat = " ".join(text.split())
    if start:
        prefix = " ".join(text[:start].split())
        start = len(prefix) + (1 if prefix else 0)
    stop = start + width
    if stop < len(flat):
        cut = flat.rfind(" ", start, stop)
        stop = cut if cut > start else stop
    piece = flat[start:stop].strip()
    return ("… " if start > 0 else "") + piece + (" …" if stop < len(flat) else "")


_BOUNDARY = re.compile(r"\n|;\s|:\s|(?<=[a-zàâçéèêëîïôûùüÿ)])\.\s")
BACKTRACK_CHARS = 240


def sentence_start(text: str, position: int) -> int:
    """Start of the sentence (or enumerated item) holding `position`, looking back at most 240 characters.

    A period ends a sentence only after a lower-case letter, so "L. 2224-8" or "I." do not cut.
    """
    window_start = max(0, position - BACKTRACK_CHARS)
    last = None
    for match in _BOUNDARY.finditer(text, window_start, position):
        last = match
    if last is None:
        return position if window_start > 0 else 0
    start = last.end()
    while start < position and text[start].isspace():
        start += 1
    return start


def cite(basis: LegalBasis, passages: Iterable[Passage], width: int = EXCERPT_CHARS) -> Citation:
    """Citation of a basis from the passages of its article (bundle parts or one whole-article passage)."""
    parts = list(passages)
    if not parts:
        return Citation(basis=basis, found=False)
    chosen, start, anchor_found = parts[0], 0, False
    if basis.anchor:
        for part in parts:
            where = locate(part.text, basis.anchor)
            if where is not None:
                chosen, start, anchor_found = part, sentence_start(part.text, where[0]), True
                break
    return Citation(
        basis=basis,
        found=True,
        passage_id=chosen.id,
        citation=chosen.citation(),
        excerpt=excerpt(chosen.text, start, width),
        version_date=chosen.version_date,
        status=str(chosen.status),
        url=chosen.url,
        anchor_found=anchor_found,
    )


def cite_all(bases: Iterable[LegalBasis], lookup: PassageLookup) -> list[Citation]:
    """Citations of several bases, looking each article up once."""
    cache: dict[tuple[str, str], list[Passage]] = {}
    citations = []
    for basis in bases:
        key = (basis.doc_key, basis.article)
        if key not in cache:
            cache[key] = lookup.passages_of_article(*key)
        citations.append(cite(basis, cache[key]))
    return citations
