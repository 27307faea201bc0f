"""Embedding cache: one SQLite file per model, keyed by the sha256 of each passage's embedding text."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexer.embedding.base import Encoder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_CHUNK = 900  # stays under SQLite's bound-parameter limit
_SCAN_FROM = 2000  # from this many keys, read the whole table instead of looking keys up
_BATCHES_PER_CHUNK = 4  # encoder batches embedded, then cached, between two progress updates


def text_hash(text: str) -> str:
    """sha256 hex digest of a text (the cache key within one model's file)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors of passage texts already embedded by one model (model id + weights hash + dimension).

    SQLite in WAL mode with one transaction per batch: an interrupted build loses at most the batch in
    flight and never leaves a torn entry; concurrent builds wait on SQLite's lock.
    """

    def __init__(self, cache_dir: Path, model_id: str, weights_hash: str, dim: int) -> None:
        self.dim = dim
        namespace = hashlib.sha256(f"{model_id}\n{weights_hash}\n{dim}".encode()).hexdigest()[:20]
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / f"embeddings-{namespace}.sqlite"
        self._connection = sqlite3.connect(self.path, timeout=60)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(_SCHEMA)
        with self._connection:
            self._connection.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [("model_id", model_id), ("weights_hash", weights_hash), ("dim", str(dim))],
            )

    @classmethod
    def for_encoder(cls, cache_dir: Path, encoder: Encoder) -> EmbeddingCache:
        """The cache file of `encoder`'s model."""
        return cls(cache_dir, encoder.model_id, encoder.weights_hash, encoder.dim)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors of the given text hashes (missing or malformed entries are left out)."""
        found: dict[str, np.ndarray] = {}
        expected = self.dim * 4
        distinct = list(dict.fromkeys(hashes))
        if len(distinct) >= _SCAN_FROM:
            # One sequential scan beats tens of thousands of key lookups (0.5 s against 3 s for 43k).
            wanted = set(distinct)
            for key, blob in self._connection.execute("SELECT text_hash, vector FROM embeddings"):
                if key in wanted and len(blob) == expected:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
            return found
        for start in range(0, len(distinct), _CHUNK):
            chunk = distinct[start : start + _CHUNK]
            rows_in = self._connection.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE text_hash IN ({', '.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for key, blob in rows_in:
                if len(blob) == expected:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors in one transaction."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._connection:
            self._connection.executemany(
                "INSERT OR REPLACE INTO embeddings (text_hash, vector) VALUES (?, ?)",
                ((h, vectors[i].tobytes()) for i, h in enumerate(hashes)),
            )

    def __len__(self) -> int:
        return int(self._connection.execute("SELECT count(*) FROM embeddings").fetchone()[0])


def embed_with_cache(
    encoder: Encoder,
    texts: Sequence[str],
    cache: EmbeddingCache | None,
    *,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    read_cache: bool = True,
) -> tuple[np.ndarray, int]:
    """Vectors of `texts`, reading the cache first and embedding only the misses, batch by batch.

    Args:
        encoder: the encoder.
        texts: passage embedding texts.
        cache: the model's cache, or None to embed everything.
        batch_size: encoder batch size; every few batches the new vectors are cached and progress reported.
        progress: called with (done, total) after the cache lookup and after each group of batches.
        read_cache: False embeds every text again (new vectors are still written to the cache).

    Returns:
        (vectors of shape (len(texts), dim), number of texts actually embedded).
    """
    total = len(texts)
    out = np.zeros((total, encoder.dim), dtype=np.float32)
    hashes = [text_hash(t) for t in texts]
    cached = cache.get_many(hashes) if cache is not None and read_cache else {}
    missing: dict[str, list[int]] = {}
    for i, key in enumerate(hashes):
        vector = cached.get(key)
        if vector is None:
            missing.setdefault(key, []).append(i)
        else:
            out[i] = vector
    done = total - sum(len(rows) for rows in missing.values())
    if progress is not None:
        progress(done, total)
    # Sorted by length, so that batches of similar lengths waste little padding; the chunks are then taken
    # longest, shortest, second longest..., so that passages/s (and the time left shown) is steady.
    keys = sorted(missing, key=lambda k: -len(texts[missing[k][0]]))
    chunk = batch_size * _BATCHES_PER_CHUNK
    for batch in _alternate([keys[start : start + chunk] for start in range(0, len(keys), chunk)]):
        vectors = np.asarray(
            encoder.encode_passages([texts[missing[k][0]] for k in batch], batch_size=batch_size),
            dtype=np.float32,
        )
        if cache is not None:
            cache.put_many(batch, vectors)
        for key, vector in zip(batch, vectors, strict=True):
            for row in missing[key]:
                out[row] = vector
            done += len(missing[key])
        if progress is not None:
            progress(done, total)
    return out, len(keys)


def _alternate(items: list[list[str]]) -> list[list[str]]:
    """[a, b, c, d, e] -> [a, e, b, d, c]: first and last in turn, towards the middle."""
    out = []
    low, high = 0, len(items) - 1
    while low <= high:
        out.append(items[low])
        if low != high:
            out.append(items[high])
        low, high = low + 1, high - 1
    return out
