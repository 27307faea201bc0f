"""The routers the app includes, in order; another feature adds its router to `ROUTERS`."""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import knowledge, meta, passages, search, web

ROUTERS: list[APIRouter] = [
    search.router,
    passages.router,
    meta.router,
    meta.health_router,
    web.router,
    knowledge.router,
    knowledge.page_router,
]
