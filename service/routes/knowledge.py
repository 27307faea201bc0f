"""Knowledge routes: competences of a level, obligations of a profile, impact of a law, and the profile page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from indexer.errors import QfqError
from indexer.knowledge.competences import competences_report, covered_levels
from indexer.knowledge.impact import impact_report
from indexer.knowledge.load import KnowledgeError, cached_knowledge
from indexer.knowledge.model import PROFILE_TYPES, Knowledge
from indexer.knowledge.profile import ProfileError, evaluate_profile, make_profile
from indexer.knowledge.sources import PassageLookup, corpus_lookup
from service.deps import IndexStateDep, SettingsDep, run_blocking
from service.errors import ApiError
from service.routes.common import error_responses
from service.schemas_knowledge import CompetencesResponse, ImpactResponse, ProfileRequest, ProfileResponse

router = APIRouter(
    prefix="/v1",
    tags=["compétences et obligations"],
    responses=error_responses(400, 401, 403, 413, 422, 429),
)
page_router = APIRouter(include_in_schema=False)

# Error codes of the knowledge layer -> HTTP status.
_STATUS = {
    "niveau_inconnu": 422,
    "type_inconnu": 422,
    "critere_inconnu": 422,
    "profil_invalide": 422,
    "loi_inconnue": 404,
}


def _api_error(exc: QfqError) -> ApiError:
    """The knowledge error as an API error; invalid knowledge files are a server fault (500)."""
    if isinstance(exc, KnowledgeError):
        return ApiError(500, exc.message, code=exc.code, details=exc.details)
    details = dict(exc.details)
    return ApiError(_STATUS.get(exc.code, 422), exc.message, code=exc.code, details=details)


def _knowledge() -> Knowledge:
    try:
        return cached_knowledge()
    except KnowledgeError as exc:
        raise _api_error(exc) from exc


def _lookup(state: Any, settings: Any) -> PassageLookup:
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
    knowledge = _knowledge()
    try:
        return await run_blocking(request, competences_report, knowledge, niveau, _lookup(state, settings))
    except QfqError as exc:
        raise _api_error(exc) from exc


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
    knowledge = _knowledge()
    try:
        profile = make_profile(knowledge, body.type, body.population, body.agents, body.date, body.criteres)
        result = await run_blocking(request, evaluate_profile, knowledge, profile, _lookup(state, settings))
    except QfqError as exc:
        raise _api_error(exc) from exc
    return result.to_dict(knowledge)


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
    knowledge = _knowledge()
    corpus = corpus_lookup(settings)
    try:
        return await run_blocking(
            request, impact_report, knowledge, key, corpus, _lookup(state, settings), niveau or None
        )
    except QfqError as exc:
        raise _api_error(exc) from exc


# --- "Ma collectivité" page -----------------------------------------------------------------------


def _int_or_none(value: str) -> int | None:
    value = value.replace(" ", "").replace("\u202f", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ProfileError(f"« {value} » n'est pas un nombre entier positif.", code="profil_invalide")
    return int(value)


@page_router.get("/ma-collectivite", response_class=HTMLResponse)
async def profile_page(request: Request, state: IndexStateDep, settings: SettingsDep) -> HTMLResponse:
    """La page « Ma collectivité » : formulaire, puis les trois listes d'obligations avec leurs citations."""
    from service.routes.web import _BASE_CSP, templates

    args = request.query_params
    knowledge = _knowledge()
    from indexer.tagging import load_taxonomy

    labels = load_taxonomy().labels()
    form = {name: args.get(name, "").strip() for name in ("type", "population", "agents", "date")}
    answers = {cid: args.get(cid, "") for cid in knowledge.criteria}
    context: dict[str, Any] = {
        "form": form,
        "answers": answers,
        "types": [(t, labels.get(t, t)) for t in PROFILE_TYPES],
        "criteria": knowledge.criteria,
        "result": None,
        "error": None,
        "levels": covered_levels(knowledge),
        "labels": labels,
    }
    status = 200
    if form["type"]:
        try:
            criteria = {cid: value == "oui" for cid, value in answers.items() if value in ("oui", "non")}
            profile = make_profile(
                knowledge,
                form["type"],
                _int_or_none(form["population"]),
                _int_or_none(form["agents"]),
                form["date"] or None,
                criteria,
            )
            result = await run_blocking(
                request, evaluate_profile, knowledge, profile, _lookup(state, settings)
            )
            context["result"] = result.to_dict(knowledge)
        except QfqError as exc:
            context["error"] = exc.message
            status = _api_error(exc).status_code
    response = templates.TemplateResponse(request, "profil.html", context, status_code=status)
    response.headers["Content-Security-Policy"] = f"{_BASE_CSP}; frame-ancestors 'self'"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
