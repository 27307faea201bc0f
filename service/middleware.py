"""ASGI middleware: request id and JSON access log, body size and encoding checks, API keys, rate limit."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_response, internal_error_response
from service.metrics import Metrics

access_logger = logging.getLogger("qfq.access")
error_logger = logging.getLogger("qfq.errors")

MAX_BODY_BYTES = 16 * 1024
REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Health routes stay open (no key, no rate limit); the API description and static assets need no key.
HEALTH_PATHS = frozenset({"/livez", "/readyz"})
OPEN_PATHS = HEALTH_PATHS | {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
UNLIMITED_PATHS = HEALTH_PATHS | {"/metrics"}
STATIC_PREFIX = "/static/"
# Request headers a browser may send cross-origin, and response headers it may read.
CORS_ALLOWED_HEADERS = ("Content-Type", "X-API-Key", "Authorization", "X-Request-ID")
CORS_EXPOSED_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "X-Build-Id",
    "Content-Disposition",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def _state(scope: Scope) -> dict:
    return scope.setdefault("state", {})


async def _send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    response = error_response(status, code, message, details, headers)
    await response({"type": "http"}, _no_receive, send)


def _with_headers(send: Send, headers: Mapping[str, str]) -> Send:
    """`send` adding `headers` to the response start."""
    extra = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class RequestContextMiddleware:
    """Outermost layer: request id, timing, one JSON access-log line, metrics, and the last-resort 500."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        _state(scope)["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        size = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started, size
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            error_logger.error("erreur interne (requête %s)", request_id, exc_info=exc)
            status = 500
            if not response_started:
                await internal_error_response(request_id)(scope, _no_receive, send_wrapper)
        finally:
            self._record(scope, request_id, status, size, time.perf_counter() - started)

    def _record(self, scope: Scope, request_id: str, status: int, size: int, seconds: float) -> None:
        route = scope.get("route")
        route_path = getattr(route, "path", None) or (
            "/static" if scope["path"].startswith(STATIC_PREFIX) else "autre"
        )
        method = scope.get("method", "")
        self.metrics.requests.labels(method=method, route=route_path, status=str(status)).inc()
        self.metrics.latency.labels(route=route_path).observe(seconds)
        client = scope.get("client")
        state = _state(scope)
        access_logger.info(
            "requête",
            extra={
                "request_id": request_id,
                "method": method,
                "path": scope["path"],
                "route": route_path,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "bytes": size,
                "client": client[0] if client else None,
                "api_key": state.get("api_key_id"),
                "user_agent": _header(scope, b"user-agent"),
            },
        )


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class RequestGuardMiddleware:
    """Refuses bodies over the limit (413) and URLs or JSON bodies that are not UTF-8 (400).

    The body (at most the limit) is read here and replayed to the app, so a request announcing no length
    is held to the limit too.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if not _valid_utf8(unquote_to_bytes(raw_path)) or not _valid_utf8(
            unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" "))
        ):
            await _send_error(
                send,
                400,
                "encodage_invalide",
                "L'adresse contient des caractères qui ne sont pas en UTF-8 valide.",
            )
            return
        limit = self.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
            await self._too_large(send, declared)
            return
        if scope.get("method") in {"GET", "HEAD", "OPTIONS", "DELETE"} and declared in (None, "0"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                await self._too_large(send, str(total))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = (_header(scope, b"content-type") or "").lower()
        if body and ("json" in content_type or not content_type) and not _valid_utf8(body):
            await _send_error(
                send, 400, "encodage_invalide", "Le corps de la requête n'est pas en UTF-8 valide."
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, declared: str) -> None:
        await _send_error(
            send,
            413,
            "corps_trop_volumineux",
            f"Le corps de la requête dépasse la limite de {self.max_body_bytes // 1024} Ko.",
            {"limite_octets": self.max_body_bytes},
        )


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """In-memory token buckets: `per_minute` tokens of capacity, refilled continuously."""

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def take(self, identity: str, now: float | None = None) -> float:
        """Take one token for `identity`.

        Returns:
            0.0 when allowed, else the seconds until a token is available.
        """
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(identity)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_full(now)
            bucket = self._buckets[identity] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def remaining(self, identity: str) -> int:
        bucket = self._buckets.get(identity)
        return int(bucket.tokens) if bucket else int(self.capacity)

    def headers(self, identity: str) -> dict[str, str]:
        """`RateLimit-*` headers (IETF draft): the limit, what is left now, seconds until the bucket is full."""
        bucket = self._buckets.get(identity)
        tokens = bucket.tokens if bucket else self.capacity
        return {
            "RateLimit-Limit": str(int(self.capacity)),
            "RateLimit-Remaining": str(int(tokens)),
            "RateLimit-Reset": str(math.ceil((self.capacity - tokens) / self.rate)),
        }

    def _forget_full(self, now: float) -> None:
        # A bucket refilled to capacity holds no information: dropping it changes nothing.
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_clients:
            self._buckets.clear()


def key_id(key: str) -> str:
    """A short, non-reversible label of an API key for logs and rate-limit buckets."""
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def presented_key(scope: Scope) -> str | None:
    """The key sent in `X-API-Key` or `Authorization: Bearer`."""
    key = _header(scope, b"x-api-key")
    if key:
        return key.strip()
    authorization = _header(scope, b"authorization") or ""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class AccessMiddleware:
    """Optional API keys and a per-key (or per-address) rate limit answering 429 with Retry-After."""

    def __init__(
        self, app: ASGIApp, api_keys: Sequence[str], per_minute: int, metrics: Metrics | None = None
    ) -> None:
        self.app = app
        self.keys = [k for k in api_keys if k]
        self.buckets = TokenBuckets(per_minute) if per_minute > 0 else None
        self.metrics = metrics

    def _matches(self, key: str) -> bool:
        return any(hmac.compare_digest(key.encode(), known.encode()) for known in self.keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        key = presented_key(scope)
        valid = key is not None and bool(self.keys) and self._matches(key)
        if valid:
            _state(scope)["api_key_id"] = key_id(key or "")
        if self.buckets is not None and path not in UNLIMITED_PATHS and not path.startswith(STATIC_PREFIX):
            client = scope.get("client")
            identity = f"cle:{key_id(key or '')}" if valid else f"ip:{client[0] if client else 'inconnu'}"
            wait = self.buckets.take(identity)
            limits = self.buckets.headers(identity)
            if wait > 0:
                if self.metrics is not None:
                    self.metrics.rate_limited.inc()
                seconds = max(1, math.ceil(wait))
                await _send_error(
                    send,
                    429,
                    "trop_de_requetes",
                    f"Trop de requêtes : limite de {int(self.buckets.capacity)} par minute. "
                    f"Réessayez dans {seconds} s.",
                    {"limite_par_minute": int(self.buckets.capacity), "reessayer_dans_s": seconds},
                    {"Retry-After": str(seconds), **limits, "RateLimit-Reset": str(seconds)},
                )
                return
            send = _with_headers(send, limits)
        if self.keys and not valid and path not in OPEN_PATHS and not path.startswith(STATIC_PREFIX):
            if key is None:
                await _send_error(
                    send,
                    401,
                    "cle_api_requise",
                    "Clé d'API requise : envoyez-la dans l'en-tête X-API-Key ou Authorization: Bearer.",
                    headers={"WWW-Authenticate": 'Bearer realm="qfq"'},
                )
            else:
                await _send_error(send, 403, "cle_api_invalide", "Clé d'API inconnue.")
            return
        await self.app(scope, receive, send)


class FrenchCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, refusing a preflight in the one error shape instead of plain text."""

    _FAILURES = {
        "origin": "origine non autorisée",
        "method": "méthode non autorisée",
        "headers": "en-têtes non autorisés",
        "private-network": "accès au réseau privé non autorisé",
    }

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        text = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        refused = [self._FAILURES.get(part.strip(), part.strip()) for part in text.split(",")]
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}
        return error_response(
            400,
            "cors_refuse",
            f"Requête d'une autre origine refusée (CORS) : {', '.join(refused)}. Ajoutez l'origine à "
            "QFQ_CORS_ORIGINS si elle doit être acceptée.",
            {"refus": refused},
            headers,
        )
