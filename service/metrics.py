"""Prometheus metrics of one app, in a registry of its own (several apps can live in one test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """HTTP traffic, search latency and index state."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "qfq_http_requests",
            "Requêtes HTTP traitées, par méthode, route et statut.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qfq_http_request_duration_seconds",
            "Durée de traitement des requêtes HTTP, par route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.search_latency = Histogram(
            "qfq_search_duration_seconds",
            "Durée des recherches dans l'index (encodage, candidats, fusion), par mode.",
            ["mode"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "qfq_rate_limited_requests",
            "Requêtes refusées par la limite de débit (429).",
            registry=self.registry,
        )
        self.ready = Gauge("qfq_index_ready", "1 quand l'index est chargé.", registry=self.registry)
        self.passages = Gauge("qfq_index_passages", "Passages de l'index chargé.", registry=self.registry)
        self.index_info = Gauge(
            "qfq_index_info", "Index chargé (valeur 1).", ["build_id", "model"], registry=self.registry
        )

    def index_loaded(self, build_id: str, model: str, passages: int) -> None:
        """Record the loaded index."""
        self.ready.set(1)
        self.passages.set(passages)
        self.index_info.labels(build_id=build_id, model=model).set(1)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
