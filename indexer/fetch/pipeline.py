"""One fetch, start to finish: check versions, download what changed, assemble, validate, swap in."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from indexer.corpus.manifest import MANIFEST_FILE, listed_checksum, read_manifest_entries, render_manifest
from indexer.errors import ConfigError
from indexer.fetch.changes import TextChange, diff_trees
from indexer.fetch.client import ARTICLE_PATH, TOC_PATH, PisteClient
from indexer.fetch.convert import (
    TocArticle,
    build_tree,
    check_tree,
    iso_date,
    toc_articles,
    toc_version,
    tree_articles,
)
from indexer.fetch.errors import FetchError
from indexer.fetch.sources import Source
from indexer.fetch.writer import (
    PISTE_FORMAT,
    Assembly,
    DocumentCheck,
    Staging,
    assemble,
    check_with_project_parser,
    read_state,
    recover_interrupted_swap,
    sibling,
    swap_in,
    validate_corpus,
)
from indexer.files import exclusive_lock, sha256_file
from indexer.settings import Settings

API_SOURCE = "API Légifrance (PISTE, lf-engine-app) : /consult/legi/tableMatieres et /consult/getArticle"
API_LICENCE = "Licence Ouverte 2.0 (DILA/Légifrance data)"
MANIFEST_HEADER = """Corpus written by `qfq corpus fetch` from corpus/sources.toml.
Codes and laws come from the Légifrance API (format legi-piste-json); version_date is the date of the
text's last modification given by the API. Other documents are carried over from the previous corpus.
fetch-state.json records, per fetched text, its version marker, sha256 and fetch time."""
PROGRESS_EVERY = 200

Progress = Callable[[str], None]


@dataclass
class FetchResult:
    """What a fetch did; `changes` lists every text asked for, in `sources.toml` order."""

    out: Path
    date: str
    changes: list[TextChange]
    swapped: bool
    requests: int
    carried: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    replaced: bool = False  # an older corpus existed and is now `out.previous`

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "date": self.date,
            "swapped": self.swapped,
            "replaced": self.replaced,
            "requests": self.requests,
            "carried": self.carried,
            "missing": self.missing,
            "texts": [change.to_dict() for change in self.changes],
        }


def _utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def check_date(value: str | None) -> str:
    """The consolidation date asked for, `YYYY-MM-DD`, today when not given."""
    if not value:
        return date.today().isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise ConfigError(f"Date invalide « {value} » : attendu AAAA-MM-JJ.", code="date_invalide") from exc


def select_sources(sources: list[Source], only: Iterable[str] | None) -> list[Source]:
    """The codes and laws to fetch: all of them, or those named by `--only` (commas allowed)."""
    fetchable = [source for source in sources if source.fetchable]
    if not only:
        return fetchable
    wanted = [key.strip() for item in only for key in item.split(",") if key.strip()]
    by_key = {source.key: source for source in sources}
    unknown = [key for key in wanted if key not in by_key]
    if unknown:
        raise ConfigError(
            f"Texte(s) inconnu(s) : {', '.join(unknown)}. Clés connues : {', '.join(by_key)}.",
            code="texte_inconnu",
        )
    guides = [key for key in wanted if not by_key[key].fetchable]
    if guides:
        raise ConfigError(
            f"{', '.join(guides)} : guide(s) non publiés sur Légifrance, donc non récupérables par l'API ; "
            "ils sont repris tels quels du corpus actuel.",
            code="texte_non_recuperable",
        )
    return [source for source in fetchable if source.key in wanted]


def run_fetch(
    settings: Settings,
    client: PisteClient,
    *,
    out: Path,
    sources: list[Source],
    only: Iterable[str] | None = None,
    date: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    now: Callable[[], str] = _utc_now,
    check: DocumentCheck = check_with_project_parser,
) -> FetchResult:
    """Bring the corpus in `out` up to date with the Légifrance API.

    A text whose version marker has not changed is not downloaded again; a changed text reuses the
    article versions it already has and downloads only new ones. What is downloaded is kept in
    `out.partial` until the new corpus is complete and valid, then `out` is replaced in one rename
    (the replaced corpus is kept as `out.previous`). On any failure `out` is left exactly as it was.

    Args:
        settings: gives the current corpus (`QFQ_CORPUS_DIR`) used when `out` does not exist yet.
        client: the API client.
        out: corpus folder to create or update.
        sources: the tracked texts (`corpus/sources.toml`).
        only: keys to fetch; the other documents are carried over unchanged.
        date: consolidation date `YYYY-MM-DD`; today when None.
        force: download every text and article again, ignoring version markers.
        progress: receives one French line per step.
        now: current time as an ISO string (injectable for tests).
        check: validation of each fetched document (the project's parser by default).

    Returns:
        The change report and whether `out` was replaced.

    Raises:
        FetchError: the API failed beyond the retry policy or returned unusable data.
        ConfigError: bad arguments or credentials.
        CorpusError: the assembled corpus did not validate.
    """
    say = progress or (lambda message: None)
    day = check_date(date)
    out = out.expanduser().absolute()
    _check_out(out)
    with _exclusive(out):
        return _run(settings, client, out, sources, only, day, force, say, now, check)


def _run(
    settings: Settings,
    client: PisteClient,
    out: Path,
    sources: list[Source],
    only: Iterable[str] | None,
    day: str,
    force: bool,
    say: Progress,
    now: Callable[[], str],
    check: DocumentCheck,
) -> FetchResult:
    if recover_interrupted_swap(out):
        say(f"Une mise à jour interrompue pendant l'échange a été annulée : {out} est restauré.")
    selected = select_sources(sources, only)
    # Documents not fetched now come from the corpus being replaced, or from QFQ_CORPUS_DIR at first.
    has_corpus = (out / MANIFEST_FILE).is_file()
    base_dir = out if has_corpus else settings.corpus_dir.expanduser().absolute()
    base_entries = {entry.get("key"): entry for entry in read_manifest_entries(base_dir)}
    previous_state = read_state(out)["texts"]
    staging = Staging(sibling(out, ".partial"), day)
    requests_before = sum(client.requests.values())
    fetcher = _TextFetcher(client, staging, out, base_dir, base_entries, previous_state, day, force, now, say)
    changes = [fetcher.fetch(source) for source in selected]

    assembly, carried, missing = _plan(
        sources,
        selected,
        fetcher.records,
        staging.folder / "texts",
        out,
        base_dir,
        base_entries,
        previous_state,
        day,
        now,
    )
    requests = sum(client.requests.values()) - requests_before
    for key in missing:
        say(f"{key} : absent du corpus actuel et non récupérable par l'API, il manquera au corpus.")
    current_manifest = out / MANIFEST_FILE
    if (
        current_manifest.is_file()
        and all(change.status == "inchange" for change in changes)
        and current_manifest.read_text(encoding="utf-8") == render_manifest(assembly.entries, MANIFEST_HEADER)
    ):
        staging.remove()
        return FetchResult(out, day, changes, False, requests, carried, missing)

    new = sibling(out, ".new")
    replaced = out.exists()
    try:
        assemble(new, assembly, MANIFEST_HEADER)
        validate_corpus(new, [source.key for source in selected], check)
        swap_in(new, out)
    except BaseException:
        _remove_quietly(new)
        recover_interrupted_swap(out)
        raise
    staging.remove()
    return FetchResult(out, day, changes, True, requests, carried, missing, replaced)


def _exclusive(out: Path) -> AbstractContextManager[None]:
    """One fetch at a time per corpus folder (an advisory lock on `out.lock`)."""
    return exclusive_lock(
        sibling(out, ".lock"),
        lambda: ConfigError(
            f"Une autre mise à jour de {out} est en cours ; attendez qu'elle se termine.",
            code="mise_a_jour_en_cours",
        ),
    )


def _check_out(out: Path) -> None:
    if out.is_file() or (out.is_dir() and not (out / MANIFEST_FILE).is_file() and any(out.iterdir())):
        raise ConfigError(
            f"{out} existe et n'est pas un corpus (pas de manifest.toml) : choisissez un autre dossier "
            "avec --out, ou un dossier vide.",
            code="dossier_non_corpus",
        )
    parent = out.parent
    if not parent.is_dir():
        raise ConfigError(
            f"Le dossier parent de {out} n'existe pas : créez-le d'abord.", code="dossier_introuvable"
        )
    if not os.access(parent, os.W_OK):
        raise ConfigError(
            f"Impossible d'écrire dans {parent} : choisissez avec --out un dossier modifiable "
            "(le corpus partagé est en lecture seule).",
            code="dossier_non_modifiable",
        )


def _remove_quietly(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


class _TextFetcher:
    """Fetches one text after the other into the staging folder and reports its changes."""

    def __init__(
        self,
        client: PisteClient,
        staging: Staging,
        out: Path,
        base_dir: Path,
        base_entries: dict[Any, dict[str, Any]],
        previous_state: dict[str, Any],
        day: str,
        force: bool,
        now: Callable[[], str],
        say: Progress,
    ) -> None:
        self.client = client
        self.staging = staging
        self.out = out
        self.base_dir = base_dir
        self.base_entries = base_entries
        self.previous_state = previous_state
        self.day = day
        self.force = force
        self.now = now
        self.say = say
        self.records: dict[str, dict[str, Any]] = {}

    def fetch(self, source: Source) -> TextChange:
        downloaded = 0
        record = self.staging.finished(source.key)
        if record is not None:
            self.say(f"{source.key} : déjà récupéré par une exécution précédente, repris.")
        else:
            record, downloaded = self._download(source)
        self.records[source.key] = record
        return self._change(source, record, downloaded)

    def _download(self, source: Source) -> tuple[dict[str, Any], int]:
        self.say(f"{source.key} : table des matières ({source.official_id}, {self.day})…")
        toc = self.client.post(
            TOC_PATH, {"textId": source.official_id, "date": self.day, "nature": source.nature}
        )
        marker, version_date = toc_version(toc)
        record: dict[str, Any] = {
            "official_id": source.official_id,
            "path": source.target_path,
            "title": str(toc.get("title") or source.title),
            "version": marker,
            "version_date": version_date or self.day,
            "date": self.day,
            "fetched_at": self.now(),
        }
        previous = self.previous_state.get(source.key)
        previous_file = self.out / str(previous.get("path")) if isinstance(previous, dict) else None
        if (
            not self.force
            and isinstance(previous, dict)
            and previous_file is not None
            and previous.get("version") == marker
            and previous_file.is_file()
            and sha256_file(previous_file) == previous.get("sha256")
        ):
            self.say(f"{source.key} : version inchangée, rien à télécharger.")
            record.update(
                version_date=previous.get("version_date", record["version_date"]),
                fetched_at=previous.get("fetched_at", record["fetched_at"]),
                articles=previous.get("articles", 0),
            )
            return self.staging.finish_file(source.key, previous_file, record), 0

        listed = toc_articles(toc)
        articles, todo = self._known_articles(source, listed)
        self.say(f"{source.key} : {len(listed)} articles, {len(todo)} à télécharger.")
        with self.staging.article_log(source.key) as log:
            for count, item in enumerate(todo, start=1):
                body = self.client.post(ARTICLE_PATH, {"id": item.id})
                article = body.get("article")
                if not isinstance(article, dict) or not isinstance(article.get("texte"), str):
                    raise FetchError(
                        f"{source.key} : l'API n'a pas renvoyé l'article {item.num or item.id} ({item.id}).",
                        code="article_absent",
                        details={"texte": source.key, "article": item.id},
                    )
                article = {**article, "id": item.id}
                log.append(article)
                articles[item.id] = article
                if count % PROGRESS_EVERY == 0:
                    self.say(f"{source.key} : {count}/{len(todo)} articles téléchargés.")
        tree = build_tree(toc, articles, source.kind)
        problems = check_tree(tree)
        if problems:
            raise FetchError(
                f"{source.key} : texte reçu mal formé ({'; '.join(problems[:5])}). "
                "Le corpus actuel est conservé.",
                code="texte_mal_forme",
                details={"texte": source.key, "problemes": problems},
            )
        record["articles"] = len(listed)
        return self.staging.finish_tree(source.key, tree, record), len(todo)

    def _known_articles(
        self, source: Source, listed: list[TocArticle]
    ) -> tuple[dict[str, dict[str, Any]], list[TocArticle]]:
        """Articles already at hand (this run's staging, the previous fetch) and those to download."""
        cached = self.staging.cached_articles(source.key)
        reusable: dict[str, dict[str, Any]] = {}
        if not self.force:
            for data in self._previous_articles(source):
                reusable[str(data.get("id"))] = data
        articles: dict[str, dict[str, Any]] = {}
        todo: list[TocArticle] = []
        for item in listed:
            if item.id in cached:
                articles[item.id] = cached[item.id]
            elif item.id in reusable and _same_listing(reusable[item.id], item):
                articles[item.id] = reusable[item.id]
            else:
                todo.append(item)
        return articles, todo

    def _previous_articles(self, source: Source) -> list[dict[str, Any]]:
        """Article versions of the current file, when it is exactly the file that was recorded."""
        entry = self.base_entries.get(source.key)
        if not entry or entry.get("format") != PISTE_FORMAT:
            return []
        path = self.base_dir / str(entry.get("path"))
        if self.base_dir == self.out:
            record = self.previous_state.get(source.key)
            expected = record.get("sha256") if isinstance(record, dict) else None
        else:
            expected = listed_checksum(self.base_dir, str(entry.get("path")))
        if not expected or not path.is_file() or sha256_file(path) != expected:
            return []  # edited by hand or of unknown origin: download rather than trust it
        tree = self._previous_tree(source)
        return list(tree_articles(tree)) if tree is not None else []

    def _previous_tree(self, source: Source) -> dict[str, Any] | None:
        entry = self.base_entries.get(source.key)
        if not entry or entry.get("format") != PISTE_FORMAT:
            return None
        try:
            tree = json.loads((self.base_dir / str(entry.get("path"))).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return tree if isinstance(tree, dict) else None

    def _change(self, source: Source, record: dict[str, Any], downloaded: int) -> TextChange:
        entry = self.base_entries.get(source.key) or {}
        change = TextChange(
            key=source.key,
            short_name=source.short_name,
            status="nouveau",
            version_date=str(record.get("version_date") or ""),
            previous_version_date=str(entry.get("version_date") or ""),
            articles=int(record.get("articles") or 0),
            downloaded_articles=downloaded,
        )
        previous_path = self.base_dir / str(entry.get("path")) if entry else None
        new_path = self.staging.text_path(record)
        if (
            previous_path is not None
            and previous_path.is_file()
            and sha256_file(previous_path) == record["sha256"]
        ):
            change.status = "inchange"
            return change
        if entry and entry.get("format") != PISTE_FORMAT:
            change.previous_format = str(entry.get("format") or "")
            return change
        previous_tree = self._previous_tree(source)
        new_tree = json.loads(new_path.read_text(encoding="utf-8"))
        change.new, change.modified, change.abrogated = diff_trees(previous_tree, new_tree)
        if previous_tree is not None:
            changed = change.new or change.modified or change.abrogated
            change.status = "mis_a_jour" if changed or previous_tree != new_tree else "inchange"
        return change


def _same_listing(data: dict[str, Any], item: TocArticle) -> bool:
    """Whether a stored article version still matches its table-of-contents entry (state and dates)."""
    if item.etat and str(data.get("etat") or "") != item.etat:
        return False
    if item.date_debut and iso_date(data.get("dateDebut")) != item.date_debut:
        return False
    return not (item.date_fin and iso_date(data.get("dateFin")) != item.date_fin)


def _plan(
    sources: list[Source],
    selected: list[Source],
    records: dict[str, dict[str, Any]],
    staged_root: Path,
    out: Path,
    base_dir: Path,
    base_entries: dict[Any, dict[str, Any]],
    previous_state: dict[str, Any],
    day: str,
    now: Callable[[], str],
) -> tuple[Assembly, list[str], list[str]]:
    """What `out.new` will hold: fetched texts from staging, everything else carried from the base."""
    fetched_keys = {source.key for source in selected}
    entries: list[dict[str, Any]] = []
    files: list[tuple[Path, str, bool]] = []
    state_texts: dict[str, Any] = {}
    carried: list[str] = []
    missing: list[str] = []
    for source in sources:
        if source.key in fetched_keys:
            record = records[source.key]
            entries.append(_entry(source, record))
            files.append((staged_root, str(record["path"]), True))
            state_texts[source.key] = record
            continue
        entry = base_entries.get(source.key)
        if entry is None or not (base_dir / str(entry.get("path"))).exists():
            missing.append(source.key)
            continue
        entries.append(entry)
        carried.append(source.key)
        for relative in (
            entry.get("path"),
            entry.get("amendments"),
            f"structure/{source.key}.structure.jsonl",
        ):
            if relative and (base_dir / str(relative)).exists():
                files.append((base_dir, str(relative), base_dir == out))
        if base_dir == out and source.key in previous_state:
            state_texts[source.key] = previous_state[source.key]
    state = {"format": 1, "date": day, "updated_at": now(), "texts": state_texts}
    return Assembly(entries=entries, files=files, state=state), carried, missing


def _entry(source: Source, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": source.key,
        "title": record.get("title") or source.title,
        "short_name": source.short_name,
        "kind": source.kind,
        "official_id": source.official_id,
        "url": source.url,
        "format": PISTE_FORMAT,
        "path": record["path"],
        "version_date": record.get("version_date") or "",
        "source": API_SOURCE,
        "licence": API_LICENCE,
    }
