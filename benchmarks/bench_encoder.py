"""Encoder speed and int8 quality: passages/s, single-query latency, and ONNX int8 vs float32 cosine.

Usage (from the repository root, corpus found through QFQ_CORPUS_DIR):

    python benchmarks/bench_encoder.py [--passages 200] [--queries 100] [--backends torch,onnx]

Passages are 200-word windows of CGCT articles (lexlib markdown, read straight from the corpus), in
batches of 32. Throughput is given twice: by the wall clock, and by the process CPU time divided by
the threads (what the same run would take on otherwise idle cores; the two agree on a quiet machine).
The load average is printed so that a busy machine shows. Targets (issue 3, 2-core machine): at least
40 passages/s, at most 10 ms p50 per query, and cosine(int8, float32) >= 0.99 on every passage.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.embedding.base import Encoder
from indexer.embedding.factory import load_encoder
from indexer.settings import Settings

WORDS_PER_PASSAGE = 200
BATCH = 32


def corpus_passages(corpus_dir: Path, count: int) -> list[str]:
    """`count` passages of 200 words cut from CGCT articles, always the same ones."""
    files = sorted((corpus_dir / "codes" / "cgct").rglob("Article *.md"))
    words: list[str] = []
    for path in files[:: max(1, len(files) // 2000)]:
        body = path.read_text(encoding="utf-8").split("**Liens")[0]
        words += re.sub(r"^# .*\n", "", body).split()
        if len(words) >= count * WORDS_PER_PASSAGE:
            break
    return [
        " ".join(words[i : i + WORDS_PER_PASSAGE])
        for i in range(0, count * WORDS_PER_PASSAGE, WORDS_PER_PASSAGE)
    ]


def corpus_queries(passages: list[str], count: int) -> list[str]:
    """Short queries (6 to 12 words) taken from the passages."""
    out = []
    for i in range(count):
        words = passages[i % len(passages)].split()
        size = 6 + i % 7
        start = (i * 13) % max(1, len(words) - size)
        out.append(" ".join(words[start : start + size]))
    return out


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def throughput(encoder: Encoder, passages: list[str], threads: int) -> tuple[np.ndarray, float, float]:
    encoder.encode_passages(passages[:BATCH], batch_size=BATCH)  # warm-up
    wall, cpu = time.perf_counter(), cpu_seconds()
    vectors = encoder.encode_passages(passages, batch_size=BATCH)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return vectors, len(passages) / wall, len(passages) / (cpu / threads)


def latency(encoder: Encoder, queries: list[str]) -> tuple[float, float]:
    for query in queries[:5]:
        encoder.encode_queries([query])
    times = []
    for query in queries:
        start = time.perf_counter()
        encoder.encode_queries([query])
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--backends", default="torch,onnx")
    args = parser.parse_args()

    settings = Settings()
    passages = corpus_passages(settings.require_corpus(), args.passages)
    queries = corpus_queries(passages, args.queries)
    from indexer.embedding.tokenizer import count_tokens_batch

    tokens = count_tokens_batch(passages)
    print(f"machine: {os.cpu_count()} cores, threads={settings.threads}, load {os.getloadavg()[0]:.1f}")
    print(
        f"passages: {len(passages)} x {WORDS_PER_PASSAGE} words, {np.mean(tokens) + 5:.0f} model tokens "
        f"on average (prefix and <s></s> included), batches of {BATCH}; queries: {len(queries)}"
    )
    vectors: dict[str, np.ndarray] = {}
    for backend in args.backends.split(","):
        started = time.perf_counter()
        encoder = load_encoder(settings.model_copy(update={"model_backend": backend}))
        loaded = time.perf_counter() - started
        vectors[backend], wall_rate, cpu_rate = throughput(encoder, passages, settings.threads)
        p50, p95 = latency(encoder, queries)
        print(
            f"{backend:5s} {encoder.model_id}: load {loaded:.1f} s · {wall_rate:.1f} passages/s "
            f"({cpu_rate:.1f} by CPU time) · query p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        )
    if "torch" in vectors and "onnx" in vectors:
        cosine = np.sum(vectors["torch"] * vectors["onnx"], axis=1)
        verdict = "OK" if cosine.min() >= 0.99 else "FAIL"
        print(
            f"cosine onnx-int8 vs torch-float32 on {len(cosine)} passages: min {cosine.min():.4f}, "
            f"mean {cosine.mean():.4f} -> {verdict} (bar 0.99)"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
