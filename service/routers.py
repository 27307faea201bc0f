"""The routers the app includes, in order; another feature adds its router to `ROUTERS`."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.routes import changes, knowledge, meta, passages, search
from service.web import api_docs, pages, profile, watch

ROUTERS: list[APIRouter] = [
    search.router,
    passages.router,
    meta.router,
    meta.health_router,
    pages.router,
    knowledge.router,
    changes.router,
    profile.router,
    watch.router,
    api_docs.router,
]
