"""The service's settings: the indexer's, plus HTTP, API keys, CORS, rate limit and the Légifrance API (PISTE)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from indexer.errors import ConfigError
from indexer.fetch.client import PisteCredentials
from indexer.settings import Settings
from service.errors import french_validation_message


class ServiceSettings(Settings):
    """Every `QFQ_*` setting a `qfq` command or the HTTP service reads (one object per process)."""

    # HTTP
    host: str = Field(default="127.0.0.1", description="Adresse d'écoute du service HTTP.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port d'écoute du service HTTP.")
    cors_origins: list[str] = Field(default_factory=list, description="Origines autorisées (CORS).")
    api_keys: list[str] = Field(default_factory=list, description="Clés d'API acceptées; vide = accès libre.")
    rate_limit_per_minute: int = Field(
        default=120, ge=0, description="Requêtes par minute par clé ou adresse; 0 = illimité."
    )
    frame_ancestors: str = Field(
        default="'self'", description="Valeur de frame-ancestors pour la page /embed."
    )

    # Légifrance API (PISTE)
    piste_client_id: str = Field(default="", description="Identifiant client OAuth2 PISTE.")
    piste_client_secret: str = Field(default="", description="Secret client OAuth2 PISTE.")
    piste_oauth_url: str = Field(
        default="https://sandbox-oauth.piste.gouv.fr/api/oauth/token",
        description="URL du jeton OAuth2 PISTE (bac à sable ou production).",
    )
    piste_api_url: str = Field(
        default="https://sandbox-api.piste.gouv.fr/dila/legifrance/lf-engine-app",
        description="URL de base de l'API Légifrance (bac à sable ou production).",
    )

    reload_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="Intervalle (s) de vérification d'un nouvel index publié, chargé sans redémarrage ; 0 = jamais.",
    )

    def piste(self) -> PisteCredentials:
        """Credentials and URLs of the Légifrance API, for `PisteClient`."""
        return PisteCredentials(
            client_id=self.piste_client_id,
            client_secret=self.piste_client_secret,
            oauth_url=self.piste_oauth_url,
            api_url=self.piste_api_url,
        )


def read_settings(**overrides: Any) -> ServiceSettings:
    """The settings from the `QFQ_*` variables (and `overrides`), a bad value reported in French.

    Raises:
        ConfigError: code `reglage_invalide`, one sentence per bad variable (`details.erreurs`).
    """
    try:
        return ServiceSettings(**overrides)
    except ValidationError as exc:
        sentences = [
            french_validation_message({**error, "loc": ("reglage", f"QFQ_{str(error['loc'][0]).upper()}")})
            if error.get("loc")
            else str(error.get("msg", ""))
            for error in exc.errors()
        ]
        raise ConfigError(
            "Réglage invalide : " + " ".join(sentences) + " Corrigez la variable d'environnement.",
            code="reglage_invalide",
            details={"erreurs": sentences},
        ) from exc
