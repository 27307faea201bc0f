"""Dependencies of the routes: settings, the loaded retriever, and running blocking work off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
from anyio import to_thread
from fastapi import Depends, Request

from indexer.search.retriever import Retriever
from service.errors import ApiError, accepted_names
from service.settings import ServiceSettings
from service.state import IndexState

T = TypeVar("T")


def get_settings(request: Request) -> ServiceSettings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_index_state(request: Request) -> IndexState:
    """The index state of the app (loaded retriever, loading error)."""
    return request.app.state.index


def get_retriever(request: Request) -> Retriever:
    """The loaded retriever.

    Raises:
        ApiError: 503 `index_indisponible` while the index loads or when it could not be loaded.
    """
    state: IndexState = request.app.state.index
    if state.retriever is not None:
        return state.retriever
    if state.error is not None:
        raise ApiError(
            503,
            f"L'index n'a pas pu être chargé ({state.error.code}) : {state.error.message}",
            code="index_indisponible",
            details={"cause": state.error.code},
            headers={"Retry-After": "30"},
        )
    raise ApiError(
        503,
        "L'index est en cours de chargement. Réessayez dans quelques secondes.",
        code="index_indisponible",
        details={"cause": "chargement_en_cours"},
        headers={"Retry-After": "5"},
    )


def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the route does not declare, as a POST body refuses unknown fields.

    Raises:
        ApiError: 422 `parametre_invalide` naming the unknown parameters and listing the accepted ones.
    """
    accepted = accepted_names(request).get("query", [])
    unknown = sorted(set(request.query_params) - set(accepted))
    if unknown:
        listed = ", ".join(f"« {name} »" for name in unknown)
        hint = (
            f" Paramètres acceptés : {', '.join(sorted(accepted))}."
            if accepted
            else " Cette route n'en accepte aucun."
        )
        raise ApiError(
            422,
            f"Requête invalide : paramètre(s) inconnu(s) {listed}.{hint}",
            code="parametre_invalide",
            details={
                "erreurs": [
                    {
                        "champ": name,
                        "emplacement": "query",
                        "type": "extra_forbidden",
                        "message": f"Paramètre inconnu : « {name} ».",
                    }
                    for name in unknown
                ],
                "acceptes": sorted(accepted),
            },
        )


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
IndexStateDep = Annotated[IndexState, Depends(get_index_state)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]


async def run_blocking(request: Request, func: Callable[..., T], *args: object) -> T:
    """Run CPU-bound work (encoding, search) in a worker thread, at most `settings.threads` at once.

    The limit keeps concurrent model calls from oversubscribing the cores; extra requests wait their turn
    without blocking the event loop.
    """
    limiter = getattr(request.app.state, "search_limiter", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(request.app.state.settings.threads)
        request.app.state.search_limiter = limiter
    return await to_thread.run_sync(func, *args, limiter=limiter)
