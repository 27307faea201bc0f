"""Corpus folders on disk: staging for resume, assembly, validation, checksums, manifest, atomic swap.

For an output folder `DIR`, a fetch uses three siblings:

- `DIR.partial/` keeps what a run has already downloaded (finished texts and every fetched article),
  so that an interrupted run resumes where it stopped;
- `DIR.new/` is the complete new corpus, assembled then validated;
- `DIR.previous/` is the corpus replaced by the last successful fetch, kept for rollback.

`DIR` itself is never written into: it is replaced by renaming, only once `DIR.new` is complete and valid.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.corpus.manifest import (
    MANIFEST_FILE,
    render_manifest,
    write_checksums,
)
from indexer.errors import CorpusError
from indexer.fetch.convert import check_tree
from indexer.files import fsync_dir, sha256_file, write_json
from indexer.models import Document

STATE_FILE = "fetch-state.json"
PISTE_FORMAT = "legi-piste-json"


def sibling(out: Path, suffix: str) -> Path:
    """`~/qfq-corpus` + `.partial` -> `~/qfq-corpus.partial`."""
    return out.with_name(out.name + suffix)


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link when possible (our files are never rewritten in place), else copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def carry(source_dir: Path, relative: str, target_dir: Path, *, link: bool = True) -> None:
    """Bring a file or a folder of one corpus into another.

    Args:
        source_dir: corpus folder to read from.
        relative: path of the file or folder inside it.
        target_dir: corpus folder to write to.
        link: hard-link instead of copying; only for folders this tool owns, so that a corpus it
            does not own (such as the shared one) never shares a file with the new one.
    """
    source = source_dir / relative
    target = target_dir / relative
    if source.is_dir():
        copy = _link_or_copy_str if link else shutil.copy2
        shutil.copytree(source, target, copy_function=copy, dirs_exist_ok=True)
    elif link:
        link_or_copy(source, target)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _link_or_copy_str(source: str, target: str) -> str:
    link_or_copy(Path(source), Path(target))
    return target


class Staging:
    """`DIR.partial/`: finished texts and downloaded articles of the current (maybe interrupted) fetch.

    Finished texts are reused by the next run when it asks for the same consolidation date; downloaded
    articles whatever the date. The folder is deleted once a fetch has been swapped in.
    """

    def __init__(self, folder: Path, date: str) -> None:
        self.folder = folder
        self.date = date
        self._state_path = folder / "staging.json"
        state = self._read_state()
        if state.get("date") != date:
            # Finished texts belong to another date; downloaded article versions (LEGIARTI ids) stay valid.
            shutil.rmtree(folder / "texts", ignore_errors=True)
            state = {"date": date, "texts": {}}
        folder.mkdir(parents=True, exist_ok=True)
        self.state: dict[str, Any] = state
        write_json(self._state_path, self.state)

    def _read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) and isinstance(state.get("texts"), dict) else {}

    def finished(self, key: str) -> dict[str, Any] | None:
        """Record of a text already finished by an earlier run for this date, if its file is intact."""
        record = self.state["texts"].get(key)
        if not isinstance(record, dict):
            return None
        path = self.folder / "texts" / record.get("path", "")
        if not path.is_file() or sha256_file(path) != record.get("sha256"):
            return None
        return record

    def text_path(self, record: Mapping[str, Any]) -> Path:
        return self.folder / "texts" / str(record["path"])

    def finish_tree(self, key: str, tree: Mapping[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        """Write a finished text and remember it; returns the record with its sha256."""
        path = self.folder / "texts" / record["path"]
        write_json(path, tree)
        return self._remember(key, path, record)

    def finish_file(self, key: str, source: Path, record: dict[str, Any]) -> dict[str, Any]:
        """Remember an unchanged text by linking its current file."""
        path = self.folder / "texts" / record["path"]
        if path.exists():
            path.unlink()
        link_or_copy(source, path)
        return self._remember(key, path, record)

    def _remember(self, key: str, path: Path, record: dict[str, Any]) -> dict[str, Any]:
        record = {**record, "sha256": sha256_file(path)}
        self.state["texts"][key] = record
        write_json(self._state_path, self.state)
        return record

    def cached_articles(self, key: str) -> dict[str, dict[str, Any]]:
        """Articles downloaded by earlier runs, by LEGIARTI id; a line cut by a crash is ignored."""
        path = self.folder / "articles" / f"{key}.jsonl"
        found: dict[str, dict[str, Any]] = {}
        if not path.is_file():
            return found
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                article = json.loads(line)
            except ValueError:
                continue
            if isinstance(article, dict) and isinstance(article.get("id"), str):
                found[article["id"]] = article
        return found

    def article_log(self, key: str) -> ArticleLog:
        return ArticleLog(self.folder / "articles" / f"{key}.jsonl")

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class ArticleLog:
    """Append-only JSON lines of downloaded articles, flushed line by line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size:
            with path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                ends_cleanly = handle.read(1) == b"\n"
            if not ends_cleanly:  # a crash cut the last line: start the next one on a fresh line
                with path.open("a", encoding="utf-8") as handle:
                    handle.write("\n")
        self._handle = path.open("a", encoding="utf-8")

    def append(self, article: Mapping[str, Any]) -> None:
        self._handle.write(json.dumps(article, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> ArticleLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_state(folder: Path) -> dict[str, Any]:
    """`fetch-state.json` of a corpus folder, or an empty state."""
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"texts": {}}
    if not isinstance(state, dict) or not isinstance(state.get("texts"), dict):
        return {"texts": {}}
    return state


DocumentCheck = Callable[[Document, Path], list[str]]


def check_with_project_parser(doc: Document, folder: Path) -> list[str]:
    """Problems found when the project's own parser reads a document; it must yield articles."""
    from indexer.corpus.parsers import parse_document

    try:
        articles = parse_document(doc, folder)
    except CorpusError as exc:
        return [exc.message]
    return [] if articles else [f"{doc.key} : le parseur « {doc.format} » n'y trouve aucun article"]


def validate_corpus(
    folder: Path, fetched: Iterable[str], check: DocumentCheck = check_with_project_parser
) -> list[Document]:
    """Check an assembled corpus before it replaces the current one.

    The manifest must load; every document's file must exist; every fetched text must be a well-formed
    `legi-piste-json` tree that `check` (by default the project's parser) reads without problem.

    Args:
        folder: the assembled corpus.
        fetched: keys of the texts written by this fetch.
        check: extra check of one fetched document.

    Returns:
        The manifest's documents.

    Raises:
        CorpusError: with every problem found, in French.
    """
    from indexer.corpus.manifest import load_manifest

    documents = load_manifest(folder)
    wanted = set(fetched)
    problems: list[str] = []
    for doc in documents:
        target = folder / doc.path
        if not target.exists():
            problems.append(f"{doc.key} : fichier absent {doc.path}")
            continue
        if doc.key not in wanted:
            continue
        try:
            tree = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{doc.key} : JSON illisible ({exc})")
            continue
        problems.extend(f"{doc.key} : {problem}" for problem in check_tree(tree)[:20])
        problems.extend(check(doc, folder))
    if problems:
        raise CorpusError(
            "Le nouveau corpus est invalide ; l'ancien est conservé. " + " ; ".join(problems[:20]),
            code="corpus_recupere_invalide",
            details={"problemes": problems},
        )
    return documents


def recover_interrupted_swap(out: Path) -> bool:
    """Put the previous corpus back if a crash happened between the two renames of a swap.

    Returns:
        True when something was restored.
    """
    previous = sibling(out, ".previous")
    if not out.exists() and previous.is_dir() and (previous / MANIFEST_FILE).is_file():
        os.rename(previous, out)
        return True
    return False


def swap_in(new: Path, out: Path) -> None:
    """Replace `out` by `new`; the replaced corpus becomes `out.previous` (the older one is deleted)."""
    previous = sibling(out, ".previous")
    if out.exists():
        if previous.exists():
            shutil.rmtree(previous)
        os.rename(out, previous)
    os.rename(new, out)
    fsync_dir(out.parent)


def rollback(out: Path) -> None:
    """Exchange `out` and `out.previous`: the corpus before the last fetch comes back.

    Raises:
        CorpusError: there is no previous corpus to restore.
    """
    previous = sibling(out, ".previous")
    if not (previous / MANIFEST_FILE).is_file():
        raise CorpusError(
            f"Aucun corpus précédent à restaurer : {previous} est absent.", code="pas_de_corpus_precedent"
        )
    parking = sibling(out, ".rollback")
    shutil.rmtree(parking, ignore_errors=True)
    if out.exists():
        os.rename(out, parking)
    os.rename(previous, out)
    if parking.exists():
        os.rename(parking, previous)
    fsync_dir(out.parent)


@dataclass
class Assembly:
    """Contents of `DIR.new`, gathered before anything is written."""

    entries: list[dict[str, Any]]
    files: list[tuple[Path, str, bool]]  # (corpus folder, relative path, hard-link allowed)
    state: dict[str, Any]


def assemble(new: Path, assembly: Assembly, header: str) -> None:
    """Write `DIR.new`: linked files, `manifest.toml`, `fetch-state.json` and `CHECKSUMS.sha256`."""
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    for source_root, relative, link in assembly.files:
        carry(source_root, relative, new, link=link)
    (new / MANIFEST_FILE).write_text(render_manifest(assembly.entries, header), encoding="utf-8")
    write_json(new / STATE_FILE, assembly.state)
    write_checksums(new)
