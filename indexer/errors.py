"""Errors that carry a stable code for programs and a French message for people."""

from __future__ import annotations


class QfqError(Exception):
    """Base error: `code` is stable for programs, `message` is French for people."""

    code = "erreur"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class ConfigError(QfqError):
    """A setting is missing or points at something unusable."""

    code = "configuration_invalide"


class CorpusError(QfqError):
    """The corpus manifest or one of its documents cannot be read."""

    code = "corpus_invalide"


class ModelError(QfqError):
    """The embedding model cannot be prepared or loaded."""

    code = "modele_indisponible"


class BundleError(QfqError):
    """An index bundle is missing, incomplete, tampered with or built for other settings."""

    code = "index_invalide"
