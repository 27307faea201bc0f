"""The « Ma collectivité » page: a profile form, then the three lists of obligations with their citations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from indexer.errors import QfqError
from indexer.knowledge.competences import covered_levels
from indexer.knowledge.model import PROFILE_TYPES
from indexer.knowledge.profile import ProfileError, evaluate_profile, make_profile
from indexer.text.tagging import load_taxonomy
from service.api.routes.knowledge import current_knowledge, knowledge_error, passage_lookup
from service.citations_check import with_warning
from service.deps import IndexStateDep, SettingsDep, run_blocking
from service.web.templating import BASE_CSP, templates

router = APIRouter(include_in_schema=False)


def _int_or_none(value: str) -> int | None:
    value = value.replace(" ", "").replace("\u202f", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ProfileError(f"« {value} » n'est pas un nombre entier positif.", code="profil_invalide")
    return int(value)


@router.get("/ma-collectivite", response_class=HTMLResponse)
async def profile_page(request: Request, state: IndexStateDep, settings: SettingsDep) -> HTMLResponse:
    """La page « Ma collectivité » : formulaire, puis les trois listes d'obligations avec leurs citations."""
    args = request.query_params
    knowledge = current_knowledge()
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
                request, evaluate_profile, knowledge, profile, passage_lookup(state, settings)
            )
            context["result"] = with_warning(result.to_dict(knowledge))
        except QfqError as exc:
            context["error"] = exc.message
            status = knowledge_error(exc).status_code
    response = templates.TemplateResponse(request, "profil.html", context, status_code=status)
    response.headers["Content-Security-Policy"] = f"{BASE_CSP}; frame-ancestors 'self'"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
