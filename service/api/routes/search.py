"""Search routes: `/v1/search` (GET and POST) and `/v1/search/export` (Markdown, CSV or JSON files)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from indexer.knowledge.answer import Answerer
from indexer.search.ask import Asker
from indexer.search.retriever import Retriever, SearchResult
from service.api.exports import MEDIA_TYPES, export_response
from service.api.presenters import filters_of, search_response
from service.api.routes.common import API_ERRORS, error_responses
from service.api.schemas import ExportBody, ExportParams, SearchBody, SearchParams, SearchResponse
from service.citations_check import with_warning
from service.deps import RetrieverDep, reject_unknown_query, run_blocking

router = APIRouter(
    dependencies=[Depends(reject_unknown_query)],
    prefix="/v1",
    tags=["recherche"],
    responses=error_responses(*API_ERRORS),
)

_EXPORT_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Le fichier demandé (téléchargement).",
        "content": {
            MEDIA_TYPES["md"].split(";")[0]: {"schema": {"type": "string"}},
            MEDIA_TYPES["csv"].split(";")[0]: {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}},
        },
        "headers": {"Content-Disposition": {"description": "Nom du fichier.", "schema": {"type": "string"}}},
    }
}


async def run_search(request: Request, retriever: Retriever, params: SearchParams) -> SearchResponse:
    """Search off the event loop and turn the result into the API answer.

    Args:
        request: the request (app state: limiter, metrics).
        retriever: the loaded retriever.
        params: validated parameters.

    Returns:
        The page of hits, with the knowledge's answer when it has a confident one.

    Raises:
        QfqError: unknown filter values (`filtre_invalide`, 422 listing the allowed ones), bad date, empty query.
    """
    filters = filters_of(params)
    answerer: Answerer | None = request.app.state.answerer

    def ask() -> tuple[SearchResult, dict[str, Any] | None, list[dict[str, Any]]]:
        reply = Asker(retriever, answerer).ask(
            params.q, params.k, filters, params.mode, params.offset, params.grouper
        )
        mechanisms = [m.to_dict(retriever) for m in reply.mechanisms]
        if reply.answer is None or answerer is None:
            return reply.result, None, mechanisms
        return (
            reply.result,
            with_warning(reply.answer.to_dict(answerer.knowledge, answerer.taxonomy, retriever)),
            mechanisms,
        )

    result, answer, mechanisms = await run_blocking(request, ask)
    request.app.state.metrics.search_latency.labels(mode=params.mode).observe(result.took_ms / 1000)
    return search_response(result, params, retriever.build_id, answer, mechanisms)


def _timing_headers(response: Response, answer: SearchResponse) -> None:
    response.headers["X-Build-Id"] = answer.build_id
    response.headers["Server-Timing"] = f"search;dur={answer.took_ms:.2f}"


@router.get(
    "/search",
    operation_id="search",
    summary="Rechercher des passages",
    response_model=SearchResponse,
)
async def search_get(
    request: Request, response: Response, retriever: RetrieverDep, params: Annotated[SearchParams, Query()]
) -> SearchResponse:
    """Passages les plus proches de la question, avec citation, statut, date de version et lien.

    Filtres : `niveau`, `theme`, `document`, `type` (répétables ou séparés par des virgules), `en_vigueur`,
    `date`. Une valeur de filtre inconnue est refusée (422) avec la liste des valeurs possibles.
    """
    answer = await run_search(request, retriever, params)
    _timing_headers(response, answer)
    return answer


@router.post(
    "/search",
    operation_id="search_post",
    summary="Rechercher des passages (corps JSON)",
    response_model=SearchResponse,
)
async def search_post(
    request: Request, response: Response, retriever: RetrieverDep, body: SearchBody
) -> SearchResponse:
    """Même recherche que GET /v1/search, paramètres dans un corps JSON (16 Ko au plus)."""
    answer = await run_search(request, retriever, body)
    _timing_headers(response, answer)
    return answer


@router.get(
    "/search/export",
    operation_id="search_export",
    summary="Exporter une recherche (Markdown, CSV ou JSON)",
    response_class=Response,
    responses=_EXPORT_CONTENT,
)
async def export_get(
    request: Request, retriever: RetrieverDep, params: Annotated[ExportParams, Query()]
) -> Response:
    """Les résultats en fichier : `format=md` (fiche citée : question, extraits, références, dates de
    version, liens), `csv` (séparateur point-virgule, UTF-8 avec BOM) ou `json`."""
    answer = await run_search(request, retriever, params)
    return export_response(answer, params.format)


@router.post(
    "/search/export",
    operation_id="search_export_post",
    summary="Exporter une recherche (corps JSON)",
    response_class=Response,
    responses=_EXPORT_CONTENT,
)
async def export_post(request: Request, retriever: RetrieverDep, body: ExportBody) -> Response:
    """Même export que GET /v1/search/export, paramètres dans un corps JSON."""
    answer = await run_search(request, retriever, body)
    return export_response(answer, body.format)
