"""`qfq index …`: list the kept indexes (bundles or PostgreSQL generations) and roll back to the previous one."""

from __future__ import annotations

import typer

from indexer.errors import QfqError
from service.cli.build import french_size
from service.cli.output import cli_settings, fail

app = typer.Typer(help="Index publiés : liste et retour arrière.", no_args_is_help=True)


@app.command("list")
def list_command() -> None:
    """Liste les index conservés (le courant, le précédent et, avec PostgreSQL, jusqu'à QFQ_KEEP_GENERATIONS)."""
    from indexer.index.backend import list_indexes

    try:
        rows = list_indexes(cli_settings())
    except QfqError as exc:
        raise fail(exc) from exc
    if not rows:
        typer.echo("Aucun index construit. Lancez « qfq build ».")
        return
    for row in rows:
        role = f" ({row['role']})" if row["role"] else ""
        if row.get("erreur"):
            typer.echo(f"{row['build_id']}{role} · INUTILISABLE : {row['erreur']}")
        else:
            size = f" · {french_size(row['bytes'])} dans la base" if "bytes" in row else ""
            typer.echo(
                f"{row['build_id']}{role} · construit le {row['built_at']} · {row['passages']} passages{size}"
            )


@app.command("rollback")
def rollback_command() -> None:
    """Revient à l'index précédent (l'index courant devient le précédent)."""
    from indexer.index.backend import rollback

    try:
        build_id = rollback(cli_settings())
    except QfqError as exc:
        raise fail(exc) from exc
    typer.echo(
        f"Index courant : {build_id}. Un service en marche le charge de lui-même (QFQ_RELOAD_SECONDS)."
    )
