"""Single-query vector search over the published bundle: float32 scan, half-precision pre-selection, HNSW.

    python benchmarks/bench_vectors.py              # questions of the public gold set, depth 100
    python benchmarks/bench_vectors.py --k 100 --hnsw-ef 128,256

Questions are encoded once with the settings' question encoder; each method then answers every question
on one thread, with the default filter (texts in force). Prints p50 / p95 per method and the share of the
exact top k each one returns (recall against the float32 scan).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_search import load_questions, percentile

from indexer.index.vectors import FaissFlatIndex, FaissIndex, build_index
from indexer.search.filters import SearchFilters
from indexer.search.retriever import Retriever
from indexer.settings import Settings

Search = Callable[[np.ndarray], np.ndarray]


def measure(name: str, search: Search, queries: np.ndarray, truth: list[set[int]]) -> None:
    search(queries[0])  # first-call costs (the half-precision copy is built here)
    latencies, recalls = [], []
    for query, want in zip(queries, truth, strict=True):
        started = time.perf_counter()
        ids = search(query)
        latencies.append((time.perf_counter() - started) * 1000)
        recalls.append(len(want & {int(i) for i in ids if i >= 0}) / max(len(want), 1))
    print(
        f"{name:34s} p50 {statistics.median(latencies):6.2f} ms  p95 {percentile(latencies, 0.95):6.2f} ms  "
        f"recall {statistics.fmean(recalls):.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=Path, help="BEIR queries.jsonl")
    parser.add_argument("--k", type=int, default=100, help="neighbours per question (the fusion depth)")
    parser.add_argument("--hnsw-ef", default="128,256", help="efSearch values to try (empty: no HNSW)")
    args = parser.parse_args()

    settings = Settings(threads=1)
    retriever = Retriever.open(settings)
    index = retriever.bundle.index
    if not isinstance(index, FaissFlatIndex):
        raise SystemExit(f"the bundle's index is {index.kind!r}, not the exact flat index")
    questions, source = load_questions(args.queries)
    queries = np.asarray(retriever.encoder.encode_queries(questions), dtype=np.float32)
    mask = retriever.mask(SearchFilters())
    print(
        f"bundle {retriever.build_id}: {index.ntotal} vectors of {index.dim} dimensions, "
        f"{int(mask.sum())} in force; {len(questions)} questions from {source}; k={args.k}"
    )

    def exact(query: np.ndarray) -> np.ndarray:
        return FaissIndex.search(index, query[None, :], args.k, mask)[1][0]  # the plain float32 scan

    truth = [{int(i) for i in exact(q) if i >= 0} for q in queries]
    measure("float32 scan (IndexFlatIP)", exact, queries, truth)
    before = dict(index.prefilter_stats)
    measure(
        "half-precision pre-selection",
        lambda q: index.search(q[None, :], args.k, mask)[1][0],
        queries,
        truth,
    )
    certified = index.prefilter_stats["certified"] - before["certified"]
    fallback = index.prefilter_stats["fallback"] - before["fallback"]
    print(f"  proven exact {certified}, rescanned in float32 {fallback}")
    efforts = [int(e) for e in args.hnsw_ef.split(",") if e.strip()]
    if efforts:
        started = time.perf_counter()
        vectors = index.reconstruct(np.arange(index.ntotal))
        graph = build_index(vectors, "hnsw", threads=2)
        print(f"HNSW (M=32) built in {time.perf_counter() - started:.1f} s, for comparison (not used)")
        for effort in efforts:
            graph.search_effort = effort
            measure(
                f"HNSW efSearch={effort}",
                lambda q, g=graph: g.search(q[None, :], args.k, mask)[1][0],
                queries,
                truth,
            )


if __name__ == "__main__":
    main()
