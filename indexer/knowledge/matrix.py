"""The « qui fait quoi » matrix: subjects as rows (grouped by theme), levels of government as columns, each
cell the category of the competence with its legal basis, the article's version date and its last change."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from indexer.errors import QfqError
from indexer.knowledge.citations import cite_all
from indexer.knowledge.competences import CATEGORY_ORDER, covered_levels
from indexer.knowledge.lookup import PassageLookup
from indexer.knowledge.model import CATEGORIES, Competence, Knowledge
from indexer.text.tagging import Taxonomy


def _check(values: Sequence[str], allowed: Sequence[str], label: str, code: str) -> None:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise QfqError(
            f"{label} inconnu(s) : {', '.join(unknown)}. Valeurs acceptées : {', '.join(allowed)}.",
            code=code,
            details={"inconnues": unknown, "acceptes": list(allowed)},
        )


def _cell(held: list[Competence], knowledge: Knowledge, lookup: PassageLookup | None) -> dict[str, Any]:
    """The strongest category a level holds on the subject, with what grounds and dates it."""
    best = min(held, key=lambda c: CATEGORY_ORDER[c.category])
    citations = [c for c in (cite_all(best.basis, lookup) if lookup is not None else []) if c.found]
    changes = sorted(best.changes, key=lambda change: change.date)
    last = changes[-1] if changes else None
    law = knowledge.laws[last.law if last else best.law]
    return {
        "categorie": best.category,
        "categorie_libelle": CATEGORIES[best.category],
        "competences": [c.id for c in held],
        "base": list(dict.fromkeys(b.ref for b in best.basis)),
        "version_date": citations[0].version_date if citations else None,
        "url": citations[0].url or None if citations else None,
        "depuis": best.since,
        "note": best.note or best.summary or None,
        "dernier_changement": {
            "date": last.date if last else best.since,
            "loi": law.short_name,
            "resume": last.summary if last else None,
        },
    }


def competence_matrix(
    knowledge: Knowledge,
    taxonomy: Taxonomy,
    lookup: PassageLookup | None = None,
    levels: Sequence[str] = (),
    theme: str | None = None,
) -> dict[str, Any]:
    """Rows of subjects (`sujets.toml`) by theme, columns of levels, cells of categories.

    Args:
        knowledge: the curated knowledge.
        taxonomy: level and theme labels and order.
        lookup: where cited passages come from (version dates and links); none when None.
        levels: the columns to keep (every level with competences when empty).
        theme: the theme to keep (all when None).

    Raises:
        QfqError: an unknown level (`niveau_inconnu`) or theme (`theme_inconnu`), listing the accepted ones.
    """
    available = covered_levels(knowledge)
    _check(levels, available, "Niveau", "niveau_inconnu")
    if theme is not None:
        _check([theme], taxonomy.theme_ids(), "Thème", "theme_inconnu")
    columns = [level for level in available if not levels or level in levels]
    labels = taxonomy.labels()
    by_theme: dict[str, list[dict[str, Any]]] = {}
    for subject in knowledge.subjects:
        competences = [knowledge.competence(cid) for cid in subject.competences]
        if not competences:
            continue
        row_theme = Counter(c.theme for c in competences).most_common(1)[0][0]
        if theme is not None and row_theme != theme:
            continue
        cells: dict[str, Any] = {}
        for level in columns:
            held = [c for c in competences if level in c.levels]
            cells[level] = _cell(held, knowledge, lookup) if held else None
        if any(cells.values()):
            by_theme.setdefault(row_theme, []).append(
                {"sujet": subject.id, "intitule": subject.title, "cellules": cells}
            )
    return {
        "niveaux": [{"id": level, "libelle": labels.get(level, level)} for level in columns],
        "themes": [
            {"theme": t, "libelle": labels.get(t, t), "lignes": by_theme[t]}
            for t in taxonomy.theme_ids()
            if t in by_theme
        ],
        "legende": dict(CATEGORIES),
    }
