"""Explainable tagging of passages with levels of government and themes, from `corpus/taxonomy.toml`."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from indexer.curated import curated_path
from indexer.text.normalize import fold

TAXONOMY_PATH = curated_path("taxonomy.toml")


@dataclass(frozen=True)
class Term:
    """A level or theme with its compiled patterns."""

    id: str
    label: str
    patterns: tuple[re.Pattern[str], ...]
    heading_patterns: tuple[re.Pattern[str], ...]
    combined: re.Pattern[str]  # all text patterns in one alternation: one scan of the text per term
    triggers: (
        tuple[str, ...] | None
    )  # literal prefixes: a text containing none cannot match (None: always scan)
    # Extra patterns recognised in questions only (everyday words: "l'agglo", "l'interco", "ma commune").
    query_patterns: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """Levels of government and themes, with the thresholds that apply to text matches."""

    version: str
    levels: tuple[Term, ...]
    themes: tuple[Term, ...]
    min_hits: int = 2
    lead_chars: int = 220
    # Per-instance caches, left out of equality and hashing.
    heading_cache: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def level_ids(self) -> list[str]:
        return [term.id for term in self.levels]

    def theme_ids(self) -> list[str]:
        return [term.id for term in self.themes]

    def labels(self) -> dict[str, str]:
        return {term.id: term.label for term in (*self.levels, *self.themes)}


_LITERAL_PREFIX = re.compile(r"^(?:\\b)?([a-z0-9' -]{3,})")


def _triggers(patterns: list[str]) -> tuple[str, ...] | None:
    """Literal start of every pattern, for a fast substring pre-check; None if one pattern has none."""
    prefixes = []
    for pattern in patterns:
        match = _LITERAL_PREFIX.match(pattern)
        if not match:
            return None
        literal = match.group(1)
        # An optional last character ("communautes?") makes the literal one shorter.
        if pattern[match.end() : match.end() + 1] in {"?", "*", "{"}:
            literal = literal[:-1]
        prefixes.append(literal)
    return tuple(prefixes)


def _terms(entries: list[dict]) -> tuple[Term, ...]:
    terms = []
    for entry in entries:
        patterns = tuple(re.compile(p) for p in entry["patterns"])
        heading = tuple(re.compile(p) for p in entry.get("heading_patterns", [])) or patterns
        combined = re.compile("|".join(f"(?:{p})" for p in entry["patterns"]))
        in_queries = tuple(re.compile(p) for p in entry.get("query_patterns", []))
        terms.append(
            Term(
                entry["id"],
                entry["label"],
                patterns,
                heading,
                combined,
                _triggers(entry["patterns"]),
                in_queries,
            )
        )
    return tuple(terms)


@lru_cache(maxsize=4)
def load_taxonomy(path: Path = TAXONOMY_PATH) -> Taxonomy:
    """Read and compile the taxonomy file (cached)."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    levels, themes = _terms(raw["levels"]), _terms(raw["themes"])
    return Taxonomy(
        version=str(raw.get("version", "")),
        levels=levels,
        themes=themes,
        min_hits=int(raw.get("min_hits", 2)),
        lead_chars=int(raw.get("lead_chars", 220)),
    )


@dataclass
class Tags:
    """Tags of one article with the reason of each, e.g. {"region": ["titre : « … »"]}."""

    levels: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)


def _heading_terms(heading: str, taxonomy: Taxonomy) -> frozenset[str]:
    # Heading paths repeat across the articles of a chapter: match each distinct heading once.
    terms = taxonomy.heading_cache.get(heading)
    if terms is None:
        folded = fold(heading)
        terms = frozenset(
            term.id
            for term in (*taxonomy.levels, *taxonomy.themes)
            if any(p.search(folded) for p in term.heading_patterns)
        )
        taxonomy.heading_cache[heading] = terms
    return terms


def _heading_reason(term: Term, headings: list[str], taxonomy: Taxonomy) -> str | None:
    # The deepest matching heading is the most specific, so look from the bottom up.
    for heading in reversed(headings):
        if term.id in _heading_terms(heading, taxonomy):
            return f"titre : « {heading} »"
    return None


def tag_article(text: str, headings: list[str], taxonomy: Taxonomy | None = None) -> Tags:
    """Tag an article from its heading path (strongest signal) and its wording.

    Args:
        text: article wording.
        headings: heading path above the article (Partie, Livre, Titre, Chapitre, Section).
        taxonomy: vocabulary to use; the project's `corpus/taxonomy.toml` by default.

    Returns:
        The levels and themes with a French reason for each.
    """
    taxonomy = taxonomy or load_taxonomy()
    folded = fold(text)
    tags = Tags()
    for kind, terms in (("level", taxonomy.levels), ("theme", taxonomy.themes)):
        for term in terms:
            reason = _heading_reason(term, headings, taxonomy)
            if reason is None:
                if term.triggers is not None and not any(t in folded for t in term.triggers):
                    continue
                matches = list(term.combined.finditer(folded))
                in_lead = kind == "level" and bool(matches) and matches[0].start() < taxonomy.lead_chars
                if len(matches) >= taxonomy.min_hits or in_lead:
                    shown = ", ".join(sorted({m.group(0) for m in matches})[:3])
                    where = "dès la première phrase" if in_lead else f"{len(matches)} mentions"
                    reason = f"texte : {shown} ({where})"
            if reason:
                (tags.levels if kind == "level" else tags.themes).append(term.id)
                tags.reasons[term.id] = [reason]
    return tags


def levels_named(question: str, taxonomy: Taxonomy | None = None) -> list[str]:
    """Levels of government a question names, in taxonomy order.

    A level is named when one of its text `patterns` or its question-only `query_patterns` matches the
    folded question ("Que doit faire l'agglo ?" -> communaute-d-agglomeration).

    Args:
        question: the question as typed.
        taxonomy: vocabulary to use; the project's `corpus/taxonomy.toml` by default.

    Returns:
        Level ids.
    """
    taxonomy = taxonomy or load_taxonomy()
    folded = fold(question)
    return [
        term.id
        for term in taxonomy.levels
        if any(p.search(folded) for p in (*term.patterns, *term.query_patterns))
    ]
