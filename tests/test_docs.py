"""The documentation (README.md and docs/*.md) covers every setting, route and command, and its links resolve."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main
from fastapi.routing import APIRoute

from indexer.settings import Settings
from service.cli.main import app
from service.routers import ROUTERS
from service.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_BYTES = 10_240
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
EXTERNAL_PREFIXES = ("http://", "https://", "#", "mailto:")


def _doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _docs_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in _doc_files())


def _command_paths(command: Any, path: tuple[str, ...]) -> Iterator[str]:
    """Yield the full path of every leaf command, e.g. `qfq corpus check`.

    Typer's groups are duck-typed on their `commands` mapping: recent Typer versions ship their own
    Click, whose `Group` is not `click.Group`.
    """
    subcommands = getattr(command, "commands", None)
    if isinstance(subcommands, dict) and subcommands:
        for name, subcommand in subcommands.items():
            yield from _command_paths(subcommand, (*path, name))
    else:
        yield " ".join(path)


def test_docs_exist() -> None:
    expected = {
        "README.md",
        "api.md",
        "cli.md",
        "connaissances.md",
        "corpus.md",
        "evaluation.md",
        "integrators.md",
        "legifrance.md",
        "performances.md",
        "reglages.md",
    }
    missing = sorted(name for name in expected if not (DOCS / name).is_file())
    assert not missing, f"Pages absentes de docs/ : {', '.join(missing)}"


def test_every_setting_is_documented() -> None:
    text = _docs_text()
    fields = dict.fromkeys([*Settings.model_fields, *ServiceSettings.model_fields])
    names = [f"QFQ_{name.upper()}" for name in fields]
    assert len(names) > 15
    missing = [name for name in names if name not in text]
    assert not missing, f"Réglages absents de la documentation : {', '.join(missing)}"


def test_every_route_is_documented() -> None:
    text = _docs_text()
    paths = {"/static/..."} | {
        re.sub(r":\w+\}", "}", route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    }
    assert len(paths) > 15
    missing = sorted(path for path in paths if f"`{path}`" not in text)
    assert not missing, f"Routes absentes de la documentation : {', '.join(missing)}"


def test_every_command_is_documented() -> None:
    text = _docs_text()
    commands = sorted(_command_paths(typer.main.get_command(app), ("qfq",)))
    assert len(commands) > 10, f"Commandes trouvées : {', '.join(commands)}"
    missing = [command for command in commands if command not in text]
    assert not missing, f"Commandes absentes de la documentation : {', '.join(missing)}"


def test_readme_is_short() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md fait {size} octets (au plus {README_MAX_BYTES})"


def test_relative_links_resolve() -> None:
    broken = []
    for path in _doc_files():
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if target.startswith(EXTERNAL_PREFIXES):
                continue
            file_part = target.split("#", 1)[0]
            if not (path.parent / file_part).exists():
                broken.append(f"{path.relative_to(ROOT)} → {target}")
    assert not broken, f"Liens relatifs cassés : {', '.join(broken)}"
