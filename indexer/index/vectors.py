"""Dense vector indexes behind the `VectorIndex` protocol: the only module that imports faiss."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import faiss
import numpy as np

from indexer.errors import BundleError

INDEX_KINDS = ("flat", "hnsw", "ivf")

# Below this many queries a search runs on one OpenMP thread: a single exact query over ~40k vectors is
# memory-bound (about 5 ms on one thread) and measured 2 to 5 times slower with two threads on a 2-core box.
_SMALL_BATCH = 4
# With an approximate index, a filter keeping less than this share of the vectors is searched exactly on the
# kept vectors: graph or list probing would return too few allowed neighbours.
_EXACT_SUBSET_SHARE = 0.05

# Bound on |approximate - exact| inner product per unit of |q| * |x| for half-precision vectors: half
# precision's unit roundoff (2^-11) for the stored components, plus as much again for the float32 sums of
# both scores (dim * 2^-24 each, within 2^-11 up to 4 096 dimensions) and half-precision subnormals.
_HALF_ERROR = 2.0**-10

_thread_lock = threading.Lock()
_FAISS: Any = faiss  # names the faiss type stubs lack (SearchParametersHNSW, DirectMap)


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product search over L2-normalised float32 vectors whose ids are their insertion order."""

    kind: str

    @property
    def ntotal(self) -> int: ...

    @property
    def dim(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None: ...

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def reconstruct(self, ids: np.ndarray) -> np.ndarray: ...

    def save(self, path: Path) -> None: ...


def set_threads(threads: int) -> None:
    """Pin the number of OpenMP threads faiss uses for batch work.

    Args:
        threads: number of threads, usually `settings.threads`.
    """
    faiss.omp_set_num_threads(max(1, int(threads)))


@contextmanager
def _threads_for(n_queries: int, threads: int) -> Iterator[None]:
    wanted = 1 if n_queries <= _SMALL_BATCH else threads
    with _thread_lock:
        previous = faiss.omp_get_max_threads()
        if previous != wanted:
            faiss.omp_set_num_threads(wanted)
    try:
        yield
    finally:
        if previous != wanted:
            with _thread_lock:
                faiss.omp_set_num_threads(previous)


def _as_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    array = np.ascontiguousarray(queries, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.shape[1] != dim:
        raise ValueError(f"query dimension {array.shape[1]} != index dimension {dim}")
    return array


def _empty(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, k), -np.inf, dtype=np.float32), np.full((n, k), -1, dtype=np.int64)


def allowed_mask(allowed: np.ndarray | None, ntotal: int) -> np.ndarray | None:
    """Turn an id array or a boolean mask into a boolean mask of length `ntotal` (None = everything).

    Args:
        allowed: None, a boolean mask of length `ntotal`, or an array of allowed ids.
        ntotal: number of vectors in the index.

    Returns:
        A boolean mask, or None when every vector is allowed.
    """
    if allowed is None:
        return None
    allowed = np.asarray(allowed)
    if allowed.dtype == np.bool_:
        if allowed.shape != (ntotal,):
            raise ValueError(f"mask length {allowed.shape} != {ntotal}")
        return allowed
    mask = np.zeros(ntotal, dtype=np.bool_)
    mask[allowed.astype(np.int64)] = True
    return mask


class FaissIndex:
    """A faiss index (exact `IndexFlatIP`, or HNSW / IVF for large corpora) with allowed-id filtering."""

    def __init__(self, index: faiss.Index, kind: str, threads: int = 1, search_effort: int = 0) -> None:
        self._index = index
        self.kind = kind
        self.threads = max(1, threads)
        # efSearch for HNSW, nprobe for IVF; 0 keeps faiss' default.
        self.search_effort = search_effort

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def add(self, vectors: np.ndarray) -> None:
        """Append vectors; their ids continue from `ntotal`."""
        vectors = _as_queries(vectors, self.dim)
        with _threads_for(len(vectors), self.threads):
            if not self._index.is_trained:
                self._index.train(vectors)
            self._index.add(vectors)

    def _params(self, selector: faiss.IDSelector | None) -> faiss.SearchParameters | None:
        params: Any
        if self.kind == "hnsw":
            params = _FAISS.SearchParametersHNSW()
            if self.search_effort:
                params.efSearch = self.search_effort
        elif self.kind == "ivf":
            params = faiss.SearchParametersIVF()
            if self.search_effort:
                params.nprobe = self.search_effort
        elif selector is None:
            return None
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
        return params

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k inner products, restricted to `allowed` ids (a boolean mask or an id array).

        Args:
            queries: (n, dim) float32 query vectors.
            k: number of neighbours per query.
            allowed: None for all vectors, else a boolean mask of length `ntotal` or an array of ids.

        Returns:
            (scores, ids), both of shape (n, k); missing neighbours have id -1 and score -inf.
        """
        queries = _as_queries(queries, self.dim)
        n = len(queries)
        empty = _empty(n, k)
        if self.ntotal == 0 or k <= 0:
            return empty
        mask = allowed_mask(allowed, self.ntotal)
        if mask is not None:
            count = int(mask.sum())
            if count == 0:
                return empty
            if self.kind != "flat" and count < _EXACT_SUBSET_SHARE * self.ntotal:
                return self._exact_subset(queries, k, np.flatnonzero(mask))
        k_eff = min(k, self.ntotal)
        selector = None
        bits = None
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(self.ntotal, faiss.swig_ptr(bits))
        params = self._params(selector)
        with _threads_for(n, self.threads):
            if params is None:
                scores, ids = self._index.search(queries, k_eff)
            else:
                scores, ids = self._index.search(queries, k_eff, params=params)
        del bits  # the bitmap must outlive the search call
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        if k_eff < k:
            scores = np.pad(scores, ((0, 0), (0, k - k_eff)), constant_values=-np.inf)
            ids = np.pad(ids, ((0, 0), (0, k - k_eff)), constant_values=-1)
        return scores, ids.astype(np.int64)

    def _exact_subset(self, queries: np.ndarray, k: int, subset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vectors = self.reconstruct(subset)
        sims = queries @ vectors.T
        n = len(queries)
        scores = np.full((n, k), -np.inf, dtype=np.float32)
        ids = np.full((n, k), -1, dtype=np.int64)
        take = min(k, len(subset))
        for row in range(n):
            order = np.argsort(-sims[row], kind="stable")[:take]
            scores[row, :take] = sims[row, order]
            ids[row, :take] = subset[order]
        return scores, ids

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of `ids`, shape (len(ids), dim)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(ids), dtype=np.float32)

    def save(self, path: Path) -> None:
        """Write the index to `path` (the caller fsyncs and publishes it)."""
        faiss.write_index(self._index, str(path))


class FaissFlatIndex(FaissIndex):
    """Exact inner-product search (`IndexFlatIP`): the default at this corpus size.

    A single query over a large index is memory-bound: reading 43,184 float32 vectors of 384 dimensions
    takes 6-7 ms on one core. Above `PREFILTER_MIN_VECTORS`, single queries first scan a half-precision
    copy (half the bytes), keep `2k` candidates, re-score them with the float32 vectors and keep the best
    `k`. The result is the exact one whenever a bound proves that no vector outside the candidates can
    beat the k-th exact score (see `_prefiltered`); otherwise, and for batches, the float32 index is
    scanned. `prefilter_stats` counts both outcomes.
    """

    PREFILTER_MIN_VECTORS = 20_000

    def __init__(self, dim: int, threads: int = 1, index: faiss.Index | None = None) -> None:
        super().__init__(index if index is not None else faiss.IndexFlatIP(dim), "flat", threads)
        self.prefilter_min_vectors = self.PREFILTER_MIN_VECTORS
        self.prefilter_stats = {"certified": 0, "fallback": 0}
        self._shadow: Any = None
        self._shadow_lock = threading.Lock()

    def add(self, vectors: np.ndarray) -> None:
        with self._shadow_lock:
            self._shadow = None  # faiss may move the float32 storage: the copy and the view are rebuilt
        super().add(vectors)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = _as_queries(queries, self.dim)
        if len(queries) > _SMALL_BATCH or self.ntotal < self.prefilter_min_vectors or k <= 0:
            return super().search(queries, k, allowed)
        mask = allowed_mask(allowed, self.ntotal)
        found = [self._prefiltered(query, k, mask) for query in queries]
        scores, ids = super().search(queries, k, mask) if None in found else _empty(len(queries), k)
        for row, result in enumerate(found):
            if result is not None:
                scores[row], ids[row] = result
        return scores, ids

    def _count(self, outcome: str) -> None:
        with self._shadow_lock:  # searches run in several threads of the service
            self.prefilter_stats[outcome] += 1

    def _shadow_copy(self) -> tuple[Any, np.ndarray, float]:
        """(half-precision index, float32 view of the stored vectors, largest vector norm), built once."""
        with self._shadow_lock:
            if self._shadow is None or self._shadow[0].ntotal != self.ntotal:
                n, dim = self.ntotal, self.dim
                flat: Any = self._index
                stored = faiss.rev_swig_ptr(flat.get_xb(), n * dim).reshape(n, dim)
                half = faiss.IndexScalarQuantizer(
                    dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
                )
                half.add(stored)
                self._shadow = (half, stored, float(np.linalg.norm(stored, axis=1).max()))
            return self._shadow

    def _prefiltered(
        self, query: np.ndarray, k: int, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Exact top-k of one query through the half-precision copy, or None when exactness is not proven.

        Rounding a component to half precision moves it by at most 2^-11 of its magnitude, so an
        approximate inner product differs from the exact one by at most 2^-11 * |q| * |x| (Cauchy-Schwarz);
        `_HALF_ERROR` adds the float32 summation error of both scores. A vector left out of the
        candidates has an approximate score at most the last candidate's, hence an exact score at most that
        plus the error: below the k-th exact score among the candidates, it cannot belong to the top k.
        """
        half, stored, max_norm = self._shadow_copy()
        wanted = min(max(2 * k, k + 32), self.ntotal)
        bits = None
        params = None
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            params = faiss.SearchParameters()
            params.sel = faiss.IDSelectorBitmap(self.ntotal, faiss.swig_ptr(bits))
        with _threads_for(1, self.threads):
            approx, ids = half.search(query[None, :], wanted, params=params)
        del bits
        approx, ids = approx[0], ids[0]
        ids = ids[ids >= 0]
        exact = stored[ids] @ query
        order = np.lexsort((ids, -exact))[:k]
        top_scores, top_ids = exact[order].astype(np.float32), ids[order].astype(np.int64)
        complete = len(ids) < wanted  # every allowed vector is a candidate
        if not complete:
            bound = float(approx[len(ids) - 1]) + _HALF_ERROR * float(np.linalg.norm(query)) * max_norm
            if len(order) < k or bound >= float(top_scores[-1]):
                self._count("fallback")
                return None
        self._count("certified")
        if len(order) < k:
            top_scores = np.pad(top_scores, (0, k - len(order)), constant_values=-np.inf)
            top_ids = np.pad(top_ids, (0, k - len(order)), constant_values=-1)
        return top_scores, top_ids


def create_index(
    dim: int, kind: str = "flat", *, threads: int = 1, hnsw_m: int = 32, ivf_lists: int = 0, effort: int = 0
) -> FaissIndex:
    """Create an empty index.

    Args:
        dim: vector dimension.
        kind: "flat" (exact inner product: the default at this corpus size), "hnsw" or "ivf".
        threads: OpenMP threads for batch work.
        hnsw_m: graph degree for HNSW.
        ivf_lists: number of inverted lists for IVF (0: 256; `build_index` picks about 4 * sqrt(n)).
        effort: efSearch (HNSW) or nprobe (IVF) at query time; 0 keeps a sensible default.

    Returns:
        An empty `FaissIndex`.
    """
    if kind == "flat":
        return FaissFlatIndex(dim, threads)
    index: Any
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        return FaissIndex(index, "hnsw", threads, effort or 64)
    if kind == "ivf":
        quantizer: Any = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, ivf_lists or 256, faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        quantizer.this.disown()
        index.set_direct_map_type(_FAISS.DirectMap.Array)
        return FaissIndex(index, "ivf", threads, effort or 16)
    raise ValueError(f"unknown index kind {kind!r}; expected one of {INDEX_KINDS}")


def build_index(vectors: np.ndarray, kind: str = "flat", *, threads: int = 1, **options: int) -> FaissIndex:
    """Create an index of `kind` and add `vectors` (training first for IVF).

    Args:
        vectors: (n, dim) float32 L2-normalised vectors.
        kind: "flat", "hnsw" or "ivf".
        threads: OpenMP threads for batch work.
        **options: forwarded to `create_index` (hnsw_m, ivf_lists, effort).

    Returns:
        The filled index.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "ivf" and not options.get("ivf_lists"):
        options["ivf_lists"] = max(1, min(4 * int(np.sqrt(max(len(vectors), 1))), len(vectors) // 39 or 1))
    index = create_index(vectors.shape[1], kind, threads=threads, **options)
    if len(vectors):
        index.add(vectors)
    return index


def load_index(path: Path, kind: str = "flat", *, threads: int = 1, effort: int = 0) -> FaissIndex:
    """Read an index written by `FaissIndex.save`.

    Args:
        path: the index file.
        kind: the kind recorded in the bundle manifest.
        threads: OpenMP threads for batch work.
        effort: efSearch / nprobe override (0: default of the kind).

    Returns:
        The loaded index.

    Raises:
        BundleError: the file is missing or unreadable (code `index_corrompu`).
    """
    index: Any
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise BundleError(
            f"Le fichier d'index vectoriel {path} est illisible : {exc}", code="index_corrompu"
        ) from exc
    if kind == "ivf":
        index.set_direct_map_type(_FAISS.DirectMap.Array)
    if kind == "flat":
        return FaissFlatIndex(int(index.d), threads, index)
    default_effort = {"hnsw": 64, "ivf": 16}.get(kind, 0)
    return FaissIndex(index, kind, threads, effort or default_effort)


def recall_at_k(approximate: VectorIndex, exact: VectorIndex, queries: np.ndarray, k: int = 10) -> float:
    """Mean share of the exact top-k neighbours that the approximate index also returns.

    Args:
        approximate: the index under test (HNSW, IVF...).
        exact: an exact index over the same vectors.
        queries: (n, dim) query vectors.
        k: cut-off.

    Returns:
        Recall@k in [0, 1].
    """
    _, truth = exact.search(queries, k)
    _, found = approximate.search(queries, k)
    total = 0.0
    for want, got in zip(truth, found, strict=True):
        want_set = {int(i) for i in want if i >= 0}
        if want_set:
            total += len(want_set & {int(i) for i in got if i >= 0}) / len(want_set)
    return total / max(len(queries), 1)
