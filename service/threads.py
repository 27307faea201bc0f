"""Compute-thread policy of the service, importable before numpy or torch load."""

from __future__ import annotations

import os

# Each search runs on one compute thread and up to `settings.threads` searches run at once: on 2 cores,
# two intra-op threads per query encoding measured up to 15 times slower as soon as other processes compete
# for the cores (OpenMP threads wait for each other), while one-thread searches side by side stay steady.
SEARCH_THREADS = 1

# Read by OpenMP, MKL, OpenBLAS and numexpr when they load: set before numpy or torch is imported.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_thread_environment(threads: int = SEARCH_THREADS) -> None:
    """Set the thread-count variables of the numeric libraries, read when they load.

    Args:
        threads: compute threads per search; a first build still embeds with `QFQ_THREADS` torch threads,
            which the encoder sets explicitly.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    # Tokenizers' own pool would compete with the searches for the cores.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
