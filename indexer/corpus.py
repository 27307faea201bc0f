"""The corpus manifest: which documents exist, in which format, at which version date."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from indexer.errors import CorpusError
from indexer.models import Document

REQUIRED_FIELDS = (
    "key",
    "title",
    "short_name",
    "kind",
    "official_id",
    "url",
    "format",
    "path",
    "version_date",
    "source",
    "licence",
)


def load_manifest(corpus_dir: Path) -> list[Document]:
    """Read `manifest.toml` of a corpus folder.

    Args:
        corpus_dir: folder holding `manifest.toml`.

    Returns:
        The documents, in manifest order.

    Raises:
        CorpusError: the manifest is missing, not TOML, or an entry lacks a field or repeats a key.
    """
    path = corpus_dir / "manifest.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CorpusError(f"Manifeste introuvable : {path}", code="manifeste_introuvable") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"Manifeste illisible ({path}) : {exc}", code="manifeste_illisible") from exc
    entries = raw.get("documents")
    if not isinstance(entries, list) or not entries:
        raise CorpusError(
            f"Le manifeste {path} ne déclare aucun document ([[documents]]).", code="manifeste_vide"
        )
    documents: list[Document] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        missing = [name for name in REQUIRED_FIELDS if not isinstance(entry.get(name), str)]
        if missing:
            label = entry.get("key", f"n° {index}")
            raise CorpusError(
                f"Document {label} du manifeste : champ(s) manquant(s) {', '.join(missing)}.",
                code="manifeste_champ_manquant",
                details={"document": label, "champs": missing},
            )
        if entry["key"] in seen:
            raise CorpusError(f"Clé de document en double : {entry['key']}.", code="manifeste_cle_double")
        seen.add(entry["key"])
        known = {name: str(entry[name]) for name in Document.__dataclass_fields__ if name in entry}
        documents.append(Document(**known))
    return documents


def manifest_hash(corpus_dir: Path) -> str:
    """sha256 of the manifest file, recorded in bundles to tie them to a corpus version."""
    return hashlib.sha256((corpus_dir / "manifest.toml").read_bytes()).hexdigest()


@dataclass
class ChecksumReport:
    """Outcome of checking `CHECKSUMS.sha256` against the files on disk."""

    present: bool
    checked: int = 0
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatched and not self.missing


def verify_checksums(corpus_dir: Path) -> ChecksumReport:
    """Check every line `<sha256>  <relative path>` of `CHECKSUMS.sha256` when the file exists."""
    listing = corpus_dir / "CHECKSUMS.sha256"
    if not listing.is_file():
        return ChecksumReport(present=False)
    report = ChecksumReport(present=True)
    for line in listing.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        expected, _, name = line.partition("  ")
        target = corpus_dir / name.strip()
        report.checked += 1
        try:
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
        except FileNotFoundError:
            report.missing.append(name.strip())
            continue
        if digest != expected.strip():
            report.mismatched.append(name.strip())
    return report
