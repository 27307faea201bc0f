"""The progress of a running build, in a small JSON file beside the bundles that the service reads.

On a fresh machine the service answers from a lexical-only index while `qfq build` embeds the passages in
another process (see `service.first_run`); `/readyz` and the page show how far that build has gone from
this file. The build writes it (atomically, at most every `WRITE_EVERY` seconds, and at each stage); a
reader checks that the writing process is still alive.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer.files import pid_alive, write_json

PROGRESS_FILE = ".construction.json"  # hidden: the folder otherwise holds bundles and their links
WRITE_EVERY = 2.0

RUNNING = "en_cours"
FINISHED = "terminee"
FAILED = "echec"
INTERRUPTED = "interrompue"


def progress_path(bundles_dir: Path) -> Path:
    return bundles_dir / PROGRESS_FILE


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def embedding_rate(done: int, cached: int, total: int, elapsed: float) -> tuple[float, float] | None:
    """(passages/s, seconds left) of an embedding run that started with `cached` passages already done, or
    None before anything was computed."""
    computed = done - cached
    if elapsed <= 0 or computed <= 0:
        return None
    rate = computed / elapsed
    return rate, (total - done) / rate


class ProgressFile:
    """Written by one build: its stage, passages embedded out of the total, rate and time left."""

    def __init__(self, path: Path, *, clock=time.monotonic, pid: int | None = None) -> None:
        """`pid`: the build's process when another one writes the first record (the service, starting it)."""
        self.path = path
        self._clock = clock
        self._state: dict[str, Any] = {
            "pid": pid or os.getpid(),
            "etat": RUNNING,
            "debut": _now(),
            "etape": "lecture",
            "faits": 0,
            "total": 0,
            "repris_du_cache": 0,
            "passages_par_seconde": None,
            "reste_secondes": None,
            "message": "",
        }
        self._embedding_started: float | None = None
        self._last_write = float("-inf")
        self.write()

    def update(self, stage: str, done: int, total: int) -> None:
        """Record a build progress report (`indexer.index.build.BuildProgress`)."""
        now = self._clock()
        changed = stage != self._state["etape"]
        self._state["etape"] = stage
        if stage == "embeddings":
            if self._embedding_started is None:
                self._embedding_started = now
                self._state["repris_du_cache"] = done
            self._state["faits"], self._state["total"] = done, total
            estimate = embedding_rate(
                done, self._state["repris_du_cache"], total, now - self._embedding_started
            )
            if estimate is not None:
                self._state["passages_par_seconde"] = round(estimate[0], 2)
                self._state["reste_secondes"] = round(estimate[1])
        if changed or done == total or now - self._last_write >= WRITE_EVERY:
            self.write()

    def finish(self, state: str, message: str = "", build_id: str | None = None) -> None:
        """Record the end of the build (`FINISHED` or `FAILED`)."""
        self._state.update({"etat": state, "message": message, "fin": _now(), "reste_secondes": 0})
        if build_id:
            self._state["build_id"] = build_id
        self.write()

    def write(self) -> None:
        self._state["mis_a_jour"] = _now()
        self._last_write = self._clock()
        write_json(self.path, self._state)


def read_progress(bundles_dir: Path) -> dict[str, Any] | None:
    """The last build's progress, or None when no build wrote one; a build whose process is gone while it
    was running is reported `INTERRUPTED`."""
    try:
        data = json.loads(progress_path(bundles_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    if data.get("etat") == RUNNING and (not isinstance(pid, int) or not pid_alive(pid)):
        data["etat"] = INTERRUPTED
    return data
