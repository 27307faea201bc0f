"""A published index bundle: its files, which one is current, and loading it with verification."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

from indexer.embedding.base import Encoder
from indexer.errors import BundleError
from indexer.files import sha256_file
from indexer.index.lexical import (
    LexicalIndex,
)
from indexer.index.store import PassageStore
from indexer.index.vectors import FaissIndex, load_index, set_threads
from indexer.settings import Settings

FORMAT_VERSION = 1


MANIFEST_FILE = "manifest.json"
# The manifest's own sha256, kept beside it: the manifest holds the artifacts' hashes, not its own.
MANIFEST_SIGNATURE_FILE = "manifest.sha256"


STORE_FILE = "passages.sqlite"


VECTORS_FILE = "vectors.faiss"


LEXICAL_FILE = "lexical.npz"


ARTIFACTS = (STORE_FILE, VECTORS_FILE, LEXICAL_FILE)

# `vector_index.kind` of a lexical-only bundle: published first on a fresh machine, while the passages
# are embedded in the background (see `service.first_run`); it holds no vectors file.
NO_VECTORS = "aucun"


def has_vectors(manifest: Mapping[str, Any]) -> bool:
    """False for a lexical-only bundle (no vector index yet)."""
    return (manifest.get("vector_index") or {}).get("kind") != NO_VECTORS


def artifact_names(vectors: bool) -> tuple[str, ...]:
    """The artifact files of a bundle with or without vectors."""
    return ARTIFACTS if vectors else (STORE_FILE, LEXICAL_FILE)


def artifacts_of(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """The artifact files a bundle with this manifest holds."""
    return artifact_names(has_vectors(manifest))


CURRENT_LINK = "current"


PREVIOUS_LINK = "previous"


class ModelInfo(TypedDict):
    """The model whose vectors the bundle holds; a reader refuses another one."""

    id: str
    weights_hash: str
    dimension: int
    normalisation: str
    setting: str
    backend: str
    max_passage_tokens: int


class VectorIndexInfo(TypedDict):
    kind: str
    metric: str
    ntotal: int


class LexicalInfo(TypedDict):
    engine: str
    analyzer: str
    fts_tokenizer: str
    fields: list[str]
    field_weights: dict[str, float]


class Counts(TypedDict):
    passages: int
    articles: int
    documents: int
    by_status: dict[str, int]
    by_document: dict[str, int]


class CorpusInfo(TypedDict):
    manifest_sha256: str
    only: list[str] | None
    documents: list[dict[str, Any]]


class EmbeddingInfo(TypedDict):
    embedded: int
    from_cache: int
    seconds: float


class ArtifactInfo(TypedDict):
    sha256: str
    bytes: int


class BundleManifest(TypedDict):
    """`manifest.json`: what a bundle holds and how it was built, with the sha256 of each artifact.

    Read from disk it is untrusted: readers check its fields before use (`load_bundle`).
    """

    format_version: int
    build_id: str
    built_at: str
    build_seconds: float
    model: ModelInfo
    vector_index: VectorIndexInfo
    lexical: LexicalInfo
    counts: Counts
    corpus: CorpusInfo
    taxonomy_version: str | None
    embedding: EmbeddingInfo
    artifacts: dict[str, ArtifactInfo]


@dataclass
class Bundle:
    """A loaded, verified bundle: its manifest, passage store, vector index and lexical postings."""

    path: Path
    manifest: BundleManifest
    store: PassageStore
    index: FaissIndex | None  # None: a lexical-only bundle
    lexical: LexicalIndex

    @property
    def build_id(self) -> str:
        return str(self.manifest["build_id"])

    def close(self) -> None:
        self.store.close()


def link_target(bundles_dir: Path, link_name: str) -> str | None:
    link = bundles_dir / link_name
    if not link.is_symlink():
        return None
    target = os.readlink(link)
    return target if (bundles_dir / target).is_dir() else None


def current_bundle_path(settings: Settings) -> Path:
    """Folder of the published bundle.

    Raises:
        BundleError: nothing is published (code `index_absent`).
    """
    bundles_dir = settings.bundles_dir
    target = link_target(bundles_dir, CURRENT_LINK)
    if target is None:
        raise BundleError(
            f"Aucun index publié dans {bundles_dir}. Construisez-le avec « qfq build ».",
            code="index_absent",
        )
    return bundles_dir / target


def sign_manifest(folder: Path) -> None:
    """Write `manifest.sha256` for the folder's `manifest.json` (after the manifest, before publication)."""
    signature = folder / MANIFEST_SIGNATURE_FILE
    signature.write_text(f"{sha256_file(folder / MANIFEST_FILE)}  {MANIFEST_FILE}\n", encoding="utf-8")


def _check_signature(folder: Path, raw: bytes) -> None:
    signature = folder / MANIFEST_SIGNATURE_FILE
    try:
        recorded = signature.read_text(encoding="utf-8").split()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        recorded = ""
    if recorded != hashlib.sha256(raw).hexdigest():
        raise BundleError(
            f"Le manifeste de l'index {folder} a été modifié ou n'est pas signé ({MANIFEST_SIGNATURE_FILE} "
            "absent ou différent). Reconstruisez l'index avec « qfq build » (les embeddings déjà calculés "
            "sont repris du cache) ou revenez au précédent avec « qfq index rollback ».",
            code="index_corrompu",
            details={"fichier": MANIFEST_FILE},
        )


def read_manifest(folder: Path) -> BundleManifest:
    """The manifest of a bundle folder, verified against its signature (`manifest.sha256`).

    Raises:
        BundleError: missing, unsigned, altered or unreadable manifest (code `index_corrompu`).
    """
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(
            f"L'index {folder} n'a pas de {MANIFEST_FILE} : il est incomplet. Reconstruisez-le avec "
            "« qfq build ».",
            code="index_corrompu",
        )
    try:
        raw = path.read_bytes()
        _check_signature(folder, raw)
        manifest = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"Le fichier {path} est illisible ({exc}). Reconstruisez l'index avec « qfq build ».",
            code="index_corrompu",
        ) from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"Le fichier {path} n'est pas un manifeste d'index.", code="index_corrompu")
    return cast(BundleManifest, manifest)


def check_compatible(manifest: BundleManifest, settings: Settings, encoder: Encoder | None) -> None:
    """Refuse an index of another format version or built for another model than `encoder` or the settings'.

    Raises:
        BundleError: code `index_incompatible`, with a French message.
    """
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"Format d'index {version} non pris en charge (attendu : {FORMAT_VERSION}). "
            "Reconstruisez l'index avec « qfq build ».",
            code="index_incompatible",
        )
    model = manifest.get("model") or {}
    expected: dict[str, Any]
    if encoder is not None:
        expected = {"id": encoder.model_id, "weights_hash": encoder.weights_hash, "dimension": encoder.dim}
    else:
        expected = {"setting": settings.model}
    labels = {
        "id": "modèle",
        "weights_hash": "empreinte des poids",
        "dimension": "dimension",
        "setting": "modèle",
    }
    for key, value in expected.items():
        if model.get(key) != value:
            raise BundleError(
                f"L'index a été construit pour un autre modèle ({labels[key]} : {model.get(key)!r}, "
                f"attendu : {value!r}). Reconstruisez l'index avec « qfq build » ou corrigez QFQ_MODEL.",
                code="index_incompatible",
                details={"champ": key, "index": model.get(key), "attendu": value},
            )


def _check_artifacts(folder: Path, manifest: BundleManifest, verify_hashes: bool) -> None:
    artifacts = manifest.get("artifacts") or {}
    for name in artifacts_of(manifest):
        entry = artifacts.get(name)
        path = folder / name
        if not isinstance(entry, dict) or not path.is_file():
            raise BundleError(
                f"Fichier {name} absent de l'index {folder}. Reconstruisez-le avec « qfq build ».",
                code="index_corrompu",
            )
        if path.stat().st_size != entry.get("bytes") or (
            verify_hashes and sha256_file(path) != entry.get("sha256")
        ):
            raise BundleError(
                f"Le fichier {name} de l'index {folder} a été modifié ou est abîmé (empreinte sha256 "
                "différente du manifeste). Reconstruisez l'index avec « qfq build » ou revenez au "
                "précédent avec « qfq index rollback ».",
                code="index_corrompu",
                details={"fichier": name},
            )


def load_bundle(
    settings: Settings,
    path: Path | None = None,
    *,
    encoder: Encoder | None = None,
    verify_hashes: bool = True,
) -> Bundle:
    """Open and verify a bundle (the published one by default).

    Args:
        settings: the settings (bundles_dir, model, threads).
        path: a bundle folder; None for the published bundle.
        encoder: when given, its model id, weights hash and dimension must match the manifest; otherwise
            the manifest's model setting must equal `settings.model`.
        verify_hashes: check the sha256 of every artifact (sizes are always checked).

    Returns:
        The loaded bundle.

    Raises:
        BundleError: `index_absent`, `index_corrompu` or `index_incompatible`, with a French message.
    """
    folder = path if path is not None else current_bundle_path(settings)
    if not folder.is_dir():
        raise BundleError(f"Dossier d'index introuvable : {folder}.", code="index_absent")
    manifest = read_manifest(folder)
    check_compatible(manifest, settings, encoder)
    _check_artifacts(folder, manifest, verify_hashes)
    set_threads(settings.threads)
    vector_meta = manifest.get("vector_index") or {}
    index = (
        load_index(folder / VECTORS_FILE, str(vector_meta.get("kind", "flat")), threads=settings.threads)
        if has_vectors(manifest)
        else None
    )
    try:
        lexical = LexicalIndex.load(folder / LEXICAL_FILE)
    except (OSError, ValueError, KeyError) as exc:
        raise BundleError(
            f"Le fichier {LEXICAL_FILE} de l'index {folder} est illisible : {exc}", code="index_corrompu"
        ) from exc
    store = PassageStore(folder / STORE_FILE)
    counts = manifest.get("counts") or {}
    found = {
        "passages (manifeste)": counts.get("passages"),
        "passages (base)": store.count(),
        "lignes lexicales": lexical.n_rows,
    }
    dimension = (manifest.get("model") or {}).get("dimension")
    if index is not None:
        found["vecteurs"] = index.ntotal
    if len(set(found.values())) != 1 or (index is not None and index.dim != dimension):
        store.close()
        detail = ", ".join(f"{k} = {v}" for k, v in found.items())
        dims = f", dimension {index.dim} / {dimension}" if index is not None else ""
        raise BundleError(
            f"L'index {folder} est incohérent ({detail}{dims}). Reconstruisez-le avec « qfq build ».",
            code="index_corrompu",
        )
    return Bundle(path=folder, manifest=manifest, store=store, index=index, lexical=lexical)
