"""Competences of one level of government, grouped by theme, each with its cited passages."""

from __future__ import annotations

from typing import Any

from indexer.errors import QfqError
from indexer.knowledge.citations import cite_all
from indexer.knowledge.lookup import PassageLookup
from indexer.knowledge.model import CATEGORIES, Competence, Knowledge
from indexer.text.tagging import load_taxonomy

CATEGORY_ORDER = {category: index for index, category in enumerate(CATEGORIES)}


def covered_levels(knowledge: Knowledge) -> list[str]:
    """Levels that have curated competences, in taxonomy order."""
    present = {level for competence in knowledge.competences for level in competence.levels}
    return [level for level in load_taxonomy().level_ids() if level in present]


def check_level(knowledge: Knowledge, level: str) -> None:
    """Raise a French error listing the accepted levels when `level` has no curated competences.

    Raises:
        QfqError: code `niveau_inconnu`.
    """
    allowed = covered_levels(knowledge)
    if level not in allowed:
        raise QfqError(
            f"Niveau inconnu ou sans compétences décrites : « {level} ». Niveaux acceptés : {', '.join(allowed)}.",
            code="niveau_inconnu",
            details={"champ": "niveau", "acceptes": allowed},
        )


def competence_dict(
    competence: Competence, knowledge: Knowledge, lookup: PassageLookup | None
) -> dict[str, Any]:
    """JSON form of one competence, with its law, changes and cited passages."""
    law = knowledge.laws[competence.law]
    citations = cite_all(competence.basis, lookup) if lookup is not None else []
    return {
        "id": competence.id,
        "intitule": competence.title,
        "categorie": competence.category,
        "categorie_libelle": CATEGORIES[competence.category],
        "theme": competence.theme,
        "niveaux": list(competence.levels),
        "base": list(dict.fromkeys(b.ref for b in competence.basis)),
        "depuis": competence.since,
        "loi": {"cle": law.key, "nom_court": law.short_name, "numero": law.number, "date": law.date},
        "resume": competence.summary or None,
        "note": competence.note or None,
        "changements": [
            {
                "date": change.date,
                "loi": {
                    "cle": change.law,
                    "nom_court": knowledge.laws[change.law].short_name,
                    "numero": knowledge.laws[change.law].number,
                },
                "resume": change.summary,
                "base": [b.ref for b in change.basis],
            }
            for change in competence.changes
        ],
        "passages": [c.to_dict() for c in citations],
    }


def competences_report(
    knowledge: Knowledge, level: str, lookup: PassageLookup | None = None
) -> dict[str, Any]:
    """Competences of `level` grouped by theme (taxonomy order), mandatory ones first within a theme.

    Raises:
        QfqError: unknown level (code `niveau_inconnu`).
    """
    check_level(knowledge, level)
    taxonomy = load_taxonomy()
    labels = taxonomy.labels()
    competences = sorted(knowledge.competences_of(level), key=lambda c: (CATEGORY_ORDER[c.category], c.title))
    themes = []
    for theme in taxonomy.theme_ids():
        items = [competence_dict(c, knowledge, lookup) for c in competences if c.theme == theme]
        if items:
            themes.append({"theme": theme, "libelle": labels[theme], "competences": items})
    per_category: dict[str, int] = {}
    for competence in competences:
        per_category[competence.category] = per_category.get(competence.category, 0) + 1
    return {
        "niveau": level,
        "libelle": labels.get(level, level),
        "total": len(competences),
        "par_categorie": per_category,
        "themes": themes,
    }
