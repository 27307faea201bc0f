"""Hybrid search over a bundle: dense + lexical candidates, fused (`fusion`), filtered (`filters`), weighted by
priors (`priors`), with the articles a question names put first."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np

from indexer.embedding.base import Encoder
from indexer.embedding.factory import load_encoder
from indexer.errors import QfqError
from indexer.index.backend import open_index
from indexer.index.bundle import BundleManifest
from indexer.index.lexical import query_tokens
from indexer.index.source import IndexSource
from indexer.models import ArticleTags, Passage
from indexer.search.filters import FilterIndex, SearchFilters
from indexer.search.fusion import FusionParams, fuse, top_positive
from indexer.search.priors import Priors
from indexer.settings import Settings
from indexer.text.acronyms import Expansion, expand_acronyms
from indexer.text.article_refs import ArticleResolver
from indexer.text.formalities import strip_formalities
from indexer.text.normalize import analyze
from indexer.text.tagging import Taxonomy, levels_named, load_taxonomy

MODES = ("hybrid", "dense", "lexical")
_SURFACE_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


@dataclass
class Hit:
    """One result: the passage, its place in each list and its score components."""

    passage: Passage
    score: float  # the value the mode ranks by: fused (hybrid), cosine (dense) or bm25 (lexical)
    dense_score: float | None
    lexical_score: float
    dense_rank: int | None  # 1-based rank in the dense candidate list, None if absent
    lexical_rank: int | None
    fused_score: float
    matched_terms: list[str] = field(default_factory=list)
    article_match: bool = False  # the query names this article: it is put first
    level_match: bool = False  # tagged with a level of government the question names
    other_parts: list[str] = field(default_factory=list)  # with group_by_article: other matching parts

    def to_dict(self) -> dict[str, Any]:
        return {
            "passage": self.passage.to_dict(),
            "score": self.score,
            "dense_score": self.dense_score,
            "lexical_score": self.lexical_score,
            "dense_rank": self.dense_rank,
            "lexical_rank": self.lexical_rank,
            "fused_score": self.fused_score,
            "matched_terms": self.matched_terms,
            "article_match": self.article_match,
            "level_match": self.level_match,
            "other_parts": self.other_parts,
        }


@dataclass
class SearchResult:
    """Hits of one page of results and what produced them."""

    hits: list[Hit]
    total_candidates: int
    took_ms: float
    mode: str  # as asked
    effective_mode: str  # what ranked the hits: `mode`, or "lexical" while the index has no vectors
    query: str
    offset: int = 0
    filters: SearchFilters = field(default_factory=SearchFilters)
    query_levels: tuple[str, ...] = ()  # levels of government the question names
    acronyms: tuple[tuple[str, str], ...] = ()  # (acronym, expansion) added to the question

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "mode": self.mode,
            "effective_mode": self.effective_mode,
            "offset": self.offset,
            "total_candidates": self.total_candidates,
            "took_ms": round(self.took_ms, 2),
            "query_levels": list(self.query_levels),
            "acronyms": [{"acronym": a, "expansion": e} for a, e in self.acronyms],
            "filters": {
                "levels": list(self.filters.levels),
                "themes": list(self.filters.themes),
                "documents": list(self.filters.documents),
                "kinds": list(self.filters.kinds),
                "include_abrogated": self.filters.include_abrogated,
                "date": self.filters.date,
            },
            "hits": [hit.to_dict() for hit in self.hits],
        }


@lru_cache(maxsize=100_000)
def _word_tokens(word: str) -> tuple[str, ...]:
    return tuple(analyze(word))


def matched_terms(texts: Sequence[str], tokens: set[str]) -> list[str]:
    """Words of `texts`, as written, whose analysed form is one of the query `tokens` (for highlighting)."""
    words = dict.fromkeys(chain.from_iterable(_SURFACE_WORD.findall(text) for text in texts))
    return [word for word in words if not tokens.isdisjoint(_word_tokens(word))]


def _taxonomy() -> Taxonomy | None:
    try:
        return load_taxonomy()
    except (OSError, KeyError, ValueError):
        # Without a readable taxonomy the values present in the bundle are the allowed ones.
        return None


@dataclass
class _Ranked:
    """Working state of one search: candidate scores, ranks and the current order."""

    lexical_all: np.ndarray  # bm25 of every passage
    dense_scores: dict[int, float]
    dense_rank: dict[int, int]
    lexical_rank: dict[int, int]
    boosted: np.ndarray | None = None  # passages tagged with a level the question names
    penalised: np.ndarray | None = None  # fused-score factor of each passage (territory, regulatory)
    evidence_rank: dict[int, int] = field(default_factory=dict)  # rows of the articles an answer cites
    fused: dict[int, float] = field(default_factory=dict)
    ranking: dict[int, float] = field(default_factory=dict)  # the score the mode sorts by
    ordered: list[int] = field(default_factory=list)


class Retriever:
    """Answers questions from one loaded bundle; thread-safe for concurrent searches."""

    def __init__(self, bundle: IndexSource, encoder: Encoder, fusion: FusionParams | None = None) -> None:
        """Index the bundle's metadata for filters and article lookup.

        Args:
            bundle: a loaded index: an embedded bundle (`indexer.index.bundle.load_bundle`) or a PostgreSQL
                generation (`indexer.index.backend.open_index`).
            encoder: the query encoder (same model as the bundle).
            fusion: fusion parameters (defaults: tuned on the dev split, see `FusionParams`).
        """
        self.bundle = bundle
        self.encoder = encoder
        self.fusion = fusion or FusionParams()
        rows = bundle.store.filter_columns()
        self._n = len(rows)
        self._ids = [str(r["id"]) for r in rows]
        self._row_of = {pid: i for i, pid in enumerate(self._ids)}
        self._article_ids = [str(r["article_id"]) for r in rows]
        self._documents = bundle.store.documents()
        articles = {(str(r["doc_key"]), str(r["article"])) for r in rows}
        self._resolver = ArticleResolver(self._documents, sorted(articles))
        self._taxonomy = _taxonomy()
        self._filters = FilterIndex(rows, self._documents, self._taxonomy)
        self._priors = Priors(rows)
        self._article_tags: dict[str, ArticleTags] | None = None
        # A lexical-only bundle (published first on a fresh machine) has no vectors: every mode ranks
        # lexically, a hybrid search still fusing the knowledge's evidence and the priors.
        self.has_vectors = bundle.index is not None

    @classmethod
    def open(
        cls, settings: Settings, encoder: Encoder | None = None, fusion: FusionParams | None = None
    ) -> Retriever:
        """Load the published index (`QFQ_BACKEND`) and the encoder the settings name, verifying they match.

        Raises:
            BundleError: no index, a corrupted one, one built for another model, database unreachable.
        """
        encoder = encoder or load_encoder(settings)
        return cls(open_index(settings, encoder), encoder, fusion)

    # --- metadata -------------------------------------------------------------------------------

    @property
    def manifest(self) -> BundleManifest:
        return self.bundle.manifest

    @property
    def build_id(self) -> str:
        return self.bundle.build_id

    def documents(self) -> list[dict[str, Any]]:
        """Documents of the bundle with version dates and passage counts, in manifest order."""
        return [dict(d) for d in self._documents]

    def facets(self) -> dict[str, list[str]]:
        """Values accepted by each filter: levels, themes, documents, kinds."""
        return {name: list(values) for name, values in self._filters.allowed.items()}

    def get_passage(self, passage_id: str) -> Passage | None:
        """The passage with this id, or None."""
        row = self._row_of.get(passage_id)
        return None if row is None else self.bundle.store.get([row])[0]

    def passages_of_article(self, doc_key: str, article: str) -> list[Passage]:
        """Every passage of one article, in part order (empty if unknown)."""
        return self.bundle.store.get(self.bundle.store.rowids_of_article(doc_key, article))

    def article_tags(self) -> dict[str, ArticleTags]:
        """Levels and themes of every article of the bundle, read once and kept (the bundle never changes)."""
        if self._article_tags is None:
            self._article_tags = self.bundle.store.article_tags()
        return self._article_tags

    # --- filters --------------------------------------------------------------------------------

    def mask(self, filters: SearchFilters | None) -> np.ndarray:
        """Boolean mask (one entry per passage) of the passages the filters keep.

        Raises:
            QfqError: unknown filter value (`filtre_invalide`) or malformed date (`date_invalide`).
        """
        return self._filters.mask(filters)

    # --- search ---------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Run one query through every stage so the first user query is not the slow one."""
        self.search("compétences des communes", k=1)

    def search(
        self,
        query: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        mode: str = "hybrid",
        offset: int = 0,
        group_by_article: bool = False,
        evidence: Sequence[tuple[str, str]] = (),
    ) -> SearchResult:
        """Best passages for a French question.

        Args:
            query: the question; an article it names ("L5214-16", "article 35 de la loi REEN") comes first.
            k: number of hits in the page.
            filters: restrictions (default: everything in force, abrogated texts left out).
            mode: "hybrid" (fusion), "dense" or "lexical".
            offset: number of hits skipped (paging).
            group_by_article: keep one hit per article (its best part), listing the other matching parts.
            evidence: (document, article) pairs a knowledge answer cites, most relevant first: a third list in
                the hybrid fusion, weighted by `FusionParams.evidence_weight` (see `indexer.search.ask`).

        Returns:
            The page of hits with score components.

        Raises:
            QfqError: empty query (`requete_vide`), unknown mode (`mode_invalide`), bad filters.
        """
        started = time.perf_counter()
        text = (query or "").strip()
        if not text:
            raise QfqError("La question est vide.", code="requete_vide")
        if mode not in MODES:
            raise QfqError(
                f"Mode de recherche inconnu : {mode!r} (valeurs possibles : {', '.join(MODES)}).",
                code="mode_invalide",
            )
        k, offset = max(1, int(k)), max(0, int(offset))
        requested = mode
        if not self.has_vectors and mode == "dense":
            mode = "lexical"
        filters = filters or SearchFilters()
        allowed = self.mask(filters)
        depth = max(self.fusion.depth, (offset + k) * (3 if group_by_article else 1))
        # The courtesy forms of a written question name ministries, not the subject.
        searched = strip_formalities(text)
        expansion = self._expand(searched)
        tokens = query_tokens(expansion.text)
        query_vector = None
        if mode != "lexical" and self.has_vectors:
            query_vector = np.asarray(self.encoder.encode_queries([expansion.text]), dtype=np.float32)[0]
        levels = tuple(levels_named(searched, self._taxonomy)) if self._taxonomy else ()
        penalised = self._priors.factors(searched, self.fusion)
        ranked = self._rank(
            mode,
            tokens,
            query_vector,
            allowed,
            depth,
            self._level_mask(levels),
            penalised,
            self._evidence_rows(evidence, allowed) if mode == "hybrid" else [],
        )
        named = self._named_rows(searched, allowed)
        if named:
            self._put_first(ranked, named, mode, query_vector)
        groups = self._group_by_article(ranked) if group_by_article else {}
        page = ranked.ordered[offset : offset + k]
        return SearchResult(
            hits=self._hits(page, ranked, set(tokens), set(named), groups),
            total_candidates=len(ranked.ordered),
            took_ms=(time.perf_counter() - started) * 1000,
            mode=requested,
            effective_mode=mode if self.has_vectors else "lexical",
            query=text,
            offset=offset,
            filters=filters,
            query_levels=levels,
            acronyms=expansion.acronyms,
        )

    def _expand(self, question: str) -> Expansion:
        if not self.fusion.acronyms:
            return Expansion(question, ())
        try:
            return expand_acronyms(question)
        except (OSError, ValueError):
            # Without a readable table the question is searched as typed.
            return Expansion(question, ())

    def _level_mask(self, levels: Sequence[str]) -> np.ndarray | None:
        """Passages tagged with one of `levels`, or None when nothing is named or there is no boost."""
        present = [self._filters.levels[level] for level in levels if level in self._filters.levels]
        if not present or self.fusion.level_boost == 0.0:
            return None
        return np.logical_or.reduce(present)

    def _rank(
        self,
        mode: str,
        tokens: list[str],
        query_vector: np.ndarray | None,
        allowed: np.ndarray,
        depth: int,
        boosted: np.ndarray | None = None,
        penalised: np.ndarray | None = None,
        evidence_ids: Sequence[int] = (),
    ) -> _Ranked:
        """Dense, lexical (and evidence) candidate lists, their union and its order for the mode."""
        lexical_all = self.bundle.lexical.scores(tokens)
        dense_ids: list[int] = []
        index = self.bundle.index
        if query_vector is not None and index is not None:
            _, ids = index.search(query_vector[None, :], depth, allowed)
            dense_ids = ids[0][ids[0] >= 0].tolist()
        lexical_ids: list[int] = []
        if mode != "dense":
            lexical_ids = top_positive(np.where(allowed, lexical_all, np.float32(0.0)), depth).tolist()
        candidates = list(dict.fromkeys([*dense_ids, *lexical_ids, *evidence_ids]))
        ranked = _Ranked(
            lexical_all=lexical_all,
            dense_scores=self._dense_scores(query_vector, candidates),
            dense_rank={row: i + 1 for i, row in enumerate(dense_ids)},
            lexical_rank={row: i + 1 for i, row in enumerate(lexical_ids)},
            boosted=boosted,
            penalised=penalised,
            evidence_rank={row: i + 1 for i, row in enumerate(evidence_ids)},
        )
        self._score(ranked, candidates, mode)
        ranked.ordered = sorted(candidates, key=lambda row: (-ranked.ranking[row], row))
        return ranked

    def _score(self, ranked: _Ranked, rows: Sequence[int], mode: str) -> None:
        """Fill the fused score and the mode's ranking score of `rows`."""
        ranked.fused.update(self._fuse(rows, ranked))
        for row in rows:
            if mode == "dense":
                ranked.ranking[row] = ranked.dense_scores[row]
            elif mode == "lexical":
                ranked.ranking[row] = float(ranked.lexical_all[row])
            else:
                ranked.ranking[row] = ranked.fused[row]

    def _put_first(
        self, ranked: _Ranked, named: list[int], mode: str, query_vector: np.ndarray | None
    ) -> None:
        """Move the passages of the articles the query names to the top, in the order named."""
        extra = [row for row in named if row not in ranked.ranking]
        if extra:
            ranked.dense_scores.update(self._dense_scores(query_vector, extra))
            self._score(ranked, extra, mode)
        first = set(named)
        ranked.ordered = named + [row for row in ranked.ordered if row not in first]

    def _group_by_article(self, ranked: _Ranked) -> dict[int, list[int]]:
        """Keep each article's best passage in `ranked.ordered`; returns leader -> other matching rows."""
        leader: dict[str, int] = {}
        groups: dict[int, list[int]] = {}
        kept = []
        for row in ranked.ordered:
            article_id = self._article_ids[row]
            if article_id in leader:
                groups[leader[article_id]].append(row)
            else:
                leader[article_id] = row
                groups[row] = []
                kept.append(row)
        ranked.ordered = kept
        return groups

    def _hits(
        self,
        page: list[int],
        ranked: _Ranked,
        tokens: set[str],
        named: set[int],
        groups: dict[int, list[int]],
    ) -> list[Hit]:
        passages = self.bundle.store.get(page)
        return [
            Hit(
                passage=passage,
                score=float(ranked.ranking[row]),
                dense_score=ranked.dense_scores.get(row),
                lexical_score=float(ranked.lexical_all[row]),
                dense_rank=ranked.dense_rank.get(row),
                lexical_rank=ranked.lexical_rank.get(row),
                fused_score=float(ranked.fused.get(row, 0.0)),
                matched_terms=matched_terms([passage.header, passage.title, passage.text], tokens),
                article_match=row in named,
                level_match=bool(ranked.boosted is not None and ranked.boosted[row]),
                other_parts=[self._ids[r] for r in groups.get(row, [])],
            )
            for row, passage in zip(page, passages, strict=True)
        ]

    def _dense_scores(self, query_vector: np.ndarray | None, rows: Sequence[int]) -> dict[int, float]:
        index = self.bundle.index
        if query_vector is None or index is None or not rows:
            return {}
        vectors = index.reconstruct(np.asarray(rows, dtype=np.int64))
        return dict(zip(rows, (vectors @ query_vector).tolist(), strict=True))

    def _fuse(self, rows: Sequence[int], ranked: _Ranked) -> dict[int, float]:
        return fuse(
            rows,
            self.fusion,
            dense_rank=ranked.dense_rank,
            lexical_rank=ranked.lexical_rank,
            dense_scores=ranked.dense_scores,
            lexical_all=ranked.lexical_all,
            boosted=ranked.boosted,
            penalised=ranked.penalised,
            evidence_rank=ranked.evidence_rank,
        )

    def _evidence_rows(self, evidence: Sequence[tuple[str, str]], allowed: np.ndarray) -> list[int]:
        """Rows of the evidence articles the filters allow, in evidence order, parts in order."""
        if not evidence or self.fusion.evidence_weight == 0.0:
            return []
        rows: list[int] = []
        for doc_key, article in dict.fromkeys(evidence):
            rows += [row for row in self.bundle.store.rowids_of_article(doc_key, article) if allowed[row]]
        return list(dict.fromkeys(rows))

    def _named_rows(self, query: str, allowed: np.ndarray) -> list[int]:
        rows: list[int] = []
        for ref in self._resolver.resolve(query):
            for doc_key, article in ref.targets:
                for row in self.bundle.store.rowids_of_article(doc_key, article):
                    if allowed[row] and row not in rows:
                        rows.append(row)
        return rows
