"""Client of the Légifrance API on PISTE: OAuth2 client credentials, bounded retries, no secret in logs."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from indexer.errors import ConfigError
from indexer.fetch.errors import FetchError

logger = logging.getLogger(__name__)

TOC_PATH = "/consult/legi/tableMatieres"
ARTICLE_PATH = "/consult/getArticle"
USER_AGENT = "qui-fait-quoi (mise a jour du corpus)"


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to insist: every bound is finite so that nothing hangs.

    Attributes:
        max_attempts: attempts per request, the first one included.
        backoff_base: first wait after a 5xx or a network error, doubled at each attempt.
        backoff_max: cap of one backoff wait.
        max_retry_after: longest `Retry-After` honoured; a longer one stops the fetch.
        max_total_wait: cap of the waits of one request, all attempts together.
    """

    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    max_total_wait: float = 300.0

    def backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))


class _Retry(Exception):
    """A transient failure: wait `delay` seconds, then try again."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


@dataclass(frozen=True)
class PisteCredentials:
    """OAuth2 client credentials and URLs of the Légifrance API (sandbox or production)."""

    client_id: str
    client_secret: str
    oauth_url: str
    api_url: str


class PisteClient:
    """POSTs JSON to the Légifrance API, with a token that is fetched, cached and refreshed as needed.

    Token expiry (401), quota (429 with `Retry-After`), server errors (5xx), network errors and
    truncated or unreadable bodies are retried within `RetryPolicy`; other refusals stop at once.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        oauth_url: str,
        api_url: str,
        policy: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigError(
                "Identifiants PISTE manquants : renseignez QFQ_PISTE_CLIENT_ID et QFQ_PISTE_CLIENT_SECRET "
                "(voir le README, section « Mettre à jour les textes »).",
                code="identifiants_piste_manquants",
            )
        self._client_id = client_id
        self._client_secret = client_secret
        self.oauth_url = oauth_url
        self.api_url = api_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            timeout=timeout or httpx.Timeout(connect=10.0, read=180.0, write=30.0, pool=10.0),
            headers={"User-Agent": USER_AGENT},
        )
        self._token: str | None = None
        self._token_expires = 0.0
        self.requests: Counter[str] = Counter()

    @classmethod
    def from_credentials(cls, credentials: PisteCredentials, **kwargs: Any) -> PisteClient:
        """Client for the sandbox or production URLs and credentials given."""
        return cls(
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            oauth_url=credentials.oauth_url,
            api_url=credentials.api_url,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"PisteClient(api_url={self.api_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PisteClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST `payload` to `path` of the API and return the decoded JSON object.

        Args:
            path: route under the API base URL, e.g. `/consult/getArticle`.
            payload: JSON body.

        Returns:
            The response object.

        Raises:
            FetchError: a refusal, or failures beyond the retry policy.
            ConfigError: PISTE refuses the credentials.
        """

        def attempt() -> dict[str, Any]:
            token = self._access_token()
            response = self._send(
                path, lambda: self._http.post(self.api_url + path, json=payload, headers=self._headers(token))
            )
            if response.status_code == 401:
                # The token expired or was revoked early: forget it so the next attempt asks for a new one.
                self._token = None
                raise _Retry(
                    "jeton expiré ou refusé (HTTP 401 ; vérifiez l'abonnement à l'API Légifrance)", 0.0
                )
            self._refuse_unless_ok(response, path)
            return _json_object(response, path)

        return self._with_retries(path, attempt)

    def _access_token(self) -> str:
        if self._token and self._clock() < self._token_expires:
            return self._token

        def attempt() -> dict[str, Any]:
            response = self._send(
                "oauth",
                lambda: self._http.post(
                    self.oauth_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self._client_id,
                        "client_secret": self._client_secret,
                        "scope": "openid",
                    },
                    headers={"Accept": "application/json"},
                ),
            )
            if response.status_code in (400, 401, 403):
                raise ConfigError(
                    f"Le portail PISTE a refusé les identifiants (HTTP {response.status_code}). Vérifiez "
                    "QFQ_PISTE_CLIENT_ID, QFQ_PISTE_CLIENT_SECRET, l'abonnement de l'application à l'API "
                    "Légifrance et QFQ_PISTE_OAUTH_URL (bac à sable ou production).",
                    code="identifiants_refuses",
                )
            self._refuse_unless_ok(response, "oauth")
            return _json_object(response, "oauth")

        body = self._with_retries("oauth", attempt)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise FetchError("Le portail PISTE n'a pas renvoyé de jeton d'accès.", code="jeton_absent")
        lifetime = body.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
        # Renew a minute early so that a long request never starts with a token about to expire.
        self._token_expires = self._clock() + max(0.0, seconds - 60.0)
        self._token = token
        return token

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def _send(self, label: str, request: Callable[[], httpx.Response]) -> httpx.Response:
        """One HTTP exchange; network failures, 429 and 5xx become `_Retry`."""
        self.requests[label] += 1
        try:
            response = request()
        except httpx.TransportError as exc:  # timeouts, refused connections, truncated bodies
            raise _Retry(f"erreur réseau ({exc.__class__.__name__})", -1.0) from exc
        if response.status_code == 429:
            wait = _retry_after(response.headers.get("Retry-After"))
            if wait is not None and wait > self.policy.max_retry_after:
                raise FetchError(
                    f"Quota de l'API Légifrance atteint : PISTE demande d'attendre {wait:.0f} s "
                    "(Retry-After). Relancez la récupération plus tard ; elle reprendra où elle "
                    "s'est arrêtée.",
                    code="quota_depasse",
                )
            raise _Retry("quota atteint (HTTP 429)", -1.0 if wait is None else wait)
        if response.status_code >= 500:
            raise _Retry(f"erreur du serveur (HTTP {response.status_code})", -1.0)
        return response

    def _refuse_unless_ok(self, response: httpx.Response, label: str) -> None:
        if response.status_code == 200:
            return
        raise FetchError(
            f"L'API Légifrance a refusé la requête {label} (HTTP {response.status_code}) : "
            f"{_excerpt(response.text)}",
            code="requete_refusee",
            details={"route": label, "http": response.status_code},
        )

    def _with_retries(self, label: str, attempt: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        waited = 0.0
        for number in range(1, self.policy.max_attempts + 1):
            try:
                return attempt()
            except _Retry as retry:
                delay = retry.delay if retry.delay >= 0 else self.policy.backoff(number)
                last = number == self.policy.max_attempts
                if last or waited + delay > self.policy.max_total_wait:
                    raise FetchError(
                        f"L'API Légifrance ne répond pas correctement ({label}) après {number} "
                        f"tentative(s) : {retry.reason}. Le corpus actuel n'a pas été modifié ; "
                        "relancez la commande pour reprendre.",
                        code="api_indisponible",
                        details={"route": label, "tentatives": number},
                    ) from retry
                logger.info("%s : %s, nouvelle tentative dans %.1f s", label, retry.reason, delay)
                if delay > 0:
                    self._sleep(delay)
                waited += delay
        raise AssertionError("unreachable")  # pragma: no cover


def _json_object(response: httpx.Response, label: str) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _Retry("réponse tronquée ou illisible (JSON invalide)", -1.0) from exc
    if not isinstance(body, dict):
        raise _Retry("réponse inattendue (pas un objet JSON)", -1.0)
    return body


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds, given as a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
