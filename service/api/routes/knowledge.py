"""Knowledge routes: competences of a level, obligations of a profile, impact of a law."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from indexer.corpus.lookup import corpus_lookup
from indexer.errors import QfqError
from indexer.knowledge.competences import competences_report
from indexer.knowledge.impact import impact_report
from indexer.knowledge.load import KnowledgeError, cached_knowledge
from indexer.knowledge.lookup import PassageLookup
from indexer.knowledge.matrix import competence_matrix
from indexer.knowledge.model import Knowledge
from indexer.knowledge.profile import evaluate_profile, make_profile
from indexer.text.tagging import load_taxonomy
from service.api.matrix_exports import MATRIX_MEDIA_TYPES, MatrixFormat, matrix_response
from service.api.routes.common import error_responses
from service.api.schemas_knowledge import (
    CompetencesResponse,
    ImpactResponse,
    MatrixResponse,
    ProfileRequest,
    ProfileResponse,
)
from service.citations_check import with_warning
from service.deps import IndexStateDep, SettingsDep, reject_unknown_query, run_blocking
from service.errors import STATUS_BY_CODE, ApiError

router = APIRouter(
    dependencies=[Depends(reject_unknown_query)],
    prefix="/v1",
    tags=["compétences et obligations"],
    responses=error_responses(400, 401, 403, 413, 422, 429),
)


def knowledge_error(exc: QfqError) -> ApiError:
    """The knowledge error as an API error; invalid knowledge files are a server fault (500)."""
    if isinstance(exc, KnowledgeError):
        return ApiError(500, exc.message, code=exc.code, details=exc.details)
    details = dict(exc.details)
    # A knowledge question the layer cannot answer is the request's fault unless its code says otherwise.
    return ApiError(STATUS_BY_CODE.get(exc.code, 422), exc.message, code=exc.code, details=details)


def current_knowledge() -> Knowledge:
    try:
        return cached_knowledge()
    except KnowledgeError as exc:
        raise knowledge_error(exc) from exc


def passage_lookup(state: Any, settings: Any) -> PassageLookup:
    """The loaded index when ready (passage parts, as search shows them), else the corpus itself."""
    if state.retriever is not None:
        return state.retriever
    return corpus_lookup(settings)


@router.get(
    "/competences",
    operation_id="list_competences",
    summary="Compétences d'un niveau de collectivité",
    response_model=CompetencesResponse,
)
async def list_competences(
    request: Request,
    state: IndexStateDep,
    settings: SettingsDep,
    niveau: Annotated[
        str,
        Query(
            min_length=1,
            max_length=60,
            description="Niveau (taxonomie).",
            examples=["communaute-de-communes"],
        ),
    ],
) -> dict[str, Any]:
    """Les compétences du niveau, groupées par thème, avec catégorie, base légale et passage cité."""
    knowledge = current_knowledge()
    try:
        report = await run_blocking(
            request, competences_report, knowledge, niveau, passage_lookup(state, settings)
        )
        return with_warning(report)
    except QfqError as exc:
        raise knowledge_error(exc) from exc


@router.post(
    "/profil",
    operation_id="evaluate_profile",
    summary="Obligations d'une collectivité",
    response_model=ProfileResponse,
)
async def evaluate_profile_route(
    request: Request, state: IndexStateDep, settings: SettingsDep, body: ProfileRequest
) -> dict[str, Any]:
    """Obligations applicables, non applicables (avec le motif) et indéterminées (avec ce qui manque)."""
    knowledge = current_knowledge()
    try:
        profile = make_profile(knowledge, body.type, body.population, body.agents, body.date, body.criteres)
        result = await run_blocking(
            request, evaluate_profile, knowledge, profile, passage_lookup(state, settings)
        )
    except QfqError as exc:
        raise knowledge_error(exc) from exc
    return with_warning(result.to_dict(knowledge))


@router.get(
    "/lois/{key}/impact",
    operation_id="law_impact",
    summary="Ce qu'une loi a changé dans les codes",
    response_model=ImpactResponse,
    responses=error_responses(404),
)
async def law_impact_route(
    request: Request,
    state: IndexStateDep,
    settings: SettingsDep,
    key: Annotated[str, Path(max_length=60, description="Clé de la loi.", examples=["notre"])],
    niveau: Annotated[
        str | None,
        Query(max_length=60, description="Ne garder que ce niveau.", examples=["communaute-de-communes"]),
    ] = None,
) -> dict[str, Any]:
    """Articles créés, modifiés ou abrogés par la loi, d'après les historiques du corpus, par niveau et thème."""
    knowledge = current_knowledge()
    corpus = corpus_lookup(settings)
    try:
        return await run_blocking(
            request, impact_report, knowledge, key, corpus, passage_lookup(state, settings), niveau or None
        )
    except QfqError as exc:
        raise knowledge_error(exc) from exc


@router.get(
    "/matrice",
    operation_id="competence_matrix",
    summary="Matrice « qui fait quoi »",
    response_model=MatrixResponse,
    responses={
        200: {
            "description": "La matrice en JSON, ou le fichier demandé par `format` (.ods, .xlsx, .csv).",
            "content": {media: {} for media in MATRIX_MEDIA_TYPES.values()},
        }
    },
)
async def matrix_route(
    request: Request,
    state: IndexStateDep,
    settings: SettingsDep,
    niveau: Annotated[
        list[str], Query(max_length=20, description="Niveaux (colonnes) à garder, répétable.")
    ] = [],  # noqa: B006 - FastAPI copies the default
    theme: Annotated[str | None, Query(max_length=60, description="Thème à garder.")] = None,
    format: Annotated[  # noqa: A002 - the public parameter name
        MatrixFormat,
        Query(description="json (défaut), ou un fichier : ods (OpenDocument), xlsx, csv (tableur français)."),
    ] = "json",
) -> Any:
    """Sujets en lignes (par thème), niveaux de collectivité en colonnes, chaque case la catégorie de la
    compétence avec sa base légale, la date de version de l'article et son dernier changement ; ou la même
    matrice en fichier à modifier et projeter (`format=ods|xlsx|csv`)."""
    knowledge = current_knowledge()
    try:
        matrix = await run_blocking(
            request,
            competence_matrix,
            knowledge,
            load_taxonomy(),
            passage_lookup(state, settings),
            niveau,
            theme,
        )
    except QfqError as exc:
        raise knowledge_error(exc) from exc
    if format == "json":
        return matrix
    return await run_blocking(request, matrix_response, matrix, format, niveau, theme)
