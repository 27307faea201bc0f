"""Helpers shared by parsers: French dates in link texts, Légifrance URLs, slugs."""

from __future__ import annotations

import re

from indexer.text.normalize import fold

MONTHS = {
    "janvier": 1,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
}

_FRENCH_DATE = re.compile(r"\b(\d{1,2})(?:er)? (" + "|".join(MONTHS) + r") (\d{4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def date_in_text(text: str) -> str:
    """First date found in a link text ("... du 7 août 2015 ..." or "1996-02-21"), as ISO, else ""."""
    folded = fold(text)
    match = _FRENCH_DATE.search(folded)
    if match:
        day, month, year = match.groups()
        return f"{int(year):04d}-{MONTHS[month]:02d}-{int(day):02d}"
    match = _ISO_DATE.search(text)
    return match.group(0) if match else ""


def legiarti_url(legiarti: str) -> str:
    """Légifrance URL of an article version, from its LEGIARTI id or bare digits."""
    digits = legiarti.removeprefix("LEGIARTI")
    if not digits.isdigit():
        return ""
    return f"https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI{int(digits):012d}"


def slugify(text: str, max_length: int = 60) -> str:
    """ASCII slug: "Qui est concerné ?" -> "qui-est-concerne"."""
    slug = re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")
    return slug[:max_length].rstrip("-") or "section"
