"""Tests of the faiss-backed vector indexes: exact search, filters, persistence, approximate recall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.errors import BundleError
from indexer.index.vectors import (
    FaissFlatIndex,
    VectorIndex,
    allowed_mask,
    build_index,
    load_index,
    recall_at_k,
)


def _unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _brute_force(vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None):
    scores = vectors @ query
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return scores[order], order


def test_flat_index_is_exact_and_satisfies_the_protocol() -> None:
    vectors = _unit_vectors(500, 32)
    index = build_index(vectors, "flat")
    assert isinstance(index, FaissFlatIndex)
    assert isinstance(index, VectorIndex)
    assert (index.ntotal, index.dim) == (500, 32)
    queries = _unit_vectors(5, 32, seed=1)
    scores, ids = index.search(queries, 10)
    for row, query in enumerate(queries):
        want_scores, want_ids = _brute_force(vectors, query, 10)
        assert ids[row].tolist() == want_ids.tolist()
        np.testing.assert_allclose(scores[row], want_scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("as_ids", [False, True])
def test_search_honours_allowed_ids(as_ids: bool) -> None:
    vectors = _unit_vectors(300, 16)
    index = build_index(vectors, "flat")
    rng = np.random.default_rng(3)
    mask = rng.random(300) < 0.2
    allowed = np.flatnonzero(mask) if as_ids else mask
    query = _unit_vectors(1, 16, seed=4)
    _, ids = index.search(query, 15, allowed)
    assert all(mask[i] for i in ids[0])
    _, want = _brute_force(vectors, query[0], 15, mask)
    assert ids[0].tolist() == want.tolist()


def test_fewer_allowed_than_k_pads_with_minus_one() -> None:
    index = build_index(_unit_vectors(50, 8), "flat")
    scores, ids = index.search(_unit_vectors(1, 8, seed=2), 5, np.array([3, 7]))
    assert sorted(ids[0][:2].tolist()) == [3, 7]
    assert ids[0][2:].tolist() == [-1, -1, -1]
    assert np.isneginf(scores[0][2:]).all()
    _, none = index.search(_unit_vectors(1, 8, seed=2), 3, np.zeros(50, dtype=bool))
    assert none[0].tolist() == [-1, -1, -1]


def test_allowed_mask_rejects_wrong_length() -> None:
    with pytest.raises(ValueError):
        allowed_mask(np.ones(4, dtype=bool), 5)
    assert allowed_mask(None, 5) is None
    mask = allowed_mask(np.array([0, 4]), 5)
    assert mask is not None and mask.tolist() == [True, False, False, False, True]


def test_save_load_round_trip_and_reconstruct(tmp_path: Path) -> None:
    vectors = _unit_vectors(100, 12)
    index = build_index(vectors, "flat")
    index.save(tmp_path / "v.faiss")
    loaded = load_index(tmp_path / "v.faiss", "flat")
    query = _unit_vectors(2, 12, seed=9)
    assert loaded.search(query, 5)[1].tolist() == index.search(query, 5)[1].tolist()
    np.testing.assert_allclose(loaded.reconstruct(np.array([4, 2])), vectors[[4, 2]], atol=1e-6)


def test_unreadable_index_file_is_a_bundle_error(tmp_path: Path) -> None:
    path = tmp_path / "v.faiss"
    path.write_bytes(b"not an index")
    with pytest.raises(BundleError) as info:
        load_index(path)
    assert info.value.code == "index_corrompu"


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_reach_high_recall_against_exact(kind: str, tmp_path: Path) -> None:
    # Clustered data, as embeddings are; recall is measured, not assumed.
    rng = np.random.default_rng(5)
    centres = _unit_vectors(40, 32, seed=6)
    vectors = centres[rng.integers(0, 40, 4000)] + 0.3 * rng.standard_normal((4000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = build_index(vectors, "flat")
    approximate = build_index(vectors, kind, effort=64 if kind == "hnsw" else 24)
    queries = vectors[rng.integers(0, 4000, 50)] + 0.05
    recall = recall_at_k(approximate, exact, queries, k=10)
    assert recall >= 0.9
    approximate.save(tmp_path / "a.faiss")
    reloaded = load_index(tmp_path / "a.faiss", kind, effort=64 if kind == "hnsw" else 24)
    assert recall_at_k(reloaded, exact, queries, k=10) >= 0.9


def test_approximate_index_with_a_narrow_filter_is_searched_exactly() -> None:
    vectors = _unit_vectors(2000, 16)
    index = build_index(vectors, "hnsw")
    allowed = np.array([5, 17, 300, 1999])
    query = _unit_vectors(1, 16, seed=11)
    _, ids = index.search(query, 3, allowed)
    mask = allowed_mask(allowed, 2000)
    _, want = _brute_force(vectors, query[0], 3, mask)
    assert ids[0].tolist() == want.tolist()


def test_recall_of_an_index_against_itself_is_one() -> None:
    vectors = _unit_vectors(200, 8)
    index = build_index(vectors, "flat")
    assert recall_at_k(index, index, vectors[:10], k=5) == 1.0


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = _unit_vectors(30, dim, seed=seed + 1)
    vectors = centres[rng.integers(0, 30, n)] + 0.4 * rng.standard_normal((n, dim)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("with_mask", [False, True])
def test_half_precision_prefilter_returns_the_exact_neighbours(with_mask: bool) -> None:
    vectors = _clustered(3000, 48, seed=20)
    index = build_index(vectors, "flat")
    assert isinstance(index, FaissFlatIndex)
    index.prefilter_min_vectors = 1000  # small test corpus: use the half-precision copy anyway
    mask = np.random.default_rng(21).random(3000) < 0.7 if with_mask else None
    queries = _clustered(40, 48, seed=22)
    for query in queries:
        scores, ids = index.search(query[None, :], 50, mask)
        want_scores, want_ids = _brute_force(vectors, query, 50, mask)
        assert ids[0].tolist() == want_ids.tolist()
        np.testing.assert_allclose(scores[0], want_scores, rtol=1e-5, atol=1e-5)
    assert index.prefilter_stats["certified"] > 0
    assert sum(index.prefilter_stats.values()) == len(queries)


def test_prefilter_falls_back_to_the_float32_scan_when_exactness_is_not_proven() -> None:
    # Near-identical vectors: half precision cannot separate them, the bound cannot prove the top k.
    rng = np.random.default_rng(23)
    base = _unit_vectors(1, 16, seed=24)[0]
    vectors = base + 1e-4 * rng.standard_normal((2000, 16)).astype(np.float32)
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    index = build_index(vectors, "flat")
    assert isinstance(index, FaissFlatIndex)
    index.prefilter_min_vectors = 1000
    query = base + 0.01 * _unit_vectors(1, 16, seed=25)[0]
    scores, ids = index.search(query[None, :], 20)
    want_scores, _ = _brute_force(vectors, query, 20)
    assert index.prefilter_stats["fallback"] == 1
    # Scores this close tie within float32 rounding: the top scores, not the order of ties, are compared.
    np.testing.assert_allclose(scores[0], want_scores, atol=1e-6)
    np.testing.assert_allclose(vectors[ids[0]] @ query, want_scores, atol=1e-6)


def test_prefilter_with_fewer_allowed_vectors_than_candidates_pads_and_stays_exact() -> None:
    vectors = _clustered(1500, 16, seed=26)
    index = build_index(vectors, "flat")
    assert isinstance(index, FaissFlatIndex)
    index.prefilter_min_vectors = 1000
    allowed = np.array([3, 99, 700, 1400])
    scores, ids = index.search(vectors[99][None, :], 6, allowed)
    assert ids[0][:4].tolist()[0] == 99 and sorted(ids[0][:4].tolist()) == [3, 99, 700, 1400]
    assert ids[0][4:].tolist() == [-1, -1] and np.isneginf(scores[0][4:]).all()
    assert index.prefilter_stats == {"certified": 1, "fallback": 0}


def test_prefilter_copy_follows_added_vectors(tmp_path: Path) -> None:
    vectors = _clustered(2400, 16, seed=27)
    index = build_index(vectors[:1200], "flat")
    assert isinstance(index, FaissFlatIndex)
    index.prefilter_min_vectors = 1000
    index.search(vectors[:1], 5)
    index.add(vectors[1200:])
    _, ids = index.search(vectors[2000][None, :], 1)
    assert ids[0].tolist() == [2000]
    index.save(tmp_path / "v.faiss")
    loaded = load_index(tmp_path / "v.faiss", "flat")
    assert isinstance(loaded, FaissFlatIndex)


def test_prefilter_is_safe_from_several_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    vectors = _clustered(3000, 32, seed=28)
    index = build_index(vectors, "flat")
    assert isinstance(index, FaissFlatIndex)
    index.prefilter_min_vectors = 1000
    queries = _clustered(64, 32, seed=29)
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda q: index.search(q[None, :], 20)[1][0].tolist(), queries))
    assert found == [_brute_force(vectors, q, 20)[1].tolist() for q in queries]
    assert sum(index.prefilter_stats.values()) == len(queries)
