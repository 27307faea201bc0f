"""Benchmark: parse the whole corpus into passages; prints wall time, passages and peak memory."""

from __future__ import annotations

import argparse
import resource
import time

from indexer.corpus.passages import load_passages
from indexer.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: QFQ_THREADS)")
    args = parser.parse_args()
    settings = Settings()
    started = time.perf_counter()
    result = load_passages(settings, workers=args.workers)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"documents            {len(result.documents)} ({len(result.problems)} problems)")
    print(f"articles             {sum(result.articles_per_document.values())}")
    print(f"passages             {len(result.passages)} {dict(result.by_status())}")
    own_cpu = resource.getrusage(resource.RUSAGE_SELF)
    child_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own_cpu.ru_utime + own_cpu.ru_stime + child_cpu.ru_utime + child_cpu.ru_stime
    print(f"wall time            {seconds:.1f} s")
    print(f"CPU time             {cpu:.1f} s (all processes; wall ≈ CPU / workers on an idle machine)")
    print(f"peak RSS             {own:.0f} MiB (main), {children:.0f} MiB (largest worker)")


if __name__ == "__main__":
    main()
