"""Where published indexes live, `QFQ_BACKEND`: the embedded bundle folder or PostgreSQL generations.

The one place that chooses between `indexer.index.bundle`/`publish` and `indexer.index.postgres`: open the
published index for search, name the generation published now (for hot swap), publish a built bundle,
roll back and list.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from indexer.embedding.base import Encoder
from indexer.index import postgres
from indexer.index.bundle import CURRENT_LINK, link_target, load_bundle
from indexer.index.publish import list_bundles, publish
from indexer.index.publish import rollback as rollback_bundle
from indexer.index.source import IndexSource
from indexer.settings import Settings


def uses_database(settings: Settings) -> bool:
    return settings.backend == "postgres"


def open_index(settings: Settings, encoder: Encoder | None = None) -> IndexSource:
    """The published index, verified against the settings' model (or `encoder`'s).

    Raises:
        BundleError: nothing published, corrupted, another model, database unreachable.
    """
    if uses_database(settings):
        return postgres.open_generation(settings, encoder)
    return load_bundle(settings, encoder=encoder)


def published_generation(settings: Settings) -> str | None:
    """Id of the index published now (None: nothing published); cheap, polled by the hot swap.

    Raises:
        BundleError: database unreachable (postgres).
    """
    if uses_database(settings):
        return postgres.published_generation(settings)
    return link_target(settings.bundles_dir, CURRENT_LINK)


def publish_built(settings: Settings, folder: Path, encoder: Encoder | None = None) -> str:
    """Publish a finished, unpublished bundle folder (see `build_bundle(publish_bundle=False)`).

    With PostgreSQL the folder is copied as a new generation, then removed whatever the outcome: the
    database holds the published indexes.

    Returns:
        The build id now published.
    """
    if not uses_database(settings):
        publish(settings, folder)
        return folder.name
    try:
        return postgres.publish_generation(settings, folder, encoder=encoder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rollback(settings: Settings) -> str:
    """Make the previous index current again; returns its build id."""
    if uses_database(settings):
        return postgres.rollback(settings)
    return rollback_bundle(settings)


def list_indexes(settings: Settings) -> list[dict[str, Any]]:
    """Kept indexes, newest first, with their role (courant, précédent or "")."""
    if uses_database(settings):
        return postgres.list_generations(settings)
    return list_bundles(settings)


def where(settings: Settings) -> str:
    """Where indexes are published, for messages (never the database password)."""
    if uses_database(settings):
        return "la base PostgreSQL (QFQ_DATABASE_URL)"
    return str(settings.bundles_dir)


def release(settings: Settings) -> None:
    """Close what the process holds open for the backend (PostgreSQL connection pools)."""
    if uses_database(settings):
        postgres.close_pools()
