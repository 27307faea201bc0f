"""OpenAPI descriptions of the error answers the routes share."""

from __future__ import annotations

from typing import Any

from service.api.schemas import ErrorResponse

_DESCRIPTIONS = {
    400: "Requête mal formée : JSON invalide ou caractères qui ne sont pas en UTF-8.",
    401: "Clé d'API requise (quand QFQ_API_KEYS est défini).",
    403: "Clé d'API inconnue.",
    404: "Ressource introuvable.",
    413: "Corps de requête de plus de 16 Ko.",
    422: "Paramètre invalide ; pour un filtre inconnu, `details.allowed` liste les valeurs possibles.",
    429: "Limite de débit atteinte ; l'en-tête Retry-After donne l'attente en secondes.",
    503: "Index en cours de chargement ou absent.",
}

API_ERRORS = (400, 401, 403, 413, 422, 429, 503)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` mapping documenting each status with the one error shape."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
        if status in (429, 503):
            entry["headers"] = {
                "Retry-After": {"description": "Secondes à attendre.", "schema": {"type": "integer"}}
            }
        out[status] = entry
    return out
