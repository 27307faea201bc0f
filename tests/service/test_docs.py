"""Every setting and every route of the service is documented in README.md."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute

from indexer.settings import Settings
from service.routes import ROUTERS

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    text = _readme()
    names = [f"QFQ_{name.upper()}" for name in Settings.model_fields]
    missing = [name for name in names if name not in text]
    assert not missing, f"Réglages absents de README.md : {', '.join(missing)}"


def test_every_route_is_documented() -> None:
    text = _readme()
    paths = {"/static/..."} | {
        re.sub(r":\w+\}", "}", route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    }
    assert len(paths) > 15
    missing = sorted(path for path in paths if f"`{path}`" not in text)
    assert not missing, f"Routes absentes de README.md : {', '.join(missing)}"
