"""The loaded index of a running service: loaded in a background thread, readiness, and its failure."""

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

    def close(self) -> None:
        """Close the bundle this state loaded itself."""
        if self.retriever is not None and self._owned:
            self.retriever.bundle.close()
