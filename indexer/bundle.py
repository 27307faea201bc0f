"""Index bundles: build into a temporary folder, publish atomically, verify on load, roll back."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embed_cache import EmbeddingCache, embed_with_cache
from indexer.encoder import Encoder
from indexer.errors import BundleError
from indexer.lexical import (
    DEFAULT_FIELD_WEIGHTS,
    FIELDS,
    LexicalIndex,
    build_lexical_index,
    passage_field_texts,
)
from indexer.models import Document, Passage
from indexer.settings import Settings
from indexer.store import FTS_TOKENIZER, PassageStore, write_store
from indexer.vector_index import INDEX_KINDS, FaissIndex, build_index, load_index, set_threads

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
STORE_FILE = "passages.sqlite"
VECTORS_FILE = "vectors.faiss"
LEXICAL_FILE = "lexical.npz"
ARTIFACTS = (STORE_FILE, VECTORS_FILE, LEXICAL_FILE)
CURRENT_LINK = "current"
PREVIOUS_LINK = "previous"
LOCK_FILE = ".build.lock"
TMP_PREFIX = ".tmp-"
KEEP_BUNDLES = 2  # the published bundle and the previous one, for rollback

BuildProgress = Callable[[str, int, int], None]
"""Called with (stage, done, total); stages: embeddings, index, store, lexical, manifest, publish."""

# Test hook: called with a stage name at each step of a build ("index_written", "store_written",
# "lexical_written", "manifest_written", "renamed", "published"). The crash test sets it in a child process
# to stop the build midway and SIGKILL it.
build_hook: Callable[[str], None] | None = None


@dataclass
class Bundle:
    """A loaded, verified bundle: its manifest, passage store, vector index and lexical postings."""

    path: Path
    manifest: dict[str, Any]
    store: PassageStore
    index: FaissIndex
    lexical: LexicalIndex

    @property
    def build_id(self) -> str:
        return str(self.manifest["build_id"])

    def close(self) -> None:
        self.store.close()


def _hook(stage: str) -> None:
    if build_hook is not None:
        build_hook(stage)


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _build_lock(bundles_dir: Path) -> Iterator[None]:
    bundles_dir.mkdir(parents=True, exist_ok=True)
    with open(bundles_dir / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BundleError(
                f"Une autre construction d'index est en cours dans {bundles_dir}. "
                "Attendez sa fin avant d'en lancer une nouvelle.",
                code="construction_en_cours",
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale_temporaries(bundles_dir: Path) -> None:
    # Called under the build lock: any temporary folder left is from a crashed build.
    for child in bundles_dir.glob(f"{TMP_PREFIX}*"):
        shutil.rmtree(child, ignore_errors=True)
    for link_name in (CURRENT_LINK, PREVIOUS_LINK):
        for staging in bundles_dir.glob(f".{link_name}.*"):
            staging.unlink(missing_ok=True)


def _corpus_manifest_hash(settings: Settings) -> str:
    path = settings.manifest_path
    return sha256_file(path) if path.is_file() else ""


def _taxonomy_version() -> str | None:
    try:
        from indexer.tagging import load_taxonomy

        return load_taxonomy().version or None
    except (ImportError, OSError, KeyError, ValueError):
        return None


def _document_summaries(documents: Sequence[Document], passages: Sequence[Passage]) -> list[dict[str, Any]]:
    per_doc: dict[str, list[Passage]] = {}
    for passage in passages:
        per_doc.setdefault(passage.doc_key, []).append(passage)
    known = {d.key for d in documents}
    unknown = sorted(set(per_doc) - known)
    if unknown:
        raise BundleError(
            f"Des passages citent des documents absents du manifeste du corpus : {', '.join(unknown)}.",
            code="document_inconnu",
        )
    summaries = []
    for document in documents:
        items = per_doc.get(document.key, [])
        if not items:
            continue
        summaries.append(
            {
                "key": document.key,
                "title": document.title,
                "short_name": document.short_name,
                "kind": document.kind,
                "official_id": document.official_id,
                "url": document.url,
                "format": document.format,
                "version_date": document.version_date,
                "head_version_date": document.head_version_date,
                "source": document.source,
                "licence": document.licence,
                "passages": len(items),
                "articles": len({p.article for p in items}),
                "by_status": dict(sorted(Counter(str(p.status) for p in items).items())),
            }
        )
    return summaries


def _new_build_id(bundles_dir: Path, fingerprint: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    build_id = f"{stamp}-{fingerprint[:8]}"
    suffix = 1
    while (bundles_dir / build_id).exists():
        suffix += 1
        build_id = f"{stamp}-{fingerprint[:8]}-{suffix}"
    return build_id


def build_bundle(
    settings: Settings,
    passages: Sequence[Passage],
    documents: Sequence[Document],
    encoder: Encoder,
    progress: BuildProgress | None = None,
    *,
    index_kind: str = "flat",
    only: Sequence[str] | None = None,
    publish_bundle: bool = True,
    use_cache: bool = True,
    fields: Sequence[Mapping[str, str | Sequence[str]]] | None = None,
) -> Path:
    """Embed passages, write a bundle in a temporary folder and publish it atomically.

    Args:
        settings: the process settings (bundles_dir, cache_dir, threads, batch_size).
        passages: the passages, in the order that becomes their vector ids.
        documents: the corpus documents (those without passages are left out of the manifest).
        encoder: the passage encoder.
        progress: optional `BuildProgress` callback.
        index_kind: "flat" (exact, default), "hnsw" or "ivf".
        only: document keys when building a subset (recorded in the manifest).
        publish_bundle: False leaves the finished bundle unpublished in bundles_dir/<build_id>.
        use_cache: False embeds every passage again (the cache is still filled).
        fields: the passages' lexical fields when already analysed (see `indexer.passage_cache`);
            computed with `indexer.lexical.passage_field_texts` otherwise.

    Returns:
        The folder of the new bundle.

    Raises:
        BundleError: no passages, duplicate passage ids, unknown documents, or another build running.
    """
    if fields is not None and len(fields) != len(passages):
        raise ValueError("fields must have one entry per passage")
    if index_kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {index_kind!r}")
    if not passages:
        raise BundleError("Aucun passage à indexer : le corpus sélectionné est vide.", code="corpus_vide")
    duplicates = [pid for pid, n in Counter(p.id for p in passages).items() if n > 1]
    if duplicates:
        raise BundleError(
            f"Identifiants de passage en double : {', '.join(sorted(duplicates)[:10])}.",
            code="passages_dupliques",
        )
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    report = progress or (lambda stage, done, total: None)
    summaries = _document_summaries(documents, passages)
    bundles_dir = settings.bundles_dir
    set_threads(settings.threads)
    with _build_lock(bundles_dir):
        _remove_stale_temporaries(bundles_dir)
        fingerprint = hashlib.sha256(
            "\n".join([encoder.weights_hash, *sorted(p.id for p in passages)]).encode()
        ).hexdigest()
        build_id = _new_build_id(bundles_dir, fingerprint)
        tmp = bundles_dir / f"{TMP_PREFIX}{build_id}"
        tmp.mkdir()
        try:
            embed_started = time.perf_counter()
            vectors, embedded = _embed(settings, encoder, passages, use_cache, report)
            embed_seconds = time.perf_counter() - embed_started
            index = _write_artifacts(
                tmp, settings, passages, fields, summaries, vectors, index_kind, build_id, report
            )
            report("manifest", 0, 0)
            manifest = _manifest(
                settings,
                encoder,
                passages,
                summaries,
                build_id=build_id,
                index=index,
                only=only,
                started_at=started_at,
                seconds=time.perf_counter() - started,
                embedded=embedded,
                embed_seconds=embed_seconds,
                folder=tmp,
            )
            _write_json(tmp / MANIFEST_FILE, manifest)
            for name in (*ARTIFACTS, MANIFEST_FILE):
                _fsync_file(tmp / name)
            _fsync_dir(tmp)
            _hook("manifest_written")
            final = bundles_dir / build_id
            os.rename(tmp, final)
            _fsync_dir(bundles_dir)
            _hook("renamed")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if publish_bundle:
            report("publish", 0, 0)
            publish(settings, final)
            _hook("published")
    return final


def _embed(
    settings: Settings,
    encoder: Encoder,
    passages: Sequence[Passage],
    use_cache: bool,
    report: BuildProgress,
) -> tuple[np.ndarray, int]:
    with EmbeddingCache.for_encoder(settings.cache_dir, encoder) as cache:
        return embed_with_cache(
            encoder,
            [p.embedding_text() for p in passages],
            cache,
            read_cache=use_cache,
            batch_size=settings.batch_size,
            progress=lambda done, total: report("embeddings", done, total),
        )


def _write_artifacts(
    folder: Path,
    settings: Settings,
    passages: Sequence[Passage],
    fields: Sequence[Mapping[str, str | Sequence[str]]] | None,
    summaries: list[dict[str, Any]],
    vectors: np.ndarray,
    index_kind: str,
    build_id: str,
    report: BuildProgress,
) -> FaissIndex:
    """Write the vector index, the passage store and the lexical postings into `folder`."""
    report("index", 0, 0)
    index = build_index(vectors, index_kind, threads=settings.threads)
    index.save(folder / VECTORS_FILE)
    _hook("index_written")
    report("store", 0, 0)
    if fields is None:
        fields = [passage_field_texts(p) for p in passages]
    write_store(
        folder / STORE_FILE,
        passages,
        fields,
        summaries,
        meta={"build_id": build_id, "format_version": str(FORMAT_VERSION)},
    )
    _hook("store_written")
    report("lexical", 0, 0)
    build_lexical_index(fields, DEFAULT_FIELD_WEIGHTS).save(folder / LEXICAL_FILE)
    _hook("lexical_written")
    return index


def _manifest(
    settings: Settings,
    encoder: Encoder,
    passages: Sequence[Passage],
    summaries: list[dict[str, Any]],
    *,
    build_id: str,
    index: FaissIndex,
    only: Sequence[str] | None,
    started_at: datetime,
    seconds: float,
    embedded: int,
    embed_seconds: float,
    folder: Path,
) -> dict[str, Any]:
    artifacts = {
        name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size}
        for name in ARTIFACTS
    }
    return {
        "format_version": FORMAT_VERSION,
        "build_id": build_id,
        "built_at": started_at.isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "model": {
            "id": encoder.model_id,
            "weights_hash": encoder.weights_hash,
            "dimension": encoder.dim,
            "normalisation": "l2",
            "setting": settings.model,
            "backend": settings.model_backend,
            "max_passage_tokens": settings.max_passage_tokens,
        },
        "vector_index": {"kind": index.kind, "metric": "inner_product", "ntotal": index.ntotal},
        "lexical": {
            "engine": "bm25 (FTS5 formula), numpy postings",
            "analyzer": "indexer.textnorm.analyze: minuscules, accents repliés, mots vides, Snowball français",
            "fts_tokenizer": FTS_TOKENIZER,
            "fields": list(FIELDS),
            "field_weights": DEFAULT_FIELD_WEIGHTS,
        },
        "counts": {
            "passages": len(passages),
            "articles": len({p.article_id for p in passages}),
            "documents": len(summaries),
            "by_status": dict(sorted(Counter(str(p.status) for p in passages).items())),
            "by_document": {s["key"]: s["passages"] for s in summaries},
        },
        "corpus": {
            "manifest_sha256": _corpus_manifest_hash(settings),
            "only": sorted(only) if only else None,
            "documents": summaries,
        },
        "taxonomy_version": _taxonomy_version(),
        "embedding": {
            "embedded": embedded,
            "from_cache": len(passages) - embedded,
            "seconds": round(embed_seconds, 3),
        },
        "artifacts": artifacts,
    }


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _point(bundles_dir: Path, link_name: str, target: str) -> None:
    link = bundles_dir / link_name
    staging = bundles_dir / f".{link_name}.{os.getpid()}"
    if staging.is_symlink() or staging.exists():
        staging.unlink()
    os.symlink(target, staging)
    os.replace(staging, link)


def _target(bundles_dir: Path, link_name: str) -> str | None:
    link = bundles_dir / link_name
    if not link.is_symlink():
        return None
    target = os.readlink(link)
    return target if (bundles_dir / target).is_dir() else None


def publish(settings: Settings, folder: Path) -> None:
    """Make `folder` (a finished bundle inside bundles_dir) the current bundle, atomically.

    The previous current bundle becomes `previous` (for rollback); older bundles are removed.

    Args:
        settings: the settings (bundles_dir).
        folder: the bundle folder, a direct child of bundles_dir.
    """
    bundles_dir = settings.bundles_dir
    if folder.parent.resolve() != bundles_dir.resolve():
        raise ValueError(f"{folder} is not inside {bundles_dir}")
    old = _target(bundles_dir, CURRENT_LINK)
    if old is not None and old != folder.name:
        _point(bundles_dir, PREVIOUS_LINK, old)
    _point(bundles_dir, CURRENT_LINK, folder.name)
    _fsync_dir(bundles_dir)
    _prune(bundles_dir)


def _prune(bundles_dir: Path) -> None:
    # Keeps KEEP_BUNDLES folders: the current bundle and the previous one.
    keep = {_target(bundles_dir, CURRENT_LINK), _target(bundles_dir, PREVIOUS_LINK)}
    for folder in bundles_dir.iterdir():
        if folder.is_symlink() or not folder.is_dir() or folder.name.startswith("."):
            continue
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def rollback(settings: Settings) -> str:
    """Switch `current` back to the previous bundle (and `previous` to the one that was current).

    Returns:
        The build id now current.

    Raises:
        BundleError: no previous bundle (code `retour_impossible`).
    """
    bundles_dir = settings.bundles_dir
    with _build_lock(bundles_dir):
        previous = _target(bundles_dir, PREVIOUS_LINK)
        current = _target(bundles_dir, CURRENT_LINK)
        if previous is None:
            raise BundleError(
                f"Aucun index précédent dans {bundles_dir} : retour arrière impossible.",
                code="retour_impossible",
            )
        load_bundle(settings, bundles_dir / previous).close()
        _point(bundles_dir, CURRENT_LINK, previous)
        if current is not None:
            _point(bundles_dir, PREVIOUS_LINK, current)
        _fsync_dir(bundles_dir)
        return previous


def current_bundle_path(settings: Settings) -> Path:
    """Folder of the published bundle.

    Raises:
        BundleError: nothing is published (code `index_absent`).
    """
    bundles_dir = settings.bundles_dir
    target = _target(bundles_dir, CURRENT_LINK)
    if target is None:
        raise BundleError(
            f"Aucun index publié dans {bundles_dir}. Construisez-le avec « qfq build ».",
            code="index_absent",
        )
    return bundles_dir / target


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a bundle folder.

    Raises:
        BundleError: missing or unreadable manifest (code `index_corrompu`).
    """
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(
            f"L'index {folder} n'a pas de {MANIFEST_FILE} : il est incomplet. Reconstruisez-le avec "
            "« qfq build ».",
            code="index_corrompu",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"Le fichier {path} est illisible ({exc}). Reconstruisez l'index avec « qfq build ».",
            code="index_corrompu",
        ) from exc
    if not isinstance(manifest, dict):
        raise BundleError(f"Le fichier {path} n'est pas un manifeste d'index.", code="index_corrompu")
    return manifest


def _check_compatible(manifest: dict[str, Any], settings: Settings, encoder: Encoder | None) -> None:
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
                details={"field": key, "bundle": model.get(key), "expected": value},
            )


def _check_artifacts(folder: Path, manifest: dict[str, Any], verify_hashes: bool) -> None:
    artifacts = manifest.get("artifacts") or {}
    for name in ARTIFACTS:
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
                details={"artifact": name},
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
    _check_compatible(manifest, settings, encoder)
    _check_artifacts(folder, manifest, verify_hashes)
    set_threads(settings.threads)
    vector_meta = manifest.get("vector_index") or {}
    index = load_index(folder / VECTORS_FILE, str(vector_meta.get("kind", "flat")), threads=settings.threads)
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
        "vecteurs": index.ntotal,
        "lignes lexicales": lexical.n_rows,
    }
    dimension = (manifest.get("model") or {}).get("dimension")
    if len(set(found.values())) != 1 or index.dim != dimension:
        store.close()
        detail = ", ".join(f"{k} = {v}" for k, v in found.items())
        raise BundleError(
            f"L'index {folder} est incohérent ({detail}, dimension {index.dim} / {dimension}). "
            "Reconstruisez-le avec « qfq build ».",
            code="index_corrompu",
        )
    return Bundle(path=folder, manifest=manifest, store=store, index=index, lexical=lexical)


def list_bundles(settings: Settings) -> list[dict[str, Any]]:
    """Published and kept bundles, newest first, with their role (current, previous or kept)."""
    bundles_dir = settings.bundles_dir
    if not bundles_dir.is_dir():
        return []
    current = _target(bundles_dir, CURRENT_LINK)
    previous = _target(bundles_dir, PREVIOUS_LINK)
    rows = []
    for folder in sorted(bundles_dir.iterdir(), reverse=True):
        if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        role = "courant" if folder.name == current else "précédent" if folder.name == previous else ""
        try:
            manifest = read_manifest(folder)
            counts = manifest.get("counts", {})
            rows.append(
                {
                    "build_id": folder.name,
                    "role": role,
                    "built_at": manifest.get("built_at"),
                    "passages": counts.get("passages"),
                    "model": (manifest.get("model") or {}).get("id"),
                }
            )
        except BundleError:
            rows.append({"build_id": folder.name, "role": role, "built_at": None, "passages": None})
    return rows
