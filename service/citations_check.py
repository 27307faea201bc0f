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


def missing_articles(answer: Any) -> list[str]:
    """The cited articles (`document/article`) that the index or corpus queried does not hold, sorted."""
    return sorted({cited["article_id"] for cited in _cited(answer) if not cited["trouve"]})


def partial_index_warning(answer: Any) -> str | None:
    """A French warning naming the documents missing from the index, or None when every citation was found."""
    missing = missing_articles(answer)
    if not missing:
        return None
    documents = sorted({article.split("/", 1)[0] for article in missing})
    total = len({cited["article_id"] for cited in _cited(answer)})
    return (
        f"L'index interrogé ne contient pas {len(missing)} des {total} articles cités (documents : "
        f"{', '.join(documents)}) : leurs extraits manquent. Construisez l'index du corpus complet "
        "(« qfq build » sans --only) pour les voir."
    )


def with_warning(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with `articles_absents` and `avertissement` added."""
    return {
        **answer,
        "articles_absents": missing_articles(answer),
        "avertissement": partial_index_warning(answer),
    }
