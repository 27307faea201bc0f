"""Jinja templates of the pages and the Content-Security-Policy they share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from indexer.index.progress import read_progress

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def _index_banner(request: Request) -> dict[str, Any]:
    """`index_banner` in every page: set while the index serving has no vectors (first run)."""
    retriever = request.app.state.index.retriever
    if retriever is None or retriever.has_vectors:
        return {"index_banner": None}
    progress = read_progress(request.app.state.settings.bundles_dir) or {}
    done, total = int(progress.get("faits") or 0), int(progress.get("total") or 0)
    remaining = progress.get("reste_secondes")
    return {
        "index_banner": {
            "percent": round(100 * done / total) if total else None,
            "done": done,
            "total": total,
            "minutes_left": max(1, round(remaining / 60)) if isinstance(remaining, int | float) else None,
            "state": progress.get("etat"),
        }
    }


templates = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[_index_banner])

BASE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)
