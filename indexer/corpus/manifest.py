"""The corpus manifest and checksums, read and written: which documents exist, in which format, at which
version date, and `CHECKSUMS.sha256` over the files."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.errors import CorpusError
from indexer.files import sha256_file
from indexer.models import Document

CHECKSUMS_FILE = "CHECKSUMS.sha256"
MANIFEST_FILE = "manifest.toml"
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
# Every field `render_manifest` writes: the required ones, then the optional ones when set.
MANIFEST_FIELDS = (*REQUIRED_FIELDS, "head_version_date", "amendments")


def load_manifest(corpus_dir: Path) -> list[Document]:
    """Read `manifest.toml` of a corpus folder.

    Args:
        corpus_dir: folder holding `manifest.toml`.

    Returns:
        The documents, in manifest order.

    Raises:
        CorpusError: the manifest is missing, not TOML, or an entry lacks a field or repeats a key.
    """
    path = corpus_dir / MANIFEST_FILE
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


def select_documents(documents: list[Document], only: Iterable[str] | None) -> list[Document]:
    """The documents whose keys are in `only` (all of them when `only` is empty), in manifest order.

    Raises:
        CorpusError: a key of `only` is not in the manifest (code `document_inconnu`).
    """
    wanted = set(only or ())
    if not wanted:
        return documents
    unknown = sorted(wanted - {doc.key for doc in documents})
    if unknown:
        raise CorpusError(
            f"Document(s) inconnu(s) : {', '.join(unknown)}. "
            f"Documents du corpus : {', '.join(doc.key for doc in documents)}.",
            code="document_inconnu",
        )
    return [doc for doc in documents if doc.key in wanted]


def manifest_hash(corpus_dir: Path) -> str:
    """sha256 of the manifest file, recorded in bundles to tie them to a corpus version."""
    return sha256_file(corpus_dir / MANIFEST_FILE)


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
    listing = corpus_dir / CHECKSUMS_FILE
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
            digest = sha256_file(target)
        except FileNotFoundError:
            report.missing.append(name.strip())
            continue
        if digest != expected.strip():
            report.mismatched.append(name.strip())
    return report


def toml_string(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes for these characters)."""
    return json.dumps(value, ensure_ascii=False)


def render_manifest(entries: Iterable[Mapping[str, Any]], header: str) -> str:
    """`manifest.toml` text: the header as comments, then one `[[documents]]` table per entry."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for entry in entries:
        lines.append("")
        lines.append("[[documents]]")
        for name in MANIFEST_FIELDS:
            value = entry.get(name)
            if name in ("head_version_date", "amendments") and not value:
                continue
            lines.append(f"{name} = {toml_string(str(value or ''))}")
    return "\n".join(lines) + "\n"


def write_checksums(folder: Path) -> int:
    """Write `CHECKSUMS.sha256`: `<sha256>  <relative path>` for every other file, sorted by path.

    Returns:
        The number of files listed.
    """
    names = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() != CHECKSUMS_FILE
    )
    text = "".join(f"{sha256_file(folder / name)}  {name}\n" for name in names)
    (folder / CHECKSUMS_FILE).write_text(text, encoding="utf-8")
    return len(names)


def listed_checksum(folder: Path, relative: str) -> str | None:
    """sha256 that the folder's `CHECKSUMS.sha256` gives for one file, if it lists it."""
    try:
        listing = (folder / CHECKSUMS_FILE).read_text(encoding="utf-8")
    except OSError:
        return None
    for line in listing.splitlines():
        digest, _, name = line.partition("  ")
        if name.strip() == relative:
            return digest.strip()
    return None


def read_manifest_entries(folder: Path) -> list[dict[str, Any]]:
    """Raw `[[documents]]` tables of a corpus folder (all fields kept), or [] when there is none."""
    try:
        raw = tomllib.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    entries = raw.get("documents")
    return [dict(entry) for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []
