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
    """Make sure an index is published before serving; on a fresh machine, a lexical one first.

    With the embedded backend and no published index: prepare the model, build and publish a lexical-only
    index (a minute or two), then embed the passages in a background build that publishes the hybrid
    index, which the service switches to without a restart (`service.first_run`). A lexical-only index
    published by an earlier run gets its background build started again. With PostgreSQL, the full index
    is built first, as before.

    Args:
        settings: the process settings.
        console: where progress is printed.
        only: document keys when building a subset.

    Returns:
        True when a build ran or was started.

    Raises:
        typer.Exit: the build failed (its French message is already printed).
    """
    from indexer.embedding.packaged.source import PACKAGED_MODEL
    from indexer.index.backend import published_generation, uses_database, where
    from indexer.index.bundle import current_bundle_path, has_vectors, read_manifest
    from service.cli.build import build
    from service.first_run import build_log_path, start_background_build

    try:
        published = published_generation(settings)
    except QfqError as exc:
        raise fail(exc) from exc
    lexical_first = not uses_database(settings)
    if published is not None:
        if not lexical_first:
            return False
        try:
            manifest = read_manifest(current_bundle_path(settings))
        except QfqError:
            return False  # the service reports the damaged index itself
        if has_vectors(manifest):
            return False
        only = (manifest.get("corpus") or {}).get("only") or only
        console.print("L'index publié n'a pas encore ses vecteurs : reprise de l'encodage en arrière-plan.")
    else:
        console.print(f"Aucun index publié dans {where(settings)} : première installation.")
        if settings.model == PACKAGED_MODEL:
            from indexer.embedding.packaged.prepare import prepare_model

            console.print(f"Préparation du modèle {settings.model}…")
            try:
                prepare_model(settings, progress=lambda message: console.print(f"  {message}"))
            except QfqError as exc:
                raise fail(exc) from exc
        if not lexical_first:
            build(only=only, strict=False, index_kind="flat", no_cache=False, lexical_only=False)
            return True
        console.print("Index lexical d'abord : le service répond dans une à deux minutes.")
        build(only=only, strict=False, index_kind="flat", no_cache=False, lexical_only=True)
    start_background_build(settings, only)
    console.print(
        "Encodage des passages en arrière-plan (environ 50 minutes sur 2 cœurs libres ; journal : "
        f"{build_log_path(settings)}) : la recherche devient hybride d'elle-même quand il se termine. "
        "En attendant, elle est lexicale (bandeau sur la page, « mode_effectif » dans l'API, "
        "progression sur /readyz)."
    )
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
