"""Tests of the embedding cache: hits skip the encoder, interrupted writes keep finished batches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding.fake import FakeEncoder
from indexer.index.embed_cache import EmbeddingCache, embed_with_cache, text_hash


class CountingEncoder(FakeEncoder):
    """FakeEncoder that records the texts it embeds and can fail after some calls."""

    def __init__(self, dim: int = 16, fail_after_calls: int | None = None) -> None:
        super().__init__(dim)
        self.embedded: list[str] = []
        self.calls = 0
        self.fail_after_calls = fail_after_calls

    def encode_passages(self, texts: Sequence[str], *, batch_size=None, progress=None) -> np.ndarray:
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise RuntimeError("simulated crash")
        self.calls += 1
        self.embedded.extend(texts)
        return super().encode_passages(texts, batch_size=batch_size, progress=progress)


def test_second_pass_reads_everything_from_cache(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    texts = [f"texte numéro {i} sur les communes" for i in range(50)]
    with EmbeddingCache.for_encoder(tmp_path, encoder) as cache:
        first, embedded = embed_with_cache(encoder, texts, cache, batch_size=8)
        assert embedded == 50 and len(cache) == 50
        encoder.embedded.clear()
        second, embedded = embed_with_cache(encoder, texts, cache, batch_size=8)
    assert embedded == 0 and encoder.embedded == []
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, FakeEncoder(16).encode_passages(texts), atol=1e-6)


def test_only_changed_texts_are_embedded_again(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    texts = [f"article {i}" for i in range(20)]
    with EmbeddingCache.for_encoder(tmp_path, encoder) as cache:
        embed_with_cache(encoder, texts, cache)
        encoder.embedded.clear()
        changed = [*texts[:19], "article 19 modifié"]
        _, embedded = embed_with_cache(encoder, [*changed, "article 3"], cache)
    assert embedded == 1
    assert encoder.embedded == ["article 19 modifié"]


def test_duplicate_texts_are_embedded_once(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    with EmbeddingCache.for_encoder(tmp_path, encoder) as cache:
        vectors, embedded = embed_with_cache(encoder, ["a b", "c d", "a b"], cache)
    assert embedded == 2
    np.testing.assert_array_equal(vectors[0], vectors[2])


def test_interrupted_run_keeps_finished_batches(tmp_path: Path) -> None:
    texts = [f"passage {i} " + "mot " * (i % 7) for i in range(40)]
    failing = CountingEncoder(fail_after_calls=2)
    with EmbeddingCache.for_encoder(tmp_path, failing) as cache, pytest.raises(RuntimeError):
        embed_with_cache(failing, texts, cache, batch_size=4)
    with EmbeddingCache.for_encoder(tmp_path, failing) as cache:
        # Chunks of four batches of four texts, by length: 16, 16, 8; taken longest, shortest, middle.
        assert len(cache) == 16 + 8
        encoder = CountingEncoder()
        vectors, embedded = embed_with_cache(encoder, texts, cache, batch_size=4)
    assert embedded == 40 - 24
    np.testing.assert_allclose(vectors, FakeEncoder(16).encode_passages(texts), atol=1e-6)


def test_models_do_not_share_entries_and_bad_blobs_are_ignored(tmp_path: Path) -> None:
    small, large = FakeEncoder(16), FakeEncoder(32)
    with EmbeddingCache.for_encoder(tmp_path, small) as a, EmbeddingCache.for_encoder(tmp_path, large) as b:
        assert a.path != b.path
        a.put_many([text_hash("x")], small.encode_passages(["x"]))
        assert b.get_many([text_hash("x")]) == {}
        a._connection.execute("INSERT INTO embeddings VALUES (?, ?)", (text_hash("y"), b"short"))
        a._connection.commit()
        assert set(a.get_many([text_hash("x"), text_hash("y")])) == {text_hash("x")}


def test_progress_reports_cached_then_embedded(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    seen: list[tuple[int, int]] = []
    with EmbeddingCache.for_encoder(tmp_path, encoder) as cache:
        embed_with_cache(encoder, ["a", "b"], cache)
        embed_with_cache(encoder, ["a", "b", "c"], cache, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 3), (3, 3)]


def test_large_lookups_scan_the_table_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import indexer.index.embed_cache as module

    encoder = FakeEncoder(16)
    texts = [f"texte {i}" for i in range(30)]
    with EmbeddingCache.for_encoder(tmp_path, encoder) as cache:
        cache.put_many([text_hash(t) for t in texts[:20]], encoder.encode_passages(texts[:20]))
        wanted = [text_hash(t) for t in texts[10:]]
        by_key = cache.get_many(wanted)
        monkeypatch.setattr(module, "_SCAN_FROM", 1)
        by_scan = cache.get_many(wanted)
    assert set(by_key) == set(by_scan) == {text_hash(t) for t in texts[10:20]}
    for key, vector in by_key.items():
        np.testing.assert_array_equal(vector, by_scan[key])
