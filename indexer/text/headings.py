"""Heading paths of code articles as a short subject line: « Communauté de communes › Compétences »."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

# Nearest headings kept: the chapter and section usually name the subject (« Communauté de communes »,
# « Compétences »), the title above them the family (« Établissements publics de coopération intercommunale »).
CONTEXT_LEVELS = 3
SEPARATOR = " › "

# "CHAPITRE IV : ", "Section 4 : ", "Sous-section 2 : ", "CINQUIÈME PARTIE : ", "TITRE Ier : ", "Paragraphe 1er : ".
_NUMBERING = re.compile(
    r"^[^:]{0,40}?\b(?:partie|livre|titre|chapitre|section|sous-section|paragraphe|sous-paragraphe)\b[^:]{0,30}:\s*",
    re.IGNORECASE,
)
# Headings that say where in the code, not what about.
_PLACE_ONLY = re.compile(
    r"^(?:partie (?:législative|réglementaire|arrêtés)|annexes?|(?:titre|chapitre|section) (?:unique|préliminaire))$",
    re.IGNORECASE,
)
_REGULATORY_MARK = re.compile(r"\s*\((?:R|D)\*?\)$")


@lru_cache(maxsize=4096)
def heading_subject(heading: str) -> str:
    """One heading without its numbering, in sentence case: "CHAPITRE IV : Communauté de communes." ->
    "Communauté de communes"; "" for headings that only place the article ("Partie législative")."""
    text = _REGULATORY_MARK.sub("", " ".join(heading.split()).rstrip(" .")).rstrip(" .")
    if _PLACE_ONLY.match(text):
        return ""
    text = _NUMBERING.sub("", text, count=1).strip()
    if text.isupper():
        text = text.lower()
    return text[:1].upper() + text[1:]


def heading_context(path: Sequence[str], *, skip: str = "", levels: int = CONTEXT_LEVELS) -> str:
    """The nearest headings of a path as one line, for the text the encoder reads.

    Args:
        path: headings from the top of the code down to the article.
        skip: a heading the passage's header already gives (a guide section's title), left out.
        levels: how many of the nearest meaningful headings to keep.

    Returns:
        "Établissements publics de coopération intercommunale › Communauté de communes › Compétences",
        or "" when the path names nothing.
    """
    subjects = [s for s in (heading_subject(h) for h in path) if s and s != skip]
    return SEPARATOR.join(subjects[-levels:])
