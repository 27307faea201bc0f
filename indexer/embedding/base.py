"""The `Encoder` protocol and the encoders built from others: identity, lazy loading, split passages/questions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

ProgressCallback = Callable[[int], None]


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape (n, dim)."""

    @property
    def model_id(self) -> str: ...

    @property
    def weights_hash(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray: ...


class EncoderIdentity:
    """What a bundle records of the model behind an encoder: model id, weights hash and dimension."""

    def __init__(self, *, model_id: str, weights_hash: str, dim: int) -> None:
        self._model_id = model_id
        self._weights_hash = weights_hash
        self._dim = dim

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def weights_hash(self) -> str:
        return self._weights_hash

    @property
    def dim(self) -> int:
        return self._dim


class ModelEncoder(EncoderIdentity):
    """Identity, batch size and prefixes of a real model's encoder."""

    def __init__(
        self,
        *,
        model_id: str,
        weights_hash: str,
        dim: int,
        batch_size: int,
        query_prefix: str,
        passage_prefix: str,
    ) -> None:
        super().__init__(model_id=model_id, weights_hash=weights_hash, dim=dim)
        self._batch_size = batch_size
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix


class LazyEncoder(EncoderIdentity):
    """An encoder known by its identity until it first encodes, then loaded once by `load`.

    With `SplitEncoder`, the service encodes only questions and a build only passages: the float32 passage
    model (470 MB of weights, about 10 s with the sentence-transformers import) is loaded only by a build
    that has passages to embed, the ONNX question model (1 to 3 s) only by a search.
    """

    def __init__(self, load: Callable[[], Encoder], *, model_id: str, weights_hash: str, dim: int) -> None:
        super().__init__(model_id=model_id, weights_hash=weights_hash, dim=dim)
        self._load = load
        self._loaded: Encoder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def encoder(self) -> Encoder:
        """The loaded encoder (loading it on first call); its identity must be the announced one."""
        with self._lock:
            if self._loaded is None:
                encoder = self._load()
                if (encoder.model_id, encoder.weights_hash, encoder.dim) != (
                    self.model_id,
                    self.weights_hash,
                    self.dim,
                ):
                    raise ValueError(
                        f"loaded encoder {encoder.model_id} ({encoder.weights_hash[:12]}, {encoder.dim}) is not "
                        f"the announced {self.model_id} ({self.weights_hash[:12]}, {self.dim})"
                    )
                self._loaded = encoder
            return self._loaded

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder().encode_queries(texts)

    def encode_passages(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        return self.encoder().encode_passages(texts, batch_size=batch_size, progress=progress)


class SplitEncoder:
    """Passages with one encoder, questions with another (a faster variant of the same weights).

    The index records the passage encoder's model id and weights hash, so a bundle built with the float32
    torch model is served with int8 ONNX question vectors (cosine >= 0.998 to float32; nDCG@10 on the
    public gold set within 0.01, see README).
    """

    def __init__(self, passages: Encoder, queries: Encoder) -> None:
        if passages.dim != queries.dim:
            raise ValueError("the two encoders must give vectors of the same dimension")
        self.passages = passages
        self.queries = queries

    @property
    def model_id(self) -> str:
        return self.passages.model_id

    @property
    def weights_hash(self) -> str:
        return self.passages.weights_hash

    @property
    def dim(self) -> int:
        return self.passages.dim

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.queries.encode_queries(texts)

    def encode_passages(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        return self.passages.encode_passages(texts, batch_size=batch_size, progress=progress)
