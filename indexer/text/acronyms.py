"""Acronyms of local public action ("GEMAPI", "SRDEII", "PLUi") expanded in questions before search.

The table is `corpus/sigles.toml`, written by the team. An acronym is recognised as written there or in
upper case only ("SCoT", "SCOT"), never in lower case: "sage", "ter" and "rip" are French words.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from indexer.curated import curated_path

ACRONYMS_PATH = curated_path("sigles.toml")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Expansion:
    """A question with the acronyms it contains spelled out."""

    text: str  # the question, followed by the expansions in parentheses
    acronyms: tuple[tuple[str, str], ...]  # (acronym as written in the question, expansion)


@lru_cache(maxsize=4)
def load_acronyms(path: Path = ACRONYMS_PATH) -> dict[str, str]:
    """Acronym -> expansion, with each acronym's upper-case spelling added.

    Raises:
        OSError, tomllib.TOMLDecodeError: unreadable file.
        ValueError: an entry that is not text.
    """
    raw = tomllib.loads(path.read_text(encoding="utf-8")).get("sigles", {})
    table: dict[str, str] = {}
    for acronym, expansion in raw.items():
        if not isinstance(expansion, str) or not expansion.strip():
            raise ValueError(f"{path}: le sigle {acronym!r} doit être développé par un texte")
        table[acronym] = expansion.strip()
        table.setdefault(acronym.upper(), expansion.strip())
    return table


def expand_acronyms(question: str, table: dict[str, str] | None = None) -> Expansion:
    """The question followed by the expansion of each distinct acronym it contains.

    Args:
        question: the question as typed.
        table: acronym -> expansion (default: `corpus/sigles.toml`).

    Returns:
        The expanded text and the acronyms found, in order of appearance.
    """
    table = load_acronyms() if table is None else table
    found: dict[str, str] = {}
    for word in _WORD.findall(question):
        expansion = table.get(word)
        if expansion is not None and expansion not in found.values():
            found[word] = expansion
    if not found:
        return Expansion(question, ())
    return Expansion(f"{question} ({' ; '.join(found.values())})", tuple(found.items()))
