"""The first run on a fresh machine: answer within minutes, lexically, while the passages are embedded.

`qfq serve` without a published index used to embed the whole corpus (about an hour on 2 cores) before
answering anything. Now it:

1. builds and publishes a lexical-only index (`qfq build --lexical-seulement`: the corpus read, the BM25
   postings and the passage store, no vectors; one to two minutes), and serves it at once, labelled
   (`mode_effectif` « lexical » in the API, a banner on the pages, `/readyz` with the build's progress);
   the curated knowledge answers as usual, its cited articles fused into the lexical ranking;
2. runs the full `qfq build` in a child process at lower priority (`nice`), which embeds the passages
   (resuming from the embedding cache after an interruption) and publishes the hybrid index;
3. switches to that index without a restart: the service's index watcher (`QFQ_RELOAD_SECONDS`) loads the
   newly published generation beside the one serving and swaps them.

A restart while the index is still lexical-only starts the background build again; it resumes where the
last one stopped. The PostgreSQL backend keeps the full build before serving.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.index.progress import ProgressFile, progress_path, read_progress
from service.settings import ServiceSettings

if TYPE_CHECKING:
    from indexer.search.retriever import Retriever

BUILD_NICENESS = 10
_PR_SET_PDEATHSIG = 1
LOG_NAME = "construction.log"


def build_log_path(settings: ServiceSettings) -> Path:
    return settings.data_dir / "logs" / LOG_NAME


def start_background_build(settings: ServiceSettings, only: list[str] | None = None) -> subprocess.Popen:
    """Start the full `qfq build` in a child process, niced, its output in `data/logs/construction.log`.

    The child is stopped when this process exits (an interrupted build resumes from the embedding cache).
    """
    log = build_log_path(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "service", "build"]
    for key in only or []:
        command += ["--only", key]
    with open(log, "ab") as output:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "QFQ_DATA_DIR": str(settings.data_dir),
                "QFQ_CORPUS_DIR": str(settings.corpus_dir),
            },
            preexec_fn=_child_setup,
        )
    # Recorded at once: the child writes its own progress only once its imports are done.
    ProgressFile(progress_path(settings.bundles_dir), pid=child.pid)
    atexit.register(_stop, child)
    return child


def _child_setup() -> None:
    """In the child, before it runs Python: lower its priority, and have Linux stop it if the service dies
    without running its exit handlers (`PR_SET_PDEATHSIG`); the next run resumes from the cache."""
    os.nice(BUILD_NICENESS)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGINT)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


def index_status(retriever: Retriever, settings: ServiceSettings) -> dict[str, Any]:
    """What `/readyz` says of the index serving: its effective mode and, while it has no vectors, the
    progress of the build that embeds the passages (`indexer.index.progress`)."""
    if retriever.has_vectors:
        return {"mode_effectif": "hybrid", "construction": None}
    return {"mode_effectif": "lexical", "construction": read_progress(settings.bundles_dir)}
