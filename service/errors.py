"""The one error shape of the API, `{"error": {"code", "message", "details"}}`, and every handler producing it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexer.errors import BundleError, QfqError

logger = logging.getLogger("qfq.errors")

# HTTP status of every stable error code the service can answer with.
STATUS_BY_CODE: dict[str, int] = {
    "json_invalide": 400,
    "encodage_invalide": 400,
    "requete_malformee": 400,
    "cors_refuse": 400,
    "cle_api_requise": 401,
    "cle_api_invalide": 403,
    "route_introuvable": 404,
    "passage_introuvable": 404,
    "document_introuvable": 404,
    "article_introuvable": 404,
    "loi_inconnue": 404,
    "methode_non_autorisee": 405,
    "corps_trop_volumineux": 413,
    "type_contenu_invalide": 415,
    "parametre_invalide": 422,
    "requete_vide": 422,
    "filtre_invalide": 422,
    "date_invalide": 422,
    "mode_invalide": 422,
    "niveau_inconnu": 422,
    "theme_inconnu": 422,
    "type_inconnu": 422,
    "critere_inconnu": 422,
    "profil_invalide": 422,
    "trop_de_requetes": 429,
    "erreur_interne": 500,
    "index_indisponible": 503,
}
# Every bundle problem (absent, corrupted, incompatible...) means the service cannot answer yet.
_BUNDLE_STATUS = 503

INTERNAL_MESSAGE = (
    "Erreur interne du service. L'incident est journalisé avec l'identifiant de requête indiqué dans "
    "l'en-tête X-Request-ID."
)


class ApiError(QfqError):
    """An error the service answers with, carrying its HTTP status and optional headers."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str,
        details: dict | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.status_code = status_code
        self.headers = dict(headers or {})


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of every error answer.

    Args:
        code: stable machine-readable code, e.g. `filtre_invalide`.
        message: French sentence for people.
        details: structured context (allowed values, offending fields...).

    Returns:
        `{"error": {"code": ..., "message": ..., "details": {...}}}`.
    """
    return {"error": {"code": code, "message": message, "details": dict(details or {})}}


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error answer in the one error shape."""
    return JSONResponse(
        error_body(code, message, details), status_code=status_code, headers=dict(headers or {})
    )


def status_for(exc: QfqError) -> int:
    """HTTP status for a project error: its own for `ApiError`, by code otherwise."""
    if isinstance(exc, ApiError):
        return exc.status_code
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    if isinstance(exc, BundleError):
        return _BUNDLE_STATUS
    return 500


def internal_error_response(request_id: str | None = None) -> JSONResponse:
    """The French 500 answer: no stack trace, the request id to find the logged one."""
    details = {"request_id": request_id} if request_id else {}
    return error_response(500, "erreur_interne", INTERNAL_MESSAGE, details)


# --- validation errors in French -------------------------------------------------------------------


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc[1:] if not isinstance(p, int)] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "corps"


def _french_choices(expected: str) -> str:
    """pydantic's "'hybrid', 'dense' or 'lexical'" as « hybrid », « dense » ou « lexical »."""
    choices = [c.strip().strip("'\"") for c in expected.replace(" or ", ", ").split(",") if c.strip()]
    quoted = [f"« {c} »" for c in choices]
    return " ou ".join([", ".join(quoted[:-1]), quoted[-1]]) if len(quoted) > 1 else "".join(quoted)


def french_validation_message(error: Mapping[str, Any], subject: str | None = None) -> str:
    """One pydantic validation error as a French sentence naming the parameter.

    Args:
        error: an item of `RequestValidationError.errors()` (or of any pydantic `ValidationError`).
        subject: what the sentence is about; « <parameter> » by default.

    Returns:
        E.g. "« k » doit être inférieur ou égal à 50."
    """
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    loc = error.get("loc") or ()
    name = subject or f"« {_field_name(loc)} »"
    if kind == "missing":
        if tuple(loc) == ("body",):
            return 'Le corps de la requête est vide : envoyez un objet JSON, par exemple {"q": "votre question"}.'
        return f"Paramètre obligatoire manquant : {name}."
    if kind == "string_too_short":
        return f"{name} doit contenir au moins {ctx.get('min_length')} caractère(s)."
    if kind == "string_too_long":
        return f"{name} doit contenir au plus {ctx.get('max_length')} caractères."
    if kind == "too_long":
        return f"{name} accepte au plus {ctx.get('max_length')} valeurs."
    if kind == "too_short":
        return f"{name} demande au moins {ctx.get('min_length')} valeur(s)."
    if kind == "greater_than_equal":
        return f"{name} doit être supérieur ou égal à {ctx.get('ge')}."
    if kind == "greater_than":
        return f"{name} doit être strictement supérieur à {ctx.get('gt')}."
    if kind == "less_than_equal":
        return f"{name} doit être inférieur ou égal à {ctx.get('le')}."
    if kind == "less_than":
        return f"{name} doit être strictement inférieur à {ctx.get('lt')}."
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"{name} doit être un nombre entier."
    if kind in {"float_parsing", "float_type"}:
        return f"{name} doit être un nombre."
    if kind in {"bool_parsing", "bool_type"}:
        return f"{name} doit valoir true ou false."
    if kind in {"string_type", "string_unicode"}:
        return f"{name} doit être une chaîne de caractères."
    if kind == "list_type":
        return f"{name} doit être une liste de valeurs."
    if kind in {"literal_error", "enum"}:
        return f"Valeur inconnue pour {name}. Valeurs possibles : {_french_choices(str(ctx.get('expected', '')))}."
    if kind == "string_pattern_mismatch":
        if _field_name(loc) == "date":
            return f"{name} doit être une date au format AAAA-MM-JJ."
        return f"{name} n'a pas le format attendu."
    if kind == "extra_forbidden":
        where = "Paramètre" if loc and loc[0] == "query" else "Champ"
        return f"{where} inconnu : {name}."
    if kind in {"model_attributes_type", "dict_type", "model_type"}:
        return "Le corps de la requête doit être un objet JSON."
    if kind == "value_error":
        reason = str(ctx.get("error", "")) or str(error.get("msg", ""))
        return f"{name} : {reason}"
    return f"Valeur invalide pour {name}."


def validation_error_response(
    errors: Sequence[Mapping[str, Any]], accepted: Mapping[str, Sequence[str]] | None = None
) -> JSONResponse:
    """422 (or 400 for a body that is not JSON) listing every offending parameter in French.

    Args:
        errors: `RequestValidationError.errors()`.
        accepted: the names each location (`query`, `body`) accepts, listed when a name is unknown.
    """
    if any(e.get("type") == "json_invalid" for e in errors):
        error = next(e for e in errors if e.get("type") == "json_invalid")
        reason = str((error.get("ctx") or {}).get("error", ""))
        return error_response(
            400,
            "json_invalide",
            "Le corps de la requête n'est pas un JSON valide." + (f" Détail : {reason}." if reason else ""),
            {"position": list(error.get("loc") or [])},
        )
    items = [
        {
            "champ": _field_name(e.get("loc") or ()),
            "emplacement": str((e.get("loc") or ("",))[0]),
            "type": str(e.get("type", "")),
            "message": french_validation_message(e),
        }
        for e in errors
    ]
    message = "Requête invalide : " + " ".join(item["message"] for item in items[:5])
    details: dict[str, Any] = {"erreurs": items}
    unknown_in = {item["emplacement"] for item in items if item["type"] == "extra_forbidden"}
    names = sorted({name for place in unknown_in for name in (accepted or {}).get(place, ())})
    if names:
        label = "Paramètres acceptés" if unknown_in == {"query"} else "Champs acceptés"
        message += f" {label} : {', '.join(names)}."
        details["acceptes"] = names
    return error_response(422, "parametre_invalide", message, details)


# --- handlers ----------------------------------------------------------------------------------------

_HTTP_ERRORS = {
    400: ("requete_malformee", "Requête mal formée."),
    401: ("cle_api_requise", "Authentification requise."),
    403: ("cle_api_invalide", "Accès refusé."),
    404: ("route_introuvable", "Cette adresse n'existe pas. Les routes de l'API commencent par /v1."),
    405: ("methode_non_autorisee", "Méthode HTTP non autorisée pour cette adresse."),
    413: ("corps_trop_volumineux", "Le corps de la requête est trop volumineux."),
    415: ("type_contenu_invalide", "Type de contenu non pris en charge : envoyez du JSON."),
}


async def _qfq_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QfqError)
    status = status_for(exc)
    if status >= 500 and status != 503:
        logger.error("erreur %s : %s", exc.code, exc.message)
    headers = exc.headers if isinstance(exc, ApiError) else None
    return error_response(status, exc.code, exc.message, exc.details, headers)


def accepted_names(request: Request) -> dict[str, list[str]]:
    """The query parameter and body field names of the route that refused the request."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return {}
    accepted = {"query": [name for field in dependant.query_params for name in _names_of(field)]}
    body = getattr(route, "body_field", None)
    if body is not None:
        accepted["body"] = _names_of(body)
    return accepted


def _names_of(field: Any) -> list[str]:
    """A parameter's name, or the field names of the model it stands for (`Annotated[Model, Query()]`)."""
    model = getattr(getattr(field, "field_info", None), "annotation", None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [info.alias or name for name, info in model.model_fields.items()]
    return [field.alias]


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_error_response(exc.errors(), accepted_names(request))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = _HTTP_ERRORS.get(exc.status_code, ("erreur_http", f"Erreur HTTP {exc.status_code}."))
    details: dict[str, Any] = {}
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
        if allow:
            details["methodes_autorisees"] = [m.strip() for m in allow.split(",")]
    return error_response(exc.status_code, code, message, details, exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    logger.error("erreur interne (requête %s)", request_id, exc_info=exc)
    return internal_error_response(request_id)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers so every error leaves the app in the one error shape."""
    app.add_exception_handler(QfqError, _qfq_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
