"""Merging the dense and lexical candidate lists: the fusion parameters and pure scoring functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FusionParams:
    """How dense and lexical candidate lists are merged (tuned on the dev split of the gold set only).

    method "rrf": sum of weight / (rrf_k + rank) over the lists a passage appears in (weighted reciprocal
    rank fusion). method "linear": dense_weight * cosine + lexical_weight * bm25 / best bm25 of the query.
    level_boost: the fused score of a passage tagged with a level of government the question names
    ("l'agglo", "une communauté de communes", see `indexer.text.tagging.levels_named`) is multiplied by
    1 + level_boost: the chapter a passage sits in says which level it concerns, which the wording of
    near-identical articles (L5214-16 and L5216-5) does not.
    """

    # Defaults: chosen by `python -m evaluations.tune_fusion --gold evaluations/datasets/qfq-dev --gold
    # evaluations/datasets/qfq-formel` on the dev splits, see evaluations/results/tuning-dev.txt: mean nDCG@10 of
    # the agents' and the formal questions 0.7002 (agents 0.7115, formal 0.6890), within 0.001 of the best
    # setting (the same at depth 200), whose twice deeper candidate lists cost more per question.
    method: str = "rrf"
    rrf_k: float = 40.0
    dense_weight: float = 0.75
    lexical_weight: float = 1.0
    depth: int = 100  # candidates taken from each list
    level_boost: float = 0.0  # tried at 0.2 and 0.5: no gain on the mean of the dev splits
    # Fused score of a passage written for one territory (overseas, Corsica, Alsace-Moselle: see
    # `TERRITORIAL_REGIME`) multiplied by 1 - territory_penalty unless the question names such a territory:
    # those chapters repeat the general rules almost word for word and crowd out the general articles.
    territory_penalty: float = 0.5
    # Fused score of a regulatory article of a code (R…, D…, annexes) multiplied by 1 - regulatory_penalty:
    # who does what is set by the legislative article (L…), which decrees only carry out.
    regulatory_penalty: float = 0.3
    acronyms: bool = True  # spell out the acronyms of the question (`corpus/sigles.toml`) in every mode
    # Weight of a third ranked list in the fusion: the passages of the articles a confident knowledge answer
    # cites, then those of the mechanisms the question names (`indexer.search.ask`), in that order. Evidence,
    # not a verdict: they still need the question's words or meaning to rank first.
    evidence_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in ("rrf", "linear"):
            raise ValueError(f"unknown fusion method {self.method!r}")


def fuse(
    rows: Sequence[int],
    params: FusionParams,
    *,
    dense_rank: Mapping[int, int],
    lexical_rank: Mapping[int, int],
    dense_scores: Mapping[int, float],
    lexical_all: np.ndarray,
    boosted: np.ndarray | None = None,
    penalised: np.ndarray | None = None,
    evidence_rank: Mapping[int, int] | None = None,
) -> dict[int, float]:
    """Fused score of each row: RRF or linear combination, then the level boost and the priors' factors.

    Args:
        rows: the candidates to score.
        params: the fusion setting.
        dense_rank: 1-based rank of each row in the dense list (rows absent were not in it).
        lexical_rank: likewise for the lexical list.
        dense_scores: cosine of each row to the question.
        lexical_all: bm25 of every passage.
        boosted: passages tagged with a level the question names (multiplied by 1 + level_boost).
        penalised: fused-score factor of every passage (see `indexer.search.priors`).
        evidence_rank: 1-based rank of each row in the evidence list (articles a knowledge answer cites).

    Returns:
        Row -> fused score.
    """
    fused: dict[int, float] = {}
    if params.method == "rrf":
        for row in rows:
            value = 0.0
            if row in dense_rank:
                value += params.dense_weight / (params.rrf_k + dense_rank[row])
            if row in lexical_rank:
                value += params.lexical_weight / (params.rrf_k + lexical_rank[row])
            if evidence_rank and row in evidence_rank:
                value += params.evidence_weight / (params.rrf_k + evidence_rank[row])
            fused[row] = value
    else:
        best = float(lexical_all.max()) if lexical_all.size else 0.0
        for row in rows:
            lexical = float(lexical_all[row]) / best if best > 0 else 0.0
            dense = dense_scores.get(row, 0.0)
            fused[row] = params.dense_weight * dense + params.lexical_weight * lexical
            if evidence_rank and row in evidence_rank:
                fused[row] += params.evidence_weight / evidence_rank[row]
    if boosted is not None:
        factor = 1.0 + params.level_boost
        for row in rows:
            if boosted[row]:
                fused[row] *= factor
    if penalised is not None:
        for row in rows:
            fused[row] *= float(penalised[row])
    return fused


def top_positive(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the (at most) k highest positive scores, best first, ties by index."""
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = np.sort(candidates[part])
    return candidates[np.argsort(-scores[candidates], kind="stable")].astype(np.int64)
