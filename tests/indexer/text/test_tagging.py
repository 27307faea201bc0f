"""Tagging levels of government and themes on real articles, with reasons."""

from __future__ import annotations

import pytest

from indexer.text.tagging import levels_named, load_taxonomy, tag_article


@pytest.fixture(scope="module")
def cgct(parsed):
    return {a.number: a for a in parsed("cgct")}


@pytest.mark.parametrize(
    ("number", "levels", "themes"),
    [
        ("L5214-16", {"communaute-de-communes"}, {"eau-assainissement", "dechets", "gemapi"}),
        ("L4251-13", {"region"}, {"developpement-economique"}),
        ("L5216-5", {"communaute-d-agglomeration"}, {"mobilite"}),
        ("L5217-2", {"metropole"}, {"energie-climat"}),
        ("L2212-2", {"commune"}, {"police-securite"}),
        ("L3211-1", {"departement"}, set()),
    ],
)
def test_real_cgct_articles(cgct, number, levels, themes) -> None:
    article = cgct[number]
    tags = tag_article(article.text, article.heading_path)
    assert levels <= set(tags.levels)
    assert themes <= set(tags.themes)
    for term in (*tags.levels, *tags.themes):
        assert tags.reasons[term], f"{term} has a reason"


def test_l5214_16_is_not_tagged_region(cgct) -> None:
    article = cgct["L5214-16"]
    assert "region" not in tag_article(article.text, article.heading_path).levels


def test_chapter_title_is_the_reason(cgct) -> None:
    article = cgct["L5214-16"]
    tags = tag_article(article.text, article.heading_path)
    assert tags.reasons["communaute-de-communes"][0] == "titre : « CHAPITRE IV : Communauté de communes »"


def test_patterns_ignore_accents_and_case() -> None:
    tags = tag_article("LA RÉGION élabore le schéma régional ; la Région le révise.", [])
    assert "region" in tags.levels


def test_metropole_de_lyon_is_not_a_generic_metropole() -> None:
    tags = tag_article("La métropole de Lyon exerce ... La métropole de Lyon peut ...", [])
    assert "metropole-de-lyon" in tags.levels and "metropole" not in tags.levels


def test_a_single_passing_mention_does_not_tag() -> None:
    text = "Les modalités de la procédure sont fixées par décret en Conseil d'État. " * 4
    text += "Le cas échéant, la région est informée."
    assert "region" not in tag_article(text, []).levels


def test_taxonomy_has_the_issue_vocabulary() -> None:
    taxonomy = load_taxonomy()
    assert len(taxonomy.levels) == 14 and len(taxonomy.themes) == 14
    assert {"commune", "metropole-du-grand-paris", "etat", "statut-particulier"} <= set(taxonomy.level_ids())
    assert {"gemapi", "numerique-donnees", "finances"} <= set(taxonomy.theme_ids())


@pytest.mark.parametrize(
    ("question", "levels"),
    [
        ("Ma communauté de communes doit-elle reprendre l'eau potable ?", ["communaute-de-communes"]),
        ("La gestion des eaux pluviales relève-t-elle de l'agglo ?", ["communaute-d-agglomeration"]),
        ("Une petite commune peut-elle déléguer sa voirie à l'interco ?", ["commune", "epci-fp"]),
        ("Les communes membres de la métropole votent-elles le budget ?", ["metropole"]),
        ("Qui entretient les routes départementales ?", ["departement"]),
        ("Le conseil régional finance-t-il les lycées ?", ["region"]),
        ("Quelles obligations pour les sites internet publics ?", []),
    ],
)
def test_levels_named_in_questions(question: str, levels: list[str]) -> None:
    assert levels_named(question) == levels
