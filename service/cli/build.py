"""`qfq build`: corpus -> passages -> embeddings -> a verified, atomically published index bundle."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from indexer.errors import QfqError
from indexer.index.progress import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    ProgressFile,
    embedding_rate,
    progress_path,
)
from service.cli.output import EXIT_USAGE, cli_settings, fail

_STAGES = {
    "index": "Index vectoriel…",
    "store": "Base des passages et index lexical FTS5…",
    "lexical": "Index lexical BM25…",
    "manifest": "Empreintes et manifeste…",
    "publish": "Publication…",
}


def french_number(value: float, decimals: int = 0) -> str:
    """1234567.8 -> "1 234 567,8" (narrow no-break spaces between thousands)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def french_size(size: float) -> str:
    """Bytes as "182,4 Mo"."""
    for unit in ("o", "Ko", "Mo", "Go"):
        if size < 1024 or unit == "Go":
            return f"{french_number(size, 0 if unit == 'o' else 1)} {unit}"
        size /= 1024
    return f"{size} Go"


def folder_size(folder: Path) -> int:
    """Total size of the files in a folder."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def peak_memory_bytes() -> int:
    """Peak resident memory of this process (Linux reports kilobytes)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{french_number(speed, 1)} passages/s", style="cyan")


class _EmbeddingProgress:
    """Rich progress bar (rate and ETA) on a terminal; a line every 30 s in a log file; and the progress
    file the service reads (`indexer.index.progress`)."""

    def __init__(self, console: Console, record: ProgressFile | None = None) -> None:
        self.console = console
        self.record = record
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.cached = 0
        self.started = 0.0
        self.last_line = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.record is not None:
            self.record.update(stage, done, total)
        if stage != "embeddings":
            self.stop()
            self.console.print(_STAGES.get(stage, stage))
            return
        if self.started == 0.0:
            self.cached = done
            self.started = self.last_line = time.perf_counter()
            self.console.print(
                f"Embeddings : {french_number(done)} passages repris du cache, "
                f"{french_number(total - done)} à calculer."
            )
            if self.console.is_terminal and total > done:
                self.progress = Progress(
                    TextColumn("Embeddings"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    _RateColumn(),
                    TextColumn("écoulé"),
                    TimeElapsedColumn(),
                    TextColumn("reste"),
                    TimeRemainingColumn(),
                    console=self.console,
                )
                self.progress.start()
                self.task = self.progress.add_task("embeddings", total=total - done)
            return
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=done - self.cached)
        elif time.perf_counter() - self.last_line >= 30 or done == total:
            self.last_line = time.perf_counter()
            elapsed = self.last_line - self.started
            rate, remaining = embedding_rate(done, self.cached, total, elapsed) or (0.0, 0.0)
            self.console.print(
                f"Embeddings : {french_number(done)}/{french_number(total)} · "
                f"{french_number(rate, 1)} passages/s · écoulé {elapsed:.0f} s · reste {remaining:.0f} s"
            )

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _split_keys(values: list[str] | None) -> set[str] | None:
    keys = {part.strip() for value in values or [] for part in value.split(",") if part.strip()}
    return keys or None


def build(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Clé d'un document à indexer (répétable, ou séparées par des virgules)."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Échouer au premier document illisible au lieu de l'écarter.")
    ] = False,
    index_kind: Annotated[
        str,
        typer.Option("--index", help="Type d'index vectoriel : flat (exact, défaut), hnsw ou ivf."),
    ] = "flat",
    no_cache: Annotated[
        bool,
        typer.Option("--sans-cache", help="Relire tout le corpus et recalculer tous les embeddings."),
    ] = False,
    lexical_only: Annotated[
        bool,
        typer.Option(
            "--lexical-seulement",
            help="Publier un index sans vecteurs (recherche lexicale seulement, en une à deux minutes) ; "
            "c'est ce que fait le premier « qfq serve » avant d'encoder les passages en arrière-plan.",
        ),
    ] = False,
) -> None:
    """Construit l'index (passages, embeddings, index vectoriel et lexical) et le publie atomiquement.

    L'index publié n'est remplacé qu'une fois le nouveau complet et vérifié ; le précédent est conservé
    pour un retour arrière (« qfq index rollback »).
    """
    from indexer.corpus.passage_cache import clear_passage_cache, load_passages_cached
    from indexer.embedding.factory import load_encoder
    from indexer.index.backend import publish_built, uses_database
    from indexer.index.build import build_bundle
    from indexer.index.bundle import load_bundle

    console = Console(stderr=True)
    settings = cli_settings()
    started = time.perf_counter()
    keys = _split_keys(only)
    if lexical_only and uses_database(settings):
        raise fail(
            "--lexical-seulement ne s'applique qu'à l'index local (QFQ_BACKEND=embedded).",
            code="option_invalide",
            exit_code=EXIT_USAGE,
        )
    record = ProgressFile(progress_path(settings.bundles_dir)) if not lexical_only else None
    try:
        if no_cache:
            clear_passage_cache(settings, sorted(keys) if keys else None)
        console.print(f"Lecture du corpus {settings.corpus_dir}…")
        corpus = load_passages_cached(settings, only=keys, strict=strict)
        for problem in corpus.problems:
            console.print(
                f"[yellow]Document écarté[/] {problem.doc_key} ({problem.code}) : {problem.message}"
            )
        parse_seconds = time.perf_counter() - started
        console.print(
            f"{french_number(len(corpus.passages))} passages de {len(corpus.documents)} documents "
            f"({len(corpus.parsed)} analysés, {len(corpus.reused)} repris du cache) en "
            f"{french_number(parse_seconds, 1)} s."
        )
        console.print(f"Chargement du modèle {settings.model}…")
        encoder = load_encoder(settings)
        reporter = _EmbeddingProgress(console, record)
        try:
            folder = build_bundle(
                settings,
                corpus.passages,
                corpus.documents,
                encoder,
                progress=reporter,
                index_kind=index_kind,
                only=sorted(keys) if keys else None,
                use_cache=not no_cache,
                fields=corpus.fields,
                publish_bundle=not uses_database(settings),
                lexical_only=lexical_only,
            )
        finally:
            reporter.stop()
        bundle = load_bundle(settings, folder, encoder=encoder)
        bundle.close()
        size = folder_size(folder)
        published = str(folder)
        if uses_database(settings):
            console.print("Copie dans PostgreSQL, vérification et bascule du pointeur…")
            build_id = publish_built(settings, folder, encoder)
            published = f"génération {build_id} de la base PostgreSQL (QFQ_DATABASE_URL)"
    except QfqError as exc:
        if record is not None:
            record.finish(FAILED, exc.message)
        raise fail(exc) from exc
    except BaseException as exc:
        if record is not None:
            record.finish(FAILED if isinstance(exc, Exception) else INTERRUPTED, str(exc))
        raise
    if record is not None:
        record.finish(FINISHED, build_id=bundle.build_id)
    seconds = time.perf_counter() - started
    manifest = bundle.manifest
    count = manifest["counts"]["passages"]
    embedding = manifest["embedding"]
    rate = embedding["embedded"] / embedding["seconds"] if embedding["seconds"] > 0 else 0.0
    lines = [
        f"Index publié : {published}",
        f"  passages        {french_number(count)} ({french_number(manifest['counts']['articles'])} articles, "
        f"{manifest['counts']['documents']} documents)",
        f"  embeddings      {french_number(embedding['embedded'])} calculés"
        + (f" à {french_number(rate, 1)} passages/s" if embedding["embedded"] else "")
        + f", {french_number(embedding['from_cache'])} repris du cache",
        f"  durée           {french_number(seconds, 1)} s ({french_number(count / seconds, 1)} passages/s)",
        f"  taille          {french_size(size)}",
        f"  mémoire max     {french_size(peak_memory_bytes())}",
        f"  modèle          {manifest['model']['id']} (dimension {manifest['model']['dimension']})",
    ]
    if lexical_only:
        lines.insert(
            2, "  vecteurs        aucun : recherche lexicale seulement, jusqu'à la construction complète"
        )
    typer.echo("\n".join(lines))
