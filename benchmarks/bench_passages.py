"""Passage embedding speed by length band, before and after: torch float32 vs ONNX Runtime float32.

    python benchmarks/bench_passages.py                       # 96 passages per band, batches of 8
    python benchmarks/bench_passages.py --per-band 160 --batch-sizes 4,8,16
    python benchmarks/bench_passages.py --backends onnx-fp32  # one side only

The passages are the corpus's own embedding texts (`Passage.embedding_text()`, read through the passage
cache of `QFQ_DATA_DIR`, parsed on first use), drawn at random (fixed seed) in each band of model tokens.
"Before" is the sentence-transformers folder in torch (`QFQ_MODEL_BACKEND=torch`, what the build used up
to round 2); "after" is the float32 ONNX graph with length-sorted, padded batches (`onnx-fp32`, the
default). Each backend reports passages/s by wall clock and by CPU time / threads, per band, and the
projected embedding time of the whole corpus (its passages counted per band, divided by each band's rate).
The cosine of every passage's two vectors is checked against 0.9999 (equivalence bar of issue 17).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.corpus.passage_cache import load_passages_cached
from indexer.embedding.factory import load_sentence_transformer_encoder
from indexer.embedding.tokenizer import count_tokens_batch
from indexer.settings import Settings

BANDS = ((0, 64), (64, 128), (128, 256), (256, 1024))
EQUIVALENCE = 0.9999


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def band_of(tokens: int) -> int:
    return next(i for i, (low, high) in enumerate(BANDS) if low <= tokens < high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-band", type=int, default=96, help="passages drawn per length band")
    parser.add_argument("--batch-sizes", default="8", help="batch sizes tried for each backend")
    parser.add_argument("--backends", default="torch,onnx-fp32")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()

    settings = Settings()
    started = time.perf_counter()
    texts = [p.embedding_text() for p in load_passages_cached(settings).passages]
    tokens = count_tokens_batch(texts)
    counts = np.bincount([band_of(t) for t in tokens], minlength=len(BANDS))
    print(
        f"machine: {os.cpu_count()} cores, threads={settings.threads}, load {os.getloadavg()[0]:.1f}; "
        f"corpus: {len(texts)} passages, {sum(tokens)} tokens, read in {time.perf_counter() - started:.0f} s"
    )
    rng = random.Random(args.seed)
    samples = []
    for band, (low, high) in enumerate(BANDS):
        rows = [i for i, t in enumerate(tokens) if low <= t < high]
        samples.append(sorted(rng.sample(rows, min(args.per_band, len(rows)))))
        print(f"  band {low}-{high} tokens: {counts[band]} passages in the corpus, {len(samples[-1])} drawn")

    vectors: dict[str, list[np.ndarray]] = {}
    for backend in args.backends.split(","):
        encoder = load_sentence_transformer_encoder(settings.model_copy(update={"model_backend": backend}))
        encoder.encode_passages([texts[i] for i in samples[0][:8]])  # warm-up
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            projected = 0.0
            cells = []
            vectors[backend] = []
            for band, rows in enumerate(samples):
                wall, cpu = time.perf_counter(), cpu_seconds()
                vectors[backend].append(encoder.encode_passages([texts[i] for i in rows], batch_size=batch))
                wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
                rate = len(rows) / wall
                projected += counts[band] / rate
                cells.append(f"{rate:5.1f}/s ({len(rows) / (cpu / settings.threads):5.1f} by CPU)")
            print(
                f"{backend:9s} batch {batch:2d}: "
                + " | ".join(cells)
                + f" -> whole corpus {projected / 60:.0f} min"
            )
    if len(vectors) == 2:
        first, second = (np.concatenate(v) for v in vectors.values())
        cosine = np.sum(first * second, axis=1)
        verdict = "OK" if cosine.min() >= EQUIVALENCE else "FAIL"
        names = " vs ".join(vectors)
        print(
            f"cosine {names} on {len(cosine)} passages: min {cosine.min():.6f}, mean {cosine.mean():.6f} "
            f"-> {verdict} (bar {EQUIVALENCE})"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
