"""`qfq serve`: pin threads, prepare the model and build the index when missing, then run uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from indexer.errors import QfqError
from service.cli.output import cli_settings, fail
from service.settings import ServiceSettings
from service.threads import pin_thread_environment


def ensure_bundle(settings: ServiceSettings, console: Console, only: list[str] | None = None) -> bool:
    """Prepare the model and build the index if no index is published yet.

    Args:
        settings: the process settings.
        console: where progress is printed.
        only: document keys when building a subset.

    Returns:
        True when a build ran.

    Raises:
        typer.Exit: the build failed (its French message is already printed).
    """
    from indexer.embedding.packaged.source import PACKAGED_MODEL
    from indexer.index.backend import published_generation, where

    try:
        if published_generation(settings) is not None:
            return False
    except QfqError as exc:
        raise fail(exc) from exc
    console.print(
        f"Aucun index publié dans {where(settings)} : préparation du modèle et construction de l'index "
        "(première installation)."
    )
    if settings.model == PACKAGED_MODEL:
        from indexer.embedding.packaged.prepare import prepare_model

        console.print(f"Préparation du modèle {settings.model}…")
        try:
            prepare_model(settings, progress=lambda message: console.print(f"  {message}"))
        except QfqError as exc:
            raise fail(exc) from exc
    from service.cli.build import build

    build(only=only, strict=False, index_kind="flat", no_cache=False)
    return True


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Adresse d'écoute (défaut : QFQ_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port d'écoute (défaut : QFQ_PORT, 8000).")
    ] = None,
    build: Annotated[
        bool,
        typer.Option(
            "--construire/--sans-construction",
            help="Construire l'index s'il n'existe pas encore (défaut) ou démarrer sans.",
        ),
    ] = True,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Si l'index doit être construit : clé d'un document à indexer (répétable)."
        ),
    ] = None,
) -> None:
    """Démarre le service HTTP : API /v1, page de recherche /, page intégrable /embed.

    Sur une machine neuve, prépare d'abord le modèle et construit l'index, avec la progression affichée.
    """
    console = Console(stderr=True)
    updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = cli_settings(**updates)
    pin_thread_environment()
    if build:
        keys = [part.strip() for value in only or [] for part in value.split(",") if part.strip()]
        ensure_bundle(settings, console, keys or None)

    import uvicorn

    from service.app import create_app
    from service.logs import configure_logging

    log_config = configure_logging()
    console.print(
        f"Service sur http://{settings.host}:{settings.port}/ (API : /v1, documentation : /docs). "
        "Chargement de l'index en arrière-plan : /readyz répond 200 quand il est prêt."
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=log_config,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
