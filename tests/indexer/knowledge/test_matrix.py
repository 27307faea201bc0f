"""The « qui fait quoi » matrix from the curated knowledge."""

from __future__ import annotations

import pytest

from indexer.errors import QfqError
from indexer.knowledge.load import load_knowledge
from indexer.knowledge.matrix import competence_matrix
from indexer.text.tagging import load_taxonomy


def _row(matrix: dict, subject: str) -> dict:
    return next(row for group in matrix["themes"] for row in group["lignes"] if row["sujet"] == subject)


def test_waste_collection_is_mandatory_for_the_communaute_de_communes() -> None:
    matrix = competence_matrix(load_knowledge(), load_taxonomy())
    cell = _row(matrix, "dechets")["cellules"]["communaute-de-communes"]
    assert cell["categorie"] == "obligatoire" and cell["base"] == ["cgct/L5214-16"]
    assert cell["competences"] == ["cc-dechets"] and cell["dernier_changement"]["loi"] == "Loi NOTRe"
    levels = [level["id"] for level in matrix["niveaux"]]
    assert levels[:2] == ["commune", "communaute-de-communes"] and "region" in levels


def test_columns_and_themes_can_be_chosen() -> None:
    matrix = competence_matrix(load_knowledge(), load_taxonomy(), levels=["region"], theme="dechets")
    assert [level["id"] for level in matrix["niveaux"]] == ["region"]
    assert [group["theme"] for group in matrix["themes"]] == ["dechets"]
    assert all(row["cellules"]["region"] is not None for row in matrix["themes"][0]["lignes"])


def test_a_level_without_the_competence_has_an_empty_cell() -> None:
    matrix = competence_matrix(load_knowledge(), load_taxonomy(), levels=["commune", "region"])
    assert _row(matrix, "dechets")["cellules"]["region"] is None


@pytest.mark.parametrize(
    ("levels", "theme", "code"), [(["canton"], None, "niveau_inconnu"), ([], "loisirs", "theme_inconnu")]
)
def test_unknown_values_are_refused_with_the_accepted_ones(
    levels: list[str], theme: str | None, code: str
) -> None:
    with pytest.raises(QfqError) as caught:
        competence_matrix(load_knowledge(), load_taxonomy(), levels=levels, theme=theme)
    assert caught.value.code == code and caught.value.details["acceptes"]
