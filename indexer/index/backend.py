"""Where published indexes live, `QFQ_BACKEND`: the `Storage` protocol, its embedded bundle folder and
PostgreSQL implementations, and the functions callers use.

The one place that chooses between `indexer.index.bundle`/`publish` and `indexer.index.postgres`: open the
published index for search, name the generation published now (for hot swap), publish a built bundle,
roll back and list.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from indexer.embedding.base import Encoder
from indexer.index import postgres
from indexer.index.bundle import CURRENT_LINK, link_target, load_bundle
from indexer.index.publish import list_bundles, publish
from indexer.index.publish import rollback as rollback_bundle
from indexer.index.source import IndexSource
from indexer.settings import Settings


class Storage(Protocol):
    """Published indexes: read the current one, publish a built bundle, roll back, list."""

    def open(self, encoder: Encoder | None = None) -> IndexSource:
        """The published index, verified against the settings' model (or `encoder`'s)."""
        ...

    def published(self) -> str | None:
        """Build id of the index published now (None: nothing published); cheap, polled by the hot swap."""
        ...

    def publish(self, folder: Path, encoder: Encoder | None = None) -> str:
        """Publish a finished, unpublished bundle folder; returns the build id now published."""
        ...

    def rollback(self) -> str:
        """Make the previous index current again; returns its build id."""
        ...

    def list(self) -> list[dict[str, Any]]:
        """Kept indexes, newest first, with their role (courant, précédent or "")."""
        ...

    def where(self) -> str:
        """Where indexes are published, for messages (never a password)."""
        ...

    def release(self) -> None:
        """Close what the process holds open for this storage."""
        ...


@dataclass(frozen=True)
class EmbeddedStorage:
    """Bundle folders in `QFQ_DATA_DIR/bundles`, `current` and `previous` links (one machine)."""

    settings: Settings

    def open(self, encoder: Encoder | None = None) -> IndexSource:
        return load_bundle(self.settings, encoder=encoder)

    def published(self) -> str | None:
        return link_target(self.settings.bundles_dir, CURRENT_LINK)

    def publish(self, folder: Path, encoder: Encoder | None = None) -> str:
        publish(self.settings, folder)
        return folder.name

    def rollback(self) -> str:
        return rollback_bundle(self.settings)

    def list(self) -> list[dict[str, Any]]:
        return list_bundles(self.settings)

    def where(self) -> str:
        return str(self.settings.bundles_dir)

    def release(self) -> None:
        """Nothing to release: a bundle is closed by its owner."""


@dataclass(frozen=True)
class PostgresStorage:
    """Generations in PostgreSQL + pgvector at `QFQ_DATABASE_URL` (several replicas)."""

    settings: Settings

    def open(self, encoder: Encoder | None = None) -> IndexSource:
        return postgres.open_generation(self.settings, encoder)

    def published(self) -> str | None:
        return postgres.published_generation(self.settings)

    def publish(self, folder: Path, encoder: Encoder | None = None) -> str:
        # The database holds the published indexes: the folder goes, whatever the outcome.
        try:
            return postgres.publish_generation(self.settings, folder, encoder=encoder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def rollback(self) -> str:
        return postgres.rollback(self.settings)

    def list(self) -> list[dict[str, Any]]:
        return postgres.list_generations(self.settings)

    def where(self) -> str:
        return "la base PostgreSQL (QFQ_DATABASE_URL)"

    def release(self) -> None:
        postgres.close_pools()


def storage(settings: Settings) -> Storage:
    """The storage `QFQ_BACKEND` names."""
    return PostgresStorage(settings) if uses_database(settings) else EmbeddedStorage(settings)


def uses_database(settings: Settings) -> bool:
    return settings.backend == "postgres"


def open_index(settings: Settings, encoder: Encoder | None = None) -> IndexSource:
    """The published index, verified against the settings' model (or `encoder`'s).

    Raises:
        BundleError: nothing published, corrupted, another model, database unreachable.
    """
    return storage(settings).open(encoder)


def published_generation(settings: Settings) -> str | None:
    """Id of the index published now (None: nothing published); cheap, polled by the hot swap.

    Raises:
        BundleError: database unreachable (postgres).
    """
    return storage(settings).published()


def publish_built(settings: Settings, folder: Path, encoder: Encoder | None = None) -> str:
    """Publish a finished, unpublished bundle folder (see `build_bundle(publish_bundle=False)`).

    With PostgreSQL the folder is copied as a new generation, then removed whatever the outcome: the
    database holds the published indexes.

    Returns:
        The build id now published.
    """
    return storage(settings).publish(folder, encoder)


def rollback(settings: Settings) -> str:
    """Make the previous index current again; returns its build id."""
    return storage(settings).rollback()


def list_indexes(settings: Settings) -> list[dict[str, Any]]:
    """Kept indexes, newest first, with their role (courant, précédent or "")."""
    return storage(settings).list()


def where(settings: Settings) -> str:
    """Where indexes are published, for messages (never the database password)."""
    return storage(settings).where()


def release(settings: Settings) -> None:
    """Close what the process holds open for the backend (PostgreSQL connection pools)."""
    storage(settings).release()
