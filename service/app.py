"""The FastAPI application: `create_app(settings)` wires settings, index loading, middleware and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware

from indexer.index.backend import published_generation, release
from indexer.knowledge.answer import Answerer, curated_answerer
from indexer.search.retriever import Retriever
from service.errors import install_error_handlers
from service.metrics import Metrics
from service.middleware import (
    CORS_ALLOWED_HEADERS,
    CORS_EXPOSED_HEADERS,
    MAX_BODY_BYTES,
    AccessMiddleware,
    FrenchCORSMiddleware,
    RequestContextMiddleware,
    RequestGuardMiddleware,
)
from service.routers import ROUTERS
from service.settings import ServiceSettings
from service.state import IndexState, RetrieverLoader
from service.threads import SEARCH_THREADS
from service.web import api_docs
from service.web.templating import STATIC_DIR

API_VERSION = "1.0.0"

DESCRIPTION = """
Recherche sémantique et lexicale dans les textes qui fixent les compétences et obligations des
collectivités territoriales (CGCT, codes, lois, guides), avec citation, statut et date de version.

Toutes les erreurs ont la forme `{"error": {"code", "message", "details"}}`, messages en français.
Si des clés d'API sont configurées, envoyez-en une dans `X-API-Key` ou `Authorization: Bearer`.
"""


def pin_threads(threads: int) -> None:
    """Limit BLAS/OpenMP pools and faiss to `threads` compute threads per search.

    Environment variables only act before the libraries load; threadpoolctl resizes pools already loaded.
    """
    from indexer.index.vectors import set_threads

    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)
    except ImportError:  # optional: the environment variables set by `qfq serve` still apply
        pass
    set_threads(threads)


def create_app(
    settings: ServiceSettings | None = None,
    *,
    retriever: Retriever | None = None,
    loader: RetrieverLoader | None = None,
    load_index: bool = True,
    answerer: Answerer | None | Literal["curated"] = "curated",
) -> FastAPI:
    """Build the service.

    Args:
        settings: the process settings (read from the environment when None).
        retriever: an already loaded retriever (tests); no loading happens then.
        loader: how to load the retriever (default: `Retriever.open` with one compute thread per search),
            run in a background thread at start-up so `/livez` answers at once and `/readyz` says 503 until
            the index is ready.
        load_index: False leaves the index unloaded (tests of the not-ready state).
        answerer: what answers questions from the curated knowledge: "curated" reads `corpus/knowledge/`
            (no answers, with a logged error, when it is invalid), None answers nothing.

    Returns:
        The FastAPI application.
    """
    settings = settings or ServiceSettings()
    metrics = Metrics()
    state = IndexState()
    if retriever is not None:
        state.set(retriever)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.search_limiter = anyio.CapacityLimiter(settings.threads)
        if retriever is None and load_index:
            pin_threads(SEARCH_THREADS)
            # Searches run one compute thread each, `settings.threads` at a time (the search limiter): the
            # database pool serves that many, plus the index watcher and a spare.
            search_settings = settings.model_copy(
                update={
                    "threads": SEARCH_THREADS,
                    "database_pool_size": settings.database_pool_size or settings.threads + 2,
                }
            )
            load = loader or (lambda: Retriever.open(search_settings))
            state.start_loading(load)
            state.watch(lambda: published_generation(search_settings), load, settings.reload_seconds)
        try:
            yield
        finally:
            state.close()
            release(settings)

    middleware = [
        Middleware(RequestContextMiddleware, metrics=metrics),
        Middleware(
            FrenchCORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=list(CORS_ALLOWED_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            max_age=600,
        ),
        Middleware(RequestGuardMiddleware, max_body_bytes=MAX_BODY_BYTES),
        Middleware(
            AccessMiddleware,
            api_keys=list(settings.api_keys),
            per_minute=settings.rate_limit_per_minute,
            metrics=metrics,
        ),
    ]
    app = FastAPI(
        title="Qui fait quoi — API",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        middleware=middleware,
        docs_url=None,  # served by service.web.api_docs, without a CDN
        redoc_url=None,
        openapi_tags=[
            {"name": "recherche", "description": "Questions en français, passages cités."},
            {"name": "passages", "description": "Lecture des passages et articles."},
            {"name": "métadonnées", "description": "Documents, taxonomie, manifeste de l'index."},
            {"name": "exploitation", "description": "Santé et métriques."},
        ],
    )
    app.state.settings = settings
    app.state.answerer = curated_answerer() if answerer == "curated" else answerer
    app.state.index = state
    app.state.metrics = metrics
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    api_docs.mount_assets(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.openapi = lambda: _openapi_with_security(app)  # type: ignore[method-assign]
    return app


def _openapi_with_security(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema with the API key schemes, so that /docs can send a key (QFQ_API_KEYS)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "cleApi": {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": "Une clé de QFQ_API_KEYS.",
            },
            "jeton": {
                "type": "http",
                "scheme": "bearer",
                "description": "La même clé en « Authorization: Bearer ».",
            },
        }
        # Keys are needed only when QFQ_API_KEYS is set: no key ({}) is an accepted alternative.
        schema["security"] = [{}, {"cleApi": []}, {"jeton": []}]
        app.openapi_schema = schema
    return app.openapi_schema
