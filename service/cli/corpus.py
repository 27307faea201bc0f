"""`qfq corpus …`: validate the corpus and show the passages of an article."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from indexer.corpus.manifest import load_manifest, verify_checksums
from indexer.errors import QfqError
from service.cli.fetch import fetch
from service.cli.output import EXIT_USAGE, cli_settings, fail

app = typer.Typer(
    help="Corpus : vérification, passages, mise à jour depuis Légifrance.", no_args_is_help=True
)
app.command("fetch")(fetch)


@app.command("check")
def check(
    strict: Annotated[bool, typer.Option("--strict", help="Échouer au premier document illisible.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Rapport en JSON.")] = False,
) -> None:
    """Vérifie le manifeste et CHECKSUMS.sha256, compte les passages par document, format et statut."""
    from indexer.corpus.passages import load_passages

    settings = cli_settings()
    try:
        corpus_dir = settings.require_corpus()
        documents = load_manifest(corpus_dir)
        typer.echo(f"Vérification des sommes de contrôle de {corpus_dir}…", err=True)
        checksums = verify_checksums(corpus_dir)
        typer.echo(
            f"Lecture et découpage des {len(documents)} documents ({settings.threads} processus, "
            "environ une minute pour le corpus complet)…",
            err=True,
        )
        started = time.perf_counter()
        result = load_passages(settings, strict=strict)
        typer.echo(f"Lu en {time.perf_counter() - started:.0f} s.", err=True)
    except QfqError as exc:
        raise fail(exc, exit_code=EXIT_USAGE) from exc
    per_doc = result.by_document()
    per_status_doc: dict[str, Counter[str]] = {}
    for passage in result.passages:
        per_status_doc.setdefault(passage.doc_key, Counter())[str(passage.status)] += 1
    problems = [f"{p.doc_key} ({p.path}) : {p.message}" for p in result.problems]
    if checksums.present:
        problems += [f"somme de contrôle différente : {name}" for name in checksums.mismatched]
        problems += [f"fichier listé mais absent : {name}" for name in checksums.missing]
    if as_json:
        report = {
            "corpus": str(corpus_dir),
            "documents": [
                {
                    "key": doc.key,
                    "short_name": doc.short_name,
                    "format": doc.format,
                    "version_date": doc.version_date,
                    "articles": result.articles_per_document.get(doc.key, 0),
                    "passages": per_doc.get(doc.key, 0),
                    "statuts": dict(per_status_doc.get(doc.key, {})),
                }
                for doc in documents
            ],
            "par_format": dict(Counter(doc.format for doc in documents)),
            "par_statut": dict(result.by_status()),
            "sommes_de_controle": {
                "present": checksums.present,
                "verifiees": checksums.checked,
                "ok": checksums.ok,
            },
            "problemes": problems,
        }
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        console = Console()
        table = Table(title=f"Corpus {corpus_dir}")
        for column in ("document", "format", "version du", "articles", "passages", "en vigueur", "abrogés"):
            table.add_column(column)
        for doc in documents:
            statuses = per_status_doc.get(doc.key, Counter())
            table.add_row(
                f"{doc.key} ({doc.short_name})",
                doc.format,
                doc.version_date,
                str(result.articles_per_document.get(doc.key, 0)),
                str(per_doc.get(doc.key, 0)),
                str(statuses.get("en_vigueur", 0)),
                str(statuses.get("abroge", 0)),
            )
        console.print(table)
        formats = ", ".join(
            f"{name} : {n}" for name, n in sorted(Counter(d.format for d in documents).items())
        )
        console.print(f"Documents par format : {formats}")
        by_status = ", ".join(f"{name} : {n}" for name, n in sorted(result.by_status().items()))
        console.print(f"Passages par statut : {by_status} (total {len(result.passages)})")
        if checksums.present:
            verdict = "conformes" if checksums.ok else "NON conformes"
            console.print(f"Sommes de contrôle : {checksums.checked} fichiers vérifiés, {verdict}.")
        else:
            console.print("Sommes de contrôle : pas de CHECKSUMS.sha256 dans ce corpus.")
        if problems:
            console.print(f"[red]{len(problems)} problème(s) :[/]")
            for problem in problems:
                console.print(f"  - {problem}")
        else:
            console.print("Aucun problème.")
    if problems:
        raise typer.Exit(code=1)


@app.command("passages")
def passages(
    doc: Annotated[str, typer.Option("--doc", help="Clé du document, ex. cgct.")],
    article: Annotated[str | None, typer.Option("--article", help="Numéro d'article, ex. L5214-16.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Passages en JSON.")] = False,
) -> None:
    """Affiche les passages d'un article (ou de tout un document) avec leurs métadonnées et étiquettes."""
    from indexer.corpus.passages import load_passages
    from indexer.text.article_refs import canonical_article

    settings = cli_settings()
    try:
        result = load_passages(settings, only={doc}, strict=True, workers=1)
    except QfqError as exc:
        raise fail(exc, exit_code=EXIT_USAGE) from exc
    selected = result.passages
    if article:
        wanted = canonical_article(re.sub(r"^\s*art(?:icle|\.)?\s*", "", article, flags=re.IGNORECASE))
        selected = [p for p in selected if canonical_article(p.article) == wanted]
        if not selected:
            raise fail(f"aucun article {article} dans {doc}.", code="article_introuvable")
    if as_json:
        typer.echo(json.dumps([p.to_dict() for p in selected], ensure_ascii=False, indent=2))
        return
    console = Console()
    for passage in selected:
        console.rule(f"{passage.id} · {passage.status} · version du {passage.version_date}")
        console.print(f"[bold]{passage.header}[/]")
        if passage.heading_path:
            console.print(" > ".join(passage.heading_path), style="dim")
        console.print(passage.text)
        console.print(
            f"Niveaux : {', '.join(passage.levels) or '—'} · Thèmes : {', '.join(passage.themes) or '—'}"
        )
        for term, reasons in passage.tag_reasons.items():
            console.print(f"  {term} ← {'; '.join(reasons)}", style="dim")
        if passage.url:
            console.print(passage.url)
