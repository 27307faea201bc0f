"""The error raised when the Légifrance API cannot give a complete, valid text."""

from __future__ import annotations

from indexer.errors import QfqError


class FetchError(QfqError):
    """The API refused, failed repeatedly or returned something unusable; the old corpus is untouched."""

    code = "recuperation_impossible"
