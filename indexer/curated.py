"""Where the curated data of `corpus/` is read from: the `qfq_corpus` package data, so an installed wheel works."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CURATED_PACKAGE = "qfq_corpus"


def curated_path(*parts: str) -> Path:
    """Path of a curated data file or folder, e.g. `curated_path("knowledge")`.

    Args:
        parts: path components below `corpus/`.

    Returns:
        The path inside the installed (or editable) `qfq_corpus` package.
    """
    return Path(str(files(CURATED_PACKAGE).joinpath(*parts)))
