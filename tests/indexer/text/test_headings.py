"""The subject line of a code article's heading path, as the encoder reads it."""

from __future__ import annotations

import pytest

from indexer.text.headings import heading_context, heading_subject

CC_PATH = [
    "Partie législative",
    "CINQUIÈME PARTIE : LA COOPÉRATION LOCALE",
    "LIVRE II : LA COOPÉRATION INTERCOMMUNALE",
    "TITRE Ier : ÉTABLISSEMENTS PUBLICS DE COOPÉRATION INTERCOMMUNALE",
    "CHAPITRE IV : Communauté de communes",
    "Section 4 : Compétences.",
]


@pytest.mark.parametrize(
    ("heading", "subject"),
    [
        ("CHAPITRE IV : Communauté de communes", "Communauté de communes"),
        ("Section 4 : Compétences.", "Compétences"),
        ("Sous-section 2 : Dispositions financières", "Dispositions financières"),
        ("Paragraphe 1er : Election du maire", "Election du maire"),
        (
            "TITRE Ier : ÉTABLISSEMENTS PUBLICS DE COOPÉRATION INTERCOMMUNALE",
            "Établissements publics de coopération intercommunale",
        ),
        ("CINQUIÈME PARTIE : LA COOPÉRATION LOCALE", "La coopération locale"),
        ("Budget (R)", "Budget"),
        ("Partie législative", ""),
        ("Partie réglementaire", ""),
        ("Chapitre unique", ""),
        ("TITRE PRÉLIMINAIRE", ""),
    ],
)
def test_a_heading_loses_its_numbering_and_capitals(heading: str, subject: str) -> None:
    assert heading_subject(heading) == subject


def test_the_context_keeps_the_three_nearest_subjects() -> None:
    assert heading_context(CC_PATH) == (
        "Établissements publics de coopération intercommunale › Communauté de communes › Compétences"
    )
    assert heading_context(CC_PATH, levels=1) == "Compétences"
    assert heading_context(["Partie législative", "Chapitre unique"]) == ""
    assert heading_context([]) == ""


def test_a_heading_the_header_already_gives_is_left_out() -> None:
    path = ["Bonnes pratiques", "Mesurer l'impact"]
    assert heading_context(path, skip="Mesurer l'impact") == "Bonnes pratiques"
