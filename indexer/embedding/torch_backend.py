"""The sentence-transformers backend (the only module importing it): loading a model folder on the CPU,
its weights hash and prefixes, and resolving `QFQ_MODEL` to a local folder.

Nothing here opens a network connection for the packaged model or a local folder; a hub id is looked up
only when `HF_HUB_OFFLINE` is unset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexer.embedding.base import ModelEncoder, ProgressCallback
from indexer.embedding.packaged.source import PACKAGED_MODEL, PASSAGE_PREFIX, QUERY_PREFIX
from indexer.errors import ModelError
from indexer.files import file_sha256

if TYPE_CHECKING:
    pass

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt", ".pth")


class SentenceTransformerEncoder(ModelEncoder):
    """`Encoder` over a loaded `SentenceTransformer`, adding the model's query / passage prefixes."""

    def __init__(
        self,
        model: Any,
        *,
        model_id: str,
        weights_hash: str,
        batch_size: int,
        query_prefix: str,
        passage_prefix: str,
    ) -> None:
        dim = model.get_embedding_dimension()
        if not dim:
            raise ModelError(
                f"Le modèle {model_id} n'indique pas la dimension de ses vecteurs.",
                code="modele_invalide",
            )
        super().__init__(
            model_id=model_id,
            weights_hash=weights_hash,
            dim=int(dim),
            batch_size=batch_size,
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
        )
        self._model = model

    @property
    def model(self) -> Any:
        """The underlying `SentenceTransformer` (for tests and benchmarks)."""
        return self._model

    def _encode_batch(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return self._encode_batch([self._query_prefix + text for text in texts], self._batch_size)

    def encode_passages(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        size = batch_size or self._batch_size
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        # Longest first (as sentence-transformers does inside one call), one call per batch so that
        # progress can be reported batch by batch.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            out[rows] = self._encode_batch([self._passage_prefix + texts[i] for i in rows], size)
            if progress is not None:
                progress(len(rows))
        return out


def _quiet_transformers() -> None:
    """No progress bars or load reports on the console: the CLI prints its own French messages."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_sentence_transformer_folder(folder: Path, *, threads: int) -> Any:
    """Load a local sentence-transformers folder on the CPU, offline.

    Args:
        folder: the model folder.
        threads: torch intra-op threads.

    Returns:
        The `SentenceTransformer`.

    Raises:
        ModelError: the folder cannot be loaded.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    _quiet_transformers()
    try:
        return SentenceTransformer(str(folder), device="cpu", local_files_only=True, backend="torch")
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelError(
            f"Le modèle du dossier {folder} ne peut pas être chargé : {error}",
            code="modele_illisible",
        ) from error


def folder_weights_hash(folder: Path) -> str:
    """sha256 over the weight files of a model folder (relative names and contents), stable across copies.

    Args:
        folder: the model folder.

    Returns:
        The hex digest.

    Raises:
        ModelError: the folder holds no weight file.
    """
    import hashlib

    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.suffix in _WEIGHT_SUFFIXES and not path.name.startswith(".")
    )
    if not files:
        raise ModelError(f"Aucun fichier de poids dans {folder}.", code="modele_invalide")
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(folder).as_posix()}\n{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def folder_prefixes(folder: Path, model_name: str) -> tuple[str, str]:
    """Query and passage prefixes of a model folder.

    The folder's `config_sentence_transformers.json` prompts win; otherwise e5 models get e5's
    `query: ` / `passage: ` and other models none.

    Args:
        folder: the model folder.
        model_name: the name the user gave (folder path or hub id).

    Returns:
        (query prefix, passage prefix).
    """
    try:
        config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        prompts = config.get("prompts") or {}
    except (OSError, ValueError):
        prompts = {}
    query = prompts.get("query") or ""
    passage = prompts.get("document") or prompts.get("passage") or ""
    if query or passage:
        return query, passage
    if "e5" in model_name.lower():
        return QUERY_PREFIX, PASSAGE_PREFIX
    return "", ""


def resolve_model_folder(name: str) -> tuple[Path, str]:
    """The local folder of `QFQ_MODEL` when it is not the packaged model.

    Args:
        name: a local folder, or a Hugging Face hub id.

    Returns:
        (folder, readable model id).

    Raises:
        ModelError: the folder does not exist, or the hub id is not available (offline or unknown).
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve(), path.resolve().name
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:
        raise ModelError(
            f"Le dossier de modèle {name} n'existe pas. Indiquez dans QFQ_MODEL un dossier "
            f"sentence-transformers existant, un identifiant du hub, ou « {PACKAGED_MODEL} ».",
            code="modele_introuvable",
        )
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(name, local_files_only=offline)
    except Exception as error:  # huggingface_hub raises many kinds of network and lookup errors
        where = "dans le cache local (HF_HUB_OFFLINE est actif)" if offline else "sur le hub"
        raise ModelError(
            f"Le modèle {name} est introuvable {where} : {error}. Sans accès internet, utilisez le "
            f"modèle fourni « {PACKAGED_MODEL} » ou un dossier local.",
            code="modele_introuvable",
        ) from error
    return Path(folder), name
