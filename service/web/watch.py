"""The pages `/matrice` (the « qui fait quoi » matrix, printable on A4 landscape) and `/changements` (the change
watch of a level, with its Atom feed), rendered on the server from the same reports as the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from indexer.corpus.lookup import corpus_lookup
from indexer.errors import QfqError
from indexer.knowledge.changes import DEFAULT_WINDOW_DAYS, changes_report
from indexer.knowledge.competences import covered_levels
from indexer.knowledge.matrix import competence_matrix
from indexer.text.tagging import load_taxonomy
from service.api.matrix_exports import footer_lines
from service.api.routes.knowledge import current_knowledge, knowledge_error, passage_lookup
from service.deps import IndexStateDep, SettingsDep, run_blocking
from service.web.templating import BASE_CSP, templates

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, context: dict[str, Any], status: int) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Content-Security-Policy"] = f"{BASE_CSP}; frame-ancestors 'self'"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@router.get("/matrice", response_class=HTMLResponse)
async def matrix_page(request: Request, state: IndexStateDep, settings: SettingsDep) -> HTMLResponse:
    """La matrice « qui fait quoi » : niveaux et thème au choix, exports, mise en page A4 paysage à l'impression."""
    args = request.query_params
    knowledge = current_knowledge()
    taxonomy = load_taxonomy()
    labels = taxonomy.labels()
    chosen = [level for level in args.getlist("niveau") if level]
    theme = args.get("theme", "").strip() or None
    context: dict[str, Any] = {
        "levels": [(level, labels.get(level, level)) for level in covered_levels(knowledge)],
        "themes": [(t.id, t.label) for t in taxonomy.themes],
        "chosen": chosen,
        "theme": theme or "",
        "matrix": None,
        "footer": [],
        "exports": {},
        "error": None,
    }
    status = 200
    try:
        matrix = await run_blocking(
            request,
            competence_matrix,
            knowledge,
            taxonomy,
            passage_lookup(state, settings),
            chosen,
            theme,
        )
    except QfqError as exc:
        context["error"] = exc.message
        status = knowledge_error(exc).status_code
    else:
        query = [("niveau", level) for level in chosen] + ([("theme", theme)] if theme else [])
        context["matrix"] = matrix
        context["footer"] = footer_lines(matrix)
        context["exports"] = {
            fmt: "/v1/matrice?" + urlencode([*query, ("format", fmt)])
            for fmt in ("ods", "xlsx", "csv", "json")
        }
    return _page(request, "matrice.html", context, status)


@router.get("/changements", response_class=HTMLResponse)
async def changes_page(request: Request, state: IndexStateDep, settings: SettingsDep) -> HTMLResponse:
    """La veille d'un niveau : articles changés depuis une date par thème, évolutions curées, flux Atom."""
    args = request.query_params
    knowledge = current_knowledge()
    taxonomy = load_taxonomy()
    form = {name: args.get(name, "").strip() for name in ("niveau", "depuis", "theme")}
    context: dict[str, Any] = {
        "form": form,
        "levels": [(t.id, t.label) for t in taxonomy.levels],
        "themes": [(t.id, t.label) for t in taxonomy.themes],
        "labels": taxonomy.labels(),
        "window": DEFAULT_WINDOW_DAYS,
        "report": None,
        "feed": None,
        "error": None,
    }
    status = 200
    if form["niveau"]:
        try:
            report = await run_blocking(
                request,
                changes_report,
                knowledge,
                taxonomy,
                corpus_lookup(settings),
                passage_lookup(state, settings),
                form["niveau"],
                form["depuis"] or None,
                form["theme"] or None,
            )
        except QfqError as exc:
            context["error"] = exc.message
            status = knowledge_error(exc).status_code
        else:
            context["report"] = report
            query = [("niveau", form["niveau"])] + ([("theme", form["theme"])] if form["theme"] else [])
            context["feed"] = "/v1/changements.atom?" + urlencode(query)
    return _page(request, "changements.html", context, status)
