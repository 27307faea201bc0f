"""Fusion as pure functions: hand-computed RRF and linear scores, level boost, priors' factors, top-k."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.search.fusion import FusionParams, fuse, top_positive


def test_weighted_rrf_sums_the_lists_a_row_appears_in() -> None:
    params = FusionParams(method="rrf", rrf_k=5.0, dense_weight=1.0, lexical_weight=0.5)
    fused = fuse(
        [0, 1, 2],
        params,
        dense_rank={0: 1, 1: 2},
        lexical_rank={1: 1, 2: 3},
        dense_scores={0: 0.9, 1: 0.8},
        lexical_all=np.array([0.0, 4.0, 1.0], dtype=np.float32),
    )
    assert fused[0] == pytest.approx(1 / 6)
    assert fused[1] == pytest.approx(1 / 7 + 0.5 / 6)
    assert fused[2] == pytest.approx(0.5 / 8)


def test_linear_fusion_scales_bm25_by_the_best_score() -> None:
    params = FusionParams(method="linear", dense_weight=0.7, lexical_weight=0.3)
    fused = fuse(
        [0, 1],
        params,
        dense_rank={},
        lexical_rank={},
        dense_scores={0: 0.5},
        lexical_all=np.array([2.0, 4.0], dtype=np.float32),
    )
    assert fused[0] == pytest.approx(0.7 * 0.5 + 0.3 * 0.5)
    assert fused[1] == pytest.approx(0.3 * 1.0)


def test_level_boost_and_priors_multiply_the_fused_score() -> None:
    params = FusionParams(rrf_k=0.0, dense_weight=1.0, lexical_weight=0.0, level_boost=0.5)
    fused = fuse(
        [0, 1],
        params,
        dense_rank={0: 1, 1: 1},
        lexical_rank={},
        dense_scores={},
        lexical_all=np.zeros(2, dtype=np.float32),
        boosted=np.array([True, False]),
        penalised=np.array([1.0, 0.25]),
    )
    assert fused == {0: pytest.approx(1.5), 1: pytest.approx(0.25)}


def test_top_positive_keeps_positive_scores_best_first_ties_by_index() -> None:
    scores = np.array([0.0, 2.0, 5.0, 2.0, -1.0, 3.0], dtype=np.float32)
    assert top_positive(scores, 3).tolist() == [2, 5, 1]
    assert top_positive(scores, 10).tolist() == [2, 5, 1, 3]


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError):
        FusionParams(method="max")
