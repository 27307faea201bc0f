"""The `qfq` command line: corpus, model, build, search, serve and profile commands, in French."""

from __future__ import annotations

import typer

from indexer.commands import build as build_module
from indexer.commands import search as search_module
from indexer.commands.corpus import app as corpus_app
from indexer.commands.index import app as index_app
from indexer.commands.model import app as model_app
from service.profil_cli import competences, impact, profil
from service.serve import serve

app = typer.Typer(
    help="Qui fait quoi : compétences et obligations des collectivités, avec leurs articles de loi.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(corpus_app, name="corpus")
app.add_typer(index_app, name="index")
app.add_typer(model_app, name="model")
app.command("build")(build_module.build)
app.command("search")(search_module.search)
app.command("serve")(serve)
app.command("profil")(profil)
app.command("competences")(competences)
app.command("impact")(impact)
