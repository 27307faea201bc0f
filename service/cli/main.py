"""The `qfq` command line: corpus, model, build, search, serve and profile commands, in French."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import typer

from service.cli import build as build_module
from service.cli import french
from service.cli import search as search_module
from service.cli.corpus import app as corpus_app
from service.cli.index import app as index_app
from service.cli.knowledge import changements, competences, impact, matrice, profil
from service.cli.model import app as model_app
from service.cli.serve import serve

french.install()  # click and Typer build their messages when a command runs

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
app.command("matrice")(matrice)
app.command("changements")(changements)


def main() -> None:
    """Entry point of `qfq` (and `python -m service`): run the command, then exit without finalisation.

    Python's finalisation tears down every loaded module and object one by one: after torch and
    sentence-transformers it took 2-3 s, after the corpus's passages 1-2 s more, added to every `qfq build`.
    Commands close what they write themselves (bundles are fsynced and published atomically, SQLite files
    closed), so once a command has returned, the standard streams and logging are flushed and the process
    leaves with the command's exit code. An uncaught exception still goes through the usual traceback.
    """
    code = 0
    try:
        app(prog_name="qfq")
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
            code = 1
        else:
            code = int(exit_.code or 0)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
            stream.flush()
    os._exit(code)
