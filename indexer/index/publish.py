"""Publishing bundles atomically: the build lock, the `current` and `previous` links, rollback, pruning, listing."""

from __future__ import annotations

import os
import shutil
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from indexer.errors import BundleError
from indexer.files import exclusive_lock, fsync_dir
from indexer.index.bundle import CURRENT_LINK, PREVIOUS_LINK, link_target, load_bundle, read_manifest
from indexer.settings import Settings

LOCK_FILE = ".build.lock"


TMP_PREFIX = ".tmp-"


KEEP_BUNDLES = 2  # the published bundle and the previous one, for rollback


def build_lock(bundles_dir: Path) -> AbstractContextManager[None]:
    return exclusive_lock(
        bundles_dir / LOCK_FILE,
        lambda: BundleError(
            f"Une autre construction d'index est en cours dans {bundles_dir}. "
            "Attendez sa fin avant d'en lancer une nouvelle.",
            code="construction_en_cours",
        ),
    )


def remove_stale_temporaries(bundles_dir: Path) -> None:
    # Called under the build lock: any temporary folder left is from a crashed build.
    for child in bundles_dir.glob(f"{TMP_PREFIX}*"):
        shutil.rmtree(child, ignore_errors=True)
    for link_name in (CURRENT_LINK, PREVIOUS_LINK):
        for staging in bundles_dir.glob(f".{link_name}.*"):
            staging.unlink(missing_ok=True)


def _point(bundles_dir: Path, link_name: str, target: str) -> None:
    link = bundles_dir / link_name
    staging = bundles_dir / f".{link_name}.{os.getpid()}"
    if staging.is_symlink() or staging.exists():
        staging.unlink()
    os.symlink(target, staging)
    os.replace(staging, link)


def publish(settings: Settings, folder: Path) -> None:
    """Make `folder` (a finished bundle inside bundles_dir) the current bundle, atomically.

    The previous current bundle becomes `previous` (for rollback); older bundles are removed.

    Args:
        settings: the settings (bundles_dir).
        folder: the bundle folder, a direct child of bundles_dir.
    """
    bundles_dir = settings.bundles_dir
    if folder.parent.resolve() != bundles_dir.resolve():
        raise ValueError(f"{folder} is not inside {bundles_dir}")
    old = link_target(bundles_dir, CURRENT_LINK)
    if old is not None and old != folder.name:
        _point(bundles_dir, PREVIOUS_LINK, old)
    _point(bundles_dir, CURRENT_LINK, folder.name)
    fsync_dir(bundles_dir)
    _prune(bundles_dir)


def _prune(bundles_dir: Path) -> None:
    # Keeps KEEP_BUNDLES folders: the current bundle and the previous one.
    keep = {link_target(bundles_dir, CURRENT_LINK), link_target(bundles_dir, PREVIOUS_LINK)}
    for folder in bundles_dir.iterdir():
        if folder.is_symlink() or not folder.is_dir() or folder.name.startswith("."):
            continue
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def rollback(settings: Settings) -> str:
    """Switch `current` back to the previous bundle (and `previous` to the one that was current).

    Returns:
        The build id now current.

    Raises:
        BundleError: no previous bundle (code `retour_impossible`).
    """
    bundles_dir = settings.bundles_dir
    with build_lock(bundles_dir):
        previous = link_target(bundles_dir, PREVIOUS_LINK)
        current = link_target(bundles_dir, CURRENT_LINK)
        if previous is None:
            raise BundleError(
                f"Aucun index précédent dans {bundles_dir} : retour arrière impossible.",
                code="retour_impossible",
            )
        load_bundle(settings, bundles_dir / previous).close()
        _point(bundles_dir, CURRENT_LINK, previous)
        if current is not None:
            _point(bundles_dir, PREVIOUS_LINK, current)
        fsync_dir(bundles_dir)
        return previous


def list_bundles(settings: Settings) -> list[dict[str, Any]]:
    """Published and kept bundles, newest first, with their role (current, previous or kept)."""
    bundles_dir = settings.bundles_dir
    if not bundles_dir.is_dir():
        return []
    current = link_target(bundles_dir, CURRENT_LINK)
    previous = link_target(bundles_dir, PREVIOUS_LINK)
    rows = []
    for folder in sorted(bundles_dir.iterdir(), reverse=True):
        if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        role = "courant" if folder.name == current else "précédent" if folder.name == previous else ""
        try:
            manifest = read_manifest(folder)
            counts = manifest.get("counts", {})
            rows.append(
                {
                    "build_id": folder.name,
                    "role": role,
                    "built_at": manifest.get("built_at"),
                    "passages": counts.get("passages"),
                    "model": (manifest.get("model") or {}).get("id"),
                }
            )
        except BundleError as exc:
            rows.append(
                {
                    "build_id": folder.name,
                    "role": role,
                    "built_at": None,
                    "passages": None,
                    "erreur": exc.message,
                }
            )
    return rows
