"""A deterministic fake encoder for unit tests (and `QFQ_MODEL=fake-N`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from indexer.embedding.base import ProgressCallback
from indexer.text.normalize import analyze


class FakeEncoder:
    """Deterministic hashed bag-of-stems encoder: fast, offline, good enough for unit tests.

    Texts that share stems get close vectors, so retrieval tests still mean something.
    """

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim

    @property
    def model_id(self) -> str:
        return f"fake-hash-{self._dim}"

    @property
    def weights_hash(self) -> str:
        return hashlib.sha256(self.model_id.encode()).hexdigest()

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in analyze(text):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                slot = int.from_bytes(digest[:4], "little") % self._dim
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, slot] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        vectors = self._encode(texts)
        if progress is not None:
            progress(len(texts))
        return vectors
