"""Per-document cache of parsed passages and their lexical fields, so a rebuild re-parses only what changed.

An entry is valid while its fingerprint holds: the document's manifest entry, the size and modification
time of each of its source files, `max_passage_tokens`, and the source of the code that turns files
into passages (parsers, segmentation, tagging, taxonomy, text normalisation).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexer.corpus.manifest import load_manifest, select_documents
from indexer.corpus.passages import load_passages
from indexer.index.lexical import passage_field_texts
from indexer.models import Document, Link, Passage, Status
from indexer.settings import Settings
from indexer.text.tagging import TAXONOMY_PATH

CACHE_VERSION = 2
# The modules whose code turns corpus files into passages and lexical fields; the fingerprint covers them
# and every project module they import, found by reading their imports.
_PRODUCERS = ("indexer.corpus.passages", "indexer.index.lexical")


@dataclass
class CachedPassages:
    """Passages of the selected documents, their lexical fields, and what was parsed or reused."""

    documents: list[Document]
    passages: list[Passage] = field(default_factory=list)
    fields: list[dict[str, str]] = field(default_factory=list)  # analysed tokens joined by spaces
    problems: list[Any] = field(default_factory=list)  # indexer.corpus.passages.Problem
    parsed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)


def imported_modules(tree: ast.Module, package: str | None) -> Iterator[str]:
    """Names of the modules an AST imports, at any depth (function-local imports included)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_closure(roots: Sequence[str]) -> dict[str, Path]:
    """Source files of `roots` and of every module of their top-level packages that they import, transitively.

    Args:
        roots: dotted module names, e.g. `indexer.corpus.passages`.

    Returns:
        Module name -> source file, sorted by name.
    """
    tops = {root.split(".")[0] for root in roots}
    found: dict[str, Path] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in found or name.split(".")[0] not in tops:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        origin = Path(spec.origin)
        found[name] = origin
        package = name if origin.name == "__init__.py" else name.rpartition(".")[0]
        pending.extend(imported_modules(ast.parse(origin.read_bytes()), package))
        if "." in name:
            pending.append(name.rpartition(".")[0])  # importing a submodule runs its package
    return dict(sorted(found.items()))


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over the module names and sources of the passage producers' import closure, and the taxonomy.

    Moving, renaming or editing any of those modules changes it, with no list of files to keep by hand.
    """
    digest = hashlib.sha256(f"passage-cache-{CACHE_VERSION}".encode())
    for name, path in import_closure(_PRODUCERS).items():
        digest.update(f"{name}\n".encode())
        digest.update(path.read_bytes())
    digest.update(TAXONOMY_PATH.read_bytes() if TAXONOMY_PATH.is_file() else b"absent")
    return digest.hexdigest()


def _source_paths(corpus_dir: Path, doc: Document) -> list[Path]:
    paths = [corpus_dir / doc.path]
    if doc.amendments:
        paths.append(corpus_dir / doc.amendments)
    paths.append(corpus_dir / "structure" / f"{doc.key}.structure.jsonl")
    return paths


def _stat_files(root: Path) -> Iterable[tuple[str, int, int]]:
    """(relative name, size, mtime_ns) of a file, or of every file under a folder, in a stable order."""
    if root.is_file():
        stat = root.stat()
        yield root.name, stat.st_size, stat.st_mtime_ns
        return
    if not root.is_dir():
        return
    prefix = len(str(root)) + 1
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            ordered = sorted(entries, key=lambda entry: entry.name)
        for entry in reversed(ordered):
            if entry.is_dir():
                pending.append(entry.path)
        for entry in ordered:
            if entry.is_file():
                stat = entry.stat()
                yield entry.path[prefix:], stat.st_size, stat.st_mtime_ns


def document_fingerprint(settings: Settings, doc: Document) -> str:
    """Fingerprint of everything a document's passages depend on (files are compared by size + mtime).

    Args:
        settings: corpus_dir and max_passage_tokens are used.
        doc: the manifest entry.

    Returns:
        A sha256 hex digest.
    """
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update(json.dumps(doc.to_dict(), sort_keys=True, ensure_ascii=False).encode())
    digest.update(str(settings.max_passage_tokens).encode())
    for root in _source_paths(settings.corpus_dir, doc):
        digest.update(f"\n{root.relative_to(settings.corpus_dir)}".encode())
        for name, size, mtime in _stat_files(root):
            digest.update(f"\n{name}\0{size}\0{mtime}".encode())
    return digest.hexdigest()


def _entry_path(settings: Settings, key: str) -> Path:
    return settings.cache_dir / "passages" / f"{key}.json"


def _read_entry(path: Path, fingerprint: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint:
        return None
    return entry


def _write_entry(path: Path, entry: dict[str, Any]) -> None:
    # Written beside the target then renamed: a reader never sees half an entry.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # dumps (C encoder) rather than dump (pure-Python iterencode): several times faster.
            handle.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_passages_cached(
    settings: Settings,
    only: set[str] | None = None,
    strict: bool = False,
    progress: Callable[[str, bool], None] | None = None,
    *,
    parse: Callable[..., Any] | None = None,
) -> CachedPassages:
    """Passages of the corpus, parsing only the documents whose fingerprint changed.

    Args:
        settings: the settings (corpus_dir, cache_dir, max_passage_tokens).
        only: document keys to keep (all when None).
        strict: raise on the first unreadable document instead of reporting it.
        progress: called with (document key, reused from cache) for each document.
        parse: `indexer.corpus.passages.load_passages` or a stand-in (tests).

    Returns:
        Documents, passages, lexical fields, problems, and the keys parsed or reused.

    Raises:
        ConfigError: the corpus folder or manifest is missing.
        CorpusError: an `only` key is unknown, or (strict) a document is unreadable.
    """
    if parse is None:
        parse = load_passages
    documents = load_manifest(settings.require_corpus())
    documents = select_documents(documents, only)
    result = CachedPassages(documents=documents)
    for doc in documents:
        fingerprint = document_fingerprint(settings, doc)
        path = _entry_path(settings, doc.key)
        entry = _read_entry(path, fingerprint)
        if entry is not None:
            passages = [_passage_from_record(p) for p in entry["passages"]]
            fields = entry["fields"]
            result.reused.append(doc.key)
        else:
            parsed = parse(settings, only={doc.key}, strict=strict)
            if parsed.problems:
                result.problems.extend(parsed.problems)
                continue
            passages = parsed.passages
            fields = [passage_field_texts(p) for p in passages]
            _write_entry(
                path,
                {
                    "fingerprint": fingerprint,
                    "doc_key": doc.key,
                    "passages": [_passage_record(p) for p in passages],
                    "fields": fields,
                },
            )
            result.parsed.append(doc.key)
        result.passages.extend(passages)
        result.fields.extend(fields)
        if progress is not None:
            progress(doc.key, entry is not None)
    return result


def _passage_from_record(data: dict[str, Any]) -> Passage:
    data["status"] = Status(data["status"])
    data["links"] = [Link(**link) for link in data["links"]]
    return Passage(**data)


def _passage_record(passage: Passage) -> dict[str, Any]:
    # dataclasses.asdict deep-copies recursively: far slower than this shallow copy on 40k passages.
    data = dict(passage.__dict__)
    data["status"] = str(passage.status)
    data["links"] = [dict(link.__dict__) for link in passage.links]
    return data


def clear_passage_cache(settings: Settings, keys: Sequence[str] | None = None) -> int:
    """Remove cached entries (all, or those of `keys`); returns how many were removed."""
    folder = settings.cache_dir / "passages"
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob("*.json"):
        if keys is None or path.stem in keys:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
