"""Tests of bundle build, atomic publishing, verification on load and rollback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers.paths import REPO, TESTS

import indexer.index.build as build_module
from indexer.embedding.fake import FakeEncoder
from indexer.errors import BundleError
from indexer.index.build import build_bundle
from indexer.index.bundle import (
    CURRENT_LINK,
    FORMAT_VERSION,
    MANIFEST_FILE,
    MANIFEST_SIGNATURE_FILE,
    PREVIOUS_LINK,
    STORE_FILE,
    VECTORS_FILE,
    current_bundle_path,
    load_bundle,
    sign_manifest,
)
from indexer.index.publish import list_bundles, rollback
from indexer.models import Document, Passage
from indexer.settings import Settings


def _rewrite_manifest(folder: Path, manifest: dict) -> None:
    """A manifest written and signed as another build (version, model) would have written it."""
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    sign_manifest(folder)


def _build(settings: Settings, passages: list[Passage], documents: list[Document], **kw) -> Path:
    return build_bundle(settings, passages, documents, FakeEncoder(64), **kw)


def _current(settings: Settings) -> str:
    return os.readlink(settings.bundles_dir / CURRENT_LINK)


def test_round_trip(settings: Settings, passages: list[Passage], documents: list[Document]) -> None:
    stages: list[str] = []
    folder = _build(settings, passages, documents, progress=lambda stage, done, total: stages.append(stage))
    assert folder.parent == settings.bundles_dir and _current(settings) == folder.name
    assert stages[0] == "embeddings" and stages[-1] == "publish"
    bundle = load_bundle(settings, encoder=FakeEncoder(64))
    manifest = bundle.manifest
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["build_id"] == folder.name == bundle.build_id
    assert manifest["model"] == {
        "id": "fake-hash-64",
        "weights_hash": FakeEncoder(64).weights_hash,
        "dimension": 64,
        "normalisation": "l2",
        "setting": "fake-64",
        "backend": "onnx-fp32",
        "max_passage_tokens": 350,
    }
    assert manifest["counts"]["passages"] == len(passages) == bundle.store.count() == bundle.index.ntotal
    assert manifest["counts"]["by_status"] == {"a_venir": 1, "abroge": 1, "en_vigueur": 10}
    assert manifest["counts"]["by_document"] == {"cgct": 8, "reen": 2, "handicap-2005": 1, "guide-nr": 1}
    docs = {d["key"]: d for d in manifest["corpus"]["documents"]}
    assert docs["reen"]["version_date"] == "2025-07-13" and docs["cgct"]["articles"] == 7
    assert len(manifest["corpus"]["manifest_sha256"]) == 64
    assert set(manifest["artifacts"]) == {"passages.sqlite", "vectors.faiss", "lexical.npz"}
    assert all(len(a["sha256"]) == 64 and a["bytes"] > 0 for a in manifest["artifacts"].values())
    assert manifest["embedding"]["embedded"] == len(passages)
    assert bundle.store.get([0]) == [passages[0]]
    assert list((settings.bundles_dir).glob(".tmp-*")) == []


def test_rebuild_reuses_cached_embeddings(
    settings: Settings, passages: list[Passage], documents: list[Document]
) -> None:
    _build(settings, passages, documents)
    passages[-1].text += " Texte modifié."
    folder = _build(settings, passages, documents)
    assert json.loads((folder / MANIFEST_FILE).read_text())["embedding"] == {
        "embedded": 1,
        "from_cache": len(passages) - 1,
        "seconds": pytest.approx(0, abs=5),
    }


def test_publish_keeps_the_previous_bundle_and_prunes_older_ones(
    settings: Settings, passages: list[Passage], documents: list[Document]
) -> None:
    first = _build(settings, passages, documents)
    second = _build(settings, passages, documents)
    assert os.readlink(settings.bundles_dir / PREVIOUS_LINK) == first.name
    third = _build(settings, passages, documents)
    assert not first.exists() and second.exists() and third.exists()
    assert [row["build_id"] for row in list_bundles(settings)] == [third.name, second.name]
    assert rollback(settings) == second.name
    assert _current(settings) == second.name
    assert os.readlink(settings.bundles_dir / PREVIOUS_LINK) == third.name
    assert load_bundle(settings).build_id == second.name


def test_rollback_without_previous_bundle_is_refused(
    settings: Settings, passages: list[Passage], documents: list[Document]
) -> None:
    _build(settings, passages, documents)
    with pytest.raises(BundleError) as info:
        rollback(settings)
    assert info.value.code == "retour_impossible"


def test_failed_build_leaves_the_published_bundle(
    settings: Settings, passages: list[Passage], documents: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _build(settings, passages, documents)

    def explode(stage: str) -> None:
        if stage == "store_written":
            raise RuntimeError("disque plein simulé")

    monkeypatch.setattr(build_module, "build_hook", explode)
    with pytest.raises(RuntimeError):
        _build(settings, passages, documents)
    assert _current(settings) == first.name
    assert sorted(p.name for p in settings.bundles_dir.iterdir() if not p.name.startswith(".")) == sorted(
        [first.name, CURRENT_LINK]
    )
    assert load_bundle(settings).build_id == first.name


_CRASHING_BUILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
sys.path.insert(0, {repo!r})
from helpers.records import DOCS, make_document, sample_passages
import indexer.index.build as bundle
from indexer.embedding.fake import FakeEncoder
from indexer.settings import Settings

def pause(stage):
    if stage == {stage!r}:
        Path({marker!r}).write_text(stage)
        time.sleep(120)

bundle.build_hook = pause
settings = Settings(data_dir=Path({data!r}), corpus_dir=Path({corpus!r}), model="fake-64", threads=1)
passages = sample_passages()
passages[0].text += " version suivante"
bundle.build_bundle(settings, passages, [make_document(k) for k in DOCS], FakeEncoder(64))
"""


@pytest.mark.parametrize("stage", ["index_written", "store_written", "manifest_written", "renamed"])
def test_killed_build_never_touches_the_published_bundle(
    settings: Settings, passages: list[Passage], documents: list[Document], tmp_path: Path, stage: str
) -> None:
    first = _build(settings, passages, documents)
    marker = tmp_path / "paused"
    script = _CRASHING_BUILD.format(
        tests=str(TESTS),
        repo=str(REPO),
        stage=stage,
        marker=str(marker),
        data=str(settings.data_dir),
        corpus=str(settings.corpus_dir),
    )
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the build ended before reaching the pause"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert _current(settings) == first.name
    assert load_bundle(settings, encoder=FakeEncoder(64)).build_id == first.name
    # The next build cleans the leftovers and publishes normally.
    third = _build(settings, passages, documents)
    assert _current(settings) == third.name
    assert list(settings.bundles_dir.glob(".tmp-*")) == []


def test_tampered_artifact_is_refused(
    settings: Settings, passages: list[Passage], documents: list[Document]
) -> None:
    folder = _build(settings, passages, documents)
    path = folder / STORE_FILE
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError) as info:
        load_bundle(settings)
    assert info.value.code == "index_corrompu"
    assert "passages.sqlite" in info.value.message and "sha256" in info.value.message


def test_truncated_artifact_is_refused_even_without_hashing(
    settings: Settings, passages: list[Passage], documents: list[Document]
) -> None:
    folder = _build(settings, passages, documents)
    with open(folder / VECTORS_FILE, "ab") as handle:
        handle.write(b"x")
    with pytest.raises(BundleError) as info:
        load_bundle(settings, verify_hashes=False)
    assert info.value.code == "index_corrompu"


@pytest.mark.parametrize(
    ("encoder", "field"),
    [(FakeEncoder(32), "id"), (None, "setting")],
)
def test_mismatched_model_is_refused(
    settings: Settings,
    passages: list[Passage],
    documents: list[Document],
    encoder: FakeEncoder | None,
    field: str,
) -> None:
    _build(settings, passages, documents)
    other = settings.model_copy(update={"model": "fake-32"})
    with pytest.raises(BundleError) as info:
        load_bundle(other, encoder=encoder)
    assert info.value.code == "index_incompatible"
    assert info.value.details["champ"] == field
    assert "qfq build" in info.value.message


def test_mismatched_dimension_in_manifest_is_refused(
    settings: Settings, passages: list[Passage], documents: list[Document]
) -> None:
    folder = _build(settings, passages, documents)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["model"]["dimension"] = 128
    _rewrite_manifest(folder, manifest)
    with pytest.raises(BundleError) as info:
        load_bundle(settings, encoder=FakeEncoder(64))
    assert info.value.code == "index_incompatible"
    with pytest.raises(BundleError) as info:
        load_bundle(settings)  # without an encoder the index itself disagrees with the manifest
    assert info.value.code == "index_corrompu"


def test_other_format_version_is_refused(
    settings: Settings, passages: list[Passage], documents: list[Document]
) -> None:
    folder = _build(settings, passages, documents)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    _rewrite_manifest(folder, manifest)
    with pytest.raises(BundleError) as info:
        load_bundle(settings)
    assert info.value.code == "index_incompatible"


def test_count_mismatch_is_refused(
    settings: Settings, passages: list[Passage], documents: list[Document]
) -> None:
    folder = _build(settings, passages, documents)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["counts"]["passages"] += 1
    _rewrite_manifest(folder, manifest)
    with pytest.raises(BundleError) as info:
        load_bundle(settings)
    assert info.value.code == "index_corrompu"


@pytest.mark.parametrize("content", [None, "{not json"])
def test_missing_or_broken_manifest_is_refused(
    settings: Settings, passages: list[Passage], documents: list[Document], content: str | None
) -> None:
    folder = _build(settings, passages, documents)
    if content is None:
        (folder / MANIFEST_FILE).unlink()
    else:
        (folder / MANIFEST_FILE).write_text(content)
    with pytest.raises(BundleError) as info:
        load_bundle(settings)
    assert info.value.code == "index_corrompu"


def test_no_published_bundle(settings: Settings) -> None:
    with pytest.raises(BundleError) as info:
        current_bundle_path(settings)
    assert info.value.code == "index_absent"
    assert "qfq build" in info.value.message


def test_invalid_inputs_are_refused(
    settings: Settings, passages: list[Passage], documents: list[Document]
) -> None:
    with pytest.raises(BundleError) as info:
        _build(settings, [], documents)
    assert info.value.code == "corpus_vide"
    with pytest.raises(BundleError) as info:
        _build(settings, [*passages, passages[0]], documents)
    assert info.value.code == "passages_dupliques"
    with pytest.raises(BundleError) as info:
        _build(settings, passages, documents[:1])
    assert info.value.code == "document_inconnu"
    assert not settings.bundles_dir.exists() or not any(settings.bundles_dir.iterdir())


def test_concurrent_build_is_refused(
    settings: Settings, passages: list[Passage], documents: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    def nested(stage: str) -> None:
        if stage == "index_written":
            monkeypatch.setattr(build_module, "build_hook", None)
            _build(settings, passages, documents)

    monkeypatch.setattr(build_module, "build_hook", nested)
    with pytest.raises(BundleError) as info:
        _build(settings, passages, documents)
    assert info.value.code == "construction_en_cours"


@pytest.mark.parametrize("change", ["flip", "unsigned"])
def test_a_tampered_or_unsigned_manifest_is_refused(
    settings: Settings, passages: list[Passage], documents: list[Document], change: str
) -> None:
    folder = _build(settings, passages, documents)
    assert (folder / MANIFEST_SIGNATURE_FILE).is_file()
    if change == "flip":
        raw = (folder / MANIFEST_FILE).read_bytes()
        position = raw.index(b'"build_id": "') + len(b'"build_id": "') + 2
        (folder / MANIFEST_FILE).write_bytes(
            raw[:position] + bytes([raw[position] ^ 1]) + raw[position + 1 :]
        )
    else:
        (folder / MANIFEST_SIGNATURE_FILE).unlink()
    with pytest.raises(BundleError) as info:
        load_bundle(settings)
    assert info.value.code == "index_corrompu" and MANIFEST_SIGNATURE_FILE in info.value.message
    [row] = list_bundles(settings)
    assert row["role"] == "courant" and "manifest.sha256" in row["erreur"]
