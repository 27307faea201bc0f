"""The French search page (`/`) and its embeddable variant (`/embed`), rendered on the server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from indexer.errors import QfqError
from service.api.routes.search import run_search
from service.api.schemas import MAX_QUERY_CHARS, SearchParams, SearchResponse
from service.deps import get_settings
from service.errors import status_for
from service.web.templating import BASE_CSP, templates

router = APIRouter(include_in_schema=False)

PAGE_RESULTS = 10


def _frame_ancestors(value: str) -> str:
    # The setting is one CSP directive value: directive separators or line breaks would inject others.
    cleaned = " ".join(value.replace(";", " ").replace(",", " ").split())
    return cleaned or "'none'"


def _labels() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    from indexer.text.tagging import load_taxonomy

    taxonomy = load_taxonomy()
    return [(t.id, t.label) for t in taxonomy.levels], [(t.id, t.label) for t in taxonomy.themes]


def _export_links(params: SearchParams) -> dict[str, str]:
    query: list[tuple[str, str]] = [("q", params.q), ("k", str(params.k))]
    query += [("niveau", v) for v in params.niveau] + [("theme", v) for v in params.theme]
    if not params.en_vigueur:
        query.append(("en_vigueur", "false"))
    return {fmt: "/v1/search/export?" + urlencode([*query, ("format", fmt)]) for fmt in ("md", "csv", "json")}


async def _render(request: Request, template: str, csp_ancestors: str) -> HTMLResponse:
    """Read the form, search when a question is given, render the page (errors shown in the page)."""
    args = request.query_params
    question = args.get("q", "").strip()
    level = args.get("niveau", "")
    theme = args.get("theme", "")
    include_abrogated = args.get("abroges") == "1"
    levels, themes = _labels()
    context: dict[str, Any] = {
        "question": question,
        "level": level,
        "theme": theme,
        "include_abrogated": include_abrogated,
        "levels": levels,
        "themes": themes,
        "labels": dict(levels + themes),
        "answer": None,
        "error": None,
        "exports": {},
        "max_chars": MAX_QUERY_CHARS,
    }
    status = 200
    if question:
        state = request.app.state.index
        if len(question) > MAX_QUERY_CHARS:
            context["error"] = f"La question dépasse {MAX_QUERY_CHARS} caractères : raccourcissez-la."
            status = 422
        elif state.retriever is None:
            context["error"] = (
                "L'index est en cours de chargement ou indisponible. Réessayez dans un instant."
            )
            status = 503
        else:
            params = SearchParams(
                q=question,
                niveau=[level] if level else [],
                theme=[theme] if theme else [],
                en_vigueur=not include_abrogated,
                k=PAGE_RESULTS,
                grouper=True,  # one result per article on the page; its other matching parts are named
            )
            try:
                answer: SearchResponse = await run_search(request, state.retriever, params)
            except QfqError as exc:
                context["error"] = exc.message
                status = status_for(exc)
            else:
                context["answer"] = answer
                context["exports"] = _export_links(params)
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Content-Security-Policy"] = f"{BASE_CSP}; frame-ancestors {csp_ancestors}"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@router.get("/", response_class=HTMLResponse)
async def search_page(request: Request) -> HTMLResponse:
    """La page de recherche."""
    return await _render(request, "index.html", "'self'")


@router.get("/embed", response_class=HTMLResponse)
async def embed_page(request: Request) -> HTMLResponse:
    """La même recherche, sans en-tête ni pied de page, pour une iframe (frame-ancestors réglable)."""
    settings = get_settings(request)
    return await _render(request, "embed.html", _frame_ancestors(settings.frame_ancestors))
