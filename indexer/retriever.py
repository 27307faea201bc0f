"""Hybrid search over a bundle: dense + lexical candidates, rank fusion, filters, named-article lookup."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from functools import lru_cache
from typing import Any

import numpy as np

from indexer.acronyms import Expansion, expand_acronyms
from indexer.article_refs import ArticleResolver
from indexer.bundle import Bundle, load_bundle
from indexer.encoder import Encoder, load_encoder
from indexer.errors import QfqError
from indexer.lexical import query_tokens
from indexer.models import Passage, Status
from indexer.settings import Settings
from indexer.tagging import Taxonomy, levels_named, load_taxonomy
from indexer.textnorm import analyze, fold

MODES = ("hybrid", "dense", "lexical")
_MASK_CACHE_SIZE = 256
# Headings of the provisions written for particular territories, matched on folded text (see `fold`).
TERRITORIAL_REGIME = re.compile(
    r"outre-mer|polynesie|nouvelle-caledonie|saint-barthelemy|saint-martin|saint-pierre-et-miquelon|"
    r"mayotte|wallis|guyane|martinique|guadeloupe|la reunion|\bcorse\b|alsace|moselle|bas-rhin|haut-rhin"
)
_REGULATORY = re.compile(r"^(?:R|D)\*?\d|^Annexe", re.IGNORECASE)
# CGCT parts 6 and 7 (articles LO6…, L7…) are the overseas collectivities, headings or not.
_CGCT_TERRITORIAL = re.compile(r"^(?:LO|L|R|D)[67]")
_SURFACE_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


@dataclass(frozen=True)
class FusionParams:
    """How dense and lexical candidate lists are merged (tuned on the dev split of the gold set only).

    method "rrf": sum of weight / (rrf_k + rank) over the lists a passage appears in (weighted reciprocal
    rank fusion). method "linear": dense_weight * cosine + lexical_weight * bm25 / best bm25 of the query.
    level_boost: the fused score of a passage tagged with a level of government the question names
    ("l'agglo", "une communauté de communes", see `indexer.tagging.levels_named`) is multiplied by
    1 + level_boost: the chapter a passage sits in says which level it concerns, which the wording of
    near-identical articles (L5214-16 and L5216-5) does not.
    """

    # Defaults: the best setting of `python -m evaluations.tune_fusion --gold evaluations/datasets/qfq-dev`
    # on the dev split (nDCG@10 0.6789 against 0.6026 for RRF k=60 with equal weights and no priors), see
    # evaluations/results/tuning-dev.txt.
    method: str = "rrf"
    rrf_k: float = 5.0
    dense_weight: float = 1.0
    lexical_weight: float = 0.5
    depth: int = 100  # candidates taken from each list
    level_boost: float = 0.0  # tried at 0.2 and 0.5: no gain on dev
    # Fused score of a passage written for one territory (overseas, Corsica, Alsace-Moselle: see
    # `TERRITORIAL_REGIME`) multiplied by 1 - territory_penalty unless the question names such a territory:
    # those chapters repeat the general rules almost word for word and crowd out the general articles.
    territory_penalty: float = 0.5
    # Fused score of a regulatory article of a code (R…, D…, annexes) multiplied by 1 - regulatory_penalty:
    # who does what is set by the legislative article (L…), which decrees only carry out.
    regulatory_penalty: float = 0.7
    acronyms: bool = True  # spell out the acronyms of the question (`corpus/sigles.toml`) in every mode

    def __post_init__(self) -> None:
        if self.method not in ("rrf", "linear"):
            raise ValueError(f"unknown fusion method {self.method!r}")


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on the passages searched; empty sequences mean "no restriction".

    `date` (ISO "YYYY-MM-DD") keeps passages in force at that date where the source gives
    date_debut/date_fin; passages without dates follow the status rule. Abrogated passages are left out
    unless `include_abrogated`.
    """

    levels: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    include_abrogated: bool = False
    date: str | None = None

    def __post_init__(self) -> None:
        for name in ("levels", "themes", "documents", "kinds"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name) or ()))))


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
    mode: str
    query: str
    offset: int = 0
    filters: SearchFilters = field(default_factory=SearchFilters)
    query_levels: tuple[str, ...] = ()  # levels of government the question names
    acronyms: tuple[tuple[str, str], ...] = ()  # (acronym, expansion) added to the question

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "mode": self.mode,
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
    found: dict[str, None] = {}
    for text in texts:
        for word in dict.fromkeys(_SURFACE_WORD.findall(text)):
            if word not in found and not tokens.isdisjoint(_word_tokens(word)):
                found[word] = None
    return list(found)


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
    fused: dict[int, float] = field(default_factory=dict)
    ranking: dict[int, float] = field(default_factory=dict)  # the score the mode sorts by
    ordered: list[int] = field(default_factory=list)


class Retriever:
    """Answers questions from one loaded bundle; thread-safe for concurrent searches."""

    def __init__(self, bundle: Bundle, encoder: Encoder, fusion: FusionParams | None = None) -> None:
        """Index the bundle's metadata for filters and article lookup.

        Args:
            bundle: a loaded bundle (see `indexer.bundle.load_bundle`).
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
        self._doc_keys = np.array([r["doc_key"] for r in rows], dtype=object)
        self._kinds = np.array([r["kind"] for r in rows], dtype=object)
        self._status = np.array([r["status"] for r in rows], dtype=object)
        self._date_debut = np.array([r["date_debut"] or "" for r in rows], dtype="U10")
        self._date_fin = np.array([r["date_fin"] or "" for r in rows], dtype="U10")
        self._levels = self._tag_masks(json.loads(r["levels"]) for r in rows)
        self._regulatory = np.array(
            [r["kind"] == "code" and bool(_REGULATORY.match(str(r["article"]))) for r in rows],
            dtype=np.bool_,
        )
        self._territorial = _territorial_mask(rows)
        self._themes = self._tag_masks(json.loads(r["themes"]) for r in rows)
        self._documents = bundle.store.documents()
        articles = {(str(r["doc_key"]), str(r["article"])) for r in rows}
        self._resolver = ArticleResolver(self._documents, sorted(articles))
        self._taxonomy = _taxonomy()
        taxonomy_levels = set(self._taxonomy.level_ids()) if self._taxonomy else set()
        taxonomy_themes = set(self._taxonomy.theme_ids()) if self._taxonomy else set()
        self._allowed = {
            "levels": sorted(set(self._levels) | taxonomy_levels),
            "themes": sorted(set(self._themes) | taxonomy_themes),
            "documents": [d["key"] for d in self._documents],
            "kinds": sorted(set(self._kinds.tolist())),
        }
        self._masks: dict[SearchFilters, np.ndarray] = {}
        self._factors: dict[tuple[float, float], np.ndarray] = {}  # see `_penalties`
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, settings: Settings, encoder: Encoder | None = None, fusion: FusionParams | None = None
    ) -> Retriever:
        """Load the published bundle and the encoder the settings name, verifying they match.

        Raises:
            BundleError: no bundle, a corrupted one, or one built for another model.
        """
        encoder = encoder or load_encoder(settings)
        return cls(load_bundle(settings, encoder=encoder), encoder, fusion)

    def _tag_masks(self, values: Any) -> dict[str, np.ndarray]:
        masks: dict[str, np.ndarray] = {}
        for row, tags in enumerate(values):
            for tag in tags:
                masks.setdefault(str(tag), np.zeros(self._n, dtype=np.bool_))[row] = True
        return masks

    # --- metadata -------------------------------------------------------------------------------

    @property
    def manifest(self) -> dict[str, Any]:
        return self.bundle.manifest

    @property
    def build_id(self) -> str:
        return self.bundle.build_id

    def documents(self) -> list[dict[str, Any]]:
        """Documents of the bundle with version dates and passage counts, in manifest order."""
        return [dict(d) for d in self._documents]

    def facets(self) -> dict[str, list[str]]:
        """Values accepted by each filter: levels, themes, documents, kinds."""
        return {name: list(values) for name, values in self._allowed.items()}

    def get_passage(self, passage_id: str) -> Passage | None:
        """The passage with this id, or None."""
        row = self._row_of.get(passage_id)
        return None if row is None else self.bundle.store.get([row])[0]

    def passages_of_article(self, doc_key: str, article: str) -> list[Passage]:
        """Every passage of one article, in part order (empty if unknown)."""
        return self.bundle.store.get(self.bundle.store.rowids_of_article(doc_key, article))

    # --- filters --------------------------------------------------------------------------------

    def _validate(self, filters: SearchFilters) -> None:
        labels = {"levels": "niveau", "themes": "thème", "documents": "document", "kinds": "type"}
        for name, label in labels.items():
            unknown = [v for v in getattr(filters, name) if v not in self._allowed[name]]
            if unknown:
                raise QfqError(
                    f"Valeur de {label} inconnue : {', '.join(unknown)}. Valeurs possibles : "
                    f"{', '.join(self._allowed[name])}.",
                    code="filtre_invalide",
                    details={"filter": name, "unknown": unknown, "allowed": self._allowed[name]},
                )
        if filters.date is not None:
            try:
                Date.fromisoformat(filters.date)
            except ValueError as exc:
                raise QfqError(
                    f"Date invalide : {filters.date!r}. Utilisez le format AAAA-MM-JJ.",
                    code="date_invalide",
                ) from exc

    def mask(self, filters: SearchFilters | None) -> np.ndarray:
        """Boolean mask (one entry per passage) of the passages the filters keep.

        Raises:
            QfqError: unknown filter value (`filtre_invalide`) or malformed date (`date_invalide`).
        """
        filters = filters or SearchFilters()
        with self._lock:
            cached = self._masks.get(filters)
        if cached is not None:
            return cached
        self._validate(filters)
        mask = np.ones(self._n, dtype=np.bool_)
        if filters.documents:
            mask &= np.isin(self._doc_keys, list(filters.documents))
        if filters.kinds:
            mask &= np.isin(self._kinds, list(filters.kinds))
        for name, masks in (("levels", self._levels), ("themes", self._themes)):
            wanted = getattr(filters, name)
            if wanted:
                any_of = np.zeros(self._n, dtype=np.bool_)
                for value in wanted:
                    if value in masks:
                        any_of |= masks[value]
                mask &= any_of
        by_status = (
            np.ones(self._n, dtype=np.bool_)
            if filters.include_abrogated
            else self._status != str(Status.ABROGE)
        )
        if filters.date is None:
            mask &= by_status
        else:
            day = filters.date
            dated = (self._date_debut != "") | (self._date_fin != "")
            started = (self._date_debut == "") | (self._date_debut <= day)
            not_ended = (self._date_fin == "") | (self._date_fin > day)
            mask &= np.where(dated, started & not_ended, by_status)
        mask.setflags(write=False)
        with self._lock:
            if len(self._masks) >= _MASK_CACHE_SIZE:
                self._masks.clear()
            self._masks[filters] = mask
        return mask

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
    ) -> SearchResult:
        """Best passages for a French question.

        Args:
            query: the question; an article it names ("L5214-16", "article 35 de la loi REEN") comes first.
            k: number of hits in the page.
            filters: restrictions (default: everything in force, abrogated texts left out).
            mode: "hybrid" (fusion), "dense" or "lexical".
            offset: number of hits skipped (paging).
            group_by_article: keep one hit per article (its best part), listing the other matching parts.

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
        filters = filters or SearchFilters()
        allowed = self.mask(filters)
        depth = max(self.fusion.depth, (offset + k) * (3 if group_by_article else 1))
        expansion = self._expand(text)
        tokens = query_tokens(expansion.text)
        query_vector = None
        if mode != "lexical":
            query_vector = np.asarray(self.encoder.encode_queries([expansion.text]), dtype=np.float32)[0]
        levels = tuple(levels_named(text, self._taxonomy)) if self._taxonomy else ()
        penalised = self._penalties(text)
        ranked = self._rank(mode, tokens, query_vector, allowed, depth, self._level_mask(levels), penalised)
        named = self._named_rows(text, allowed)
        if named:
            self._put_first(ranked, named, mode, query_vector)
        groups = self._group_by_article(ranked) if group_by_article else {}
        page = ranked.ordered[offset : offset + k]
        return SearchResult(
            hits=self._hits(page, ranked, set(tokens), set(named), groups),
            total_candidates=len(ranked.ordered),
            took_ms=(time.perf_counter() - started) * 1000,
            mode=mode,
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

    def _penalties(self, question: str) -> np.ndarray | None:
        """Fused-score factor of every passage (1 where no penalty applies), or None when none does."""
        params = self.fusion
        territory = params.territory_penalty if not TERRITORIAL_REGIME.search(fold(question)) else 0.0
        if not territory and not params.regulatory_penalty:
            return None
        key = (territory, params.regulatory_penalty)
        factor = self._factors.get(key)
        if factor is None:
            # Two arrays at most per fusion setting (the question names a territory or not), built once.
            factor = np.ones(self._n, dtype=np.float64)
            factor[self._territorial] *= 1.0 - territory
            factor[self._regulatory] *= 1.0 - params.regulatory_penalty
            factor.setflags(write=False)
            self._factors[key] = factor
        return factor

    def _level_mask(self, levels: Sequence[str]) -> np.ndarray | None:
        """Passages tagged with one of `levels`, or None when nothing is named or there is no boost."""
        present = [self._levels[level] for level in levels if level in self._levels]
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
    ) -> _Ranked:
        """Dense and lexical candidate lists, their union and its order for the mode."""
        lexical_all = self.bundle.lexical.scores(tokens)
        dense_ids: list[int] = []
        if query_vector is not None:
            _, ids = self.bundle.index.search(query_vector[None, :], depth, allowed)
            dense_ids = ids[0][ids[0] >= 0].tolist()
        lexical_ids: list[int] = []
        if mode != "dense":
            lexical_ids = _top_positive(np.where(allowed, lexical_all, np.float32(0.0)), depth).tolist()
        candidates = list(dict.fromkeys([*dense_ids, *lexical_ids]))
        ranked = _Ranked(
            lexical_all=lexical_all,
            dense_scores=self._dense_scores(query_vector, candidates),
            dense_rank={row: i + 1 for i, row in enumerate(dense_ids)},
            lexical_rank={row: i + 1 for i, row in enumerate(lexical_ids)},
            boosted=boosted,
            penalised=penalised,
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
        if query_vector is None or not rows:
            return {}
        vectors = self.bundle.index.reconstruct(np.asarray(rows, dtype=np.int64))
        return dict(zip(rows, (vectors @ query_vector).tolist(), strict=True))

    def _fuse(self, rows: Sequence[int], ranked: _Ranked) -> dict[int, float]:
        params = self.fusion
        fused: dict[int, float] = {}
        if params.method == "rrf":
            for row in rows:
                value = 0.0
                if row in ranked.dense_rank:
                    value += params.dense_weight / (params.rrf_k + ranked.dense_rank[row])
                if row in ranked.lexical_rank:
                    value += params.lexical_weight / (params.rrf_k + ranked.lexical_rank[row])
                fused[row] = value
        else:
            lexical_all = ranked.lexical_all
            best = float(lexical_all.max()) if lexical_all.size else 0.0
            for row in rows:
                lexical = float(lexical_all[row]) / best if best > 0 else 0.0
                dense = ranked.dense_scores.get(row, 0.0)
                fused[row] = params.dense_weight * dense + params.lexical_weight * lexical
        if ranked.boosted is not None:
            factor = 1.0 + params.level_boost
            for row in rows:
                if ranked.boosted[row]:
                    fused[row] *= factor
        if ranked.penalised is not None:
            for row in rows:
                fused[row] *= float(ranked.penalised[row])
        return fused

    def _named_rows(self, query: str, allowed: np.ndarray) -> list[int]:
        rows: list[int] = []
        for ref in self._resolver.resolve(query):
            for doc_key, article in ref.targets:
                for row in self.bundle.store.rowids_of_article(doc_key, article):
                    if allowed[row] and row not in rows:
                        rows.append(row)
        return rows


def _territorial_mask(rows: Sequence[Any]) -> np.ndarray:
    """Passages written for one territory: a heading names it, or a CGCT article of parts 6 and 7."""
    by_path: dict[str, bool] = {}  # heading paths repeat across the articles of a chapter
    mask = np.zeros(len(rows), dtype=np.bool_)
    for i, r in enumerate(rows):
        path = r["heading_path"] or "[]"
        found = by_path.get(path)
        if found is None:
            found = bool(TERRITORIAL_REGIME.search(fold(" ".join(json.loads(path)))))
            by_path[path] = found
        mask[i] = found or (r["doc_key"] == "cgct" and bool(_CGCT_TERRITORIAL.match(str(r["article"]))))
    return mask


def _top_positive(scores: np.ndarray, k: int) -> np.ndarray:
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = np.sort(candidates[part])
    return candidates[np.argsort(-scores[candidates], kind="stable")].astype(np.int64)
