"""Which cited articles the index lacks: a partial index must say so rather than drop citations silently."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _cited(value: Any) -> Iterator[dict[str, Any]]:
    """Every cited passage (`{"article_id", "trouve", …}`) anywhere in a JSON-like answer."""
    if isinstance(value, dict):
        if "article_id" in value and "trouve" in value:
            yield value
        for item in value.values():
            yield from _cited(item)
    elif isinstance(value, list):
        for item in value:
            yield from _cited(item)


def with_warning(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with `articles_absents` (cited articles the index or corpus queried does not hold, sorted)
    and `avertissement` (a French warning naming their documents, or None when every citation was found)."""
    cited = list(_cited(answer))
    missing = sorted({c["article_id"] for c in cited if not c["trouve"]})
    warning = None
    if missing:
        documents = sorted({article.split("/", 1)[0] for article in missing})
        total = len({c["article_id"] for c in cited})
        warning = (
            f"L'index interrogé ne contient pas {len(missing)} des {total} articles cités (documents : "
            f"{', '.join(documents)}) : leurs extraits manquent. Construisez l'index du corpus complet "
            "(« qfq build » sans --only) pour les voir."
        )
    return {**answer, "articles_absents": missing, "avertissement": warning}
