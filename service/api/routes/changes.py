"""The change watch: `GET /v1/changements` (JSON) and `GET /v1/changements.atom` (a feed per level)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from indexer.corpus.lookup import corpus_lookup
from indexer.errors import QfqError
from indexer.knowledge.changes import DEFAULT_WINDOW_DAYS, changes_report
from indexer.text.tagging import load_taxonomy
from service.api.feeds import ATOM_MEDIA_TYPE, render_atom
from service.api.routes.common import error_responses
from service.api.routes.knowledge import current_knowledge, knowledge_error, passage_lookup
from service.api.schemas_knowledge import ChangesResponse
from service.deps import IndexStateDep, SettingsDep, reject_unknown_query, run_blocking

router = APIRouter(
    dependencies=[Depends(reject_unknown_query)],
    prefix="/v1",
    tags=["veille des changements"],
    responses=error_responses(400, 401, 403, 413, 422, 429),
)

LevelQuery = Annotated[
    str,
    Query(
        min_length=1, max_length=60, description="Niveau (taxonomie).", examples=["communaute-de-communes"]
    ),
]
SinceQuery = Annotated[
    str | None,
    Query(
        max_length=10,
        description=f"Date AAAA-MM-JJ (incluse) ; par défaut les {DEFAULT_WINDOW_DAYS} derniers jours.",
        examples=["2015-01-01"],
    ),
]
ThemeQuery = Annotated[str | None, Query(max_length=60, description="Thème à garder.", examples=["dechets"])]


async def changes_for(
    request: Request, state: Any, settings: Any, niveau: str, depuis: str | None, theme: str | None
) -> dict[str, Any]:
    """The change report, with errors in the one error shape."""
    knowledge = current_knowledge()
    try:
        return await run_blocking(
            request,
            changes_report,
            knowledge,
            load_taxonomy(),
            corpus_lookup(settings),
            passage_lookup(state, settings),
            niveau,
            depuis or None,
            theme or None,
        )
    except QfqError as exc:
        raise knowledge_error(exc) from exc


@router.get(
    "/changements",
    operation_id="list_changes",
    summary="Veille : ce qui a changé pour un niveau depuis une date",
    response_model=ChangesResponse,
)
async def list_changes(
    request: Request,
    state: IndexStateDep,
    settings: SettingsDep,
    niveau: LevelQuery,
    depuis: SinceQuery = None,
    theme: ThemeQuery = None,
) -> dict[str, Any]:
    """Articles concernant le niveau créés, modifiés ou abrogés depuis la date, avec le texte modificatif et
    la date tirés des historiques de versions, groupés par thème ; évolutions des connaissances curées ; et
    la couverture du corpus (codes consolidés au 2020-10-28, lois postérieures)."""
    return await changes_for(request, state, settings, niveau, depuis, theme)


@router.get(
    "/changements.atom",
    operation_id="changes_feed",
    summary="Veille : flux Atom d'un niveau (et d'un thème)",
    response_class=Response,
    responses={200: {"description": "Flux Atom (RFC 4287).", "content": {"application/atom+xml": {}}}},
)
async def changes_feed(
    request: Request,
    state: IndexStateDep,
    settings: SettingsDep,
    niveau: LevelQuery,
    depuis: SinceQuery = None,
    theme: ThemeQuery = None,
) -> Response:
    """Le même contenu en flux Atom, à suivre dans un lecteur de flux ou un intranet : une entrée par
    changement d'article (thèmes en catégories), une par évolution curée, une sur la couverture du corpus."""
    report = await changes_for(request, state, settings, niveau, depuis, theme)
    query = [
        ("niveau", niveau),
        *([("theme", theme)] if theme else []),
        *([("depuis", depuis)] if depuis else []),
    ]
    base = str(request.base_url).rstrip("/")
    body = render_atom(
        report,
        self_url=f"{base}/v1/changements.atom?{urlencode(query)}",
        page_url=f"{base}/changements?{urlencode(query)}",
        labels=load_taxonomy().labels(),
    )
    return Response(content=body, media_type=ATOM_MEDIA_TYPE)
