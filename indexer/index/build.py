"""Building a bundle: embed passages, write the vector, store and lexical artifacts and the manifest into a
temporary folder, then publish it."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedding.base import Encoder
from indexer.errors import BundleError
from indexer.files import fsync_dir, fsync_file, sha256_file, write_json
from indexer.index.bundle import (
    FORMAT_VERSION,
    LEXICAL_FILE,
    MANIFEST_FILE,
    MANIFEST_SIGNATURE_FILE,
    NO_VECTORS,
    STORE_FILE,
    VECTORS_FILE,
    ArtifactInfo,
    BundleManifest,
    artifact_names,
    artifacts_of,
    sign_manifest,
)
from indexer.index.embed_cache import EmbeddingCache, embed_with_cache
from indexer.index.lexical import (
    DEFAULT_FIELD_WEIGHTS,
    FIELDS,
    build_lexical_index,
    passage_field_texts,
)
from indexer.index.publish import TMP_PREFIX, build_lock, publish, remove_stale_temporaries
from indexer.index.store import FTS_TOKENIZER, write_store
from indexer.index.vectors import INDEX_KINDS, FaissIndex, build_index, set_threads
from indexer.models import Document, Passage
from indexer.settings import Settings

BuildProgress = Callable[[str, int, int], None]


"""Called with (stage, done, total); stages: embeddings, index, store, lexical, manifest, publish."""


# Test hook: called with a stage name at each step of a build ("index_written", "store_written",
# "lexical_written", "manifest_written", "renamed", "published"). The crash test sets it in a child process
# to stop the build midway and SIGKILL it.
build_hook: Callable[[str], None] | None = None


def _hook(stage: str) -> None:
    if build_hook is not None:
        build_hook(stage)


def _corpus_manifest_hash(settings: Settings) -> str:
    path = settings.manifest_path
    return sha256_file(path) if path.is_file() else ""


def _taxonomy_version() -> str | None:
    try:
        from indexer.text.tagging import load_taxonomy

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
    lexical_only: bool = False,
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
        fields: the passages' lexical fields when already analysed (see `indexer.corpus.passage_cache`);
            computed with `indexer.index.lexical.passage_field_texts` otherwise.
        lexical_only: write no vectors (nothing is embedded): a bundle searched lexically, published first
            on a fresh machine while the passages are embedded (its `vector_index.kind` is `NO_VECTORS`).

    Returns:
        The folder of the new bundle.

    Raises:
        BundleError: no passages, duplicate passage ids, unknown documents, or another build running.
    """
    if fields is not None and len(fields) != len(passages):
        raise ValueError("fields must have one entry per passage")
    if index_kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {index_kind!r}")
    if lexical_only and settings.backend != "embedded":
        raise ValueError("a lexical-only bundle is published to the embedded backend only")
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
    with build_lock(bundles_dir):
        remove_stale_temporaries(bundles_dir)
        fingerprint = hashlib.sha256(
            "\n".join([encoder.weights_hash, *sorted(p.id for p in passages)]).encode()
        ).hexdigest()
        build_id = _new_build_id(bundles_dir, fingerprint)
        tmp = bundles_dir / f"{TMP_PREFIX}{build_id}"
        tmp.mkdir()
        try:
            embed_started = time.perf_counter()
            vectors, embedded = (
                (None, 0) if lexical_only else _embed(settings, encoder, passages, use_cache, report)
            )
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
            write_json(tmp / MANIFEST_FILE, manifest)
            sign_manifest(tmp)
            for name in (*artifacts_of(manifest), MANIFEST_FILE, MANIFEST_SIGNATURE_FILE):
                fsync_file(tmp / name)
            fsync_dir(tmp)
            _hook("manifest_written")
            final = bundles_dir / build_id
            os.rename(tmp, final)
            fsync_dir(bundles_dir)
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
    vectors: np.ndarray | None,
    index_kind: str,
    build_id: str,
    report: BuildProgress,
) -> FaissIndex | None:
    """Write the vector index (unless `vectors` is None), the passage store and the lexical postings."""
    index = None
    if vectors is not None:
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
    index: FaissIndex | None,
    only: Sequence[str] | None,
    started_at: datetime,
    seconds: float,
    embedded: int,
    embed_seconds: float,
    folder: Path,
) -> BundleManifest:
    artifacts: dict[str, ArtifactInfo] = {
        name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size}
        for name in artifact_names(index is not None)
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
        "vector_index": (
            {"kind": index.kind, "metric": "inner_product", "ntotal": index.ntotal}
            if index is not None
            else {"kind": NO_VECTORS, "metric": "inner_product", "ntotal": 0}
        ),
        "lexical": {
            "engine": "bm25 (FTS5 formula), numpy postings",
            "analyzer": "indexer.text.normalize.analyze: minuscules, accents repliés, mots vides, Snowball français",
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
            "from_cache": len(passages) - embedded if index is not None else 0,
            "seconds": round(embed_seconds, 3),
        },
        "artifacts": artifacts,
    }
