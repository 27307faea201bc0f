"""The `Encoder` protocol and the deterministic `FakeEncoder` used by fast unit tests."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from indexer.embedding.base import Encoder, LazyEncoder, SplitEncoder
from indexer.embedding.factory import load_encoder
from indexer.embedding.fake import FakeEncoder
from indexer.embedding.onnx_backend import OnnxEncoder
from indexer.embedding.packaged.prepare import VARIANTS
from indexer.embedding.torch_backend import SentenceTransformerEncoder, folder_prefixes
from indexer.settings import Settings

TEXTS = [
    "Le maire est chargé de la police municipale.",
    "Le conseil municipal règle par ses délibérations les affaires de la commune.",
    "La région est compétente pour organiser les transports scolaires.",
]


def test_fake_encoder_is_deterministic_across_instances() -> None:
    first = FakeEncoder(64).encode_passages(TEXTS)
    second = FakeEncoder(64).encode_passages(TEXTS)
    assert np.array_equal(first, second)
    assert np.array_equal(FakeEncoder(64).encode_queries(TEXTS), first)


def test_fake_encoder_vectors_are_normalised_float32() -> None:
    vectors = FakeEncoder(32).encode_passages([*TEXTS, "", "   "])
    assert vectors.shape == (5, 32)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_fake_encoder_brings_texts_sharing_stems_closer() -> None:
    encoder = FakeEncoder(256)
    query = encoder.encode_queries(["pouvoirs de police du maire"])[0]
    passages = encoder.encode_passages(TEXTS)
    scores = passages @ query
    assert int(np.argmax(scores)) == 0


def test_fake_encoder_reports_progress_and_identity() -> None:
    done: list[int] = []
    FakeEncoder().encode_passages(TEXTS, progress=done.append)
    assert sum(done) == len(TEXTS)
    assert FakeEncoder(64).model_id == "fake-hash-64"
    assert FakeEncoder(64).weights_hash == FakeEncoder(64).weights_hash
    assert FakeEncoder(64).weights_hash != FakeEncoder(32).weights_hash


def test_load_encoder_builds_fakes_from_settings() -> None:
    encoder = load_encoder(Settings(model="fake-48"))
    assert isinstance(encoder, FakeEncoder)
    assert encoder.dim == 48


@pytest.mark.parametrize("cls", [FakeEncoder, SentenceTransformerEncoder, OnnxEncoder])
def test_encoders_match_the_protocol_signatures(cls: type) -> None:
    """Every implementation has the protocol's members with the protocol's call signatures."""
    for name in ("model_id", "weights_hash", "dim"):
        assert isinstance(inspect.getattr_static(cls, name), property), name
    for name in ("encode_queries", "encode_passages"):
        expected = inspect.signature(getattr(Encoder, name))
        actual = inspect.signature(getattr(cls, name))
        assert list(actual.parameters) == list(expected.parameters), name
        for param in expected.parameters.values():
            assert actual.parameters[param.name].kind == param.kind, (name, param.name)
            assert actual.parameters[param.name].default == param.default, (name, param.name)
    assert isinstance(FakeEncoder(), Encoder)


def test_folder_prefixes_prefer_the_folder_prompts(tmp_path) -> None:
    (tmp_path / "config_sentence_transformers.json").write_text(
        '{"prompts": {"query": "Q: ", "document": "D: "}}', encoding="utf-8"
    )
    assert folder_prefixes(tmp_path, "intfloat/multilingual-e5-base") == ("Q: ", "D: ")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert folder_prefixes(empty, "intfloat/multilingual-e5-base") == ("query: ", "passage: ")
    assert folder_prefixes(empty, "sentence-transformers/all-MiniLM-L6-v2") == ("", "")


def test_split_encoder_takes_its_identity_from_the_passage_encoder() -> None:
    passages, queries = FakeEncoder(32), FakeEncoder(32)
    split = SplitEncoder(passages, queries)
    assert isinstance(split, Encoder)
    assert (split.model_id, split.weights_hash, split.dim) == (
        passages.model_id,
        passages.weights_hash,
        32,
    )
    assert np.array_equal(split.encode_queries(["le maire"]), queries.encode_queries(["le maire"]))
    done: list[int] = []
    vectors = split.encode_passages(["la commune", "le département"], progress=done.append)
    assert vectors.shape == (2, 32) and sum(done) == 2
    with pytest.raises(ValueError):
        SplitEncoder(FakeEncoder(32), FakeEncoder(64))


def test_query_backend_setting_is_checked() -> None:
    assert Settings().query_backend == "onnx"
    with pytest.raises(ValueError, match="QFQ_QUERY_BACKEND doit valoir 'onnx-fp32', 'onnx' ou 'torch'"):
        Settings(query_backend="gpu")
    # The backends the settings accept are the folders `qfq model prepare` knows how to write.
    assert {Settings(query_backend=name).query_backend for name in VARIANTS} == set(VARIANTS)
    # A fake model ignores it.
    assert isinstance(load_encoder(Settings(model="fake-16", query_backend="torch")), FakeEncoder)


def test_lazy_encoder_loads_once_on_first_use_and_checks_the_identity() -> None:
    real = FakeEncoder(32)
    loads: list[int] = []

    def load() -> Encoder:
        loads.append(1)
        return real

    lazy = LazyEncoder(load, model_id=real.model_id, weights_hash=real.weights_hash, dim=32)
    split = SplitEncoder(lazy, FakeEncoder(32))
    assert (split.model_id, split.weights_hash, split.dim) == (real.model_id, real.weights_hash, 32)
    split.encode_queries(["le maire"])
    assert not lazy.loaded and loads == []
    vectors = split.encode_passages(["la commune"])
    assert np.array_equal(vectors, real.encode_passages(["la commune"]))
    split.encode_passages(["le département"])
    assert lazy.loaded and loads == [1]
    wrong = LazyEncoder(lambda: FakeEncoder(32), model_id="autre", weights_hash="0" * 64, dim=32)
    with pytest.raises(ValueError, match="not the announced"):
        wrong.encode_passages(["la commune"])
