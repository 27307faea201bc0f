"""The interactive API documentation (`/docs`), served with Swagger UI's own files: an intranet without
internet access reaches it (FastAPI's default page loads them from a CDN)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

SWAGGER_PREFIX = "/static/swagger-ui"  # under /static: open without an API key, not rate-limited

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json, with the API-key header usable from the page (« Authorize »)."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} — documentation",
        swagger_js_url=f"{SWAGGER_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_PREFIX}/favicon-32x32.png",
        swagger_ui_parameters={"persistAuthorization": True},
    )


def mount_assets(app: FastAPI) -> None:
    """Serve Swagger UI's files; call before mounting `/static` so this more specific path wins."""
    app.mount(SWAGGER_PREFIX, StaticFiles(directory=swagger_ui_path), name="swagger-ui")
