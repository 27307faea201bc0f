"""`qfq corpus fetch`: refresh the tracked texts from the Légifrance API into a corpus folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from indexer.errors import QfqError
from indexer.fetch.changes import render_fr
from indexer.fetch.client import PisteClient
from indexer.fetch.pipeline import run_fetch
from indexer.fetch.sources import DEFAULT_SOURCES, load_sources
from indexer.fetch.writer import rollback, sibling
from service.cli.output import cli_settings, fail


def fetch(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DOSSIER",
            help="Dossier du corpus à créer ou à mettre à jour (ex. ~/qfq-corpus).",
        ),
    ],
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="CLÉ",
            help="Clé d'un texte à récupérer (répétable, ou séparées par des virgules).",
        ),
    ] = None,
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            metavar="AAAA-MM-JJ",
            help="Version consolidée à cette date AAAA-MM-JJ (défaut : aujourd'hui).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Tout télécharger à nouveau, même les textes inchangés.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Rapport des changements en JSON.")] = False,
    sources: Annotated[
        Path, typer.Option("--sources", metavar="FICHIER", help="Liste des textes suivis (TOML).")
    ] = DEFAULT_SOURCES,
    undo: Annotated[
        bool,
        typer.Option("--rollback", help="Remettre en place le corpus précédent (DIR.previous) et quitter."),
    ] = False,
) -> None:
    """Télécharge les codes et lois suivis depuis l'API Légifrance (PISTE) et met le corpus à jour.

    Seuls les textes dont la version a changé sont téléchargés ; le nouveau corpus n'est mis en place
    qu'une fois complet et valide, l'ancien restant disponible dans DIR.previous.
    """
    settings = cli_settings()
    try:
        if undo:
            rollback(out.expanduser().absolute())
            typer.echo(
                f"Corpus précédent remis en place dans {out} (l'autre version est dans "
                f"{sibling(out, '.previous')})."
            )
            return
        with PisteClient.from_credentials(settings.piste()) as client:
            result = run_fetch(
                settings,
                client,
                out=out,
                sources=load_sources(sources),
                only=only,
                date=date,
                force=force,
                progress=lambda message: typer.echo(message, err=True),
            )
    except QfqError as exc:
        raise fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        report = render_fr(
            result.changes,
            swapped=result.swapped,
            out=str(result.out),
            requests=result.requests,
            replaced=result.replaced,
        )
        typer.echo(report)
