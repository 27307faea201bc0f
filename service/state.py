"""The loaded index of a running service: loaded in a background thread, readiness, its failure, and the
swap to a newly published index without a restart."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from indexer.errors import QfqError
from indexer.search.retriever import Retriever

logger = logging.getLogger("qfq.service")

RetrieverLoader = Callable[[], Retriever]
GenerationSource = Callable[[], str | None]  # the id of the generation published now (None: none)
RETIRE_AFTER_SECONDS = (
    60.0  # an index replaced is closed this long after the swap: requests in flight end on it
)


class IndexState:
    """Holds the retriever once loaded; `/readyz` and the search routes read it."""

    def __init__(self) -> None:
        self.retriever: Retriever | None = None
        self.error: QfqError | None = None
        self.loaded_at: str = ""
        self.load_seconds: float = 0.0
        self.loaded = threading.Event()  # set when loading ends, successfully or not
        self._owned = False  # loaded here (closed on shutdown), not handed in by a caller
        self._thread: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self._retired: list[tuple[float, Retriever]] = []
        self._failed_generation: str | None = None
        self.swaps = 0

    @property
    def ready(self) -> bool:
        return self.retriever is not None

    def set(self, retriever: Retriever) -> None:
        """Install a loaded retriever (tests and the loader)."""
        self.retriever = retriever
        self.error = None
        self.loaded_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.loaded.set()

    def load(self, loader: RetrieverLoader) -> None:
        """Run `loader` now, recording the retriever or the French error."""
        started = time.perf_counter()
        try:
            retriever = loader()
            retriever.warm_up()
        except QfqError as exc:
            logger.error("index non chargé (%s) : %s", exc.code, exc.message)
            self.error = exc
            self.loaded.set()
            return
        except Exception as exc:
            logger.exception("index non chargé : erreur inattendue")
            self.error = QfqError(f"Chargement de l'index impossible : {exc}", code="index_indisponible")
            self.loaded.set()
            return
        self.load_seconds = time.perf_counter() - started
        self._owned = True
        self.set(retriever)
        logger.info(
            "index %s chargé en %.1f s (%d passages)",
            retriever.build_id,
            self.load_seconds,
            retriever.manifest.get("counts", {}).get("passages", 0),
        )

    def start_loading(self, loader: RetrieverLoader) -> None:
        """Load in a daemon thread so the process answers `/livez` (and `/readyz` 503) meanwhile."""
        self._thread = threading.Thread(
            target=self.load, args=(loader,), name="qfq-index-loader", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for loading to end; True when a retriever is ready."""
        self.loaded.wait(timeout)
        return self.ready

    def watch(
        self,
        source: GenerationSource,
        loader: RetrieverLoader,
        interval: float,
        retire_after: float = RETIRE_AFTER_SECONDS,
    ) -> None:
        """Check every `interval` seconds for a newly published generation and switch to it.

        The new index is loaded and warmed up beside the one serving, then replaces it in one assignment:
        a request reads `retriever` once, so it ends on the index it started with. The old one is closed
        `retire_after` seconds later. A generation that fails to load is logged and not retried until another
        one is published; the index serving stays.
        """
        if interval <= 0 or self._watcher is not None:
            return
        self._watcher = threading.Thread(
            target=self._watch,
            args=(source, loader, interval, retire_after),
            name="qfq-index-watcher",
            daemon=True,
        )
        self._watcher.start()

    def _watch(
        self, source: GenerationSource, loader: RetrieverLoader, interval: float, retire_after: float
    ) -> None:
        while not self._stop.wait(interval):
            self._close_retired(retire_after)
            try:
                published = source()
            except (OSError, QfqError) as exc:  # a database unreachable for a while: keep serving
                logger.warning("index publié non vérifié : %s", getattr(exc, "message", exc))
                continue
            serving = self.retriever.build_id if self.retriever is not None else None
            if published is None or published == serving or published == self._failed_generation:
                continue
            if self.retriever is None and not self.loaded.is_set():
                continue  # the first load is still running
            self._swap(published, loader)

    def _swap(self, published: str, loader: RetrieverLoader) -> None:
        started = time.perf_counter()
        try:
            fresh = loader()
            fresh.warm_up()
        except Exception as exc:  # a bad generation must never stop the one serving
            self._failed_generation = published
            message = exc.message if isinstance(exc, QfqError) else str(exc)
            logger.error("nouvel index %s non chargé, l'index en service reste : %s", published, message)
            return
        old, owned = self.retriever, self._owned
        self._owned = True
        self.set(fresh)
        self.load_seconds = time.perf_counter() - started
        self.swaps += 1
        self._failed_generation = None
        if old is not None and owned:
            self._retired.append((time.monotonic(), old))
        logger.info("index %s en service (remplace %s)", fresh.build_id, old.build_id if old else "aucun")

    def _close_retired(self, after: float) -> None:
        now = time.monotonic()
        keep = []
        for since, retriever in self._retired:
            if now - since >= after:
                retriever.bundle.close()
            else:
                keep.append((since, retriever))
        self._retired = keep

    def close(self) -> None:
        """Stop watching; close the bundles this state loaded itself."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(5)
        self._close_retired(0.0)
        if self.retriever is not None and self._owned:
            self.retriever.bundle.close()
